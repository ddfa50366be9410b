package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// ModuleStatus says what the registry knows of a module.
type ModuleStatus int

const (
	// ModuleUnknown: the module has no versions and no stored policy; the
	// registry has never heard of it.
	ModuleUnknown ModuleStatus = iota + 1
	// ModuleAnnounced: a policy was set for the module (how a team
	// announces a new module) but nothing was pushed yet.
	ModuleAnnounced
	// ModulePushed: the module has at least one version.
	ModulePushed
)

// String returns "unknown", "announced" or "pushed".
func (s ModuleStatus) String() string {
	switch s {
	case ModuleUnknown:
		return "unknown"
	case ModuleAnnounced:
		return "announced"
	case ModulePushed:
		return "pushed"
	default:
		return fmt.Sprintf("ModuleStatus(%d)", int(s))
	}
}

// ModuleStatus reports whether module has versions, only a policy, or
// neither.
func (r *Registry) ModuleStatus(ctx context.Context, module string) (ModuleStatus, error) {
	if err := ValidateModuleName(module); err != nil {
		return 0, err
	}
	head, _, err := r.readHead(ctx, module)
	if err != nil {
		return 0, err
	}
	if head != nil {
		return ModulePushed, nil
	}
	e, err := r.store.Get(ctx, policyKey(module))
	switch {
	case errors.Is(err, jsstore.ErrNotFound) || (err == nil && e.Deleted):
		return ModuleUnknown, nil
	case err != nil:
		return 0, storeError(err, "read the policy of module %q", module)
	}
	return ModuleAnnounced, nil
}

// ClosestModules returns up to n names of the modules the registry knows
// (with versions or a stored policy) closest to name by edit distance,
// closest first, ties by name: what to suggest for a misspelt module.
func (r *Registry) ClosestModules(ctx context.Context, name string, n int) ([]string, error) {
	known := map[string]bool{}
	for _, suffix := range []string{".head", ".policy"} {
		entries, err := r.store.Entries(ctx, "mod.*"+suffix)
		if err != nil {
			return nil, storeError(err, "list modules")
		}
		for _, e := range entries {
			known[strings.TrimSuffix(strings.TrimPrefix(e.Key, "mod."), suffix)] = true
		}
	}
	delete(known, name)
	type scored struct {
		name string
		dist int
	}
	var all []scored
	for k := range known {
		all = append(all, scored{k, editDistance(name, k)})
	}
	slices.SortFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), strings.Compare(a.name, b.name))
	})
	var out []string
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.name)
	}
	return out, nil
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
