// Package perms implements `natsrpc perms`: flags only, the permissions
// are package internal/perms's.
package perms

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/perms"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
	"github.com/natsrpc/natsrpc/internal/spec"
)

type flags struct {
	Module             string
	Services           []string
	InboxPrefix        string
	ServiceInboxPrefix string
	SubjectPrefix      string
	DescriptorSet      string
	Bucket             string
	MaxStream          time.Duration
	ShadowPrefix       string
	Format             string
}

// NewCommand returns the `perms` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " ROLE",
		Short: "Print the least-privilege nats-server permissions of a role",
		Long: `Print the nats-server permissions block of one role, to put under a user
(permissions: ...) in the server's configuration: everything the role needs
for its job, and nothing more. ROLE is one of:

  registry      the registry server (natsrpc registry serve): its API subjects,
                announcing versions, and JetStream for its own buckets only
  reader        every schema: ls, get, describe, lookups, watching versions
  pusher        push --module M (and read)
  policy-admin  set the policy of --module M (and read)
  admin         every registry subject
  service       an instance of --service S: its subjects in its queue group,
                $SRV discovery, its inbox, responses, durable events' streams
  client        a caller of --service S (repeatable): their subjects, its own inbox
  gateway       a caller of every service, and read
  tap           watch every service's traffic and ask for schemas, and read
  bridge        serve --service S (as service) and read

Service roles take the schemas from the registry's latest versions, or from
--descriptor-set. --format json prints the same as one JSON object.

    natsrpc perms pusher --module quest
    natsrpc perms service --service gaming.quest_system.v1.QuestSystemService --format json`,
		Args: cli.ExactArgs(1, "one ROLE: "+strings.Join(perms.Roles, ", ")),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, g, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.Module, "module", "", "The module of pusher and policy-admin")
	fs.StringArrayVar(&f.Services, "service", nil, "The service of service and bridge, by full name; for client, each service it calls (repeatable)")
	fs.StringVar(&f.InboxPrefix, "inbox-prefix", "", "The role's reply inbox prefix, as its connection sets it (nats.go CustomInboxPrefix, natsrpc --inbox-prefix); default _INBOX, for a service _INBOX_<micro name>")
	fs.StringVar(&f.ServiceInboxPrefix, "service-inbox-prefix", "", "For client and gateway: the inbox prefix of the services they stream with (default _INBOX_<micro name>)")
	fs.StringVar(&f.SubjectPrefix, "subject-prefix", "", "The runtime subject prefix of the services and the registry (natsrpc.WithSubjectPrefix)")
	fs.StringVar(&f.DescriptorSet, "descriptor-set", "", "Take the services from this FileDescriptorSet or buf image instead of the registry")
	fs.StringVar(&f.Bucket, "bucket", "", "The registry's JetStream KV bucket (default natsrpc_registry)")
	fs.DurationVar(&f.MaxStream, "max-stream", time.Hour, "For service and bridge: the longest stream, for allow_responses' expiry")
	fs.StringVar(&f.ShadowPrefix, "shadow-prefix", "", "For bridge: the subject prefix of the candidate it mirrors calls to (natsrpc bridge --shadow-prefix): publish on its unary subjects and to the shadow differences stream")
	fs.StringVar(&f.Format, "format", "conf", "The output format: conf (nats-server configuration) or json")
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, g *cli.Globals, f *flags, role string) error {
	if f.Format != "conf" && f.Format != "json" {
		return fmt.Errorf("--format %q: use conf or json", f.Format)
	}
	req := perms.Request{Role: role, Module: f.Module, InboxPrefix: f.InboxPrefix, ServiceInboxPrefix: f.ServiceInboxPrefix,
		SubjectPrefix: f.SubjectPrefix, Bucket: f.Bucket, MaxStream: f.MaxStream, ShadowPrefix: f.ShadowPrefix}
	switch role {
	case "service", "client", "bridge", "gateway", "tap":
		if len(f.Services) == 0 && (role == "service" || role == "client" || role == "bridge") {
			return fmt.Errorf("role %s needs --service: the full name of the service, e.g. gaming.quest_system.v1.QuestSystemService", role)
		}
		if len(f.Services) > 1 && role != "client" {
			return fmt.Errorf("role %s is for one service: give --service once", role)
		}
		services, err := loadServices(ctx, g, f)
		if err != nil {
			return err
		}
		req.Services = services
	default:
		if len(f.Services) > 0 {
			return fmt.Errorf("role %s takes no --service", role)
		}
	}
	p, err := perms.Derive(req)
	if err != nil {
		return err
	}
	if f.Format == "json" {
		data, err := p.JSON()
		if err != nil {
			return err
		}
		_, err = cmd.OutOrStdout().Write(data)
		return err
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), p.Conf())
	return err
}

// loadServices returns the service the flags name, or every service.
func loadServices(ctx context.Context, g *cli.Globals, f *flags) ([]*spec.Service, error) {
	var src schema.Source
	if f.DescriptorSet != "" {
		s, err := schema.File(f.DescriptorSet)
		if err != nil {
			return nil, err
		}
		src = s
	} else {
		c, closeConn, err := g.RegistryClient(ctx)
		if err != nil {
			return nil, err
		}
		defer closeConn()
		src = schema.Registry(c, regctl.ModuleRef{}, g.ServerRedacted())
	}
	if len(f.Services) > 0 {
		var out []*spec.Service
		for _, name := range f.Services {
			s, err := src.Service(ctx, name)
			if err != nil {
				return nil, err
			}
			out = append(out, s.Service)
		}
		return out, nil
	}
	all, err := src.Services(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*spec.Service, 0, len(all))
	for _, s := range all {
		out = append(out, s.Service)
	}
	return out, nil
}
