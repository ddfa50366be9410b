package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/registry/breaking"
	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// Direction says which way a new version must stay compatible with earlier
// ones: the checker's directions, whose zero value means backward (the
// default). Stored policies keep it as a number.
type Direction = breaking.Direction

// The directions a policy can name.
const (
	// DirectionBackward means readers of the new version understand data
	// written with earlier versions: consumers upgrade first.
	DirectionBackward = breaking.DirectionBackward
	// DirectionForward means readers of earlier versions understand data
	// written with the new version: producers upgrade first.
	DirectionForward = breaking.DirectionForward
	// DirectionFull means both backward and forward.
	DirectionFull = breaking.DirectionFull
)

// ParseDirection parses "backward", "forward" or "full" (any case); empty
// means backward.
func ParseDirection(s string) (Direction, error) {
	if s == "" {
		return DirectionBackward, nil
	}
	d, err := breaking.ParseDirection(s)
	if err != nil {
		return 0, invalidf("direction %q: use backward, forward or full", s)
	}
	return d, nil
}

// Categories a policy can use: buf's breaking-change categories, strictest
// first, and natsrpc's own.
const (
	CategoryFile     = "FILE"
	CategoryPackage  = "PACKAGE"
	CategoryWireJSON = "WIRE_JSON"
	CategoryWire     = "WIRE"
	CategoryNATSRPC  = "NATSRPC"
)

var knownCategories = []string{CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire, CategoryNATSRPC}

// Policy is a module's compatibility policy. The registry applies its own
// policy; a buf.yaml pushed with the module does not override it.
type Policy struct {
	// Categories are the breaking-change rule categories to apply; empty
	// means no breaking-change checks (ownership and dependency rules
	// always apply).
	Categories []string `json:"categories"`
	// Direction says which way versions must stay compatible.
	Direction Direction `json:"direction"`
	// Transitive checks a push against every earlier version instead of
	// only the latest.
	Transitive bool `json:"transitive,omitempty"`
}

// DefaultPolicy returns the policy of a module nobody set one for: the FILE
// and NATSRPC categories, backward, not transitive.
func DefaultPolicy() Policy {
	return Policy{Categories: []string{CategoryFile, CategoryNATSRPC}, Direction: DirectionBackward}
}

// Normalize validates p and returns it with categories upper-cased, sorted
// in the order strictest-first, deduplicated, and the direction defaulted.
func (p Policy) Normalize() (Policy, error) {
	out := Policy{Direction: p.Direction, Transitive: p.Transitive}
	if out.Direction == 0 {
		out.Direction = DirectionBackward
	}
	if out.Direction < DirectionBackward || out.Direction > DirectionFull {
		return Policy{}, invalidf("policy direction %d: use backward, forward or full", int(p.Direction))
	}
	seen := map[string]bool{}
	for _, c := range p.Categories {
		u := strings.ToUpper(strings.TrimSpace(c))
		if !slices.Contains(knownCategories, u) {
			return Policy{}, invalidf("policy category %q: use %s", c, strings.Join(knownCategories, ", "))
		}
		seen[u] = true
	}
	for _, c := range knownCategories {
		if seen[c] {
			out.Categories = append(out.Categories, c)
		}
	}
	return out, nil
}

// GetPolicy returns module's policy and whether it is the default (no
// policy was set). A module needs no versions to have a policy.
func (r *Registry) GetPolicy(ctx context.Context, module string) (Policy, bool, error) {
	if err := ValidateModuleName(module); err != nil {
		return Policy{}, false, err
	}
	e, err := r.store.Get(ctx, policyKey(module))
	if errors.Is(err, jsstore.ErrNotFound) || (err == nil && e.Deleted) {
		return DefaultPolicy(), true, nil
	}
	if err != nil {
		return Policy{}, false, storeError(err, "read the policy of module %q", module)
	}
	p, err := decodePolicy(module, e.Value)
	if err != nil {
		return Policy{}, false, err
	}
	return p, false, nil
}

// decodePolicy decodes the value of a module's policy key. SetPolicy
// stores normalized policies; anything else is corrupt.
func decodePolicy(module string, value []byte) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(value, &p); err != nil {
		return Policy{}, internalf("policy of module %q is corrupt: %w", module, err)
	}
	n, err := p.Normalize()
	if err != nil {
		return Policy{}, internalf("policy of module %q is corrupt: %w", module, err)
	}
	return n, nil
}

// SetPolicy replaces module's policy and returns it as stored. It applies
// to later pushes; stored versions are not re-checked.
func (r *Registry) SetPolicy(ctx context.Context, module string, p Policy) (Policy, error) {
	if err := ValidateModuleName(module); err != nil {
		return Policy{}, err
	}
	p, err := p.Normalize()
	if err != nil {
		return Policy{}, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Policy{}, internalf("encode policy: %w", err)
	}
	if _, err := r.store.Put(ctx, policyKey(module), data); err != nil {
		return Policy{}, storeError(err, "store the policy of module %q", module)
	}
	return p, nil
}

// Checker finds breaking changes between two versions of a module. The
// registry calls it with the latest stored version as previous (and, for a
// transitive policy, once more for every earlier version), and the pushed
// files as current.
//
// Check applies policy.Categories in policy.Direction; policy.Transitive is
// the registry's business and can be ignored. It returns the violations
// (none means compatible) and an error only when it could not check at all.
type Checker interface {
	Check(ctx context.Context, previous, current *Snapshot, policy Policy) ([]Violation, error)
}

// CheckerFunc adapts a function to [Checker].
type CheckerFunc func(ctx context.Context, previous, current *Snapshot, policy Policy) ([]Violation, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, previous, current *Snapshot, policy Policy) ([]Violation, error) {
	return f(ctx, previous, current, policy)
}

// Snapshot is one version of a module as a [Checker] sees it.
type Snapshot struct {
	// Module is the module name.
	Module string
	// Version is the version number; 0 for the files being pushed.
	Version uint64
	// Digest is the version's digest.
	Digest string
	// Set holds the module's own files and their imports, dependencies
	// first. Custom options are kept as unknown fields of the options
	// messages. It must not be modified.
	Set *descriptorpb.FileDescriptorSet
	// Own are the paths of the module's own files, sorted.
	Own   []string
	files *protoregistry.Files
}

// IsOwn reports whether path is one of the module's own files.
func (s *Snapshot) IsOwn(path string) bool {
	_, ok := slices.BinarySearch(s.Own, path)
	return ok
}

// Files returns the snapshot's files as a protoregistry.Files.
func (s *Snapshot) Files() (*protoregistry.Files, error) {
	if s.files != nil {
		return s.files, nil
	}
	return protodesc.NewFiles(s.Set)
}

// Violation is one reason a push is refused.
type Violation struct {
	// Rule is the rule ID: a breaking-change rule such as
	// "FIELD_NO_DELETE", or one of the registry's Rule* constants.
	Rule string `json:"rule"`
	// File is the path of the file the violation is in.
	File string `json:"file,omitempty"`
	// StartLine, StartColumn, EndLine and EndColumn locate the offending
	// element, 1-based, end column exclusive; 0 when unknown.
	StartLine   int `json:"start_line,omitempty"`
	StartColumn int `json:"start_column,omitempty"`
	EndLine     int `json:"end_line,omitempty"`
	EndColumn   int `json:"end_column,omitempty"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
	// AgainstVersion is the stored version a breaking change was found
	// against; 0 for the registry's ownership and dependency rules.
	AgainstVersion uint64 `json:"against_version,omitempty"`
}

// String formats v like buf's text output: "file:line:col:message (RULE)".
func (v Violation) String() string {
	var b strings.Builder
	if v.File != "" {
		b.WriteString(v.File)
		if v.StartLine > 0 {
			fmt.Fprintf(&b, ":%d:%d", v.StartLine, v.StartColumn)
		}
		b.WriteString(":")
	}
	b.WriteString(v.Message)
	if v.Rule != "" {
		fmt.Fprintf(&b, " (%s)", v.Rule)
	}
	return b.String()
}

// The registry's own rules, reported as violations.
const (
	// RulePackageOwned: an own file declares a package another module
	// owns (or a built-in package).
	RulePackageOwned = "REGISTRY_PACKAGE_OWNED"
	// RuleFileOwned: an own file has a path another module owns.
	RuleFileOwned = "REGISTRY_FILE_OWNED"
	// RuleSubjectTaken: a method listens on a NATS subject a method of
	// another module listens on.
	RuleSubjectTaken = "REGISTRY_SUBJECT_TAKEN"
	// RuleDependencyMismatch: an imported file differs from every version
	// of the module that owns it.
	RuleDependencyMismatch = "REGISTRY_DEPENDENCY_MISMATCH"
)
