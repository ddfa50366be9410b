package store

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// CheckRequest is what [Check] needs: files as a push sends them, the
// module's policy, and a way to read the module's stored versions.
type CheckRequest struct {
	// Module is the module name.
	Module string
	// Files holds the files to check: the module's own and everything
	// they import, as in [PushRequest]. It is not modified.
	Files *descriptorpb.FileDescriptorSet
	// OwnFiles lists the paths of the module's own files, as in
	// [PushRequest].
	OwnFiles []string
	// Policy is the module's policy.
	Policy Policy
	// Against is the version the files are checked against, as a push is
	// checked against the module's latest version; with a transitive
	// policy, every earlier version too. 0 means the module has no
	// versions: nothing to check.
	Against uint64
	// Version returns stored version v of the module: its descriptor set
	// (own files and imports) and the paths of its own files. [Check]
	// calls it for Against and, with a transitive policy, each earlier
	// version, once each.
	Version func(ctx context.Context, v uint64) (*descriptorpb.FileDescriptorSet, []string, error)
	// Partial says Files hold only part of the module (narrowed with
	// --path), so that files identical to version Against say nothing
	// about what a push of the whole module would do: the checks run
	// anyway.
	Partial bool
	// Checker finds breaking changes; nil means the registry's default,
	// the one [New] uses without [WithChecker].
	Checker Checker
}

// CheckResult is the outcome of [Check].
type CheckResult struct {
	// Unchanged means the files are identical to version Against: a push
	// would store nothing and check nothing.
	Unchanged bool
	// Violations are the breaking changes found, in the order a push
	// reports them, each with the version it was found against.
	Violations []Violation
}

// Check runs a push's compatibility check away from the registry: what
// [Registry.Push] with DryRun reports about breaking changes (the policy's
// categories in its direction, against version Against and, for a
// transitive policy, every earlier version, and nothing when the files
// are identical to version Against), given the stored versions by
// req.Version. The registry's ownership and dependency rules, which
// depend on the other modules at the time of the push, are not part of
// it. `natsrpc breaking --against-registry` runs it, so that the CI gate
// gives the registry's verdict.
func Check(ctx context.Context, req CheckRequest) (*CheckResult, error) {
	if err := ValidateModuleName(req.Module); err != nil {
		return nil, err
	}
	policy, err := req.Policy.Normalize()
	if err != nil {
		return nil, err
	}
	if req.Files == nil {
		return nil, invalidf("check has no files; give the module's files and their imports")
	}
	cur, err := newContent(proto.CloneOf(req.Files), req.OwnFiles, limits{}, true)
	if err != nil {
		return nil, err
	}
	if req.Against == 0 {
		return &CheckResult{}, nil
	}
	if req.Version == nil {
		return nil, invalidf("check against version %d of module %q has no way to read it", req.Against, req.Module)
	}
	loaded := map[uint64]*content{}
	load := func(ctx context.Context, v uint64) (*content, error) {
		if c, ok := loaded[v]; ok {
			return c, nil
		}
		set, own, err := req.Version(ctx, v)
		if err != nil {
			return nil, err
		}
		c, err := newContent(proto.CloneOf(set), own, limits{}, false)
		if err != nil {
			return nil, wrapError(KindInvalidArgument, err, "version %d of module %q", v, req.Module)
		}
		loaded[v] = c
		return c, nil
	}
	if !req.Partial {
		prev, err := load(ctx, req.Against)
		if err != nil {
			return nil, err
		}
		if prev.digest == cur.digest && sameImportsAs(prev, cur) {
			return &CheckResult{Unchanged: true}, nil
		}
	}
	if len(policy.Categories) == 0 {
		return &CheckResult{}, nil
	}
	checker := req.Checker
	if checker == nil {
		checker = defaultChecker()
	}
	vs, err := checkVersions(ctx, checker, req.Module, cur, req.Against, policy, load)
	if err != nil {
		return nil, err
	}
	return &CheckResult{Violations: vs}, nil
}

// sameImportsAs reports whether a and b import the same files with the
// same content (ignoring source info), as [sameImports] compares a push
// with the latest version's record.
func sameImportsAs(a, b *content) bool {
	n := 0
	for p, d := range b.fileDigests {
		if b.isOwn(p) {
			continue
		}
		n++
		if a.isOwn(p) || a.fileDigests[p] != d {
			return false
		}
	}
	return n == len(a.fileDigests)-len(a.own)
}

// checkVersions runs checker against version latest and, when the policy
// is transitive, every earlier version, latest first, with load reading a
// version's content. Each violation carries the version it was found
// against.
func checkVersions(ctx context.Context, checker Checker, module string, c *content, latest uint64, policy Policy, load func(context.Context, uint64) (*content, error)) ([]Violation, error) {
	current := c.snapshot(module, 0)
	from := latest
	if policy.Transitive {
		from = 1
	}
	var out []Violation
	for v := latest; v >= from && v > 0; v-- {
		prev, err := load(ctx, v)
		if err != nil {
			return nil, err
		}
		found, err := checker.Check(ctx, prev.snapshot(module, v), current, policy)
		if err != nil {
			return nil, wrapError(KindInternal, err, "check module %q against version %d", module, v)
		}
		for _, f := range found {
			f.AgainstVersion = v
			out = append(out, f)
		}
	}
	return out, nil
}
