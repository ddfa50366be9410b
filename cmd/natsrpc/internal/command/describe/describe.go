// Package describe implements `natsrpc describe`.
package describe

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
)

const (
	moduleFlagName  = "module"
	versionFlagName = "version"
)

type flags struct {
	Module  string
	Version uint64
	Output  cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Module, moduleFlagName, "", "Look in this module, MODULE or MODULE@VERSION (default: the latest version of the module that owns the symbol's package)")
	fs.Uint64Var(&f.Version, versionFlagName, 0, "Look in this version of --module (the same as --module MODULE@VERSION)")
	f.Output.Bind(fs)
}

// NewCommand returns the `describe` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <symbol> [--module M[@V]]",
		Short: "Show a symbol's definition in .proto syntax",
		Long: `Show the definition of a fully-qualified symbol (package, message, field,
enum, enum value, service, method or extension) as the registry holds it,
in .proto syntax with its comments, like grpcurl describe.

    natsrpc describe gaming.quest_system.v1.QuestSystemService
    natsrpc describe gaming.common.v1.Meta --module gaming@2
    natsrpc describe gaming.common.v1.Meta --format json`,
		Args: cli.ExactArgs(1, "one fully-qualified symbol"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, symbol string, g *cli.Globals, f *flags) (retErr error) {
	if err := f.Output.Check(); err != nil {
		return err
	}
	if f.Version != 0 && f.Module == "" {
		return fmt.Errorf("--%s needs --%s: name the module whose version to look in", versionFlagName, moduleFlagName)
	}
	var ref regctl.ModuleRef
	if f.Module != "" {
		var err error
		if ref, err = regctl.ParseModuleRef(f.Module); err != nil {
			return fmt.Errorf("--%s: %w", moduleFlagName, err)
		}
		if f.Version != 0 {
			if ref.Version != 0 && ref.Version != f.Version {
				return fmt.Errorf("--%s %s and --%s %d name different versions: give one (--%s %s@%d)", moduleFlagName, f.Module, versionFlagName, f.Version, moduleFlagName, ref.Module, f.Version)
			}
			ref.Version = f.Version
		}
	}
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	d, err := regctl.Describe(ctx, c, symbol, ref)
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	return f.Output.Print(cmd.OutOrStdout(), d.Document(), func(w io.Writer) error {
		_, err := io.WriteString(w, d.String())
		return err
	})
}
