package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

func TestPushCreatesVersionAndServesIt(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := newRegistry(t, js, store.WithClock(func() time.Time { return clock }))
	ctx := registrytest.Ctx(t, time.Minute)

	pushCommon(t, r, testschema.CommonV1)
	res, err := pushShop(t, r, shopV1, testschema.CommonV1)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if res.Outcome != store.OutcomeCreated || !res.Created || res.Version.Version != 1 {
		t.Fatalf("push = %+v; want created version 1", res)
	}
	if !strings.HasPrefix(res.Version.Digest, "sha256:") || len(res.Version.Digest) != len("sha256:")+64 {
		t.Errorf("digest = %q; want sha256:<64 hex>", res.Version.Digest)
	}
	if !res.Version.CreateTime.Equal(clock) {
		t.Errorf("create time = %v; want %v", res.Version.CreateTime, clock)
	}
	if !slices.Equal(res.Version.Files, []string{"acme/shop/v1/shop.proto"}) {
		t.Errorf("files = %v", res.Version.Files)
	}
	deps := map[string]store.Dependency{}
	for _, d := range res.Version.Dependencies {
		deps[d.File] = d
	}
	if d := deps["acme/common/v1/common.proto"]; d.Module != "common" || d.Version != 1 {
		t.Errorf("common dependency = %+v; want common@1", d)
	}
	if d := deps["google/protobuf/timestamp.proto"]; !d.Builtin || d.Module != "" || !strings.HasPrefix(d.Digest, "sha256:") {
		t.Errorf("timestamp dependency = %+v; want built-in with digest", d)
	}
	if d := deps["natsrpc/v1/options.proto"]; !d.Builtin {
		t.Errorf("natsrpc options dependency = %+v; want built-in", d)
	}

	mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "shop"})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	set, err := mc.FileDescriptorSet()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var names []string
	for _, f := range set.GetFile() {
		names = append(names, f.GetName())
	}
	// Dependencies first.
	if names[len(names)-1] != "acme/shop/v1/shop.proto" || !slices.Contains(names, "acme/common/v1/common.proto") {
		t.Errorf("files = %v; want imports then acme/shop/v1/shop.proto", names)
	}
	if set.GetFile()[len(names)-1].GetSourceCodeInfo() == nil {
		t.Errorf("source info was dropped")
	}
	noSrc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "shop", Version: 1, ExcludeSourceInfo: true})
	if err != nil {
		t.Fatalf("get without source info: %v", err)
	}
	set2, _ := noSrc.FileDescriptorSet()
	for _, f := range set2.GetFile() {
		if f.GetSourceCodeInfo() != nil {
			t.Errorf("%s still has source info", f.GetName())
		}
	}

	mods, next, err := r.ListModules(ctx, store.ListOptions{})
	if err != nil || next != "" {
		t.Fatalf("list modules: %v, %q", err, next)
	}
	if len(mods) != 2 || mods[0].Name != "common" || mods[1].Name != "shop" || mods[1].LatestVersion != 1 || mods[1].LatestDigest != res.Version.Digest {
		t.Errorf("modules = %+v", mods)
	}
	page, next, err := r.ListModules(ctx, store.ListOptions{PageSize: 1})
	if err != nil || len(page) != 1 || page[0].Name != "common" || next != "common" {
		t.Errorf("first page = %+v, %q, %v", page, next, err)
	}
	page, next, err = r.ListModules(ctx, store.ListOptions{PageSize: 1, PageToken: next})
	if err != nil || len(page) != 1 || page[0].Name != "shop" || next != "" {
		t.Errorf("second page = %+v, %q, %v", page, next, err)
	}

	vs, _, err := r.ListVersions(ctx, "shop", store.ListOptions{})
	if err != nil || len(vs) != 1 || vs[0].Digest != res.Version.Digest {
		t.Errorf("versions = %+v, %v", vs, err)
	}
	_, _, err = r.ListVersions(ctx, "nope", store.ListOptions{})
	wantKind(t, err, store.KindNotFound, `"nope"`, "push it first")
	_, err = r.GetModuleVersion(ctx, store.GetRequest{Module: "shop", Version: 7})
	wantKind(t, err, store.KindNotFound, "no version 7", "latest is 1")
}

func TestPushIdenticalCreatesNothing(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	pushCommon(t, r, testschema.CommonV1)
	first, err := pushShop(t, r, shopV1, testschema.CommonV1)
	if err != nil {
		t.Fatal(err)
	}
	// The same files in another order, with own files given by buf's
	// image markers instead of a list: still identical.
	set := testschema.ShopSet(t, shopV1, testschema.CommonV1)
	slices.Reverse(set.File)
	for _, f := range set.File {
		markImport(f, f.GetName() != "acme/shop/v1/shop.proto")
	}
	again, err := r.Push(registrytest.Ctx(t, time.Minute), store.PushRequest{Module: "shop", Files: set})
	if err != nil {
		t.Fatal(err)
	}
	if again.Outcome != store.OutcomeUnchanged || again.Created || again.Version.Version != 1 || again.Version.Digest != first.Version.Digest {
		t.Fatalf("re-push = %+v; want unchanged version 1", again)
	}
	vs, _, _ := r.ListVersions(registrytest.Ctx(t, time.Minute), "shop", store.ListOptions{})
	if len(vs) != 1 {
		t.Errorf("versions = %d; want 1", len(vs))
	}
}

// markImport sets buf's image marker (ImageFile.buf_extension.is_import) on
// a file, as `buf build -o image.binpb` writes it.
func markImport(f *descriptorpb.FileDescriptorProto, isImport bool) {
	v := byte(0)
	if isImport {
		v = 1
	}
	// Field 8042, length-delimited, holding field 1 (varint) = v.
	ext := []byte{0xd2, 0xf6, 0x03, 0x02, 0x08, v}
	f.ProtoReflect().SetUnknown(append(f.ProtoReflect().GetUnknown(), ext...))
}

func TestBreakingPushRefusedAndNothingStored(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)
	v1, err := pushShop(t, r, shopV1, testschema.CommonV1)
	if err != nil {
		t.Fatal(err)
	}
	before := getBytes(t, r, "shop", 1)

	broken := strings.Replace(shopV1, "  // at is when.\n  google.protobuf.Timestamp at = 2;\n", "", 1)
	set := testschema.ShopSet(t, broken, testschema.CommonV1)

	dry, err := r.Push(ctx, store.PushRequest{Module: "shop", Files: proto.CloneOf(set), OwnFiles: []string{"acme/shop/v1/shop.proto"}, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if dry.Outcome != store.OutcomeRefused || !dry.DryRun || !hasRule(dry.Violations, "FIELD_NO_DELETE") {
		t.Fatalf("dry run = %+v; want refused with FIELD_NO_DELETE", dry)
	}

	_, err = r.Push(ctx, store.PushRequest{Module: "shop", Files: set, OwnFiles: []string{"acme/shop/v1/shop.proto"}})
	re := wantKind(t, err, store.KindFailedPrecondition, `module "shop" refused`)
	if !store.IsRefused(err) {
		t.Errorf("IsRefused = false")
	}
	var found *store.Violation
	for i, v := range re.Violations {
		if v.Rule == "FIELD_NO_DELETE" {
			found = &re.Violations[i]
		}
	}
	if found == nil {
		t.Fatalf("violations = %+v; want FIELD_NO_DELETE", re.Violations)
	}
	if found.File != "acme/shop/v1/shop.proto" || found.StartLine == 0 || found.AgainstVersion != 1 || !strings.Contains(found.Message, "at") {
		t.Errorf("violation = %+v; want file, position, against version 1", *found)
	}

	// Nothing stored: still one version, same bytes, same head.
	vs, _, _ := r.ListVersions(ctx, "shop", store.ListOptions{})
	if len(vs) != 1 || vs[0].Digest != v1.Version.Digest {
		t.Errorf("versions after refusal = %+v", vs)
	}
	if !equalBytes(before, getBytes(t, r, "shop", 0)) {
		t.Errorf("latest content changed after a refused push")
	}
}

func TestCompatiblePushAndRevert(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)
	v1, err := pushShop(t, r, shopV1, testschema.CommonV1)
	if err != nil {
		t.Fatal(err)
	}
	// A comment change is compatible: version 2.
	commented := strings.Replace(shopV1, "// Buy buys an item.", "// Buy buys an item, now with more words.", 1)
	v2, err := pushShop(t, r, commented, testschema.CommonV1)
	if err != nil {
		t.Fatalf("compatible push: %v", err)
	}
	if !v2.Created || v2.Version.Version != 2 || v2.Version.Digest == v1.Version.Digest {
		t.Fatalf("compatible push = %+v; want version 2 with a new digest", v2)
	}
	// Adding a field is compatible too: version 3.
	added := strings.Replace(commented, "  string note = 1;\n", "  string note = 1;\n  // more is more.\n  string more = 2;\n", 1)
	v3, err := pushShop(t, r, added, testschema.CommonV1)
	if err != nil || v3.Version.Version != 3 {
		t.Fatalf("adding a field = %+v, %v; want version 3", v3, err)
	}
	// Going back to version 2's content deletes the field: refused.
	_, err = pushShop(t, r, commented, testschema.CommonV1)
	wantKind(t, err, store.KindFailedPrecondition)
	// With a policy that allows it, the revert becomes version 4.
	if _, err := r.SetPolicy(ctx, "shop", store.Policy{Categories: nil}); err != nil {
		t.Fatal(err)
	}
	v4, err := pushShop(t, r, commented, testschema.CommonV1)
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	if v4.Version.Version != 4 || v4.Version.Digest != v2.Version.Digest || !slices.Equal(v4.Version.RevertOf, []uint64{2}) {
		t.Fatalf("revert = %+v; want version 4 reverting to 2", v4.Version)
	}
	vs, _, _ := r.ListVersions(ctx, "shop", store.ListOptions{PageSize: 3})
	if len(vs) != 3 || vs[2].Version != 3 {
		t.Errorf("first page = %+v", vs)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	p, isDefault, err := r.GetPolicy(ctx, "anything")
	if err != nil || !isDefault || !slices.Equal(p.Categories, []string{"FILE", "NATSRPC"}) || p.Direction != store.DirectionBackward || p.Transitive {
		t.Fatalf("default policy = %+v, %v, %v", p, isDefault, err)
	}
	got, err := r.SetPolicy(ctx, "shop", store.Policy{Categories: []string{"natsrpc", "wire", "WIRE"}, Direction: store.DirectionFull, Transitive: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Categories, []string{"WIRE", "NATSRPC"}) {
		t.Errorf("normalized categories = %v", got.Categories)
	}
	p, isDefault, err = r.GetPolicy(ctx, "shop")
	if err != nil || isDefault || p.Direction != store.DirectionFull || !p.Transitive {
		t.Errorf("stored policy = %+v, %v, %v", p, isDefault, err)
	}
	_, err = r.SetPolicy(ctx, "shop", store.Policy{Categories: []string{"LOOSE"}})
	wantKind(t, err, store.KindInvalidArgument, `"LOOSE"`, "FILE, PACKAGE, WIRE_JSON, WIRE, NATSRPC")
	_, err = r.SetPolicy(ctx, "Shop", store.Policy{})
	wantKind(t, err, store.KindInvalidArgument, "lowercase")
	if _, err := store.ParseDirection("sideways"); store.KindOf(err) != store.KindInvalidArgument {
		t.Errorf("ParseDirection(sideways) = %v", err)
	}
}

func TestTransitivePolicy(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	v1 := "syntax = \"proto3\";\npackage acme.t.v1;\nmessage M {\n  string a = 1;\n}\n"
	v2 := "syntax = \"proto3\";\npackage acme.t.v1;\nmessage M {\n  reserved 1;\n  reserved \"a\";\n}\n"
	v3 := "syntax = \"proto3\";\npackage acme.t.v1;\nmessage M {\n  reserved 1;\n  reserved \"a\";\n  string b = 2;\n}\n"
	push := func(src string) error {
		_, err := r.Push(ctx, store.PushRequest{Module: "t", Files: testschema.Compile(t, map[string]string{"acme/t/v1/t.proto": src}, "acme/t/v1/t.proto")})
		return err
	}
	if _, err := r.SetPolicy(ctx, "t", store.Policy{Categories: []string{"WIRE"}}); err != nil {
		t.Fatal(err)
	}
	if err := push(v1); err != nil {
		t.Fatal(err)
	}
	// Deleting a field whose number is reserved is wire compatible.
	if err := push(v2); err != nil {
		t.Fatalf("v2: %v", err)
	}
	if _, err := r.SetPolicy(ctx, "t", store.Policy{Categories: []string{"WIRE"}, Direction: store.DirectionBackward, Transitive: true}); err != nil {
		t.Fatal(err)
	}
	// Transitive: v3 is compared with v1 and v2; both are fine under WIRE.
	if err := push(v3); err != nil {
		t.Fatalf("v3 transitive: %v", err)
	}
	// Going back to v1 under a transitive FILE policy breaks v2 and v3.
	if _, err := r.SetPolicy(ctx, "t", store.Policy{Categories: []string{"FILE"}, Transitive: true}); err != nil {
		t.Fatal(err)
	}
	err := push(v1)
	re := wantKind(t, err, store.KindFailedPrecondition)
	against := map[uint64]bool{}
	for _, v := range re.Violations {
		against[v.AgainstVersion] = true
	}
	if !against[3] {
		t.Errorf("violations %+v do not name version 3", re.Violations)
	}
}
