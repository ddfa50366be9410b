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
	"github.com/natsrpc/natsrpc/internal/input"
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
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Against, againstFlagName, "", `Required. The input to check against: a directory, an image file (.binpb, .json, .txtpb) or a git reference such as ".git#branch=main,subdir=proto"`)
	fs.StringVar(&f.AgainstRegistry, againstRegistryFlagName, "", "Check against a module version in the schema registry instead: MODULE or MODULE@VERSION (default the latest); a module with no versions passes with a notice")
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
for buf breaking, and the output is buf's, line for line. The command exits
with 100 when it finds breaking changes or sources that do not compile, 1 on
unreadable input or bad flags, and 0 otherwise.`,
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
	opts := input.Options{Paths: f.Paths, ExcludePaths: f.ExcludePaths}
	againstOpts := input.Options{}
	if ar, perr := input.ParseRef(f.Against); perr == nil && (ar.Format == input.FormatDir || ar.Format == input.FormatProtoFile) {
		againstOpts = opts
	}
	var current, against *input.Input
	if f.AgainstRegistry != "" {
		current, against, err = loadAgainstRegistry(ctx, cmd, ref, opts, f.AgainstRegistry)
		if err == nil && against == nil {
			return nil // no versions yet: nothing to break
		}
	} else {
		current, against, err = input.LoadPair(ctx, ref, f.Against, opts, againstOpts)
	}
	if err != nil {
		return loadError(cmd, format, err)
	}
	violations, warnings, err := registrybreaking.CheckInputs(ctx, current, against, registrybreaking.InputOptions{
		ConfigOverride: f.Config,
		ExcludeImports: f.ExcludeImports,
		NATSRPC:        f.NATSRPCRules,
	})
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: warning: %s\n", w)
	}
	if err != nil {
		return err
	}
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
	if perr := registrybreaking.Print(cmd.OutOrStdout(), registrybreaking.CompileViolations(ce), format); perr != nil {
		return fmt.Errorf("cannot print the compile errors: %w", perr)
	}
	return &cli.ExitCodeError{Code: cli.ExitRefused}
}
