package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// minBatchLimit is the smallest batch limit a push falls back to when the
// server refuses its batches as too large: a version record, a head, the
// index generation and a claim.
const minBatchLimit = 4

// genRecord is the value of the index generation key: who advanced it
// last, for people reading the bucket.
type genRecord struct {
	Module string `json:"module"`
	PushID string `json:"push_id"`
}

// readGen returns the revision of the index generation; 0 when no claim
// was ever committed.
func (r *Registry) readGen(ctx context.Context) (uint64, error) {
	e, err := r.store.Get(ctx, genKey)
	if errors.Is(err, jsstore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, storeError(err, "read the index generation")
	}
	return e.Revision, nil
}

// lowerBatchLimit halves the batch limit after the server refused a batch
// as too large; false when it is already at the minimum.
func (r *Registry) lowerBatchLimit() bool {
	for {
		cur := r.batchLimit.Load()
		if cur <= minBatchLimit {
			return false
		}
		if r.batchLimit.CompareAndSwap(cur, max(cur/2, minBatchLimit)) {
			return true
		}
	}
}

// commit stores the version p planned: its record rec and the module head
// head, with the index operations (claims and releases of packages, file
// paths and subjects) p computed. No partial version is ever visible,
// however large the push:
//
//   - A version is visible only through its module head, and the record
//     and the head are always written together in one atomic batch (the
//     publish), the head expected at the revision the plan read, the
//     record expected absent.
//   - When everything fits one batch of the batch limit, the claims and
//     releases go in that same batch, each expecting the revision the plan
//     read: one atomic commit, as for any small push.
//   - Otherwise the claims are written first, in batches of at most the
//     limit (staged), each entry expecting the revision the plan read;
//     then the publish; then the releases that did not fit the publish.
//     Index entries are hints that every reader verifies against the
//     owning module's latest version, so a staged claim of a version not
//     yet published (or never published: a push that died) misleads
//     nobody, and a release left undone after a crash is a stale hint that
//     the next claimer overwrites and CollectGarbage deletes.
//
// What keeps ownership exclusive across batches is the index generation,
// one key (idx.gen) that every batch writing a claim also writes,
// expecting the revision the plan read before it read any index entry (or
// that the push's previous batch left). So from its plan to its publish, a
// push that claims is alone in claiming: any other claim in between, by
// any module, makes its next batch fail with a conflict, and the push
// plans again from what is now stored. A package, path or subject is
// therefore never claimed by two modules whose versions both get
// published, and the invariant every reader relies on holds: an entry
// owned by a module's latest version names that module.
func (r *Registry) commit(ctx context.Context, module string, p *pushPlan, rec, head []byte, pushID string) error {
	var claims, releases []jsstore.Op
	for _, op := range p.indexOps {
		if op.Delete {
			releases = append(releases, op)
		} else {
			claims = append(claims, op)
		}
	}
	genValue, err := json.Marshal(genRecord{Module: module, PushID: pushID})
	if err != nil {
		return internalf("encode the index generation: %w", err)
	}
	genRev := p.genRev
	gen := func() jsstore.Op { return jsstore.Op{Key: genKey, Value: genValue, ExpectedRevision: genRev} }
	record := jsstore.Op{Key: versionKey(module, p.record.Version), Value: rec}
	headOp := jsstore.Op{Key: headKey(module), Value: head, ExpectedRevision: p.headRev}
	limit := int(r.batchLimit.Load())

	publish := []jsstore.Op{record}
	if n := 2 + len(claims) + len(releases); n+1 <= limit {
		publish = append(publish, p.indexOps...)
		publish = append(publish, headOp)
		if len(claims) > 0 {
			publish = append(publish, gen())
		}
		if r.beforePublish != nil {
			r.beforePublish()
		}
		_, err := r.store.Commit(ctx, publish)
		return err
	}

	// Staged: the claims first, in batches, each advancing the
	// generation (last in the batch, so the batch's revision is the
	// generation's).
	claimed := len(claims) > 0
	for len(claims) > 0 {
		n := min(len(claims), limit-1)
		rev, err := r.store.Commit(ctx, append(claims[:n:n], gen()))
		if err != nil {
			return err
		}
		genRev, claims = rev, claims[n:]
		if r.afterStage != nil {
			r.afterStage()
		}
	}
	inline := 3+len(releases) <= limit
	if inline {
		publish = append(publish, releases...)
	}
	publish = append(publish, headOp)
	if claimed {
		publish = append(publish, gen())
	}
	if r.beforePublish != nil {
		r.beforePublish()
	}
	if _, err := r.store.Commit(ctx, publish); err != nil {
		return err
	}
	if !inline {
		r.release(ctx, releases, limit)
	}
	return nil
}

// release deletes index entries a published version no longer owns, in
// batches, each entry expected at the revision the plan read. It is best
// effort: the version is published whatever happens here, an entry that
// moved (another module claimed it) is not this push's to delete, and an
// entry left behind is a stale hint.
func (r *Registry) release(ctx context.Context, ops []jsstore.Op, limit int) {
	for len(ops) > 0 {
		n := min(len(ops), limit)
		_, err := r.store.Commit(ctx, ops[:n])
		if errors.Is(err, jsstore.ErrConflict) {
			// One entry moved: delete the others one by one.
			for _, op := range ops[:n] {
				_, _ = r.store.Commit(ctx, []jsstore.Op{op})
			}
		}
		ops = ops[n:]
	}
}
