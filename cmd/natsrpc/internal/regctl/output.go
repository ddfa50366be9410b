package regctl

import (
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/breaking"
)

// The documents `--format json` prints, one per command. Their field
// names are part of the CLI's interface (README, CLI reference): add
// fields, never rename or remove one.

// ModulesDoc is `natsrpc ls --format json`.
type ModulesDoc struct {
	Modules []ModuleDoc `json:"modules"`
}

// ModuleDoc is one module of [ModulesDoc].
type ModuleDoc struct {
	Name          string `json:"name"`
	LatestVersion uint64 `json:"latest_version"`
	LatestDigest  string `json:"latest_digest"`
	// UpdateTime is RFC 3339 in UTC; empty when unknown.
	UpdateTime string `json:"update_time"`
	// Deprecated is set when an administrator deprecated the module;
	// DeprecationMessage says why.
	Deprecated         bool   `json:"deprecated,omitempty"`
	DeprecationMessage string `json:"deprecation_message,omitempty"`
}

// VersionsDoc is `natsrpc ls MODULE --format json`.
type VersionsDoc struct {
	Module   string       `json:"module"`
	Versions []VersionDoc `json:"versions"`
}

// VersionDoc is one version of [VersionsDoc].
type VersionDoc struct {
	Version uint64 `json:"version"`
	Digest  string `json:"digest"`
	// CreateTime is RFC 3339 in UTC; empty when unknown.
	CreateTime string `json:"create_time"`
	// Files are the module's own files, sorted.
	Files []string `json:"files"`
	// RevertOf lists the earlier versions with the same digest.
	RevertOf []uint64 `json:"revert_of"`
	// PushedBy is what the registry knows about who pushed the version;
	// absent for versions stored without it.
	PushedBy *PusherDoc `json:"pushed_by,omitempty"`
}

// PusherDoc is who pushed a version: the right the push came through
// (which NATS permissions checked) and what the client claimed (which
// nothing checked).
type PusherDoc struct {
	Right   string            `json:"right"`
	Claimed map[string]string `json:"claimed"`
}

// PusherDocument returns the document of a version's pusher, or nil.
func PusherDocument(p *registryv1.Pusher) *PusherDoc {
	if p == nil {
		return nil
	}
	c := p.GetClaimed()
	claimed := map[string]string{}
	for k, v := range map[string]string{"connection_name": c.GetConnectionName(), "user": c.GetUser(), "os_user": c.GetOsUser(), "host": c.GetHost(), "client": c.GetClient()} {
		if v != "" {
			claimed[k] = v
		}
	}
	for k, v := range c.GetCi() {
		claimed["ci."+k] = v
	}
	return &PusherDoc{Right: p.GetRight(), Claimed: claimed}
}

// PusherText is a version's pusher in one line: the right, then what the
// client claimed, marked as claimed; "-" when unknown.
func PusherText(p *registryv1.Pusher) string {
	d := PusherDocument(p)
	if d == nil {
		return "-"
	}
	right := d.Right
	if right == "" {
		right = "?"
	}
	var parts []string
	c := p.GetClaimed()
	if u := c.GetUser(); u != "" {
		parts = append(parts, "user "+u)
	}
	if u, h := c.GetOsUser(), c.GetHost(); u != "" || h != "" {
		parts = append(parts, u+"@"+h)
	}
	keys := make([]string, 0, len(c.GetCi()))
	for k := range c.GetCi() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+c.GetCi()[k])
	}
	if len(parts) == 0 {
		return right
	}
	return right + " (claimed: " + strings.Join(parts, ", ") + ")"
}

// PushDoc is `natsrpc push --format json`.
type PushDoc struct {
	Module string `json:"module"`
	// Outcome is "created", "unchanged", "refused" or, when the input
	// does not compile, "compile_error".
	Outcome string `json:"outcome"`
	DryRun  bool   `json:"dry_run"`
	// Version and Digest are the version created (or, for a dry run,
	// that would be), or the identical latest one; 0 and "" otherwise.
	Version uint64 `json:"version"`
	Digest  string `json:"digest"`
	// Files counts the files pushed, imports included; OwnFiles the
	// module's own.
	Files    int `json:"files"`
	OwnFiles int `json:"own_files"`
	// Violations say why the push was refused, or the compile errors.
	Violations []ViolationDoc `json:"violations"`
}

// ViolationDoc is a violation, with the field names of buf's (and
// natsrpc breaking's) --error-format json.
type ViolationDoc struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	StartColumn int    `json:"start_column"`
	EndLine     int    `json:"end_line"`
	EndColumn   int    `json:"end_column"`
	Type        string `json:"type"`
	Message     string `json:"message"`
}

// PolicyDoc is `natsrpc policy --format json`.
type PolicyDoc struct {
	Module string `json:"module"`
	// Default is true when the module has no policy of its own.
	Default    bool     `json:"default"`
	Categories []string `json:"categories"`
	// Direction is "backward", "forward" or "full".
	Direction  string `json:"direction"`
	Transitive bool   `json:"transitive"`
}

// DescriptionDoc is `natsrpc describe --format json`.
type DescriptionDoc struct {
	Symbol string `json:"symbol"`
	// Kind is "package", "message", "field", "oneof", "enum", "enum
	// value", "service", "method" or "extension".
	Kind string `json:"kind"`
	// Module and Version are where the symbol was found; "" and 0 for a
	// file built into the registry.
	Module  string `json:"module"`
	Version uint64 `json:"version"`
	// File is the file that defines the symbol.
	File string `json:"file"`
	// Definition is the definition in .proto syntax, comments included.
	Definition string `json:"definition"`
}

// ModulesDocument returns the document of a module listing.
func ModulesDocument(mods []*registryv1.Module) ModulesDoc {
	doc := ModulesDoc{Modules: []ModuleDoc{}}
	for _, m := range mods {
		doc.Modules = append(doc.Modules, ModuleDoc{
			Name:               m.GetName(),
			LatestVersion:      m.GetLatestVersion(),
			LatestDigest:       m.GetLatestDigest(),
			UpdateTime:         timeString(m.GetUpdateTime()),
			Deprecated:         m.GetDeprecated(),
			DeprecationMessage: m.GetDeprecationMessage(),
		})
	}
	return doc
}

// VersionsDocument returns the document of a module's version listing.
func VersionsDocument(module string, versions []*registryv1.ModuleVersion) VersionsDoc {
	doc := VersionsDoc{Module: module, Versions: []VersionDoc{}}
	for _, v := range versions {
		doc.Versions = append(doc.Versions, VersionDoc{
			Version:    v.GetVersion(),
			Digest:     v.GetDigest(),
			CreateTime: timeString(v.GetCreateTime()),
			Files:      nonNil(v.GetFiles()),
			RevertOf:   nonNil(v.GetRevertOf()),
			PushedBy:   PusherDocument(v.GetPushedBy()),
		})
	}
	return doc
}

// Document returns the push's document.
func (r *PushResult) Document(module string) PushDoc {
	v := r.Response.GetVersion()
	doc := PushDoc{
		Module:     module,
		DryRun:     r.Response.GetDryRun(),
		Files:      r.Files,
		OwnFiles:   r.OwnFiles,
		Violations: ViolationDocuments(r.Violations),
	}
	switch r.Response.GetOutcome() {
	case registryv1.PushOutcome_PUSH_OUTCOME_CREATED:
		doc.Outcome = "created"
	case registryv1.PushOutcome_PUSH_OUTCOME_UNCHANGED:
		doc.Outcome = "unchanged"
	case registryv1.PushOutcome_PUSH_OUTCOME_REFUSED:
		doc.Outcome = "refused"
	default:
		doc.Outcome = strings.ToLower(strings.TrimPrefix(r.Response.GetOutcome().String(), "PUSH_OUTCOME_"))
	}
	if !r.Refused() {
		doc.Version, doc.Digest = v.GetVersion(), v.GetDigest()
	}
	return doc
}

// ViolationDocuments converts violations for a JSON document; never nil.
func ViolationDocuments(vs []breaking.Violation) []ViolationDoc {
	out := []ViolationDoc{}
	for _, v := range vs {
		out = append(out, ViolationDoc{
			Path:        v.Path,
			StartLine:   v.StartLine,
			StartColumn: v.StartColumn,
			EndLine:     v.EndLine,
			EndColumn:   v.EndColumn,
			Type:        v.RuleID,
			Message:     v.Message,
		})
	}
	return out
}

// PolicyDocument returns the document of a module's policy.
func PolicyDocument(module string, p *registryv1.Policy, isDefault bool) PolicyDoc {
	return PolicyDoc{
		Module:     module,
		Default:    isDefault,
		Categories: nonNil(p.GetCategories()),
		Direction:  directionName(p.GetDirection()),
		Transitive: p.GetTransitive(),
	}
}

// directionName is the CLI's name of a direction: "backward" when unset.
func directionName(d registryv1.Direction) string {
	if d == registryv1.Direction_DIRECTION_UNSPECIFIED {
		return "backward"
	}
	return strings.ToLower(strings.TrimPrefix(d.String(), "DIRECTION_"))
}

// timeString formats ts as RFC 3339 in UTC; "" for nil.
func timeString(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// nonNil returns s, or an empty slice for nil, so that JSON shows [] and
// not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
