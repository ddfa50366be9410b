// Command natsrpc is the natsrpc command line: the schema registry server,
// the breaking-change gate, tools to inspect schemas, call and watch
// services and see the fleet, the HTTP gateway, and the migration tools
// (bridge, shadow report, cutover).
//
// This file only declares the command tree; each command lives in its own
// package under internal/command and its logic lives in the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/breaking"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/bridge"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/call"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/cutover"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/describe"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/gateway"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/get"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/ls"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/perms"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/policy"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/push"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/registry/deletemodule"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/registry/deprecate"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/registry/registryserve"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/registry/reservations"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/services"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/shadow"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/status"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/tap"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/template"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, newRoot())
	stop()
	os.Exit(code)
}

// newRoot declares the command tree. The connection flags (-s/--server,
// --creds, --tls-*) are global.
func newRoot() *cobra.Command {
	g := &cli.Globals{}
	root := cli.NewRoot("natsrpc",
		breaking.NewCommand("breaking"),
		push.NewCommand("push", g),
		policy.NewCommand("policy", g),
		ls.NewCommand("ls", g),
		describe.NewCommand("describe", g),
		get.NewCommand("get", g),
		gateway.NewCommand("gateway", g),
		services.NewCommand("services", g),
		template.NewCommand("template", g),
		call.NewCommand("call", g),
		status.NewCommand("status", g),
		tap.NewCommand("tap", g),
		bridge.NewCommand("bridge", g),
		cli.Group("shadow", "Compare a service's answers with its replacement's",
			shadow.NewReportCommand("report", g),
		),
		cutover.NewCommand("cutover", g),
		perms.NewCommand("perms", g),
		cli.Group("registry", "Run and manage the schema registry",
			registryserve.NewCommand("serve", g),
			reservations.NewReserveCommand("reserve", g),
			reservations.NewReleaseCommand("release", g),
			reservations.NewTransferCommand("transfer", g),
			reservations.NewListCommand("reservations", g),
			deprecate.NewCommand("deprecate", g),
			deletemodule.NewCommand("delete", g),
		),
	)
	g.Bind(root.PersistentFlags())
	return root
}
