package store

import (
	"context"
	"slices"

	"github.com/natsrpc/natsrpc/registry/breaking"
)

// defaultChecker returns the checker used when no [WithChecker] option is
// given: natsrpc's breaking-change rules (package registry/breaking), the
// same code `natsrpc breaking` runs in CI, so the registry and CI always
// agree. Findings in imported files are left out: each file is checked
// when the module that owns it is pushed.
func defaultChecker() Checker {
	return CheckerFunc(breakingCheck)
}

// breakingCheck applies a policy with the exact rule sets of
// [breaking.Policy] (package registry/breaking decides which rules each
// direction runs; see its README): the backward rules and the NATSRPC
// rules with the previous version as previous, the forward rules (the
// backward ones without the deletion rules) with the roles swapped.
// Transitivity is the registry's: it calls the checker once per earlier
// version. The passes run through [breaking.CheckImages] so that findings
// in imported files can be left out, which [breaking.CheckPolicy] does not
// offer.
func breakingCheck(ctx context.Context, previous, current *Snapshot, p Policy) ([]Violation, error) {
	bp := breaking.Policy{NATSRPC: slices.Contains(p.Categories, CategoryNATSRPC)}
	for _, c := range p.Categories {
		if c != CategoryNATSRPC {
			bp.Categories = append(bp.Categories, c)
		}
	}
	bp.Direction = p.Direction // the zero value is backward in both
	var rs breaking.PolicyRuleSet
	if len(bp.Categories) > 0 {
		var err error
		if rs, err = bp.Rules(); err != nil {
			return nil, err
		}
	}
	prev, cur := image(previous), image(current)
	var out []Violation
	run := func(from, to breaking.Image, ids []string, natsrpc bool, forward bool) error {
		if len(ids) == 0 && !natsrpc {
			return nil
		}
		cfg := breaking.Config{Use: ids, NATSRPC: natsrpc, ExcludeImports: true}
		if len(ids) == 0 {
			cfg.Use = []string{CategoryNATSRPC}
		}
		vs, err := breaking.CheckImages(ctx, from, to, cfg)
		if err != nil {
			return err
		}
		for _, v := range vs {
			msg := v.Message
			if forward {
				msg = "forward: readers of the previous version cannot read what the new one writes: " + msg
			}
			out = append(out, Violation{
				Rule:        v.RuleID,
				File:        v.Path,
				StartLine:   v.StartLine,
				StartColumn: v.StartColumn,
				EndLine:     v.EndLine,
				EndColumn:   v.EndColumn,
				Message:     msg,
			})
		}
		return nil
	}
	if err := run(prev, cur, rs.Backward, bp.NATSRPC, false); err != nil {
		return nil, err
	}
	if err := run(cur, prev, rs.Forward, false, true); err != nil {
		return nil, err
	}
	return out, nil
}

func image(s *Snapshot) breaking.Image {
	img := breaking.Image{Files: make([]breaking.ImageFile, 0, len(s.Set.GetFile()))}
	for _, fd := range s.Set.GetFile() {
		img.Files = append(img.Files, breaking.ImageFile{Proto: fd, Import: !s.IsOwn(fd.GetName())})
	}
	return img
}
