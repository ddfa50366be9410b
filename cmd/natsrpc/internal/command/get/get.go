// Package get implements `natsrpc get`.
package get

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
)

const outputFlagName = "output"

type flags struct {
	Output string
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Output, outputFlagName, "o", "", `Required. The buf image file to write (.binpb), or "-" for stdout`)
}

// NewCommand returns the `get` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <module>[@<version>] -o <file>",
		Short: "Write a version of a module as a buf image",
		Long: `Write a version of a module (the latest by default) as a binary buf image:
the module's files and their imports, with source info, the imports marked
as such. buf build, buf breaking --against and buf generate accept it, and
buf generate emits code for the module's own files only:

    natsrpc get gaming -o gaming.binpb
    buf generate gaming.binpb`,
		Args: cli.ExactArgs(1, "one module, or module@version"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, arg string, g *cli.Globals, f *flags) (retErr error) {
	ref, err := regctl.ParseModuleRef(arg)
	if err != nil {
		return err
	}
	switch {
	case f.Output == "":
		return fmt.Errorf("-o is required: name the image file to write, e.g. -o %s.binpb", ref.Module)
	case f.Output != "-" && !strings.HasSuffix(f.Output, ".binpb") && !strings.HasSuffix(f.Output, ".bin"):
		return fmt.Errorf("-o %q: natsrpc writes binary buf images; name the file *.binpb", f.Output)
	}
	if f.Output != "-" {
		// A mistyped directory is refused, not created: check before
		// asking the registry.
		if dir := filepath.Dir(f.Output); dir != "." {
			fi, err := os.Stat(dir)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("-o %q: directory %q does not exist; create it first, or write somewhere else", f.Output, dir)
			case err != nil:
				return fmt.Errorf("-o %q: %w", f.Output, err)
			case !fi.IsDir():
				return fmt.Errorf("-o %q: %q is not a directory", f.Output, dir)
			}
		}
	}
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	mv, data, err := regctl.Image(ctx, c, ref)
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	if f.Output == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	if err := os.WriteFile(f.Output, data, 0o644); err != nil {
		return fmt.Errorf("-o %q: %w", f.Output, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s@%d %s (%d own files, %d bytes) to %s\n", mv.GetModule(), mv.GetVersion(), mv.GetDigest(), len(mv.GetFiles()), len(data), f.Output)
	return nil
}
