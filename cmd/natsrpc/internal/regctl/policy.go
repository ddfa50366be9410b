package regctl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// PolicyChange says which parts of a module's policy to replace; nil
// fields keep the current value.
type PolicyChange struct {
	// Categories replaces the breaking-change categories.
	Categories *[]string
	// Direction replaces the direction: "backward", "forward" or "full".
	Direction *string
	// Transitive replaces the transitive switch.
	Transitive *bool
}

func (c PolicyChange) empty() bool {
	return c.Categories == nil && c.Direction == nil && c.Transitive == nil
}

// Policy returns a module's policy after applying change (nothing when
// change is empty), and whether it is the registry's default (never after
// a change). Showing the policy of a module the registry never heard of
// (no versions, no policy) is an [*UnknownModuleError]; setting one is how
// a team announces a new module before its first push.
func Policy(ctx context.Context, c *client.Client, module string, change PolicyChange) (*registryv1.Policy, bool, error) {
	cur, err := modulePolicy(ctx, c, module)
	var unknown *UnknownModuleError
	switch {
	case errors.As(err, &unknown) && !change.empty():
		// Setting a policy is how a new module becomes known.
	case err != nil:
		return nil, false, err
	}
	if change.empty() {
		return cur.GetPolicy(), cur.GetIsDefault(), nil
	}
	p := cur.GetPolicy()
	if change.Categories != nil {
		p.Categories = parseCategories(*change.Categories)
	}
	if change.Direction != nil {
		d, err := store.ParseDirection(*change.Direction)
		if err != nil {
			return nil, false, err
		}
		switch d {
		case store.DirectionForward:
			p.Direction = registryv1.Direction_DIRECTION_FORWARD
		case store.DirectionFull:
			p.Direction = registryv1.Direction_DIRECTION_FULL
		default:
			p.Direction = registryv1.Direction_DIRECTION_BACKWARD
		}
	}
	if change.Transitive != nil {
		p.Transitive = *change.Transitive
	}
	res, err := c.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: module, Policy: p})
	if err != nil {
		return nil, false, err
	}
	return res.GetPolicy(), false, nil
}

// parseCategories splits --use values, each a comma-separated list of
// categories; blanks are dropped, so an empty --use means none.
func parseCategories(values []string) []string {
	var out []string
	for _, c := range values {
		for part := range strings.SplitSeq(c, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// FormatPolicy renders a policy for people.
func FormatPolicy(module string, p *registryv1.Policy, isDefault bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s", module)
	if isDefault {
		b.WriteString(" (default policy)")
	}
	b.WriteString(":\n")
	cats := strings.Join(p.GetCategories(), ", ")
	if cats == "" {
		cats = "none (no breaking-change checks; ownership and dependency rules still apply)"
	}
	fmt.Fprintf(&b, "  categories: %s\n", cats)
	dir := strings.ToLower(strings.TrimPrefix(p.GetDirection().String(), "DIRECTION_"))
	if p.GetDirection() == registryv1.Direction_DIRECTION_UNSPECIFIED {
		dir = "backward"
	}
	fmt.Fprintf(&b, "  direction:  %s\n", dir)
	fmt.Fprintf(&b, "  transitive: %t\n", p.GetTransitive())
	return b.String()
}
