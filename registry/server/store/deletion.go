package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// Deleting a module: the head is the commit point of a module (every read
// goes through it), so it goes first, in one atomic batch with the policy,
// the deprecation and the key mod.<module>.deleted, which records the last
// deleted version. From that batch on every read of the module says
// NotFound. Then the version records, the file digest keys and the index
// entries the module owned are deleted in batches; a deletion interrupted
// there leaves records nothing reads, and deleting the module again
// finishes it. Stored descriptor sets are left to CollectGarbage.
//
// Version numbers are never reused: a push of the same name starts after
// the deleted versions (headRecord.First), so that a number cached by a
// registry instance or a client never names two different sets.

// deletedRecord is the value of mod.<module>.deleted.
type deletedRecord struct {
	Format  int    `json:"format"`
	Through uint64 `json:"through"`
}

func deletedKey(module string) string { return "mod." + module + ".deleted" }

// firstField returns the value of headRecord.First for a module whose
// first version is first: 0 (left out) for 1.
func firstField(first uint64) uint64 {
	if first <= 1 {
		return 0
	}
	return first
}

// deletedThrough returns the last version of module a deletion deleted (0
// when none) and the revision of its key.
func (r *Registry) deletedThrough(ctx context.Context, module string) (uint64, uint64, error) {
	e, err := r.store.Get(ctx, deletedKey(module))
	if errors.Is(err, jsstore.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, storeError(err, "read the deletion of module %q", module)
	}
	if e.Deleted {
		return 0, e.Revision, nil
	}
	var rec deletedRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil || rec.Format != recordFormat {
		return 0, 0, internalf("the deletion record of module %q is corrupt or of an unknown format (%q)", module, e.Value)
	}
	return rec.Through, e.Revision, nil
}

// DeleteModule deletes module (see above) and returns its last deleted
// version (0 for a module that had only a policy). Deleting a module whose
// deletion was interrupted finishes it.
func (r *Registry) DeleteModule(ctx context.Context, module string) (uint64, error) {
	if err := ValidateModuleName(module); err != nil {
		return 0, err
	}
	head, headRev, err := r.readHead(ctx, module)
	if err != nil {
		return 0, err
	}
	through, deletedRev, err := r.deletedThrough(ctx, module)
	if err != nil {
		return 0, err
	}
	ops, err := r.sideKeyDeletes(ctx, module)
	if err != nil {
		return 0, err
	}
	notFound := notFoundf("module %q has no version and no policy: nothing to delete (natsrpc ls lists the modules)", module)
	if head == nil && len(ops) == 0 && through == 0 {
		return 0, notFound
	}
	if head != nil {
		through = head.Version
		value, _ := json.Marshal(deletedRecord{Format: recordFormat, Through: through})
		mark, _ := json.Marshal(digestMark{Format: recordFormat, Through: through})
		ops = append(ops,
			jsstore.Op{Key: headKey(module), Delete: true, ExpectedRevision: headRev},
			jsstore.Op{Key: deletedKey(module), Value: value, ExpectedRevision: deletedRev})
		// The file digest index goes on after the deleted versions.
		markOp, err := r.putOp(ctx, digestMarkKey(module), mark)
		if err != nil {
			return 0, err
		}
		ops = append(ops, markOp)
	}
	if len(ops) > 0 {
		if _, err := r.store.Commit(ctx, ops); err != nil {
			if errors.Is(err, jsstore.ErrConflict) {
				return 0, wrapError(KindConflict, err, "module %q changed while it was being deleted (a push?); look at it and delete again", module)
			}
			return 0, storeError(err, "delete module %q", module)
		}
	}
	if r.beforePurge != nil {
		r.beforePurge()
	}
	purged, err := r.purgeDeleted(ctx, module, through)
	if err != nil {
		return through, err
	}
	if head == nil && len(ops) == 0 && purged == 0 {
		// Deleted before, and nothing was left to finish.
		return 0, notFound
	}
	return through, nil
}

// sideKeyDeletes returns deletes of module's policy and deprecation, for
// those that exist.
func (r *Registry) sideKeyDeletes(ctx context.Context, module string) ([]jsstore.Op, error) {
	var ops []jsstore.Op
	for _, k := range []string{policyKey(module), deprecationKey(module)} {
		e, err := r.store.Get(ctx, k)
		if errors.Is(err, jsstore.ErrNotFound) || (err == nil && e.Deleted) {
			continue
		}
		if err != nil {
			return nil, storeError(err, "read %q", k)
		}
		ops = append(ops, jsstore.Op{Key: k, Delete: true, ExpectedRevision: e.Revision})
	}
	return ops, nil
}

// putOp returns an op writing value to key at its current revision.
func (r *Registry) putOp(ctx context.Context, key string, value []byte) (jsstore.Op, error) {
	e, err := r.store.Get(ctx, key)
	switch {
	case errors.Is(err, jsstore.ErrNotFound):
		return jsstore.Op{Key: key, Value: value}, nil
	case err != nil:
		return jsstore.Op{}, storeError(err, "read %q", key)
	}
	return jsstore.Op{Key: key, Value: value, ExpectedRevision: e.Revision}, nil
}

// purgeDeleted deletes what versions 1 to through of module left: their
// records, their file digest keys, and the index entries module owned that
// its latest version (a push after the deletion) does not own. It returns
// the number of keys it found to delete.
func (r *Registry) purgeDeleted(ctx context.Context, module string, through uint64) (int, error) {
	var ops []jsstore.Op
	versions, err := r.store.Entries(ctx, "mod."+module+".ver.*")
	if err != nil {
		return 0, storeError(err, "list the versions of module %q", module)
	}
	for _, e := range versions {
		v, err := strconv.ParseUint(e.Key[strings.LastIndexByte(e.Key, '.')+1:], 10, 64)
		if err == nil && v <= through {
			ops = append(ops, jsstore.Op{Key: e.Key, Delete: true, ExpectedRevision: e.Revision})
		}
	}
	digests, err := r.store.Entries(ctx, "fdig.*."+module+".*")
	if err != nil {
		return 0, storeError(err, "list the file digests of module %q", module)
	}
	for _, e := range digests {
		v, err := strconv.ParseUint(e.Key[strings.LastIndexByte(e.Key, '.')+1:], 10, 64)
		if err == nil && v <= through {
			ops = append(ops, jsstore.Op{Key: e.Key, Delete: true, ExpectedRevision: e.Revision})
		}
	}
	index, err := r.store.Entries(ctx, "idx.>")
	if err != nil {
		return 0, storeError(err, "list index entries")
	}
	for _, e := range index {
		if e.Key == genKey {
			continue
		}
		o, err := decodeOwner(e.Key, e.Value)
		if err != nil || o.Module != module {
			continue
		}
		owns, err := r.ownsIndexKey(ctx, module, e.Key)
		if err != nil {
			return 0, err
		}
		if !owns {
			ops = append(ops, jsstore.Op{Key: e.Key, Delete: true, ExpectedRevision: e.Revision})
		}
	}
	found := len(ops)
	limit := int(r.batchLimit.Load())
	for len(ops) > 0 {
		n := min(len(ops), limit)
		_, err := r.store.Commit(ctx, ops[:n])
		if errors.Is(err, jsstore.ErrConflict) {
			// An index entry another module claimed meanwhile is not
			// ours to delete: one by one, skipping conflicts.
			for _, op := range ops[:n] {
				if _, err = r.store.Commit(ctx, []jsstore.Op{op}); errors.Is(err, jsstore.ErrConflict) {
					err = nil
				}
				if err != nil {
					break
				}
			}
		}
		if err != nil {
			return found, storeError(err, "delete the versions of module %q; delete it again to finish", module)
		}
		ops = ops[n:]
	}
	return found, nil
}

// TransferPackage gives prefix to module to: the reservation (made if
// there was none) and the index entries of the packages under it, in one
// atomic batch that advances the index generation, so that a push planned
// before it plans again. It returns the reservation and the packages whose
// entries moved. The module that had them can no longer push files
// declaring them (see claims).
func (r *Registry) TransferPackage(ctx context.Context, prefix, to string) (Reservation, []string, error) {
	if err := validatePrefix(prefix); err != nil {
		return Reservation{}, nil, err
	}
	if err := ValidateModuleName(to); err != nil {
		return Reservation{}, nil, err
	}
	genRev, err := r.readGen(ctx)
	if err != nil {
		return Reservation{}, nil, err
	}
	res, resRev, err := r.reservation(ctx, prefix)
	if err != nil {
		return Reservation{}, nil, err
	}
	var ops []jsstore.Op
	var moved []string
	for _, filter := range []string{pkgKey(prefix), pkgKey(prefix) + ".>"} {
		entries, err := r.store.Entries(ctx, filter)
		if err != nil {
			return Reservation{}, nil, storeError(err, "read the owners of packages under %q", prefix)
		}
		for _, e := range entries {
			o, err := decodeOwner(e.Key, e.Value)
			if err != nil || o.Module == to {
				continue
			}
			value, _ := json.Marshal(ownerRecord{Module: to})
			ops = append(ops, jsstore.Op{Key: e.Key, Value: value, ExpectedRevision: e.Revision})
			moved = append(moved, strings.TrimPrefix(e.Key, "idx.pkg."))
		}
	}
	if res == nil && len(moved) == 0 {
		return Reservation{}, nil, notFoundf("package prefix %q is neither reserved nor owned by any module: nothing to transfer; reserve it (natsrpc registry reserve %s --module %s)", prefix, prefix, to)
	}
	slices.Sort(moved)
	if res != nil && res.Module == to && len(moved) == 0 {
		return *res, nil, nil
	}
	if limit := int(r.batchLimit.Load()); len(ops)+2 > limit {
		return Reservation{}, nil, invalidf("package prefix %q covers %d owned packages, more than one atomic batch moves (%d); transfer narrower prefixes", prefix, len(moved), limit-2)
	}
	now := r.now().UTC()
	value, _ := json.Marshal(reservationRecord{Format: recordFormat, Module: to, Time: now})
	gen, _ := json.Marshal(genRecord{Module: to, PushID: "transfer " + prefix})
	ops = append(ops,
		jsstore.Op{Key: reservationKey(prefix), Value: value, ExpectedRevision: resRev},
		jsstore.Op{Key: genKey, Value: gen, ExpectedRevision: genRev})
	if _, err := r.store.Commit(ctx, ops); err != nil {
		if errors.Is(err, jsstore.ErrConflict) {
			return Reservation{}, nil, wrapError(KindConflict, err, "packages under %q changed while they were being transferred (a push?); try again", prefix)
		}
		return Reservation{}, nil, storeError(err, "transfer %q to module %q", prefix, to)
	}
	return Reservation{Prefix: prefix, Module: to, CreateTime: now}, moved, nil
}
