package store

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// recordFormat versions the JSON records; readers refuse formats they do
// not know rather than misread them.
const recordFormat = 1

// headRecord is the value of mod.<module>.head: the commit point of a
// module's latest version.
type headRecord struct {
	Format  int       `json:"format"`
	Version uint64    `json:"version"`
	Digest  string    `json:"digest"`
	Time    time.Time `json:"time"`
	PushID  string    `json:"push_id"`
	// First is the module's first version, set when a module of the same
	// name was deleted before (see [Registry.DeleteModule]); 0 means 1.
	First uint64 `json:"first,omitempty"`
}

// first returns the module's first version.
func (h *headRecord) first() uint64 { return max(h.First, 1) }

// versionRecord is the value of mod.<module>.ver.<n>. It is written once,
// in the same atomic batch as the head that points at it, and never
// changes.
type versionRecord struct {
	Format     int          `json:"format"`
	Module     string       `json:"module"`
	Version    uint64       `json:"version"`
	Digest     string       `json:"digest"`
	CreateTime time.Time    `json:"create_time"`
	PushID     string       `json:"push_id"`
	Blob       jsstore.Blob `json:"blob"`
	Files      []fileEntry  `json:"files"`
	Deps       []Dependency `json:"dependencies,omitempty"`
	RevertOf   []uint64     `json:"revert_of,omitempty"`
	PushedBy   *Pusher      `json:"pushed_by,omitempty"`
}

// fileEntry is one own file of a version and its digest without source
// info, which imports of the file are compared against.
type fileEntry struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
}

// ownerRecord is the value of an idx.* key.
type ownerRecord struct {
	Module string `json:"module"`
	// Method is the method's full name, for idx.subj keys.
	Method string `json:"method,omitempty"`
}

func (v *versionRecord) ownPaths() []string {
	out := make([]string, len(v.Files))
	for i, f := range v.Files {
		out[i] = f.Path
	}
	return out
}

func (v *versionRecord) fileDigest(path string) (string, bool) {
	i, ok := slices.BinarySearchFunc(v.Files, path, func(f fileEntry, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return "", false
	}
	return v.Files[i].Digest, true
}

func (v *versionRecord) info() VersionInfo {
	return VersionInfo{
		Module:       v.Module,
		Version:      v.Version,
		Digest:       v.Digest,
		CreateTime:   v.CreateTime,
		Files:        v.ownPaths(),
		Dependencies: slices.Clone(v.Deps),
		RevertOf:     slices.Clone(v.RevertOf),
		PushedBy:     v.PushedBy.clone(),
	}
}

// VersionInfo describes one immutable version of a module.
type VersionInfo struct {
	// Module is the module name.
	Module string
	// Version is the version number, from 1.
	Version uint64
	// Digest is "sha256:<hex>" over the canonical form of the module's own
	// files.
	Digest string
	// CreateTime is when the version was stored.
	CreateTime time.Time
	// Files are the module's own files, sorted.
	Files []string
	// Dependencies are the imported files, sorted by path.
	Dependencies []Dependency
	// RevertOf lists earlier versions with the same digest.
	RevertOf []uint64
	// PushedBy is what is known about who pushed the version; nil for
	// versions stored without it.
	PushedBy *Pusher
}

// Pusher is what the registry knows about who pushed a version: the right
// the push came through, which NATS permissions checked, and what the
// client claimed about itself, which nothing checked.
type Pusher struct {
	// Right is "push:<module>" or "admin" (the API before rights).
	Right string `json:"right,omitempty"`
	// Claimed is what the client said.
	Claimed Claims `json:"claimed,omitzero"`
}

// Claims are what a pushing client says about itself (see [Pusher]).
type Claims struct {
	ConnectionName string            `json:"connection_name,omitempty"`
	User           string            `json:"user,omitempty"`
	OSUser         string            `json:"os_user,omitempty"`
	Host           string            `json:"host,omitempty"`
	Client         string            `json:"client,omitempty"`
	CI             map[string]string `json:"ci,omitempty"`
}

// The limits of what a client may claim: claims are stored with every
// version and shown in listings, so a hostile client must not make them
// large.
const (
	maxClaimLen = 256
	maxClaimCI  = 16
)

// Validate reports a claim beyond the limits.
func (c Claims) Validate() error {
	for name, v := range map[string]string{"connection_name": c.ConnectionName, "user": c.User, "os_user": c.OSUser, "host": c.Host, "client": c.Client} {
		if len(v) > maxClaimLen {
			return invalidf("the claimed %s has %d bytes; at most %d", name, len(v), maxClaimLen)
		}
	}
	if len(c.CI) > maxClaimCI {
		return invalidf("the claims carry %d CI variables; at most %d", len(c.CI), maxClaimCI)
	}
	for k, v := range c.CI {
		if len(k) > maxClaimLen || len(v) > maxClaimLen {
			return invalidf("the claimed CI variable %.64q is longer than %d bytes", k, maxClaimLen)
		}
	}
	return nil
}

func (p *Pusher) clone() *Pusher {
	if p == nil {
		return nil
	}
	c := *p
	c.Claimed.CI = maps.Clone(p.Claimed.CI)
	return &c
}

// Dependency identifies one imported file of a version.
type Dependency struct {
	// File is the imported file's path.
	File string `json:"file"`
	// Module is the module that owns the file; empty for built-in files
	// and files no module owns.
	Module string `json:"module,omitempty"`
	// Version is the newest version of Module whose copy of the file
	// equals the imported one; 0 when Module is empty.
	Version uint64 `json:"version,omitempty"`
	// Digest is "sha256:<hex>" over the file's canonical form without
	// source info.
	Digest string `json:"digest"`
	// Builtin is true for the well-known types and the natsrpc options.
	Builtin bool `json:"builtin,omitempty"`
}

// String returns "module@version" for owned files, else the digest.
func (d Dependency) String() string {
	if d.Module != "" {
		return d.File + " (" + d.Module + "@" + uitoa(d.Version) + ")"
	}
	return d.File + " (" + d.Digest + ")"
}

// readHead returns a module's head and its revision; nil (and revision 0,
// or the revision of a delete marker) when the module has no version.
func (r *Registry) readHead(ctx context.Context, module string) (*headRecord, uint64, error) {
	e, err := r.store.Get(ctx, headKey(module))
	if errors.Is(err, jsstore.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, storeError(err, "read the head of module %q", module)
	}
	if e.Deleted {
		return nil, e.Revision, nil
	}
	h, err := decodeHead(module, e.Value)
	if err != nil {
		return nil, 0, err
	}
	return h, e.Revision, nil
}

// decodeHead decodes the value of a module's head key.
func decodeHead(module string, value []byte) (*headRecord, error) {
	var h headRecord
	if err := json.Unmarshal(value, &h); err != nil || h.Format != recordFormat || h.Version == 0 {
		return nil, internalf("head of module %q is corrupt or of an unknown format (%q)", module, value)
	}
	return &h, nil
}

// decodeVersion decodes the value of version v of module's key. The own
// files must be sorted and unique, as pushes write them: lookups search
// them by binary search.
func decodeVersion(module string, v uint64, value []byte) (*versionRecord, error) {
	var rec versionRecord
	if err := json.Unmarshal(value, &rec); err != nil || rec.Format != recordFormat || rec.Version != v || rec.Module != module || !strictlySorted(rec.Files) {
		return nil, internalf("version %d of module %q is corrupt or of an unknown format", v, module)
	}
	return &rec, nil
}

func strictlySorted(files []fileEntry) bool {
	for i := 1; i < len(files); i++ {
		if files[i-1].Path >= files[i].Path {
			return false
		}
	}
	return true
}

// record returns version v of module. Records are immutable, so they are
// cached.
func (r *Registry) record(ctx context.Context, module string, v uint64) (*versionRecord, error) {
	k := recordKey{module, v}
	if rec, ok := r.records.get(k); ok {
		return rec, nil
	}
	e, err := r.store.Get(ctx, versionKey(module, v))
	if errors.Is(err, jsstore.ErrNotFound) || (err == nil && e.Deleted) {
		return nil, notFoundf("module %q has no version %d", module, v)
	}
	if err != nil {
		return nil, storeError(err, "read version %d of module %q", v, module)
	}
	rec, err := decodeVersion(module, v, e.Value)
	if err != nil {
		return nil, err
	}
	r.records.add(k, rec)
	return rec, nil
}

// latest returns module's latest version record; NotFound when the module
// has none.
//
// The head is read from the stream leader every time (read-your-writes),
// but concurrent callers share reads (see headReads).
func (r *Registry) latest(ctx context.Context, module string) (*versionRecord, error) {
	h, err := r.heads.read(ctx, module, func(ctx context.Context, module string) (*headRecord, error) {
		h, _, err := r.readHead(ctx, module)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, notFoundf("module %q has no versions; push it first", module)
	}
	return r.record(ctx, module, h.Version)
}

// resolveVersion returns version v of module, or the latest when v is 0.
func (r *Registry) resolveVersion(ctx context.Context, module string, v uint64) (*versionRecord, error) {
	if err := ValidateModuleName(module); err != nil {
		return nil, err
	}
	if v == 0 {
		return r.latest(ctx, module)
	}
	h, _, err := r.readHead(ctx, module)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, notFoundf("module %q has no versions; push it first", module)
	}
	if v > h.Version {
		return nil, notFoundf("module %q has no version %d; its latest is %d", module, v, h.Version)
	}
	if v < h.first() {
		return nil, notFoundf("module %q has no version %d: versions before %d were deleted", module, v, h.first())
	}
	return r.record(ctx, module, v)
}

// content returns the parsed descriptor set of a version, cached by its
// sha256 and own files.
func (r *Registry) content(ctx context.Context, rec *versionRecord) (*content, error) {
	own := rec.ownPaths()
	k := rec.Blob.SHA256 + "|" + strings.Join(own, "|")
	if c, ok := r.contents.get(k); ok {
		return c, nil
	}
	// Parsing a large module takes tens of milliseconds: concurrent misses
	// (after a start or an eviction) share one load instead of each
	// parsing the same set.
	return r.loading.Do(ctx, k, func() (*content, error) {
		if c, ok := r.contents.get(k); ok {
			return c, nil
		}
		return r.readContent(ctx, rec, own, k)
	})
}

// readContent reads and parses a version's descriptor set and caches it.
func (r *Registry) readContent(ctx context.Context, rec *versionRecord, own []string, k string) (*content, error) {
	blob, err := r.store.GetBlob(ctx, rec.Blob)
	if err != nil {
		if errors.Is(err, jsstore.ErrNotFound) {
			return nil, internalf("the descriptor set of %s@%d is missing from storage: %w", rec.Module, rec.Version, err)
		}
		return nil, storeError(err, "read the descriptor set of %s@%d", rec.Module, rec.Version)
	}
	c, err := loadContent(blob, own)
	if err != nil {
		return nil, internalf("the stored descriptor set of %s@%d does not load: %w", rec.Module, rec.Version, err)
	}
	r.contents.add(k, c)
	return c, nil
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}
