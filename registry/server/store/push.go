package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// PushRequest is a module's files to push.
type PushRequest struct {
	// Module is the module name.
	Module string
	// Files holds the module's own files and everything they import,
	// transitively. Exactly one of Files and Upload is set.
	Files *descriptorpb.FileDescriptorSet
	// Upload names an object in the transfer bucket ([Registry.Upload])
	// that holds a serialized FileDescriptorSet, for sets larger than a
	// NATS message.
	Upload string
	// OwnFiles lists the paths of the module's own files; the other files
	// are imports. When empty, buf's image markers (is_import) decide, and
	// without them every file but the built-in ones is the module's own.
	OwnFiles []string
	// DryRun runs every check and reports the outcome without storing
	// anything.
	DryRun bool
	// PushedBy is what is known about who pushes, recorded with the
	// version; nil records nothing.
	PushedBy *Pusher
}

// Outcome says what a push did, or for a dry run what it would do.
type Outcome int

const (
	// OutcomeCreated means a new version was (or would be) stored.
	OutcomeCreated Outcome = iota + 1
	// OutcomeUnchanged means the files equal the latest version; nothing
	// was stored.
	OutcomeUnchanged
	// OutcomeRefused means the push breaks the policy or the ownership
	// rules; only dry runs return it (a real push returns an [*Error] of
	// kind [KindFailedPrecondition]).
	OutcomeRefused
)

// String returns "created", "unchanged" or "refused".
func (o Outcome) String() string {
	switch o {
	case OutcomeCreated:
		return "created"
	case OutcomeUnchanged:
		return "unchanged"
	case OutcomeRefused:
		return "refused"
	default:
		return fmt.Sprintf("outcome(%d)", int(o))
	}
}

// PushResult reports the outcome of a push.
type PushResult struct {
	// Outcome says what the push did.
	Outcome Outcome
	// Version is the version created, the identical latest version, or for
	// a dry run the version a real push would create (its CreateTime is
	// zero). Zero when refused.
	Version VersionInfo
	// Created is true when this push stored a new version.
	Created bool
	// DryRun echoes the request.
	DryRun bool
	// Violations say why a dry run would be refused.
	Violations []Violation
}

// Upload stores a serialized FileDescriptorSet in the transfer bucket and
// returns the object's name for [PushRequest.Upload]. Clients of the NATS
// API do the same with the Object Store directly.
func (r *Registry) Upload(ctx context.Context, data []byte) (string, error) {
	name, err := r.store.PutTransfer(ctx, data)
	if err != nil {
		return "", storeError(err, "upload %d bytes to the transfer bucket", len(data))
	}
	return name, nil
}

// Push stores a new version of a module, unless the files are identical to
// the latest version (then it returns the latest with OutcomeUnchanged) or
// break the module's policy or the registry's ownership rules (then it
// stores nothing and returns an [*Error] of kind [KindFailedPrecondition]
// listing the violations). With DryRun it never stores anything and
// returns what a real push would do, violations included, without error.
//
// When another push of the module lands first, Push re-reads the module
// and checks the files again against the new latest version, so the
// result is as if the pushes had run one after the other. When the outcome
// of a commit is unknown (a timeout, a leader change), Push finds out by
// re-reading; a retried call after such an error may report a version this
// push created as OutcomeUnchanged.
func (r *Registry) Push(ctx context.Context, req PushRequest) (*PushResult, error) {
	if err := ValidateModuleName(req.Module); err != nil {
		return nil, err
	}
	if req.PushedBy != nil {
		if err := req.PushedBy.Claimed.Validate(); err != nil {
			return nil, err
		}
	}
	lim := limits{maxSetBytes: r.cfg.maxSetBytes, maxFiles: r.cfg.maxFiles}
	var data []byte
	switch {
	case req.Files != nil && req.Upload != "":
		return nil, invalidf("push names both inline files and an upload; send one")
	case req.Files != nil:
		var err error
		if data, err = (proto.MarshalOptions{Deterministic: true}).Marshal(req.Files); err != nil {
			return nil, invalidf("encode the descriptor set: %w", err)
		}
	case req.Upload != "":
		var err error
		if data, err = r.store.GetTransfer(ctx, req.Upload); err != nil {
			if errors.Is(err, jsstore.ErrNotFound) {
				return nil, notFoundf("upload %q is not in the transfer bucket %q (uploads expire after %s); upload the descriptor set again", req.Upload, r.store.TransferBucket(), r.cfg.transferTTL)
			}
			return nil, storeError(err, "read upload %q", req.Upload)
		}
	default:
		return nil, invalidf("push has no files; send a descriptor set with the module's files and their imports")
	}
	set, err := decodeSet(data, lim)
	if err != nil {
		return nil, err
	}
	c, err := newContent(set, req.OwnFiles, lim, true)
	if err != nil {
		return nil, err
	}
	policy, _, err := r.GetPolicy(ctx, req.Module)
	if err != nil {
		return nil, err
	}
	pushID := nuid.Next()
	var blob *jsstore.Blob
	for attempt := 1; ; attempt++ {
		p, err := r.plan(ctx, req.Module, c, policy, pushID)
		if err != nil {
			return nil, err
		}
		switch {
		case p.unchanged:
			return &PushResult{Outcome: OutcomeUnchanged, Version: p.latest.info(), DryRun: req.DryRun}, nil
		case p.alreadyCommitted:
			return &PushResult{Outcome: OutcomeCreated, Version: p.latest.info(), Created: true}, nil
		case len(p.violations) > 0 && req.DryRun:
			return &PushResult{Outcome: OutcomeRefused, DryRun: true, Violations: p.violations}, nil
		case len(p.violations) > 0:
			return nil, &Error{Kind: KindFailedPrecondition, Violations: p.violations,
				msg: fmt.Sprintf("push of module %q refused", req.Module)}
		case req.DryRun:
			return &PushResult{Outcome: OutcomeCreated, Version: p.record.info(), DryRun: true}, nil
		}
		if blob == nil {
			b, err := r.store.PutBlob(ctx, c.blob)
			if err != nil {
				return nil, storeError(err, "store the descriptor set of module %q", req.Module)
			}
			blob = &b
		}
		p.record.Blob = *blob
		p.record.CreateTime = r.now().UTC()
		p.record.PushedBy = req.PushedBy.clone()
		rec, err := json.Marshal(p.record)
		if err != nil {
			return nil, internalf("encode version record: %w", err)
		}
		head, err := json.Marshal(headRecord{Format: recordFormat, Version: p.record.Version, Digest: p.record.Digest, Time: p.record.CreateTime, PushID: pushID, First: firstField(p.first)})
		if err != nil {
			return nil, internalf("encode head: %w", err)
		}
		if limit := r.store.MaxPayload() - 8<<10; len(rec) > limit {
			return nil, invalidf("the version record of module %q would be %d bytes, more than a NATS message can carry (%d); split the module", req.Module, len(rec), limit)
		}
		err = r.commit(ctx, req.Module, p, rec, head, pushID)
		switch {
		case err == nil:
			r.records.add(recordKey{req.Module, p.record.Version}, p.record)
			return &PushResult{Outcome: OutcomeCreated, Version: p.record.info(), Created: true}, nil
		case errors.Is(err, jsstore.ErrTooLarge):
			if !r.lowerBatchLimit() {
				return nil, invalidf("the NATS server refuses atomic batches of %d messages (its jetstream max_batch_size is lower): raise it: %w", minBatchLimit, err)
			}
			// Commit again in smaller batches.
			continue
		case errors.Is(err, jsstore.ErrConflict) && attempt < r.cfg.pushAttempts:
			// Another push landed first: check again against it.
		case errors.Is(err, jsstore.ErrConflict):
			return nil, wrapError(KindConflict, err, "push of module %q lost the race for the module head %d times in a row; retry", req.Module, attempt)
		case jsstore.Transient(err) && ctx.Err() == nil:
			// Unknown outcome: the next plan finds out whether it committed.
		default:
			return nil, storeError(err, "commit version %d of module %q", p.record.Version, req.Module)
		}
		if err := sleep(ctx, time.Duration(rand.N(min(attempt, 10)*5+1))*time.Millisecond); err != nil {
			return nil, storeError(err, "commit version %d of module %q", p.record.Version, req.Module)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pushPlan is what a push would do against the module as it is now.
type pushPlan struct {
	headRev uint64
	// genRev is the revision of the index generation, read before any
	// index entry (see [Registry.commit]).
	genRev uint64
	latest *versionRecord
	// first is the module's first version (see headRecord.First).
	first uint64
	// unchanged: identical to latest. alreadyCommitted: latest is this
	// push's own version (an earlier attempt committed after all).
	unchanged, alreadyCommitted bool
	violations                  []Violation
	record                      *versionRecord
	indexOps                    []jsstore.Op
}

// plan reads the module's head and the indexes and decides what the push
// does: nothing (unchanged), refuse (violations), or commit record and
// indexOps with the head expected at headRev.
func (r *Registry) plan(ctx context.Context, module string, c *content, policy Policy, pushID string) (_ *pushPlan, err error) {
	p := &pushPlan{}
	// The index generation first: a commit expecting it fails if anyone
	// claimed an index entry after this plan started reading them.
	if p.genRev, err = r.readGen(ctx); err != nil {
		return nil, err
	}
	head, headRev, err := r.readHead(ctx, module)
	if err != nil {
		return nil, err
	}
	p.headRev = headRev
	p.first = 1
	var prev *content
	if head == nil {
		// A module of this name deleted before: numbering goes on after
		// its versions, so that no version number ever names two sets.
		through, _, err := r.deletedThrough(ctx, module)
		if err != nil {
			return nil, err
		}
		p.first = through + 1
	} else {
		p.first = head.first()
		if p.latest, err = r.record(ctx, module, head.Version); err != nil {
			return nil, err
		}
		if p.latest.PushID == pushID {
			p.alreadyCommitted = true
			return p, nil
		}
		if p.latest.Digest == c.digest && sameImports(p.latest, c) {
			p.unchanged = true
			return p, nil
		}
		if prev, err = r.content(ctx, p.latest); err != nil {
			return nil, err
		}
	}
	deps, violations, err := r.resolveDeps(ctx, module, c)
	if err != nil {
		return nil, err
	}
	p.violations = violations
	ops, violations, err := r.claims(ctx, module, prev, c)
	if err != nil {
		return nil, err
	}
	p.violations = append(p.violations, violations...)
	p.indexOps = ops
	if p.latest != nil && len(policy.Categories) > 0 {
		violations, err := r.check(ctx, module, c, p.latest.Version, policy)
		if err != nil {
			return nil, err
		}
		p.violations = append(p.violations, violations...)
	}
	if len(p.violations) > 0 {
		return p, nil
	}
	next := p.first
	if p.latest != nil {
		next = p.latest.Version + 1
	}
	p.record = &versionRecord{
		Format:  recordFormat,
		Module:  module,
		Version: next,
		Digest:  c.digest,
		PushID:  pushID,
		Blob:    jsstore.Blob{SHA256: c.blobSHA, Size: len(c.blob), Object: len(c.blob) > r.cfg.inlineLimit},
		Deps:    deps,
	}
	for _, f := range c.own {
		p.record.Files = append(p.record.Files, fileEntry{Path: f, Digest: c.fileDigests[f]})
	}
	for v := p.first; v < next; v++ {
		rec, err := r.record(ctx, module, v)
		if err != nil {
			return nil, err
		}
		if rec.Digest == c.digest {
			p.record.RevertOf = append(p.record.RevertOf, v)
		}
	}
	return p, nil
}

// sameImports reports whether c imports exactly the files rec recorded,
// with the same content (ignoring source info).
func sameImports(rec *versionRecord, c *content) bool {
	n := 0
	for p, d := range c.fileDigests {
		if c.isOwn(p) {
			continue
		}
		n++
		i, ok := slices.BinarySearchFunc(rec.Deps, p, func(d Dependency, p string) int { return strings.Compare(d.File, p) })
		if !ok || rec.Deps[i].Digest != d {
			return false
		}
	}
	return n == len(rec.Deps)
}

// check runs the breaking-change checker against the latest version, or
// against every earlier version when the policy is transitive.
func (r *Registry) check(ctx context.Context, module string, c *content, latest uint64, policy Policy) ([]Violation, error) {
	return checkVersions(ctx, r.checker, module, c, latest, policy, func(ctx context.Context, v uint64) (*content, error) {
		rec, err := r.record(ctx, module, v)
		if err != nil {
			return nil, err
		}
		return r.content(ctx, rec)
	})
}

// readOwner reads an index key: its owner (nil when free) and revision.
func (r *Registry) readOwner(ctx context.Context, key string) (*ownerRecord, uint64, error) {
	e, err := r.store.Get(ctx, key)
	if errors.Is(err, jsstore.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, storeError(err, "read index key %q", key)
	}
	if e.Deleted {
		return nil, e.Revision, nil
	}
	o, err := decodeOwner(key, e.Value)
	if err != nil {
		return nil, 0, err
	}
	return o, e.Revision, nil
}

// decodeOwner decodes the value of an index key.
func decodeOwner(key string, value []byte) (*ownerRecord, error) {
	var o ownerRecord
	if err := json.Unmarshal(value, &o); err != nil || o.Module == "" {
		return nil, internalf("index key %q is corrupt (%q)", key, value)
	}
	return &o, nil
}

// resolveDeps identifies every imported file and reports the ones that do
// not match the module that owns them.
func (r *Registry) resolveDeps(ctx context.Context, module string, c *content) ([]Dependency, []Violation, error) {
	var deps []Dependency
	var violations []Violation
	ownPkgs := map[string]bool{}
	for _, p := range c.packages {
		ownPkgs[p] = true
	}
	imports := sortedKeys(c.byPath)
	for _, p := range imports {
		if c.isOwn(p) {
			continue
		}
		fd := c.byPath[p]
		digest := c.fileDigests[p]
		if IsBuiltinFile(p) {
			deps = append(deps, Dependency{File: p, Digest: digest, Builtin: true})
			continue
		}
		at := c.importSite(p)
		owner, _, err := r.readOwner(ctx, fileKey(p))
		if err != nil {
			return nil, nil, err
		}
		if owner != nil && owner.Module != module {
			v, latest, err := r.matchingVersion(ctx, owner.Module, p, digest)
			if err != nil {
				return nil, nil, err
			}
			if v == 0 && latest != 0 {
				violations = append(violations, at(RuleDependencyMismatch,
					"imported file %q differs from the file of every version of module %q, which owns it (latest: %s@%d); import the registry's copy (natsrpc get %s) or push module %q first",
					p, owner.Module, owner.Module, latest, owner.Module, owner.Module))
				continue
			}
			if v != 0 {
				deps = append(deps, Dependency{File: p, Module: owner.Module, Version: v, Digest: digest})
				continue
			}
			// The index names an owner with no version having the file:
			// a stale hint; treat the file as unowned.
		}
		if owner != nil && owner.Module == module {
			// The hint may be a claim of a push that never published:
			// only the latest version's own files count.
			rec, err := r.latest(ctx, module)
			if err != nil && !IsNotFound(err) {
				return nil, nil, err
			}
			if rec != nil {
				if _, own := rec.fileDigest(p); own {
					violations = append(violations, at(RuleDependencyMismatch,
						"file %q is one of module %q's own files in its latest version but this push imports it; list it among the module's own files", p, module))
					continue
				}
			}
		}
		if pkg := fd.GetPackage(); pkg != "" {
			if ownPkgs[pkg] {
				violations = append(violations, at(RuleDependencyMismatch,
					"imported file %q declares package %q, which this module's own files declare; make it one of the module's own files", p, pkg))
				continue
			}
			if !descset.IsReservedPackage(pkg) {
				po, _, err := r.readOwner(ctx, pkgKey(pkg))
				if err != nil {
					return nil, nil, err
				}
				if po != nil {
					owns, err := r.declaresPackage(ctx, po.Module, pkg)
					if err != nil {
						return nil, nil, err
					}
					if owns {
						violations = append(violations, at(RuleDependencyMismatch,
							"imported file %q declares package %q, which module %q owns, but that module has no file %q; import the module's own files (natsrpc get %s)", p, pkg, po.Module, p, po.Module))
						continue
					}
				}
			}
		}
		deps = append(deps, Dependency{File: p, Digest: digest})
	}
	return deps, violations, nil
}

// importSite returns a violation constructor positioned at the first
// import of path by an own file (or, failing that, at the file itself).
func (c *content) importSite(path string) func(rule, format string, args ...any) Violation {
	for _, own := range c.own {
		fd := c.byPath[own]
		for i, d := range fd.GetDependency() {
			if d == path {
				return func(rule, format string, args ...any) Violation {
					return violationAt(rule, fd, []int32{3, int32(i)}, format, args...)
				}
			}
		}
	}
	fd := c.byPath[path]
	return func(rule, format string, args ...any) Violation {
		return violationAt(rule, fd, nil, format, args...)
	}
}

// matchingVersion returns the newest version of module whose own file path
// has the given digest (0 if none) and the module's latest version (0 when
// it has none).
func (r *Registry) matchingVersion(ctx context.Context, module, path, digest string) (uint64, uint64, error) {
	head, _, err := r.readHead(ctx, module)
	if err != nil || head == nil {
		return 0, 0, err
	}
	for v := head.Version; v > 0; v-- {
		rec, err := r.record(ctx, module, v)
		if err != nil {
			return 0, 0, err
		}
		if d, ok := rec.fileDigest(path); ok && d == digest {
			return v, head.Version, nil
		}
	}
	return 0, head.Version, nil
}

// declaresPackage reports whether module's latest version declares pkg in
// its own files. It verifies an index entry against the content.
func (r *Registry) declaresPackage(ctx context.Context, module, pkg string) (bool, error) {
	rec, err := r.latest(ctx, module)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c, err := r.content(ctx, rec)
	if err != nil {
		return false, err
	}
	_, ok := slices.BinarySearch(c.packages, pkg)
	return ok, nil
}

// claims compares what the module owns in its latest version (prev, nil
// for a first push) with what c needs, and returns the index operations
// that move ownership (each expecting the revision it read), or the
// violations when another module owns something c needs.
func (r *Registry) claims(ctx context.Context, module string, prev, c *content) ([]jsstore.Op, []Violation, error) {
	var ops []jsstore.Op
	var violations []Violation
	owned := func(o *ownerRecord) bool { return o != nil && o.Module == module }
	value := func(o ownerRecord) []byte {
		b, _ := json.Marshal(o)
		return b
	}
	var prevPkgs, prevFiles []string
	prevSubjects := map[string]string{}
	if prev != nil {
		prevPkgs, prevFiles = prev.packages, prev.own
		for s, info := range prev.subjects {
			prevSubjects[s] = string(info.method.Desc.FullName())
		}
	}
	release := func(key string) error {
		o, rev, err := r.readOwner(ctx, key)
		if err != nil {
			return err
		}
		if owned(o) {
			ops = append(ops, jsstore.Op{Key: key, Delete: true, ExpectedRevision: rev})
		}
		return nil
	}

	// Packages.
	for _, pkg := range c.packages {
		fd := c.firstOwnFileWithPackage(pkg)
		if descset.IsReservedPackage(pkg) {
			violations = append(violations, violationAt(RulePackageOwned, fd, []int32{2},
				"package %q is built into the registry (well-known types, google/api and natsrpc options); rename the package", pkg))
			continue
		}
		// The reservation is checked for packages the module had too: a
		// transfer (TransferPackage) takes them away from it.
		res, err := r.reservedFor(ctx, pkg)
		if err != nil {
			return nil, nil, err
		}
		if res != nil && res.Module != module {
			violations = append(violations, violationAt(RulePackageReserved, fd, []int32{2},
				"package %q is reserved for module %q (prefix %q); rename the package, or push these files as part of module %q", pkg, res.Module, res.Prefix, res.Module))
			continue
		}
		if _, ok := slices.BinarySearch(prevPkgs, pkg); ok {
			continue
		}
		o, rev, err := r.readOwner(ctx, pkgKey(pkg))
		if err != nil {
			return nil, nil, err
		}
		switch {
		case owned(o):
			// A package new to the module that the index already gives
			// it: a claim of a push that never published. Claim it again,
			// so that this commit, like every claim, advances the index
			// generation (see Registry.commit).
			ops = append(ops, jsstore.Op{Key: pkgKey(pkg), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		case o != nil:
			owns, err := r.declaresPackage(ctx, o.Module, pkg)
			if err != nil {
				return nil, nil, err
			}
			if owns {
				violations = append(violations, violationAt(RulePackageOwned, fd, []int32{2},
					"package %q belongs to module %q (a package has one owner); rename the package, or push these files as part of module %q", pkg, o.Module, o.Module))
				continue
			}
			ops = append(ops, jsstore.Op{Key: pkgKey(pkg), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		default:
			ops = append(ops, jsstore.Op{Key: pkgKey(pkg), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		}
	}
	for _, pkg := range prevPkgs {
		if _, ok := slices.BinarySearch(c.packages, pkg); !ok {
			if err := release(pkgKey(pkg)); err != nil {
				return nil, nil, err
			}
		}
	}

	// File paths.
	for _, path := range c.own {
		if _, ok := slices.BinarySearch(prevFiles, path); ok {
			continue
		}
		o, rev, err := r.readOwner(ctx, fileKey(path))
		if err != nil {
			return nil, nil, err
		}
		switch {
		case owned(o):
			// As for packages: claim it again.
			ops = append(ops, jsstore.Op{Key: fileKey(path), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		case o != nil:
			rec, err := r.latest(ctx, o.Module)
			if err != nil && !IsNotFound(err) {
				return nil, nil, err
			}
			if rec != nil {
				if _, has := rec.fileDigest(path); has {
					violations = append(violations, violationAt(RuleFileOwned, c.byPath[path], nil,
						"file path %q belongs to module %q; move the file to another path, or push it as part of module %q", path, o.Module, o.Module))
					continue
				}
			}
			ops = append(ops, jsstore.Op{Key: fileKey(path), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		default:
			ops = append(ops, jsstore.Op{Key: fileKey(path), Value: value(ownerRecord{Module: module}), ExpectedRevision: rev})
		}
	}
	for _, path := range prevFiles {
		if !c.isOwn(path) {
			if err := release(fileKey(path)); err != nil {
				return nil, nil, err
			}
		}
	}

	// NATS subjects.
	for _, subject := range sortedKeys(c.subjects) {
		info := c.subjects[subject]
		method := string(info.method.Desc.FullName())
		if prevSubjects[subject] == method {
			continue
		}
		o, rev, err := r.readOwner(ctx, subjKey(subject))
		if err != nil {
			return nil, nil, err
		}
		if o != nil && !owned(o) {
			taken, err := r.listensOn(ctx, o.Module, subject)
			if err != nil {
				return nil, nil, err
			}
			if taken != "" {
				violations = append(violations, violationAt(RuleSubjectTaken, c.byPath[info.file], info.path,
					"method %q listens on NATS subject %q, which method %q of module %q already listens on; give it another subject with (natsrpc.v1.service).subject or (natsrpc.v1.method).subject",
					method, subject, taken, o.Module))
				continue
			}
		}
		ops = append(ops, jsstore.Op{Key: subjKey(subject), Value: value(ownerRecord{Module: module, Method: method}), ExpectedRevision: rev})
	}
	for _, subject := range sortedKeys(prevSubjects) {
		if _, ok := c.subjects[subject]; !ok {
			if err := release(subjKey(subject)); err != nil {
				return nil, nil, err
			}
		}
	}
	return ops, violations, nil
}

func (c *content) firstOwnFileWithPackage(pkg string) *descriptorpb.FileDescriptorProto {
	for _, p := range c.own {
		if c.byPath[p].GetPackage() == pkg {
			return c.byPath[p]
		}
	}
	return nil
}

// listensOn returns the full name of the method of module's latest
// version that listens on subject, or "".
func (r *Registry) listensOn(ctx context.Context, module, subject string) (string, error) {
	rec, err := r.latest(ctx, module)
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	c, err := r.content(ctx, rec)
	if err != nil {
		return "", err
	}
	if info, ok := c.subjects[subject]; ok {
		return string(info.method.Desc.FullName()), nil
	}
	return "", nil
}
