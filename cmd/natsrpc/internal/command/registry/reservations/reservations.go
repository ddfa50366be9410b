// Package reservations implements `natsrpc registry reserve`, `release`,
// `transfer` and `reservations`: package reservations, which stop a module from
// claiming a package reserved for another by pushing it first.
package reservations

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// Doc is one reservation in `--format json`.
type Doc struct {
	Prefix     string `json:"prefix"`
	Module     string `json:"module"`
	CreateTime string `json:"create_time"`
}

func doc(r *registryv1.Reservation) Doc {
	d := Doc{Prefix: r.GetPrefix(), Module: r.GetModule()}
	if ts := r.GetCreateTime(); ts != nil {
		d.CreateTime = ts.AsTime().UTC().Format(time.RFC3339)
	}
	return d
}

// NewReserveCommand returns `registry reserve`.
func NewReserveCommand(name string, g *cli.Globals) *cobra.Command {
	var module string
	cmd := &cobra.Command{
		Use:   name + " PREFIX --module M",
		Short: "Reserve a package prefix for a module (admin right)",
		Long: `Reserve a package prefix for a module: pushes of other modules whose own
files declare the prefix or a package under it are refused
(REGISTRY_PACKAGE_RESERVED). Fails when another module holds the prefix or
already owns such a package. Needs the registry's admin right.

    natsrpc registry reserve gaming.payment --module payment`,
		Args: cli.ExactArgs(1, "one package prefix, e.g. gaming.payment"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if module == "" {
				return fmt.Errorf("--module is required: the module the prefix is reserved for")
			}
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Admin().ReservePackage(ctx, &registryv1.ReservePackageRequest{Prefix: args[0], Module: module})
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "package prefix %s reserved for module %s\n", res.GetReservation().GetPrefix(), res.GetReservation().GetModule())
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "The module the prefix is reserved for")
	return cmd
}

// NewReleaseCommand returns `registry release`.
func NewReleaseCommand(name string, g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   name + " PREFIX",
		Short: "Remove a package reservation (admin right)",
		Long: `Remove the reservation of a package prefix. Packages already pushed stay
with the modules that declare them. Needs the registry's admin right.

    natsrpc registry release gaming.payment`,
		Args: cli.ExactArgs(1, "one reserved package prefix"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Admin().ReleasePackage(ctx, &registryv1.ReleasePackageRequest{Prefix: args[0]})
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "package prefix %s released (was reserved for module %s)\n", res.GetReservation().GetPrefix(), res.GetReservation().GetModule())
			return nil
		},
	}
}

// NewTransferCommand returns `registry transfer`.
func NewTransferCommand(name string, g *cli.Globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   name + " PREFIX --to M",
		Short: "Give a package prefix to another module (admin right)",
		Long: `Give a package prefix to another module: its reservation (made if there
was none) and the packages under it that a module owns. The module that had
them can no longer push files declaring them (REGISTRY_PACKAGE_RESERVED):
its next version must drop them, and the new module may push them. Needs
the registry's admin right.

    natsrpc registry transfer gaming.payment --to payments`,
		Args: cli.ExactArgs(1, "one package prefix, e.g. gaming.payment"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("--to is required: the module that gets the prefix")
			}
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Admin().TransferPackage(ctx, &registryv1.TransferPackageRequest{Prefix: args[0], To: to})
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "package prefix %s now belongs to module %s\n", res.GetReservation().GetPrefix(), res.GetReservation().GetModule())
			for _, p := range res.GetPackages() {
				fmt.Fprintf(w, "  moved package %s\n", p)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "The module that gets the prefix")
	return cmd
}

// NewListCommand returns `registry reservations`.
func NewListCommand(name string, g *cli.Globals) *cobra.Command {
	out := &cli.Output{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "List the package reservations",
		Long: `List the package reservations, by prefix (the read right).

    natsrpc registry reservations --format json`,
		Args: cli.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, closeConn, err := g.RegistryClient(ctx)
			if err != nil {
				return err
			}
			defer closeConn()
			list, err := c.ListReservations(ctx)
			if err != nil {
				return regctl.Explain(err, g.ServerRedacted())
			}
			docs := make([]Doc, 0, len(list))
			for _, r := range list {
				docs = append(docs, doc(r))
			}
			return out.Print(cmd.OutOrStdout(), docs, func(w io.Writer) error {
				rows := make([][]string, 0, len(docs))
				for _, d := range docs {
					rows = append(rows, []string{d.Prefix, d.Module, d.CreateTime})
				}
				return cli.WriteTable(w, []string{"PREFIX", "MODULE", "CREATED"}, rows)
			})
		},
	}
	out.Bind(cmd.Flags())
	return cmd
}
