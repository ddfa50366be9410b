// Package deletemodule implements `natsrpc registry delete`.
package deletemodule

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// NewCommand returns `registry delete`.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   name + " MODULE --yes",
		Short: "Delete a module: every version, its policy and index entries (admin right)",
		Long: `Delete a module: its versions, policy, deprecation and index entries. From
the first step on, every read of the module says not found; if the deletion
is interrupted, deleting again finishes it. A later push of the same name
starts after the deleted version numbers, which are never reused.
Reservations for the module stay (natsrpc registry release). --yes is
required: a deletion cannot be undone. Needs the registry's admin right.

    natsrpc registry delete old-matchmaking --yes`,
		Args: cli.ExactArgs(1, "one module name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting module %q cannot be undone: add --yes", args[0])
			}
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Admin().DeleteModule(ctx, &registryv1.DeleteModuleRequest{Module: args[0]})
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			if n := res.GetDeletedThrough(); n > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "module %s deleted (versions through %d; a new push starts at %d)\n", args[0], n, n+1)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "module %s deleted (it had no version)\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "Confirm the deletion")
	return cmd
}
