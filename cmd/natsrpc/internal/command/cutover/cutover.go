// Package cutover implements `natsrpc cutover`: flags only, the plan is
// github.com/natsrpc/natsrpc/gateway/bridge's.
package cutover

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	br "github.com/natsrpc/natsrpc/gateway/bridge"
)

// NewCommand returns the `cutover` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	c := br.CutoverConfig{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Print the nats-server mappings that send a share of a service's calls to its new implementation",
		Long: `Print the nats-server configuration block (weighted subject mappings) that
sends --percent of a service's calls to its new implementation, serving
under --new-prefix, and the rest to the bridge on the public subjects. No
proxy is in the path: nats-server picks a destination per message. Put the
block in every server's configuration and reload; docs/migration.md has the
steps of a cutover and of a rollback.

    natsrpc cutover --service gaming.quest_system.v1.QuestSystemService --percent 10 > quests-cutover.conf`,
		Args: cli.ExactArgs(0, "no arguments (the flags say what to move)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("percent") {
				return fmt.Errorf("--percent is required: the share of calls, 0 to 100, for the new implementation")
			}
			c.Connect = g.Connect
			conf, err := br.RunCutover(cmd.Context(), c)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), conf)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&c.ServiceName, "service", "", "The service to move, by full name")
	fs.IntVar(&c.Percent, "percent", 0, "The share of calls, 0 to 100, sent to the new implementation")
	fs.StringVar(&c.NewPrefix, "new-prefix", br.DefaultNewPrefix, "The subject prefix the new implementation serves under (natsrpc.WithSubjectPrefix)")
	fs.StringVar(&c.SubjectPrefix, "subject-prefix", "", "The runtime subject prefix both sides share, if any")
	fs.StringArrayVar(&c.Methods, "method", nil, "Move only this method (repeatable; by name, e.g. GetQuest)")
	fs.StringVar(&c.DescriptorSet, "descriptor-set", "", "Take the service from this FileDescriptorSet or buf image instead of the registry")
	fs.StringVar(&c.Bucket, "bucket", "", "The registry's JetStream KV bucket (default natsrpc_registry)")
	return cmd
}
