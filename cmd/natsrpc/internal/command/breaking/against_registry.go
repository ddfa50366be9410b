package breaking

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
)

const (
	// againstRegistryFlagName compares with what the schema registry
	// holds instead of an input: `natsrpc breaking proto
	// --against-registry gaming`. It connects with the global connection
	// flags (-s/--server, --creds, --tls-*).
	againstRegistryFlagName = "against-registry"
	// bufRulesFlagName selects the input's buf.yaml rules instead of the
	// module's policy for --against-registry.
	bufRulesFlagName = "buf-rules"
)

// runAgainstRegistry checks the input ref against a version of a module
// the registry holds (MODULE or MODULE@VERSION; the latest by default),
// with the module's policy or, with --buf-rules, the input's buf.yaml.
func runAgainstRegistry(ctx context.Context, cmd *cobra.Command, ref string, opts input.Options, f *flags, format string) error {
	mref, err := regctl.ParseModuleRef(f.AgainstRegistry)
	if err != nil {
		return fmt.Errorf("--%s: %w", againstRegistryFlagName, err)
	}
	if !f.BufRules && (f.Config != "" || f.NATSRPCRules) {
		return fmt.Errorf("--%s and --%s choose buf.yaml rules, but --%s checks with the module's policy in the registry; add --%s to check with buf.yaml rules instead", configFlagName, natsrpcRulesFlagName, againstRegistryFlagName, bufRulesFlagName)
	}
	current, err := input.Load(ctx, ref, opts)
	if err != nil {
		return loadError(cmd, format, err)
	}
	g := cli.GlobalsFrom(cmd)
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	res, err := regctl.CheckAgainstRegistry(ctx, c, current, mref, regctl.AgainstOptions{
		BufRules: f.BufRules,
		Breaking: input.BreakingOptions{
			ConfigOverride: f.Config,
			ExcludeImports: f.ExcludeImports,
			NATSRPC:        f.NATSRPCRules,
		},
	})
	if err != nil {
		return regctl.Explain(err, g.Server)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: warning: %s\n", w)
	}
	if res.Notice != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: notice: %s\n", res.Notice)
	}
	return printViolations(cmd, res.Violations, format)
}
