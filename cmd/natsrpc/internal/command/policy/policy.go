// Package policy implements `natsrpc policy`.
package policy

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
)

const (
	useFlagName        = "use"
	directionFlagName  = "direction"
	transitiveFlagName = "transitive"
)

type flags struct {
	Use        []string
	Direction  string
	Transitive bool
	Output     cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Use, useFlagName, nil, "Breaking-change categories to apply: FILE, PACKAGE, WIRE_JSON, WIRE, NATSRPC; repeatable or comma-separated; --use '' applies none")
	fs.StringVar(&f.Direction, directionFlagName, "", "Which way versions must stay compatible: backward (consumers upgrade first), forward (producers first) or full")
	fs.BoolVar(&f.Transitive, transitiveFlagName, false, "Check a push against every earlier version, not only the latest")
	f.Output.Bind(fs)
}

// NewCommand returns the `policy` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <module> [--use CATEGORY ...] [--direction backward|forward|full] [--transitive]",
		Short: "Show or set a module's compatibility policy",
		Long: `Show a module's compatibility policy, or set it when any flag is given
(the flags not given keep their current values). The registry applies the
policy to every push of the module; a buf.yaml pushed with it does not
override it. The default is categories FILE and NATSRPC, backward, not
transitive. Setting a policy before the first push announces a new module;
showing the policy of a module the registry never heard of is an error.

    natsrpc policy gaming
    natsrpc policy gaming --use WIRE_JSON,NATSRPC --direction full --transitive`,
		Args: cli.ExactArgs(1, "one module name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, module string, g *cli.Globals, f *flags) (retErr error) {
	if err := f.Output.Check(); err != nil {
		return err
	}
	var change regctl.PolicyChange
	fs := cmd.Flags()
	if fs.Changed(useFlagName) {
		change.Categories = &f.Use
	}
	if fs.Changed(directionFlagName) {
		change.Direction = &f.Direction
	}
	if fs.Changed(transitiveFlagName) {
		change.Transitive = &f.Transitive
	}
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	p, isDefault, err := regctl.Policy(ctx, c, module, change)
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	return f.Output.Print(cmd.OutOrStdout(), regctl.PolicyDocument(module, p, isDefault), func(w io.Writer) error {
		_, err := io.WriteString(w, regctl.FormatPolicy(module, p, isDefault))
		return err
	})
}
