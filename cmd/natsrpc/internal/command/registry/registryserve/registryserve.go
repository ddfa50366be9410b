// Package registryserve implements `natsrpc registry serve`.
package registryserve

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/internal/embeddednats"
)

const (
	embeddedFlagName = "embedded"
	dataDirFlagName  = "data-dir"
	listenFlagName   = "listen"
)

type flags struct {
	Embedded bool
	DataDir  string
	Listen   string
}

func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.Embedded, embeddedFlagName, false, "start an in-process NATS server with JetStream and serve on it")
	fs.StringVar(&f.DataDir, dataDirFlagName, ".natsrpc", "JetStream storage directory of the embedded server")
	fs.StringVar(&f.Listen, listenFlagName, "127.0.0.1:4222", "client address of the embedded server (HOST:PORT)")
}

// NewCommand returns the `serve` command.
func NewCommand(name string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Serve the schema registry over NATS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, f *flags) error {
	if !f.Embedded {
		return fmt.Errorf("only --%s is supported until the registry service lands; run with --%s", embeddedFlagName, embeddedFlagName)
	}
	host, portStr, err := net.SplitHostPort(f.Listen)
	if err != nil {
		return fmt.Errorf("--%s %q: want HOST:PORT: %w", listenFlagName, f.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("--%s %q: port must be a number from 0 to 65535", listenFlagName, f.Listen)
	}
	dir, err := filepath.Abs(f.DataDir)
	if err != nil {
		return fmt.Errorf("--%s %q: %w", dataDirFlagName, f.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--%s %q: %w", dataDirFlagName, f.DataDir, err)
	}
	srv, err := embeddednats.Start(embeddednats.Config{
		Host:       host,
		Port:       port,
		ServerName: "natsrpc-embedded",
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "NATS with JetStream listening on %s (data in %s)\n", srv.ClientURL(), dir)
	fmt.Fprintf(out, "connect with: export NATS_URL=%s\n", srv.ClientURL())
	fmt.Fprintln(out, "press Ctrl-C to stop")
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
