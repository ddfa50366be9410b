package registry

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// CollectGarbage deletes stored descriptor sets no version refers to:
// those of pushes that crashed (or lost a race) after storing their
// descriptor set and before their commit. Sets written less than grace ago
// are kept, because a push in flight may be about to commit one; grace
// must exceed the longest push plus the 10 minutes after which a push
// rewrites (rather than reuses) a stored set, and shorter graces are
// raised to 20 minutes. An hour is a safe choice. It returns the number of
// sets deleted.
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
	n := 0
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
