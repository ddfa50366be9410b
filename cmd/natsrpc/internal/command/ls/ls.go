// Package ls implements `natsrpc ls`.
package ls

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/registry/regctl"
)

// NewCommand returns the `ls` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name + " [<module>]",
		Short: "List the registry's modules, or one module's versions",
		Long: `Without a module, list every module with its latest version, digest and
update time. With a module, list its versions, oldest first, with digest,
creation time, number of own files and the versions a revert restores.

    natsrpc ls
    natsrpc ls gaming`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args, g)
		},
	}
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, args []string, g *cli.Globals) (retErr error) {
	var module string
	if len(args) == 1 {
		ref, err := regctl.ParseModuleRef(args[0])
		if err != nil {
			return err
		}
		if ref.Version != 0 {
			return fmt.Errorf("ls takes a module, not a version: use `natsrpc ls %s`, or `natsrpc get %s -o FILE` for the files", ref.Module, ref)
		}
		module = ref.Module
	}
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	defer func() {
		if err := w.Flush(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if module == "" {
		mods, err := c.ListModules(ctx)
		if err != nil {
			return regctl.Explain(err, g.Server)
		}
		if len(mods) == 0 {
			fmt.Fprintln(cmd.ErrOrStderr(), "no modules yet; push one with `natsrpc push <input> --module <name>`")
			return nil
		}
		fmt.Fprintln(w, "MODULE\tLATEST\tDIGEST\tUPDATED")
		for _, m := range mods {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", m.GetName(), m.GetLatestVersion(), m.GetLatestDigest(), when(m.GetUpdateTime()))
		}
		return nil
	}
	versions, err := c.ListVersions(ctx, module)
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	fmt.Fprintln(w, "VERSION\tDIGEST\tCREATED\tFILES\tNOTE")
	for _, v := range versions {
		note := ""
		if r := v.GetRevertOf(); len(r) > 0 {
			s := make([]string, len(r))
			for i, n := range r {
				s[i] = fmt.Sprint(n)
			}
			note = "revert to " + strings.Join(s, ", ")
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", v.GetVersion(), v.GetDigest(), when(v.GetCreateTime()), len(v.GetFiles()), note)
	}
	return nil
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}
