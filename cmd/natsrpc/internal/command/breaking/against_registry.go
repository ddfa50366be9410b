package breaking

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/registry/regctl"
)

// againstRegistryFlagName compares with what the schema registry holds
// instead of an input: `natsrpc breaking proto --against-registry gaming`.
// It connects with the global connection flags (-s/--server, --creds,
// --tls-*).
const againstRegistryFlagName = "against-registry"

// loadAgainstRegistry loads the input ref and, as the against side, the
// version of a module the registry holds (MODULE or MODULE@VERSION; the
// latest by default), its imports marked as such. When the module has no
// versions yet it prints a notice and returns a nil against input: there
// is nothing to break, and the first push creates version 1.
func loadAgainstRegistry(ctx context.Context, cmd *cobra.Command, ref string, opts input.Options, module string) (*input.Input, *input.Input, error) {
	mref, err := regctl.ParseModuleRef(module)
	if err != nil {
		return nil, nil, fmt.Errorf("--%s: %w", againstRegistryFlagName, err)
	}
	current, err := input.Load(ctx, ref, opts)
	if err != nil {
		return nil, nil, err
	}
	g := cli.GlobalsFrom(cmd)
	c, closeConn, err := g.RegistryClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer closeConn()
	against, _, err := regctl.AgainstRegistry(ctx, c, mref)
	if err != nil {
		return nil, nil, regctl.Explain(err, g.Server)
	}
	if against == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "natsrpc: notice: module %q has no versions in the registry at %s yet; nothing to check against (its first push creates version 1)\n", mref.Module, g.ServerRedacted())
	}
	return current, against, nil
}
