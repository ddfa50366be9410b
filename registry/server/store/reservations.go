package store

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// Package reservations: an administrator reserves a package prefix (e.g.
// "gaming.payment") for a module; a push of another module whose own
// files declare the prefix or a package under it ("gaming.payment.v1") is
// refused with RulePackageReserved. Per-module push rights alone do not
// stop a pusher of one module from claiming a package nobody owns yet by
// pushing it first; a reservation does.
//
// Keys: res.<prefix> holds a reservationRecord. A reservation is checked
// when a push is planned; it is not part of the push's atomic commit, so
// a push planned just before a reservation was made may still claim the
// package (the administrator sees it when reserving again: reserving
// fails while another module owns a package under the prefix).

// RulePackageReserved: an own file declares a package reserved for
// another module.
const RulePackageReserved = "REGISTRY_PACKAGE_RESERVED"

// Reservation reserves a package prefix for a module.
type Reservation struct {
	// Prefix is a package name; it covers the package and every package
	// under it.
	Prefix string
	// Module is the module the prefix is reserved for.
	Module string
	// CreateTime is when the reservation was made.
	CreateTime time.Time
}

type reservationRecord struct {
	Format int       `json:"format"`
	Module string    `json:"module"`
	Time   time.Time `json:"time"`
}

func reservationKey(prefix string) string { return "res." + prefix }

var packageRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// validatePrefix checks a package prefix.
func validatePrefix(prefix string) error {
	if len(prefix) > maxPackageLength || !packageRE.MatchString(prefix) {
		return invalidf("package prefix %.80q is not a package name: identifiers separated by dots, e.g. gaming.payment", prefix)
	}
	return nil
}

// ReservePackage reserves prefix for module. It fails when another module
// holds the prefix, or when another module's latest version declares a
// package equal to the prefix or under it (release or move that package
// first). Reserving again for the same module changes nothing.
func (r *Registry) ReservePackage(ctx context.Context, prefix, module string) (Reservation, error) {
	if err := validatePrefix(prefix); err != nil {
		return Reservation{}, err
	}
	if err := ValidateModuleName(module); err != nil {
		return Reservation{}, err
	}
	e, err := r.store.Get(ctx, reservationKey(prefix))
	var rev uint64
	switch {
	case errors.Is(err, jsstore.ErrNotFound):
	case err != nil:
		return Reservation{}, storeError(err, "read the reservation of %q", prefix)
	case e.Deleted:
		rev = e.Revision
	default:
		var rec reservationRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return Reservation{}, internalf("reservation of %q is corrupt: %w", prefix, err)
		}
		if rec.Module == module {
			return Reservation{Prefix: prefix, Module: module, CreateTime: rec.Time}, nil
		}
		return Reservation{}, newError(KindFailedPrecondition, "package prefix %q is reserved for module %q; release it first (natsrpc registry release %s)", prefix, rec.Module, prefix)
	}
	for _, filter := range []string{pkgKey(prefix), pkgKey(prefix) + ".>"} {
		entries, err := r.store.Entries(ctx, filter)
		if err != nil {
			return Reservation{}, storeError(err, "read the owners of packages under %q", prefix)
		}
		for _, o := range entries {
			var owner ownerRecord
			if json.Unmarshal(o.Value, &owner) != nil || owner.Module == module {
				continue
			}
			pkg := strings.TrimPrefix(o.Key, "idx.pkg.")
			owns, err := r.declaresPackage(ctx, owner.Module, pkg)
			if err != nil {
				return Reservation{}, err
			}
			if owns {
				return Reservation{}, newError(KindFailedPrecondition, "module %q owns package %q, under the prefix %q: a reservation for module %q would not move it; push it under module %q, or reserve a narrower prefix", owner.Module, pkg, prefix, module, module)
			}
		}
	}
	now := r.now().UTC()
	value, _ := json.Marshal(reservationRecord{Format: recordFormat, Module: module, Time: now})
	if _, err := r.store.Commit(ctx, []jsstore.Op{{Key: reservationKey(prefix), Value: value, ExpectedRevision: rev}}); err != nil {
		if errors.Is(err, jsstore.ErrConflict) {
			return Reservation{}, wrapError(KindConflict, err, "the reservation of %q changed while it was being made; try again", prefix)
		}
		return Reservation{}, storeError(err, "store the reservation of %q", prefix)
	}
	return Reservation{Prefix: prefix, Module: module, CreateTime: now}, nil
}

// ReleasePackage removes the reservation of prefix and returns it.
// Packages already pushed stay with the modules that declare them.
func (r *Registry) ReleasePackage(ctx context.Context, prefix string) (Reservation, error) {
	if err := validatePrefix(prefix); err != nil {
		return Reservation{}, err
	}
	res, rev, err := r.reservation(ctx, prefix)
	if err != nil {
		return Reservation{}, err
	}
	if res == nil {
		return Reservation{}, notFoundf("package prefix %q is not reserved (natsrpc registry reservations lists them)", prefix)
	}
	if _, err := r.store.Commit(ctx, []jsstore.Op{{Key: reservationKey(prefix), Delete: true, ExpectedRevision: rev}}); err != nil {
		if errors.Is(err, jsstore.ErrConflict) {
			return Reservation{}, wrapError(KindConflict, err, "the reservation of %q changed while it was being released; try again", prefix)
		}
		return Reservation{}, storeError(err, "release %q", prefix)
	}
	return *res, nil
}

// ListReservations returns every reservation, by prefix.
func (r *Registry) ListReservations(ctx context.Context) ([]Reservation, error) {
	entries, err := r.store.Entries(ctx, "res.>")
	if err != nil {
		return nil, storeError(err, "list the reservations")
	}
	out := make([]Reservation, 0, len(entries))
	for _, e := range entries {
		var rec reservationRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return nil, internalf("reservation %q is corrupt: %w", e.Key, err)
		}
		out = append(out, Reservation{Prefix: strings.TrimPrefix(e.Key, "res."), Module: rec.Module, CreateTime: rec.Time})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out, nil
}

// reservation reads the reservation of exactly prefix: nil when none.
func (r *Registry) reservation(ctx context.Context, prefix string) (*Reservation, uint64, error) {
	e, err := r.store.Get(ctx, reservationKey(prefix))
	if errors.Is(err, jsstore.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, storeError(err, "read the reservation of %q", prefix)
	}
	if e.Deleted {
		return nil, e.Revision, nil
	}
	var rec reservationRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return nil, 0, internalf("reservation of %q is corrupt: %w", prefix, err)
	}
	return &Reservation{Prefix: prefix, Module: rec.Module, CreateTime: rec.Time}, e.Revision, nil
}

// reservedFor returns the reservation covering pkg (the package itself or
// a prefix of it, the longest first), or nil.
func (r *Registry) reservedFor(ctx context.Context, pkg string) (*Reservation, error) {
	for p := pkg; p != ""; {
		res, _, err := r.reservation(ctx, p)
		if err != nil || res != nil {
			return res, err
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return nil, nil
}
