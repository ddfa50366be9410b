// Package shadow implements `natsrpc shadow report`: flags only, the
// report is github.com/natsrpc/natsrpc/contrib/shadow's.
package shadow

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	sh "github.com/natsrpc/natsrpc/contrib/shadow"
)

// NewReportCommand returns the `shadow report` command.
func NewReportCommand(name string, g *cli.Globals) *cobra.Command {
	out := &cli.Output{}
	var (
		service string
		wait    time.Duration
		samples int
		stream  string
	)
	cmd := &cobra.Command{
		Use:   name,
		Short: "Print shadow traffic's comparison: counts, latencies and the fields that differ",
		Long: `Print what the services that mirror calls to a candidate (natsrpc bridge
--shadow-prefix, natsrpc.WithShadow) have compared: per method, calls
mirrored, compared, equal, different, candidate errors, slow and dropped,
both sides' latencies (every running instance's $SRV.STATS merged), and
from the differences kept in JetStream the fields that differ most and the
latest pair.

    natsrpc shadow report --service gaming.quest_system.v1.QuestSystemService
    natsrpc shadow report --format json`,
		Args: cli.ExactArgs(0, "no arguments (--service narrows the report)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Check(); err != nil {
				return err
			}
			nc, err := g.Connect(cmd.Context())
			if err != nil {
				return err
			}
			defer nc.Close()
			rep, err := sh.Collect(cmd.Context(), nc, sh.CollectOptions{Service: service, Wait: wait, Samples: samples, Options: []sh.Option{sh.WithStream(stream)}})
			if err != nil {
				return err
			}
			return out.Print(cmd.OutOrStdout(), rep, func(w io.Writer) error { return rep.WriteText(w) })
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "Report only this service (full name, e.g. gaming.quest_system.v1.QuestSystemService)")
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "How long to wait for the instances' $SRV.STATS answers")
	cmd.Flags().IntVar(&samples, "samples", 3, "How many of the latest differences to include per method")
	cmd.Flags().StringVar(&stream, "stream", sh.DefaultStream, "The JetStream stream that keeps the differences")
	out.Bind(cmd.Flags())
	return cmd
}
