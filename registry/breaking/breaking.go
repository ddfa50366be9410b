// Package breaking detects breaking changes between two versions of a set
// of protobuf files. It implements every rule of buf's FILE, PACKAGE,
// WIRE_JSON, WIRE and CSR categories with buf's rule IDs, categories,
// deprecations, positions and messages, so that for the same inputs and
// buf.yaml its findings are those of `buf breaking` line for line; and it
// adds what buf does not offer: natsrpc's NATSRPC rules (subjects, kinds
// and queue groups of methods), and directional, optionally transitive
// policies for the schema registry (see [Policy]).
//
// The natsrpc CLI (`natsrpc breaking`), CI pipelines and the registry at
// push time all call [CheckImages], so they always agree.
package breaking

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/descriptorpb"
)

// Violation is one breaking change.
type Violation struct {
	// RuleID is the ID of the rule that found it, e.g. "FIELD_NO_DELETE".
	RuleID string
	// Path is the external path of the current file it is attached to;
	// empty when it has none (for example a deleted file).
	Path string
	// StartLine, StartColumn, EndLine and EndColumn are 1-based. They are
	// zero when there is no file, and 1 when there is a file but no
	// source position (buf prints both as 1).
	StartLine, StartColumn, EndLine, EndColumn int
	// Message says what changed, in buf's wording.
	Message string
}

// String formats v as buf's text format does: "path:line:column:message",
// with "<input>" when there is no file.
func (v Violation) String() string {
	p := v.Path
	if p == "" {
		p = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d:%s", p, atLeast1(v.StartLine), atLeast1(v.StartColumn), v.Message)
}

// Check compares current against previous, both self-contained file
// descriptor sets in which every file is a target, and returns the
// violations sorted as buf sorts them. Use [CheckImages] to mark imports
// and to control the printed paths.
func Check(ctx context.Context, previous, current *descriptorpb.FileDescriptorSet, cfg Config) ([]Violation, error) {
	return CheckImages(ctx, ImageFromSet(previous), ImageFromSet(current), cfg)
}

// CheckImages compares current against previous with the rules and
// ignores of cfg. It returns an error, never a panic, for images that do
// not link (missing imports, duplicate or unresolvable names) and for
// invalid configurations.
func CheckImages(ctx context.Context, previous, current Image, cfg Config) (_ []Violation, retErr error) {
	defer recoverInternal(&retErr)
	rc, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	if rc.disabled || len(rc.ruleIDs) == 0 {
		return nil, nil
	}
	return checkSides(ctx, previous, current, "against", "input", rc)
}

// checkSides runs the rules of rc on previous and current, naming them
// prevWhat and curWhat in errors.
func checkSides(ctx context.Context, previous, current Image, prevWhat, curWhat string, rc *resolvedConfig) ([]Violation, error) {
	prev, err := newSide(previous, prevWhat)
	if err != nil {
		return nil, err
	}
	cur, err := newSide(current, curWhat)
	if err != nil {
		return nil, err
	}
	anns, err := runRules(ctx, prev, cur, rc)
	if err != nil {
		return nil, err
	}
	return finish(anns, rc), nil
}

// InternalError reports a bug in the checker: a panic turned into an
// error so that one bad schema cannot take a registry down.
type InternalError struct {
	// Panic is the recovered value.
	Panic any
	// Stack is where it happened.
	Stack string
}

func (e *InternalError) Error() string {
	return fmt.Sprintf("internal error in the breaking-change checker (please report it): %v", e.Panic)
}

func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = &InternalError{Panic: r, Stack: string(debug.Stack())}
	}
}

// annotation is a finding before filtering.
type annotation struct {
	rule    string
	msg     string
	file    *file   // current file it is attached to; nil for none
	path    []int32 // source path in file; nil for the whole file
	against *file   // previous file it concerns, for ignores; may be nil
}

type checker struct {
	prev, cur *side
	rule      string
	out       []annotation
	err       error
	pairCache *pairs
}

// add records a finding like buf's AddProtosourceAnnotationf: at l when
// known, else on the whole current file named fileName (if any); al is the
// previous-side location used for ignores.
func (c *checker) add(l, al *loc, fileName string, format string, args ...any) {
	a := annotation{rule: c.rule, msg: fmt.Sprintf(format, args...)}
	switch {
	case l != nil:
		a.file, a.path = l.f, l.path
	case fileName != "":
		f, ok := c.cur.byPath[fileName]
		if !ok {
			if c.err == nil {
				c.err = fmt.Errorf("cannot add annotation for unknown file: %q", fileName)
			}
			return
		}
		a.file = f
	}
	if al != nil {
		a.against = al.f
	}
	c.out = append(c.out, a)
}

// addAgainstFile records a finding that only names a previous file.
func (c *checker) addAgainstFile(againstFile string, format string, args ...any) {
	a := annotation{rule: c.rule, msg: fmt.Sprintf(format, args...)}
	if againstFile != "" {
		f, ok := c.prev.byPath[againstFile]
		if !ok {
			if c.err == nil {
				c.err = fmt.Errorf("cannot add annotation for unknown file: %q", againstFile)
			}
			return
		}
		a.against = f
	}
	c.out = append(c.out, a)
}

func runRules(ctx context.Context, prev, cur *side, rc *resolvedConfig) ([]annotation, error) {
	ids := make([]string, 0, len(rc.ruleIDs))
	for id := range rc.ruleIDs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c := &checker{prev: prev, cur: cur}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fn, ok := ruleFuncs[id]
		if !ok {
			continue
		}
		c.rule = id
		if err := fn(c); err != nil {
			return nil, fmt.Errorf("rule %s: %w", id, err)
		}
		if c.err != nil {
			return nil, fmt.Errorf("rule %s: %w", id, c.err)
		}
	}
	return c.out, nil
}

// finish drops ignored findings, converts them and sorts and de-duplicates
// them as buf does.
func finish(anns []annotation, rc *resolvedConfig) []Violation {
	var out []Violation
	for _, a := range anns {
		if ignored(a, rc) {
			continue
		}
		v := Violation{RuleID: a.rule, Message: a.msg}
		if a.file != nil {
			v.Path = a.file.ext
			v.StartLine, v.StartColumn, v.EndLine, v.EndColumn = 1, 1, 1, 1
			if a.path != nil {
				if sl, sc, el, ec, ok := a.file.span(a.path); ok {
					v.StartLine, v.StartColumn, v.EndLine, v.EndColumn = sl+1, sc+1, el+1, ec+1
				}
			}
		}
		out = append(out, v)
	}
	return SortViolations(out)
}

// SortViolations sorts violations as buf sorts annotations (path, start
// line, start column, rule, message, end line, end column; violations
// without a file first) and removes duplicates. It returns the result.
func SortViolations(vs []Violation) []Violation {
	slices.SortStableFunc(vs, compareViolations)
	return slices.CompactFunc(vs, func(a, b Violation) bool { return a == b })
}

func compareViolations(a, b Violation) int {
	if (a.Path == "") != (b.Path == "") {
		if a.Path == "" {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	for _, d := range [...]int{a.StartLine - b.StartLine, a.StartColumn - b.StartColumn} {
		if d != 0 {
			return d
		}
	}
	if c := strings.Compare(a.RuleID, b.RuleID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Message, b.Message); c != 0 {
		return c
	}
	if d := a.EndLine - b.EndLine; d != 0 {
		return d
	}
	return a.EndColumn - b.EndColumn
}

func ignored(a annotation, rc *resolvedConfig) bool {
	if a.file != nil && ignoredFile(a.file, a.rule, rc) {
		return true
	}
	if a.against != nil && ignoredFile(a.against, a.rule, rc) {
		return true
	}
	return false
}

func ignoredFile(f *file, rule string, rc *resolvedConfig) bool {
	if rc.excludeImports && f.imp {
		return true
	}
	if containsIgnorePath(rc.ignore, f.path) {
		return true
	}
	if paths, ok := rc.ignoreOnly[rule]; ok && containsIgnorePath(paths, f.path) {
		return true
	}
	if rc.ignoreUnstable {
		if stable, ok := packageStability(f.pkg); ok && !stable {
			return true
		}
	}
	return false
}

func containsIgnorePath(dirs []string, p string) bool {
	for _, d := range dirs {
		if d == p || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func atLeast1(i int) int {
	if i <= 0 {
		return 1
	}
	return i
}
