// Package ls implements `natsrpc ls`.
package ls

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// NewCommand returns the `ls` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	out := &cli.Output{}
	cmd := &cobra.Command{
		Use:   name + " [<module>]",
		Short: "List the registry's modules, or one module's versions",
		Long: `Without a module, list every module with its latest version, digest and
update time. With a module, list its versions, oldest first, with digest,
creation time, number of own files and the versions a revert restores.

    natsrpc ls
    natsrpc ls gaming
    natsrpc ls gaming --format json`,
		Args: cli.MaxArgs(1, "at most one module name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args, g, out)
		},
	}
	out.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, args []string, g *cli.Globals, out *cli.Output) error {
	if err := out.Check(); err != nil {
		return err
	}
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
	w := cmd.OutOrStdout()
	if module == "" {
		mods, err := c.ListModules(ctx)
		if err != nil {
			return regctl.Explain(err, g.Server)
		}
		if len(mods) == 0 && !out.JSON() {
			fmt.Fprintln(cmd.ErrOrStderr(), "no modules yet; push one with `natsrpc push <input> --module <name>`")
			return nil
		}
		return out.Print(w, regctl.ModulesDocument(mods), func(w io.Writer) error { return modulesTable(w, mods) })
	}
	versions, err := c.ListVersions(ctx, module)
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	return out.Print(w, regctl.VersionsDocument(module, versions), func(w io.Writer) error { return versionsTable(w, versions) })
}

func modulesTable(w io.Writer, mods []*registryv1.Module) error {
	rows := make([][]string, 0, len(mods))
	for _, m := range mods {
		note := ""
		if m.GetDeprecated() {
			note = "deprecated"
			if msg := m.GetDeprecationMessage(); msg != "" {
				note += ": " + msg
			}
		}
		rows = append(rows, []string{m.GetName(), fmt.Sprint(m.GetLatestVersion()), m.GetLatestDigest(), when(m.GetUpdateTime()), note})
	}
	return cli.WriteTable(w, []string{"MODULE", "LATEST", "DIGEST", "UPDATED", "NOTE"}, rows)
}

func versionsTable(w io.Writer, versions []*registryv1.ModuleVersion) error {
	rows := make([][]string, 0, len(versions))
	for _, v := range versions {
		note := ""
		if r := v.GetRevertOf(); len(r) > 0 {
			s := make([]string, len(r))
			for i, n := range r {
				s[i] = fmt.Sprint(n)
			}
			note = "revert to " + strings.Join(s, ", ")
		}
		rows = append(rows, []string{fmt.Sprint(v.GetVersion()), v.GetDigest(), when(v.GetCreateTime()), fmt.Sprint(len(v.GetFiles())), regctl.PusherText(v.GetPushedBy()), note})
	}
	return cli.WriteTable(w, []string{"VERSION", "DIGEST", "CREATED", "FILES", "PUSHED BY", "NOTE"}, rows)
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}
