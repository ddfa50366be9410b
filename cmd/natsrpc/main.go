// Command natsrpc is the natsrpc command line: the schema registry server,
// the breaking-change gate and tools to inspect schemas.
//
// This file only declares the command tree; each command lives in its own
// package under internal/command and its logic lives in the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/registry/registryserve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := cli.NewRoot("natsrpc",
		cli.Group("registry", "Run and manage the schema registry",
			registryserve.NewCommand("serve"),
		),
	)
	code := cli.Execute(ctx, root)
	stop()
	os.Exit(code)
}
