package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// The per-file digest index answers "which module versions have a file
// with this digest" (a running instance advertises the digest of its
// service's file; docs/wire.md §14). Every version record already lists
// its own files with their digests; the index turns that around:
//
//	fdig.<hex>.<module>.<version>   an own file of that version has digest sha256:<hex>; value {"format":1,"path":...}
//	mod.<module>.fdig               {"format":1,"through":n}: versions 1 to n are indexed
//
// The index is derived from immutable records, so it is written without
// coordination: each version's entries go in one atomic batch whose keys
// are expected absent, and a batch refused because an entry exists was
// written, whole, by another registry instance (no other writer creates
// those keys). The "through" mark is written after the entries, plainly; a
// slower instance may lower it, which costs a re-check of versions already
// indexed and nothing else. Versions stored before the index existed are
// indexed the first time someone asks (the backfill); new versions the
// next time someone asks after them. Entries are hints, verified against
// the version record before they are reported.

// FileDigestMatch is one own file of one module whose content has a digest
// in some of the module's versions.
type FileDigestMatch struct {
	// Module is the module name.
	Module string
	// File is the file's path.
	File string
	// Ranges are the runs of consecutive versions whose copy of the file
	// has the digest, oldest first.
	Ranges []VersionRange
	// LatestVersion is the module's latest version when the registry
	// answered.
	LatestVersion uint64
}

// VersionRange is a run of consecutive versions, First to Last included.
type VersionRange struct {
	First, Last uint64
}

// digestMark is the value of mod.<module>.fdig.
type digestMark struct {
	Format  int    `json:"format"`
	Through uint64 `json:"through"`
}

// digestEntry is the value of an fdig.* key.
type digestEntry struct {
	Format int    `json:"format"`
	Path   string `json:"path"`
}

func digestMarkKey(module string) string { return "mod." + module + ".fdig" }

func digestKey(hex, module string, v uint64) string {
	return "fdig." + hex + "." + module + "." + strconv.FormatUint(v, 10)
}

// digestHex returns the hex part of a per-file digest, or an error that
// says what a digest looks like.
func digestHex(digest string) (string, error) {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", invalidf("digest %q is not a file digest; write \"sha256:\" and 64 lowercase hex digits, as a service's %s metadata or a dependency's digest", digest, "proto.file_digest")
	}
	return hex, nil
}

// digestIndex is what an instance knows of the index: per module, the
// versions known to be indexed (only ever raised).
type digestIndex struct {
	mu      sync.Mutex
	through map[string]uint64
}

func (d *digestIndex) get(module string) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.through[module]
}

func (d *digestIndex) raise(module string, v uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.through == nil {
		d.through = map[string]uint64{}
	}
	d.through[module] = max(d.through[module], v)
}

// FindFileDigest lists the modules' own files with the given digest
// ("sha256:<hex>", a file's canonical form without source info) and the
// versions that have them, sorted by module and path. It first brings the
// index up to date with every module's latest version.
func (r *Registry) FindFileDigest(ctx context.Context, digest string) ([]FileDigestMatch, error) {
	hex, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	heads, err := r.allHeads(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.indexDigests(ctx, heads); err != nil {
		return nil, err
	}
	entries, err := r.store.Entries(ctx, "fdig."+hex+".>")
	if err != nil {
		return nil, storeError(err, "read the file digest index")
	}
	type fileKey struct{ module, path string }
	found := map[fileKey][]uint64{}
	for _, e := range entries {
		rest := strings.TrimPrefix(e.Key, "fdig."+hex+".")
		module, vs, ok := strings.Cut(rest, ".")
		v, err := strconv.ParseUint(vs, 10, 64)
		if !ok || err != nil || v == 0 || v > heads[module] {
			continue // not an entry this registry wrote, or a version that does not exist
		}
		var de digestEntry
		if json.Unmarshal(e.Value, &de) != nil {
			continue
		}
		rec, err := r.record(ctx, module, v)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d, ok := rec.fileDigest(de.Path); !ok || d != digest {
			continue // a hint the record does not confirm
		}
		k := fileKey{module, de.Path}
		found[k] = append(found[k], v)
	}
	out := make([]FileDigestMatch, 0, len(found))
	for k, vs := range found {
		slices.Sort(vs)
		m := FileDigestMatch{Module: k.module, File: k.path, LatestVersion: heads[k.module]}
		for _, v := range slices.Compact(vs) {
			if n := len(m.Ranges); n > 0 && m.Ranges[n-1].Last+1 == v {
				m.Ranges[n-1].Last = v
				continue
			}
			m.Ranges = append(m.Ranges, VersionRange{First: v, Last: v})
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b FileDigestMatch) int {
		if c := strings.Compare(a.Module, b.Module); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
	return out, nil
}

// allHeads returns every module's latest version (a read of every head;
// r.heads coalesces the reads of one module's head).
func (r *Registry) allHeads(ctx context.Context) (map[string]uint64, error) {
	entries, err := r.store.Entries(ctx, "mod.*.head")
	if err != nil {
		return nil, storeError(err, "list modules")
	}
	out := make(map[string]uint64, len(entries))
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e.Key, "mod."), ".head")
		h, err := decodeHead(name, e.Value)
		if err != nil {
			return nil, err
		}
		out[name] = h.Version
	}
	return out, nil
}

// indexDigests indexes the versions of every module up to heads that are
// not indexed yet.
func (r *Registry) indexDigests(ctx context.Context, heads map[string]uint64) error {
	behind := false
	for m, h := range heads {
		if r.digests.get(m) < h {
			behind = true
			break
		}
	}
	if !behind {
		return nil
	}
	marks, err := r.store.Entries(ctx, "mod.*.fdig")
	if err != nil {
		return storeError(err, "read the file digest index marks")
	}
	for _, e := range marks {
		var mark digestMark
		if json.Unmarshal(e.Value, &mark) == nil && mark.Format == recordFormat {
			r.digests.raise(strings.TrimSuffix(strings.TrimPrefix(e.Key, "mod."), ".fdig"), mark.Through)
		}
	}
	modules := make([]string, 0, len(heads))
	for m := range heads {
		modules = append(modules, m)
	}
	slices.Sort(modules)
	for _, m := range modules {
		from, to := r.digests.get(m)+1, heads[m]
		if from > to {
			continue
		}
		for v := from; v <= to; v++ {
			if err := r.indexVersion(ctx, m, v); err != nil {
				return err
			}
		}
		value, err := json.Marshal(digestMark{Format: recordFormat, Through: to})
		if err != nil {
			return internalf("encode the file digest index mark: %w", err)
		}
		if _, err := r.store.Put(ctx, digestMarkKey(m), value); err != nil {
			return storeError(err, "write the file digest index mark of module %q", m)
		}
		r.digests.raise(m, to)
	}
	return nil
}

// indexVersion writes the index entries of one version: its own files, in
// atomic batches of keys expected absent (see the comment at the top).
func (r *Registry) indexVersion(ctx context.Context, module string, v uint64) error {
	rec, err := r.record(ctx, module, v)
	if err != nil {
		return err
	}
	ops := make([]jsstore.Op, 0, len(rec.Files))
	for _, f := range rec.Files {
		hex, err := digestHex(f.Digest)
		if err != nil {
			continue // a record written before per-file digests: nothing to index
		}
		value, err := json.Marshal(digestEntry{Format: recordFormat, Path: f.Path})
		if err != nil {
			return internalf("encode a file digest index entry: %w", err)
		}
		ops = append(ops, jsstore.Op{Key: digestKey(hex, module, v), Value: value})
	}
	for len(ops) > 0 {
		n := min(len(ops), int(r.batchLimit.Load()))
		_, err := r.store.Commit(ctx, ops[:n])
		switch {
		case errors.Is(err, jsstore.ErrConflict):
			// Another instance wrote some of these keys (with the same
			// values; its batches may be cut differently): keep the ones
			// still missing and try again.
			missing, err := r.missingKeys(ctx, ops[:n])
			if err != nil {
				return err
			}
			ops = append(missing, ops[n:]...)
			continue
		case errors.Is(err, jsstore.ErrTooLarge):
			if !r.lowerBatchLimit() {
				return invalidf("the NATS server refuses atomic batches of %d messages (its jetstream max_batch_size is lower): raise it: %w", minBatchLimit, err)
			}
			continue
		case err != nil:
			return storeError(err, "index the file digests of %s@%d", module, v)
		}
		ops = ops[n:]
	}
	return nil
}

// missingKeys returns the operations of ops whose key was never written.
func (r *Registry) missingKeys(ctx context.Context, ops []jsstore.Op) ([]jsstore.Op, error) {
	var out []jsstore.Op
	for _, op := range ops {
		_, err := r.store.Get(ctx, op.Key)
		switch {
		case errors.Is(err, jsstore.ErrNotFound):
			out = append(out, op)
		case err != nil:
			return nil, storeError(err, "read the file digest index entry %q", op.Key)
		}
	}
	return out, nil
}
