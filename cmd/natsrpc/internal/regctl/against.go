package regctl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/breaking"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// UnknownModuleError says that the registry has never heard of a module:
// it has no versions and no stored policy. A team announces a new module
// by setting its policy (`natsrpc policy MODULE --use ...`).
type UnknownModuleError struct {
	// Module is the name asked for.
	Module string
	// Similar are the names of known modules closest to Module, closest
	// first.
	Similar []string
}

func (e *UnknownModuleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %q is unknown to the registry (no versions, no policy)", e.Module)
	if len(e.Similar) > 0 {
		quoted := make([]string, len(e.Similar))
		for i, s := range e.Similar {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, "; known modules with the closest names: %s", strings.Join(quoted, ", "))
	} else {
		b.WriteString(" and knows no modules yet")
	}
	fmt.Fprintf(&b, "; check the name, or announce a new module by setting its policy: natsrpc policy %s --use FILE,NATSRPC", e.Module)
	return b.String()
}

// modulePolicy returns a module's policy and what the registry knows of
// the module; a module it never heard of is an [*UnknownModuleError].
// Registries that predate module status report every module as known.
func modulePolicy(ctx context.Context, c *client.Client, module string) (*registryv1.GetPolicyResponse, error) {
	if err := store.ValidateModuleName(module); err != nil {
		return nil, err
	}
	res, err := c.API().GetPolicy(ctx, &registryv1.GetPolicyRequest{Module: module})
	if err != nil {
		return nil, err
	}
	if res.GetModuleStatus() == registryv1.ModuleStatus_MODULE_STATUS_UNKNOWN {
		return res, &UnknownModuleError{Module: module, Similar: res.GetSimilarModules()}
	}
	return res, nil
}

// versionFiles returns a version's files as input files: own files first,
// then imports, each sorted by path, as input modules are.
func versionFiles(set *descriptorpb.FileDescriptorSet, ownFiles []string) []*input.File {
	own := map[string]bool{}
	for _, p := range ownFiles {
		own[p] = true
	}
	var files []*input.File
	for _, fd := range set.GetFile() {
		files = append(files, &input.File{Path: fd.GetName(), ExternalPath: fd.GetName(), Import: !own[fd.GetName()], Proto: fd})
	}
	slices.SortStableFunc(files, func(a, b *input.File) int {
		if a.Import != b.Import {
			if a.Import {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return files
}

// AgainstOptions tune [CheckAgainstRegistry].
type AgainstOptions struct {
	// BufRules checks with the rules of the input's buf.yaml (or
	// Breaking.ConfigOverride), as a check against any other input does,
	// instead of the module's policy.
	BufRules bool
	// Breaking tunes the check with buf.yaml rules; only with BufRules.
	Breaking input.BreakingOptions
}

// AgainstResult is the outcome of [CheckAgainstRegistry].
type AgainstResult struct {
	// Violations are the breaking changes found, with the paths the user
	// knows the files by: for the module's policy, exactly what
	// `natsrpc push --dry-run` prints about breaking changes.
	Violations []breaking.Violation
	// Warnings are buf's configuration warnings (with BufRules).
	Warnings []string
	// Notice, when set, says why nothing was checked: the module has been
	// announced (it has a policy) but has no versions yet.
	Notice string
	// Version is the version checked against (with a transitive policy,
	// also every earlier one); 0 when nothing was checked.
	Version uint64
	// Unchanged means the input is identical to the version: as a push,
	// nothing is checked.
	Unchanged bool
	// Policy is the module's policy that was applied; nil with BufRules.
	Policy *registryv1.Policy
}

// CheckAgainstRegistry is the CI gate against the registry: it checks
// current (loaded with the paths the user gave) against a version of a
// module, the latest when ref has no version.
//
// By default it gives the verdict of `natsrpc push --dry-run` on the
// module's breaking-change rules: the module's stored policy (categories,
// direction, transitivity) applied as the registry applies it, against
// ref's version as if it were the latest; nothing to check when the input
// is identical to it. The registry's ownership and dependency rules are
// left to the push. With opts.BufRules, the input's buf.yaml rules apply
// instead, against that one version.
//
// --path and --exclude-path narrow the stored versions as they narrow
// current ([input.Input.SelectAgainst]). A module the registry never heard
// of is an [*UnknownModuleError]; an announced module (a policy, no
// versions) passes with a Notice; a version that does not exist is an
// error.
func CheckAgainstRegistry(ctx context.Context, c *client.Client, current *input.Input, ref ModuleRef, opts AgainstOptions) (*AgainstResult, error) {
	pol, err := modulePolicy(ctx, c, ref.Module)
	if err != nil {
		return nil, err
	}
	mv, set, err := Fetch(ctx, c, ref)
	if err != nil {
		if ref.Version == 0 && natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
			notice := fmt.Sprintf("module %q has no versions in the registry yet; nothing to check against (its first push creates version 1)", ref.Module)
			if pol.GetModuleStatus() == registryv1.ModuleStatus_MODULE_STATUS_ANNOUNCED {
				notice = fmt.Sprintf("module %q has a policy but no versions in the registry yet; nothing to check against until its first push creates version 1", ref.Module)
			}
			return &AgainstResult{Notice: notice}, nil
		}
		return nil, err
	}
	narrow := func(set *descriptorpb.FileDescriptorSet, own []string) ([]*input.File, error) {
		files, err := current.SelectAgainst(versionFiles(set, own))
		if err != nil {
			return nil, fmt.Errorf("%s@%d: %w", ref.Module, mv.GetVersion(), err)
		}
		return files, nil
	}
	if opts.BufRules {
		files, err := narrow(set, mv.GetFiles())
		if err != nil {
			return nil, err
		}
		against := &input.Input{
			Ref:     input.Ref{Raw: "registry:" + ref.String(), Path: ref.String(), Format: input.FormatBinpb},
			Modules: []*input.Module{{Dir: ".", Files: files}},
		}
		vs, warnings, err := input.CheckBreaking(ctx, current, against, opts.Breaking)
		if err != nil {
			return nil, err
		}
		return &AgainstResult{Violations: vs, Warnings: warnings, Version: mv.GetVersion()}, nil
	}

	cur, paths, err := pushFiles(current)
	if err != nil {
		return nil, err
	}
	version := func(ctx context.Context, v uint64) (*descriptorpb.FileDescriptorSet, []string, error) {
		vset, own := set, mv.GetFiles()
		if v != mv.GetVersion() {
			vmv, s, err := Fetch(ctx, c, ModuleRef{Module: ref.Module, Version: v})
			if err != nil {
				return nil, nil, err
			}
			vset, own = s, vmv.GetFiles()
		}
		if !current.Narrowed() {
			return vset, own, nil
		}
		files, err := narrow(vset, own)
		if err != nil {
			return nil, nil, err
		}
		out := &descriptorpb.FileDescriptorSet{}
		var narrowedOwn []string
		for _, f := range files {
			out.File = append(out.File, f.Proto)
			if !f.Import {
				narrowedOwn = append(narrowedOwn, f.Path)
			}
		}
		return out, narrowedOwn, nil
	}
	res, err := store.Check(ctx, store.CheckRequest{
		Module:   ref.Module,
		Files:    cur.GetFileDescriptorSet(),
		OwnFiles: cur.GetOwnFiles(),
		Policy:   policyFromProto(pol.GetPolicy()),
		Against:  mv.GetVersion(),
		Version:  version,
		Partial:  current.Narrowed(),
	})
	if err != nil {
		return nil, err
	}
	out := &AgainstResult{Version: mv.GetVersion(), Unchanged: res.Unchanged, Policy: pol.GetPolicy()}
	for _, v := range res.Violations {
		out.Violations = append(out.Violations, Violation(violationToProto(v), paths))
	}
	return out, nil
}

// policyFromProto converts a policy as the registry's API sends it.
func policyFromProto(p *registryv1.Policy) store.Policy {
	out := store.Policy{Categories: p.GetCategories(), Transitive: p.GetTransitive()}
	switch p.GetDirection() {
	case registryv1.Direction_DIRECTION_FORWARD:
		out.Direction = store.DirectionForward
	case registryv1.Direction_DIRECTION_FULL:
		out.Direction = store.DirectionFull
	default:
		out.Direction = store.DirectionBackward
	}
	return out
}

// violationToProto converts a violation as the registry's API sends it.
func violationToProto(v store.Violation) *registryv1.Violation {
	return &registryv1.Violation{
		Rule:           v.Rule,
		File:           v.File,
		StartLine:      int32(v.StartLine),
		StartColumn:    int32(v.StartColumn),
		EndLine:        int32(v.EndLine),
		EndColumn:      int32(v.EndColumn),
		Message:        v.Message,
		AgainstVersion: v.AgainstVersion,
	}
}
