// Package breaking implements `natsrpc breaking`, the CI gate that refuses
// breaking changes between two versions of a schema.
package breaking

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	registrybreaking "github.com/natsrpc/natsrpc/registry/breaking"
)

const (
	againstFlagName        = "against"
	configFlagName         = "config"
	errorFormatFlagName    = "error-format"
	excludeImportsFlagName = "exclude-imports"
	pathFlagName           = "path"
	excludePathFlagName    = "exclude-path"
	natsrpcRulesFlagName   = "natsrpc-rules"
)

type flags struct {
	Against         string
	AgainstRegistry string
	Config          string
	ErrorFormat     string
	ExcludeImports  bool
	Paths           []string
	ExcludePaths    []string
	NATSRPCRules    bool
	BufRules        bool
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Against, againstFlagName, "", `Required. The input to check against: a directory, an image file (.binpb, .json, .txtpb) or a git reference such as ".git#branch=main,subdir=proto"`)
	fs.StringVar(&f.AgainstRegistry, againstRegistryFlagName, "", "Check against a module version in the schema registry instead: MODULE or MODULE@VERSION (default the latest), with the module's policy, giving the verdict `natsrpc push --dry-run` gives on breaking changes; a module with a policy but no versions passes with a notice, an unknown module is an error")
	fs.BoolVar(&f.BufRules, bufRulesFlagName, false, "With --"+againstRegistryFlagName+": check with the input's buf.yaml rules (or --config), as --against does, instead of the module's policy")
	fs.StringVar(&f.Config, configFlagName, "", "The buf.yaml file or data to use for configuration, replacing the input's own")
	fs.StringVar(&f.ErrorFormat, errorFormatFlagName, "text", "The format for compile errors and breaking changes printed to stdout. Must be one of "+strings.Join(registrybreaking.Formats, ", "))
	fs.BoolVar(&f.ExcludeImports, excludeImportsFlagName, false, "Exclude imports from breaking change detection")
	fs.StringSliceVar(&f.Paths, pathFlagName, nil, `Limit to specific files or directories, e.g. "proto/a/a.proto", "proto/a"; repeatable`)
	fs.StringSliceVar(&f.ExcludePaths, excludePathFlagName, nil, `Exclude specific files or directories, e.g. "proto/a/a.proto", "proto/a"; repeatable`)
	fs.BoolVar(&f.NATSRPCRules, natsrpcRulesFlagName, false, "Also run natsrpc's NATSRPC rules: a method's NATS subject, kind or queue group changed, or a subject removed")
}

// NewCommand returns the `breaking` command.
func NewCommand(name string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [<input>] --against <against-input>",
		Short: "Verify no breaking changes have been made",
		Long: `Verify that <input> (default ".") has no breaking changes compared to <against-input>.

Inputs are directories of .proto files (with or without a buf.yaml, a v2
workspace or a buf.work.yaml), single .proto files, image files (a
FileDescriptorSet or buf image as .binpb, .json or .txtpb) and commits of
a local git repository, read without network access:

    natsrpc breaking proto --against '.git#branch=main,subdir=proto'

The rules and ignores come from the "breaking" section of the buf.yaml, as
for buf breaking, and the output is buf's, line for line. --path and
--exclude-path narrow both sides, as in buf.

Against the schema registry (--against-registry MODULE[@VERSION]) the rules
are the module's policy in the registry, so the verdict on breaking changes
is the one natsrpc push --dry-run gives; --buf-rules uses the buf.yaml rules
instead. A module the registry never heard of is an error; announce a new
module by setting its policy (natsrpc policy MODULE --use ...).

The command exits with 100 when it finds breaking changes or sources that
do not compile, 1 on unreadable input or bad flags, and 0 otherwise.`,
		Args: cli.MaxArgs(1, "at most one input"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, args []string, f *flags) (retErr error) {
	format, err := registrybreaking.ParseFormat(f.ErrorFormat)
	if err != nil {
		return fmt.Errorf("--%s: %w", errorFormatFlagName, err)
	}
	switch {
	case f.Against == "" && f.AgainstRegistry == "":
		return fmt.Errorf("--%s is required: give the input to compare with, e.g. --%s '.git#branch=main', or --%s MODULE for the registry's latest version", againstFlagName, againstFlagName, againstRegistryFlagName)
	case f.Against != "" && f.AgainstRegistry != "":
		return fmt.Errorf("give --%s or --%s, not both", againstFlagName, againstRegistryFlagName)
	case f.BufRules && f.AgainstRegistry == "":
		return fmt.Errorf("--%s applies to --%s; against an input the buf.yaml rules always apply", bufRulesFlagName, againstRegistryFlagName)
	}
	ref := "."
	if len(args) == 1 {
		ref = args[0]
	}
	if os.Getenv("GOGC") == "" {
		// A short-lived process that allocates a few megabytes: collecting
		// garbage less often makes it about a quarter faster.
		debug.SetGCPercent(400)
	}
	// As buf does, the against side is narrowed with the same paths.
	opts := input.Options{Paths: f.Paths, ExcludePaths: f.ExcludePaths}
	if f.AgainstRegistry != "" {
		return runAgainstRegistry(ctx, cmd, ref, opts, f, format)
	}
	// Source info (comments and positions) is a fifth of compiling, and
	// only findings need it, in the current input: the against side is
	// compiled without it, and so is a directory input, whose files with
	// findings are compiled again with it (input.Locate) when there are
	// any. A check that passes, the usual case in CI, never generates it.
	againstOpts, currentOpts := opts, opts
	againstOpts.NoSourceInfo = true
	if r, err := input.ParseRef(ref); err == nil && (r.Format == input.FormatDir || r.Format == input.FormatProtoFile) {
		currentOpts.NoSourceInfo = true
	}
	current, against, err := input.LoadPair(ctx, ref, f.Against, currentOpts, againstOpts)
	if err != nil {
		return loadError(cmd, format, err)
	}
	bopts := input.BreakingOptions{
		ConfigOverride: f.Config,
		ExcludeImports: f.ExcludeImports,
		NATSRPC:        f.NATSRPCRules,
	}
	violations, warnings, err := input.CheckBreaking(ctx, current, against, bopts)
	if err == nil && len(violations) > 0 && currentOpts.NoSourceInfo {
		var paths []string
		for _, v := range violations {
			paths = append(paths, v.Path)
		}
		located, lerr := input.Locate(ctx, current, ref, opts, paths)
		if lerr == nil && !located {
			lerr = fmt.Errorf("input %q cannot be located", ref)
		}
		if lerr != nil {
			// Load the input whole with source info instead.
			if current, lerr = input.Load(ctx, ref, opts); lerr != nil {
				return loadError(cmd, format, lerr)
			}
		}
		violations, warnings, err = input.CheckBreaking(ctx, current, against, bopts)
	}
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	return printViolations(cmd, violations, format)
}

// printViolations prints the breaking changes and refuses (exit 100), or
// does nothing when there are none.
func printViolations(cmd *cobra.Command, violations []registrybreaking.Violation, format string) error {
	if len(violations) == 0 {
		return nil
	}
	if err := registrybreaking.Print(cmd.OutOrStdout(), violations, format); err != nil {
		return fmt.Errorf("cannot print the breaking changes: %w", err)
	}
	return &cli.ExitCodeError{Code: cli.ExitRefused}
}

// loadError prints compile errors as COMPILE annotations and refuses, as
// buf does; other load errors are plain errors (exit code 1).
func loadError(cmd *cobra.Command, format string, err error) error {
	var ce *input.CompileError
	if !errors.As(err, &ce) {
		return err
	}
	if perr := registrybreaking.Print(cmd.OutOrStdout(), input.CompileViolations(ce), format); perr != nil {
		return fmt.Errorf("cannot print the compile errors: %w", perr)
	}
	return &cli.ExitCodeError{Code: cli.ExitRefused}
}
