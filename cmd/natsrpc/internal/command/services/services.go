// Package services implements `natsrpc services`.
package services

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/rpcctl"
)

type flags struct {
	Schema cli.SchemaFlags
	Output cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	f.Schema.Bind(fs)
	f.Output.Bind(fs)
}

// NewCommand returns the `services` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [<service>]",
		Short: "List the services, or one service's methods with their kinds and subjects",
		Long: `Without an argument, list every service with its number of methods and
the module version its descriptors come from. With a service's full
name, list its methods: kind, NATS subject (with --subject-prefix),
request and response types. ` + "`natsrpc ls`" + ` lists the registry's modules.

    natsrpc services
    natsrpc services gaming.quest_system.v1.QuestSystemService
    natsrpc services --reflect --format json`,
		Args: cli.MaxArgs(1, "at most one service name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args, g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, args []string, g *cli.Globals, f *flags) error {
	if err := f.Output.Check(); err != nil {
		return err
	}
	if err := f.Schema.Check(); err != nil {
		return err
	}
	src, closeSrc, err := cli.OpenSource(ctx, g, &f.Schema, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeSrc()
	w := cmd.OutOrStdout()
	if len(args) == 1 {
		svc, err := src.Service(ctx, args[0])
		if err != nil {
			return err
		}
		doc := rpcctl.ServiceDocument(svc, f.Schema.SubjectPrefix)
		return f.Output.Print(w, doc, func(w io.Writer) error { return rpcctl.WriteService(w, doc) })
	}
	svcs, err := src.Services(ctx)
	if err != nil {
		return err
	}
	doc := rpcctl.ServicesDocument(svcs)
	if len(svcs) == 0 && !f.Output.JSON() {
		_, err := io.WriteString(cmd.ErrOrStderr(), "no services found\n")
		return err
	}
	return f.Output.Print(w, doc, func(w io.Writer) error { return rpcctl.WriteServices(w, doc) })
}
