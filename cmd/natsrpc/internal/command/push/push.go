// Package push implements `natsrpc push`.
package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/registry/breaking"
)

const (
	moduleFlagName      = "module"
	dryRunFlagName      = "dry-run"
	errorFormatFlagName = "error-format"
)

type flags struct {
	Module      string
	DryRun      bool
	ErrorFormat string
	Output      cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Module, moduleFlagName, "", "Required. The module to push a version of, e.g. gaming")
	fs.BoolVar(&f.DryRun, dryRunFlagName, false, "Run every check and report what a push would do, without storing anything")
	fs.StringVar(&f.ErrorFormat, errorFormatFlagName, "text", "The format of violations printed to stdout. Must be one of "+strings.Join(breaking.Formats, ", ")+"; with --format json they are in the JSON document")
	f.Output.Bind(fs)
}

// NewCommand returns the `push` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <input> --module <name>",
		Short: "Push a new version of a module to the schema registry",
		Long: `Push the files of <input> as a new version of a module.

<input> is read as for natsrpc breaking: a directory of .proto files (with
or without a buf.yaml), a .proto file, an image (.binpb, .json, .txtpb) or
a git reference such as ".git#branch=main,subdir=proto". Its files are the
module's own; what they import is recorded as dependencies.

The registry refuses a push that breaks the module's policy (see natsrpc
policy) or declares a package, file or NATS subject another module owns;
the violations are printed to stdout and the command exits with 100.
A push identical to the latest version stores nothing and prints it.

    natsrpc push proto --module gaming
    natsrpc push proto --module gaming --dry-run --error-format github-actions
    natsrpc push proto --module gaming --format json`,
		Args: cli.ExactArgs(1, "one input (a directory, a .proto file, an image or a git reference)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, ref string, g *cli.Globals, f *flags) (retErr error) {
	if err := f.Output.Check(); err != nil {
		return err
	}
	format, err := breaking.ParseFormat(f.ErrorFormat)
	if err != nil {
		return fmt.Errorf("--%s: %w", errorFormatFlagName, err)
	}
	if f.Output.JSON() && cmd.Flags().Changed(errorFormatFlagName) {
		return fmt.Errorf("give --format json or --%s, not both: the JSON document carries the violations", errorFormatFlagName)
	}
	if f.Module == "" {
		return fmt.Errorf("--%s is required: name the module to push, e.g. --%s gaming", moduleFlagName, moduleFlagName)
	}
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	res, err := regctl.Push(ctx, c, ref, f.Module, f.DryRun)
	if err != nil {
		var ce *input.CompileError
		if errors.As(err, &ce) {
			compileErrors := input.CompileViolations(ce)
			doc := regctl.PushDoc{Module: f.Module, Outcome: "compile_error", DryRun: f.DryRun, Violations: regctl.ViolationDocuments(compileErrors)}
			if perr := f.Output.Print(cmd.OutOrStdout(), doc, func(w io.Writer) error { return breaking.Print(w, compileErrors, format) }); perr != nil {
				return perr
			}
			return fmt.Errorf("input %q does not compile; fix the errors printed on stdout and push again", ref)
		}
		return regctl.Explain(err, g.Server)
	}
	if res.Refused() {
		if err := f.Output.Print(cmd.OutOrStdout(), res.Document(f.Module), func(w io.Writer) error { return breaking.Print(w, res.Violations, format) }); err != nil {
			return fmt.Errorf("print the violations: %w", err)
		}
		what := "push of module %q refused"
		if f.DryRun {
			what = "dry run: push of module %q would be refused"
		}
		return cli.Refused(fmt.Errorf(what+": %d violation(s) printed on stdout; fix them and push again (which breaking changes count is the module's policy: `natsrpc policy %s`)", f.Module, len(res.Violations), f.Module))
	}
	return f.Output.Print(cmd.OutOrStdout(), res.Document(f.Module), func(w io.Writer) error {
		_, err := fmt.Fprintln(w, res.Summary())
		return err
	})
}
