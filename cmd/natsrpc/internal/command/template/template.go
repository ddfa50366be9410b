// Package template implements `natsrpc template`.
package template

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/rpcctl"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

type flags struct {
	Schema cli.SchemaFlags
	Output cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	f.Schema.Bind(fs)
	f.Output.Bind(fs)
}

// NewCommand returns the `template` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " <method>",
		Short: "Print a request skeleton as JSON that natsrpc call accepts",
		Long: `Print a JSON skeleton of a method's request that ` + "`natsrpc call -d @FILE`" + `
accepts as is: every field with its zero value, enums at their first
non-zero value, one element in each list and map, nested messages filled
(a type that recurs inside itself, and nesting past 8 levels, stop with
null). Of each oneof only the first member is set; the others are named
on stderr. For client and bidi streams it is one message.

    natsrpc template gaming.quest_system.v1.QuestSystemService/GenerateQuest > req.json
    natsrpc call gaming.quest_system.v1.QuestSystemService/GenerateQuest -d @req.json`,
		Args: cli.ExactArgs(1, "one method"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd, args[0], g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, method string, g *cli.Globals, f *flags) error {
	if err := f.Output.Check(); err != nil {
		return err
	}
	if err := f.Schema.Check(); err != nil {
		return err
	}
	ref, err := schema.ParseMethod(method)
	if err != nil {
		return err
	}
	src, closeSrc, err := cli.OpenSource(ctx, g, &f.Schema, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeSrc()
	m, err := src.Method(ctx, ref)
	if err != nil {
		return err
	}
	doc, notes, err := rpcctl.Template(m.Desc.Input(), m.Types)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: notice: %s\n", n)
	}
	return (&rpcctl.Printer{W: cmd.OutOrStdout(), Compact: f.Output.JSON()}).PrintJSON(doc)
}
