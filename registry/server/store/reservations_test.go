package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// TestPackageReservations: a package prefix reserved for a module stops
// other modules from claiming a package under it first (squatting), the
// module it is reserved for pushes it, a prefix another module already
// owns cannot be reserved away from it, and a released prefix is free
// again.
func TestPackageReservations(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	common := testschema.CommonSet(t, testschema.CommonV1) // package acme.common.v1

	res, err := r.ReservePackage(ctx, "acme.common", "common")
	if err != nil {
		t.Fatal(err)
	}
	if res.Module != "common" || res.Prefix != "acme.common" || res.CreateTime.IsZero() {
		t.Errorf("reservation %+v", res)
	}
	if again, err := r.ReservePackage(ctx, "acme.common", "common"); err != nil || !again.CreateTime.Equal(res.CreateTime) {
		t.Errorf("reserving again for the same module: %+v, %v; want the same reservation", again, err)
	}
	_, err = r.ReservePackage(ctx, "acme.common", "squatter")
	wantKind(t, err, store.KindFailedPrecondition, `reserved for module "common"`)
	_, err = r.ReservePackage(ctx, "acme..common", "common")
	wantKind(t, err, store.KindInvalidArgument, "not a package name")

	// The squatter is refused; the module it is reserved for pushes.
	_, err = r.Push(ctx, store.PushRequest{Module: "squatter", Files: common})
	e := wantKind(t, err, store.KindFailedPrecondition)
	if !hasRule(e.Violations, store.RulePackageReserved) {
		t.Errorf("violations %v; want %s", e.Violations, store.RulePackageReserved)
	}
	if vs, _, err := r.ListVersions(ctx, "squatter", store.ListOptions{}); len(vs) != 0 {
		t.Errorf("the squatter's push stored something: %v", err)
	}
	mustPush(t, r, store.PushRequest{Module: "common", Files: common})

	// Listed; a prefix owned by another module cannot be reserved.
	list, err := r.ListReservations(ctx)
	if err != nil || len(list) != 1 || list[0].Prefix != "acme.common" {
		t.Errorf("reservations %+v, %v", list, err)
	}
	if _, err := r.ReleasePackage(ctx, "acme.common"); err != nil {
		t.Fatal(err)
	}
	_, err = r.ReservePackage(ctx, "acme", "other")
	wantKind(t, err, store.KindFailedPrecondition, `module "common" owns package "acme.common.v1"`)
	_, err = r.ReleasePackage(ctx, "acme.common")
	wantKind(t, err, store.KindNotFound, "not reserved")
	if list, _ := r.ListReservations(ctx); len(list) != 0 {
		t.Errorf("reservations after release: %+v", list)
	}
	// Released and reserved again, for another module, after common stops
	// declaring it... common still declares it: refused.
	_, err = r.ReservePackage(ctx, "acme.common", "other")
	wantKind(t, err, store.KindFailedPrecondition, "owns package")
}

// TestDeprecateModule: a deprecated module shows so in listings, with its
// message, until the deprecation is undone; an unknown module and an
// oversized message are refused.
func TestDeprecateModule(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	mustPush(t, r, store.PushRequest{Module: "common", Files: testschema.CommonSet(t, testschema.CommonV1)})
	_, err := r.DeprecateModule(ctx, "nope", "gone", false)
	wantKind(t, err, store.KindNotFound, "nothing to deprecate")
	_, err = r.DeprecateModule(ctx, "common", strings.Repeat("x", 513), false)
	wantKind(t, err, store.KindInvalidArgument, "at most 512")
	listed := func() store.ModuleSummary {
		mods, _, err := r.ListModules(ctx, store.ListOptions{})
		if err != nil || len(mods) != 1 {
			t.Fatalf("modules %+v, %v", mods, err)
		}
		return mods[0]
	}
	if now, err := r.DeprecateModule(ctx, "common", "use shared instead", false); err != nil || !now {
		t.Fatalf("deprecate: %v, %v", now, err)
	}
	if m := listed(); !m.Deprecated || m.DeprecationMessage != "use shared instead" {
		t.Errorf("listed %+v; want deprecated with its message", m)
	}
	if now, err := r.DeprecateModule(ctx, "common", "", true); err != nil || now {
		t.Fatalf("undo: %v, %v", now, err)
	}
	if m := listed(); m.Deprecated || m.DeprecationMessage != "" {
		t.Errorf("listed %+v after undo", m)
	}
}
