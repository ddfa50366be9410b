package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// TestDeleteModule: a module deleted in the middle (the process dies after
// the head went, before the versions did) already reads as not found
// everywhere; deleting again finishes; nothing of it is left; its package
// is free for another module; a push of the same name starts after the
// deleted versions, and the old numbers stay not found.
func TestDeleteModule(t *testing.T) {
	t.Parallel()
	r, other, ctx := stagedRegistries(t)
	mustPushInternal(t, ctx, r, questPush())
	v2 := questPush()
	last := v2.Files.File[len(v2.Files.File)-1]
	last.MessageType = append(last.MessageType, &descriptorpb.DescriptorProto{Name: proto.String("AddedInV2")})
	mustPushInternal(t, ctx, r, v2)
	if _, err := r.SetPolicy(ctx, "gaming", DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeprecateModule(ctx, "gaming", "old", false); err != nil {
		t.Fatal(err)
	}

	crashCtx, crash := context.WithCancel(ctx)
	var midway []error
	r.beforePurge = func() {
		// What readers see between the head's batch and the purge.
		for _, reg := range []*Registry{r, other} {
			_, err := reg.GetModuleVersion(ctx, GetRequest{Module: "gaming"})
			midway = append(midway, err)
			_, err = reg.GetModuleVersion(ctx, GetRequest{Module: "gaming", Version: 1})
			midway = append(midway, err)
			_, _, err = reg.ListVersions(ctx, "gaming", ListOptions{})
			midway = append(midway, err)
		}
		crash()
	}
	if _, err := r.DeleteModule(crashCtx, "gaming"); err == nil {
		t.Fatal("the purge ran with a cancelled context")
	}
	for i, err := range midway {
		if !IsNotFound(err) {
			t.Errorf("read %d mid-deletion: %v; want not found", i, err)
		}
	}
	r.beforePurge = nil
	if left := keys(t, ctx, r, "mod.gaming.ver.*"); len(left) == 0 {
		t.Fatal("the crashed deletion deleted the versions: the test does not test an interrupted deletion")
	}
	through, err := other.DeleteModule(ctx, "gaming")
	if err != nil || through != 2 {
		t.Fatalf("deleting again: %d, %v; want 2 (finishing the deletion)", through, err)
	}
	for _, filter := range []string{"mod.gaming.ver.*", "mod.gaming.policy", "mod.gaming.deprecated", "mod.gaming.head", "fdig.*.gaming.*"} {
		if left := keys(t, ctx, r, filter); len(left) != 0 {
			t.Errorf("left after the deletion: %v", left)
		}
	}
	for _, e := range entries(t, ctx, r, "idx.>") {
		if o, err := decodeOwner(e.Key, e.Value); e.Key != genKey && err == nil && o.Module == "gaming" {
			t.Errorf("index entry %q still names the deleted module", e.Key)
		}
	}
	if st, err := r.ModuleStatus(ctx, "gaming"); err != nil || st != ModuleUnknown {
		t.Errorf("status after deletion: %v, %v", st, err)
	}
	if mods, _, _ := r.ListModules(ctx, ListOptions{}); len(mods) != 0 {
		t.Errorf("modules after deletion: %+v", mods)
	}
	if _, err := r.DeleteModule(ctx, "gaming"); !IsNotFound(err) {
		t.Errorf("deleting a deleted module again: %v; want not found", err)
	}
	if _, err := r.DeleteModule(ctx, "nobody"); !IsNotFound(err) {
		t.Errorf("deleting an unknown module: %v; want not found", err)
	}

	// The package is free; the name starts again after version 2.
	mustPushInternal(t, ctx, other, rivalPush())
	if _, err := r.Push(ctx, questPush()); !IsRefused(err) {
		t.Errorf("pushing the deleted module's package after another module took it: %v; want refused", err)
	}
	if _, err := other.DeleteModule(ctx, "rival"); err != nil {
		t.Fatal(err)
	}
	mustPushInternal(t, ctx, r, questPush())
	vs, _, err := r.ListVersions(ctx, "gaming", ListOptions{})
	if err != nil || len(vs) != 1 || vs[0].Version != 3 {
		t.Fatalf("versions after a push of the deleted name: %+v, %v; want only version 3", vs, err)
	}
	for _, v := range []uint64{1, 2} {
		if _, err := other.GetModuleVersion(ctx, GetRequest{Module: "gaming", Version: v}); !IsNotFound(err) {
			t.Errorf("deleted version %d: %v; want not found", v, err)
		}
	}
}

func mustPushInternal(t *testing.T, ctx context.Context, r *Registry, req PushRequest) *PushResult {
	t.Helper()
	res, err := r.Push(ctx, req)
	if err != nil {
		t.Fatalf("push %s: %v", req.Module, err)
	}
	return res
}

func entries(t *testing.T, ctx context.Context, r *Registry, filter string) []*jsstore.Entry {
	t.Helper()
	es, err := r.store.Entries(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func keys(t *testing.T, ctx context.Context, r *Registry, filter string) []string {
	t.Helper()
	var out []string
	for _, e := range entries(t, ctx, r, filter) {
		out = append(out, e.Key)
	}
	slices.Sort(out)
	return out
}

// TestTransferPackage: a package owned (and not reserved) moves to another
// module: the module that had it can no longer push it, the new one can,
// and the reservation says so; an unknown prefix is not found.
func TestTransferPackage(t *testing.T) {
	t.Parallel()
	r, other, ctx := stagedRegistries(t)
	mustPushInternal(t, ctx, r, questPush())
	if _, err := r.Push(ctx, rivalPush()); !IsRefused(err) {
		t.Fatalf("rival's push before the transfer: %v; want refused (gaming owns the package)", err)
	}
	res, moved, err := other.TransferPackage(ctx, "gaming.quest_system", "rival")
	if err != nil || res.Module != "rival" || res.Prefix != "gaming.quest_system" || !slices.Equal(moved, []string{questPkg}) {
		t.Fatalf("transfer: %+v %v %v; want the reservation for rival and %s moved", res, moved, err, questPkg)
	}
	if _, moved, err := r.TransferPackage(ctx, "gaming.quest_system", "rival"); err != nil || len(moved) != 0 {
		t.Errorf("transferring again: %v, %v; want nothing moved", moved, err)
	}
	v2 := questPush()
	last := v2.Files.File[len(v2.Files.File)-1]
	last.MessageType = append(last.MessageType, &descriptorpb.DescriptorProto{Name: proto.String("AddedInV2")})
	_, err = r.Push(ctx, v2)
	var e *Error
	if !errors.As(err, &e) || !slices.ContainsFunc(e.Violations, func(v Violation) bool { return v.Rule == RulePackageReserved }) {
		t.Errorf("gaming's push of the transferred package: %v; want refused with %s", err, RulePackageReserved)
	}
	mustPushInternal(t, ctx, r, rivalPush())
	if got := declaredBy(t, ctx, r, questPkg, "gaming", "rival"); !slices.Contains(got, "rival") {
		t.Errorf("modules declaring %s: %v; want rival among them", questPkg, got)
	}
	if list, err := r.ListReservations(ctx); err != nil || len(list) != 1 || list[0].Module != "rival" {
		t.Errorf("reservations %+v, %v", list, err)
	}
	if _, _, err := r.TransferPackage(ctx, "nobody.owns", "rival"); !IsNotFound(err) {
		t.Errorf("transferring an unknown prefix: %v; want not found", err)
	}
}
