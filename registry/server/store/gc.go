package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// CollectGarbage deletes what no version refers to: stored descriptor
// sets of pushes that crashed (or lost a race) after storing their
// descriptor set and before their commit, and index entries that name a
// module whose latest version does not own them (claims of a push too large
// for one atomic batch that died before publishing, releases it could not
// finish; see docs/registry.md). Both are harmless until collected:
// nothing refers to such a set, and every reader verifies index entries.
// Items written less than grace ago are kept, because a push in flight may
// be about to commit one; grace must exceed the longest push plus the 10
// minutes after which a push rewrites (rather than reuses) a stored set,
// and shorter graces are raised to 20 minutes. An hour is a safe choice.
// It returns the number of items deleted.
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (int, error) {
	grace = max(grace, 2*r.cfg.blobRefresh)
	// List blobs before versions: a blob committed after the listing of
	// versions is younger than grace anyway.
	blobs, err := r.store.ListBlobs(ctx)
	if err != nil {
		return 0, storeError(err, "list descriptor sets")
	}
	entries, err := r.store.Entries(ctx, "mod.*.ver.*")
	if err != nil {
		return 0, storeError(err, "list versions")
	}
	used := map[string]bool{}
	for _, e := range entries {
		rest := strings.TrimPrefix(e.Key, "mod.")
		i := strings.Index(rest, ".ver.")
		if i < 0 {
			continue
		}
		v, err := strconv.ParseUint(rest[i+len(".ver."):], 10, 64)
		if err != nil {
			continue
		}
		rec, err := r.record(ctx, rest[:i], v)
		if err != nil {
			return 0, err
		}
		used[rec.Blob.SHA256] = true
	}
	cutoff := time.Now().Add(-grace)
	n, err := r.collectIndex(ctx, cutoff)
	if err != nil {
		return n, err
	}
	for _, b := range blobs {
		if used[b.SHA256] || b.Time.After(cutoff) {
			continue
		}
		if err := r.store.DeleteBlob(ctx, b.Blob); err != nil {
			return n, storeError(err, "delete descriptor set %s", b.SHA256)
		}
		n++
	}
	return n, nil
}

// collectIndex deletes the index entries written before cutoff that name
// a module whose latest version does not own them. The deletes advance the
// index generation like claims do, expecting the revision read before the
// entries were: a push that staged one of these entries and is still
// going then fails its next batch and plans again, and an entry that a
// module claimed (or that a version came to own) after it was read here
// is not deleted. It stops, without error, at the first conflict.
func (r *Registry) collectIndex(ctx context.Context, cutoff time.Time) (int, error) {
	genRev, err := r.readGen(ctx)
	if err != nil {
		return 0, err
	}
	entries, err := r.store.Entries(ctx, "idx.>")
	if err != nil {
		return 0, storeError(err, "list index entries")
	}
	var stale []jsstore.Op
	for _, e := range entries {
		if e.Key == genKey || e.Time.After(cutoff) {
			continue
		}
		o, err := decodeOwner(e.Key, e.Value)
		if err != nil {
			continue // not an owner record: not ours to judge
		}
		owns, err := r.ownsIndexKey(ctx, o.Module, e.Key)
		if err != nil {
			return 0, err
		}
		if !owns {
			stale = append(stale, jsstore.Op{Key: e.Key, Delete: true, ExpectedRevision: e.Revision})
		}
	}
	value, err := json.Marshal(genRecord{Module: "", PushID: "garbage collection"})
	if err != nil {
		return 0, internalf("encode the index generation: %w", err)
	}
	limit := int(r.batchLimit.Load())
	n := 0
	for len(stale) > 0 {
		k := min(len(stale), limit-1)
		rev, err := r.store.Commit(ctx, append(stale[:k:k], jsstore.Op{Key: genKey, Value: value, ExpectedRevision: genRev}))
		if errors.Is(err, jsstore.ErrConflict) {
			return n, nil
		}
		if err != nil {
			return n, storeError(err, "delete stale index entries")
		}
		genRev, n, stale = rev, n+k, stale[k:]
	}
	return n, nil
}

// ownsIndexKey reports whether module's latest version owns what an index
// key names: declares the package, has the file, or has a method on the
// subject.
func (r *Registry) ownsIndexKey(ctx context.Context, module, key string) (bool, error) {
	rec, err := r.latest(ctx, module)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch {
	case strings.HasPrefix(key, "idx.file."):
		_, ok := rec.fileDigest(strings.TrimPrefix(key, "idx.file."))
		return ok, nil
	case strings.HasPrefix(key, "idx.pkg."):
		c, err := r.content(ctx, rec)
		if err != nil {
			return false, err
		}
		_, ok := slices.BinarySearch(c.packages, strings.TrimPrefix(key, "idx.pkg."))
		return ok, nil
	case strings.HasPrefix(key, "idx.subj."):
		c, err := r.content(ctx, rec)
		if err != nil {
			return false, err
		}
		for subject := range c.subjects {
			if subjKey(subject) == key {
				return true, nil
			}
		}
		return false, nil
	}
	return true, nil // a kind of entry this version does not know: keep it
}
