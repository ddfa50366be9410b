// Package status implements `natsrpc status`.
package status

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/registry/client"
)

type flags struct {
	Wait   time.Duration
	Output cli.Output
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.DurationVar(&f.Wait, "wait", 250*time.Millisecond, "Collect discovery answers until none arrived for this long")
	f.Output.Bind(fs)
}

// NewCommand returns the `status` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Show the running service instances and which registry version each one's schema is",
		Long: `Show every service instance that answers NATS micro discovery ($SRV.INFO
and $SRV.STATS): version, uptime, request and error counts, and which
registry version its schema is. Each instance advertises the digest of
its service's file; the registry says which versions have that file:
MODULE@VERSION, or a range when the file is unchanged across versions
(gaming@3..7), or "no registry version" (a build from a schema never
pushed). An instance whose file is not the latest version's is checked:
the schema it serves ($SRV.SCHEMA) against the module's latest version,
under the module's policy; BREAKS flags one that the registry would refuse,
with the findings below the table.

    natsrpc status
    natsrpc status --format json`,
		Args: cli.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd, g, f)
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cmd *cobra.Command, g *cli.Globals, f *flags) error {
	if err := f.Output.Check(); err != nil {
		return err
	}
	nc, err := g.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := fleet.Status(ctx, nc, client.New(nc), g.Server, fleet.StatusOptions{Gather: fleet.Gather{Quiet: f.Wait}})
	if err != nil {
		return err
	}
	if len(rep.Instances) == 0 && !f.Output.JSON() {
		_, err := io.WriteString(cmd.ErrOrStderr(), "no service instance answers $SRV.INFO\n")
		return err
	}
	return f.Output.Print(cmd.OutOrStdout(), rep, func(w io.Writer) error { return writeReport(w, rep) })
}

// writeReport writes the text of a report: one table row per instance,
// then the findings of the instances whose schema breaks.
func writeReport(w io.Writer, rep *fleet.Report) error {
	if rep.Registry != "ok" {
		if _, err := fmt.Fprintf(w, "registry: %s\n", rep.Registry); err != nil {
			return err
		}
	}
	rows := make([][]string, 0, len(rep.Instances))
	var notes []string
	for _, in := range rep.Instances {
		check := "-"
		if c := in.Check; c != nil {
			switch {
			case c.Error != "":
				check = "not checked"
				notes = append(notes, fmt.Sprintf("%s %s: not checked: %s", in.Service, in.ID, c.Error))
			case c.Breaks:
				check = fmt.Sprintf("BREAKS %s (%d)", c.Against, len(c.Findings))
				notes = append(notes, fmt.Sprintf("%s %s breaks against %s:", in.Service, in.ID, c.Against))
				for _, f := range c.Findings {
					notes = append(notes, "  "+f)
				}
			default:
				check = "compatible with " + c.Against
			}
		} else if in.Schema.State == "latest" {
			check = "latest"
		}
		uptime := in.Uptime
		if uptime == "" {
			uptime = "-"
		}
		rows = append(rows, []string{in.Service, in.ID, in.Version, uptime, strconv.Itoa(in.Requests), strconv.Itoa(in.Errors), in.Schema.Text, check})
	}
	if err := cli.WriteTable(w, []string{"SERVICE", "INSTANCE", "VERSION", "UPTIME", "REQUESTS", "ERRORS", "SCHEMA", "CHECK"}, rows); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}
