// Package registryserve implements `natsrpc registry serve`.
package registryserve

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
)

const (
	embeddedFlagName   = "embedded"
	dataDirFlagName    = "data-dir"
	listenFlagName     = "listen"
	bucketFlagName     = "bucket"
	replicasFlagName   = "replicas"
	pushDirFlagName    = "push-dir"
	pushModuleFlagName = "push-module"
	serverConfigFlag   = "server-config"
)

type flags struct {
	Embedded   bool
	DataDir    string
	Listen     string
	Bucket     string
	Replicas   int
	PushDir    string
	PushModule string
	ServerConf string
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.Embedded, embeddedFlagName, false, "Start an in-process NATS server with JetStream (every write fsynced) and serve on it, instead of connecting to --server")
	fs.StringVar(&f.DataDir, dataDirFlagName, ".natsrpc", "JetStream storage directory of the embedded server")
	fs.StringVar(&f.Listen, listenFlagName, "127.0.0.1:4222", "Client address of the embedded server (HOST:PORT)")
	fs.StringVar(&f.Bucket, bucketFlagName, "", "The registry's JetStream KV bucket (default natsrpc_registry)")
	fs.IntVar(&f.Replicas, replicasFlagName, 0, "Replicas of the registry's streams, 1 to 5: 3 on a 3-node cluster. Existing streams with another count are changed to it, so every instance given --replicas for one bucket must give the same value. Unset, new buckets get 1 and existing ones keep theirs (default: keep)")
	fs.StringVar(&f.PushDir, pushDirFlagName, "", "Once serving, push this input (a directory of .proto files, an image or a git reference) as a version of --push-module; nothing new is stored when it is unchanged")
	fs.StringVar(&f.PushModule, pushModuleFlagName, "", "The module --push-dir is pushed as")
	fs.StringVar(&f.ServerConf, serverConfigFlag, "", "With --embedded: a nats-server configuration file (TLS, authorization, accounts) for the embedded server; --listen and --data-dir still apply, and the registry connects in process with the TLS and user the connection flags give (--tls-ca, --tls-cert, --user, --creds, ...)")
}

// NewCommand returns the `serve` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Serve the schema registry over NATS",
		Long: `Serve the schema registry's NATS API. Any number of instances can serve one
JetStream cluster; they share the load through a queue group.

With --embedded, start an in-process NATS server with JetStream, data in
--data-dir, every write fsynced before it is acknowledged, on --listen
(with --server-config, configured by a nats-server configuration file:
TLS, authorization); without, connect to --server with the connection
flags.

    natsrpc registry serve --embedded --push-dir proto --push-module gaming
    natsrpc registry serve --embedded --server-config nats.conf --creds registry.creds \
        --tls-ca ca.pem --tls-cert registry.pem --tls-key registry-key.pem
    natsrpc registry serve -s nats://nats-1:4222,nats://nats-2:4222 --replicas 3`,
		Args: cli.ExactArgs(0, "no arguments (the flags say what to serve)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd, g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, g *cli.Globals, f *flags) (retErr error) {
	if (f.PushDir == "") != (f.PushModule == "") {
		return fmt.Errorf("--%s and --%s go together: give both to push an input on start", pushDirFlagName, pushModuleFlagName)
	}
	if !f.Embedded && cmd.Flags().Changed(dataDirFlagName) {
		return fmt.Errorf("--%s needs --%s: without it the registry stores its data in the JetStream of --server", dataDirFlagName, embeddedFlagName)
	}
	if f.ServerConf != "" && !f.Embedded {
		return fmt.Errorf("--%s configures the embedded NATS server: give --%s too, or configure your own nats-server with it", serverConfigFlag, embeddedFlagName)
	}
	var embedded func() ([]nats.Option, error)
	if f.ServerConf != "" {
		embedded = g.Options
	}
	s, err := regctl.Serve(ctx, regctl.ServeConfig{
		Embedded:        f.Embedded,
		DataDir:         f.DataDir,
		Listen:          f.Listen,
		ServerConfig:    f.ServerConf,
		EmbeddedOptions: embedded,
		Connect:         g.Connect,
		Bucket:          f.Bucket,
		Replicas:        f.Replicas,
		PushInput:       f.PushDir,
		PushModule:      f.PushModule,
		Logger:          slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
		Warn: func(msg string) {
			fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: warning: %s\n", msg)
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted while starting (e.g. waiting for JetStream):
			// a requested stop, not a failure.
			fmt.Fprintln(cmd.ErrOrStderr(), "natsrpc: stopped before the registry served")
			return nil
		}
		return regctl.Explain(err, g.Server)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(stopCtx); err != nil && retErr == nil {
			retErr = fmt.Errorf("stop: %w", err)
		}
	}()
	out := cmd.OutOrStdout()
	if s.DataDir != "" {
		fmt.Fprintf(out, "natsrpc registry serving on %s (embedded NATS with JetStream, data in %s, every write fsynced)\n", s.URL, s.DataDir)
	} else {
		fmt.Fprintf(out, "natsrpc registry serving on %s (bucket %s)\n", s.URL, s.Bucket)
	}
	module := "<module>"
	if s.Pushed != nil {
		if s.Pushed.Refused() {
			fmt.Fprintf(out, "the push of %s as module %s was refused (%d violations); run `natsrpc push %s --module %s --dry-run` for details\n", f.PushDir, f.PushModule, len(s.Pushed.Violations), f.PushDir, f.PushModule)
		} else {
			fmt.Fprintf(out, "pushed %s: %s\n", f.PushDir, s.Pushed.Summary())
		}
		module = f.PushModule
	}
	fmt.Fprintf(out, "\nconnect:\n  export NATS_URL=%s\n\ntry:\n", s.URL)
	fmt.Fprintf(out, "  natsrpc ls %s\n", module)
	if module == "gaming" {
		fmt.Fprintln(out, "  natsrpc describe gaming.quest_system.v1.QuestSystemService")
	} else {
		fmt.Fprintln(out, "  natsrpc describe <package.Message>")
	}
	fmt.Fprintf(out, "  natsrpc get %s -o %s.binpb\n\npress Ctrl-C to stop\n", module, module)
	<-ctx.Done()
	return nil
}
