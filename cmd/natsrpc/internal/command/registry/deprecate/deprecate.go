// Package deprecate implements `natsrpc registry deprecate`.
package deprecate

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// NewCommand returns `registry deprecate`.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	var (
		message string
		undo    bool
	)
	cmd := &cobra.Command{
		Use:   name + " MODULE [--message TEXT] [--undo]",
		Short: "Mark a module deprecated, or no longer (admin right)",
		Long: `Mark a module deprecated, with a message saying why and what to use
instead; natsrpc ls shows it. --undo removes the mark. Needs the registry's
admin right.

    natsrpc registry deprecate matchmaking --message "use lobby instead"`,
		Args: cli.ExactArgs(1, "one module name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if undo && message != "" {
				return fmt.Errorf("--undo removes the deprecation: leave --message out")
			}
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Admin().DeprecateModule(ctx, &registryv1.DeprecateModuleRequest{Module: args[0], Message: message, Undo: undo})
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			if res.GetDeprecated() {
				fmt.Fprintf(cmd.OutOrStdout(), "module %s is deprecated\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "module %s is not deprecated\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&message, "message", "", "Why, and what to use instead (at most 512 bytes)")
	cmd.Flags().BoolVar(&undo, "undo", false, "Remove the deprecation")
	return cmd
}
