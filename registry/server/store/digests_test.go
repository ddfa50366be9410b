package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// fileDigest returns the per-file digest of path in set, computed as the
// runtime computes it for its compiled-in files.
func fileDigest(t testing.TB, set *descriptorpb.FileDescriptorSet, path string) string {
	t.Helper()
	for _, fd := range set.GetFile() {
		if fd.GetName() != path {
			continue
		}
		b, err := descset.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := descset.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := descset.Canonicalize(c.GetFile()[0]); err != nil {
			t.Fatal(err)
		}
		d, err := descset.FileDigest(c.GetFile()[0])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("no file %q in the set", path)
	return ""
}

func matchesString(ms []store.FileDigestMatch) string {
	var parts []string
	for _, m := range ms {
		var rs []string
		for _, r := range m.Ranges {
			rs = append(rs, fmt.Sprintf("%d..%d", r.First, r.Last))
		}
		parts = append(parts, fmt.Sprintf("%s:%s@%s/latest %d", m.Module, m.File, strings.Join(rs, ","), m.LatestVersion))
	}
	return strings.Join(parts, " ")
}

// TestFindFileDigest: the versions stored before anyone asked are indexed
// by the first question (on two registry instances at once), later
// versions by the next one; a file unchanged across versions is one range,
// a file changed and changed back two; unknown digests match nothing; bad
// digests are refused; index entries the version records do not confirm
// are not reported.
func TestFindFileDigest(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	a, b := newRegistry(t, js), newRegistry(t, js)
	ctx := registrytest.Ctx(t, 2*time.Minute)
	const commonFile, shopFile = "acme/common/v1/common.proto", "acme/shop/v1/shop.proto"

	pushCommon(t, a, testschema.CommonV1)
	if _, err := pushShop(t, a, shopV1, testschema.CommonV1); err != nil {
		t.Fatal(err)
	}
	pushCommon(t, a, testschema.CommonV2)
	if _, err := pushShop(t, a, shopV1, testschema.CommonV2); err != nil { // shop@2: same file, new import
		t.Fatal(err)
	}
	if _, err := a.SetPolicy(ctx, "common", store.Policy{}); err != nil { // no checks: allow the revert
		t.Fatal(err)
	}
	if res := pushCommon(t, a, testschema.CommonV1); res.Version.Version != 3 {
		t.Fatalf("revert created common@%d; want 3", res.Version.Version)
	}
	v1 := fileDigest(t, testschema.CommonSet(t, testschema.CommonV1), commonFile)
	v2 := fileDigest(t, testschema.CommonSet(t, testschema.CommonV2), commonFile)
	shop := fileDigest(t, testschema.ShopSet(t, shopV1, testschema.CommonV1), shopFile)

	// The backfill, by two instances at once.
	var wg sync.WaitGroup
	results := make([]string, 2)
	errs := make([]error, 2)
	for i, r := range []*store.Registry{a, b} {
		wg.Go(func() {
			ms, err := r.FindFileDigest(ctx, v1)
			results[i], errs[i] = matchesString(ms), err
		})
	}
	wg.Wait()
	want := "common:acme/common/v1/common.proto@1..1,3..3/latest 3"
	for i := range results {
		if errs[i] != nil || results[i] != want {
			t.Errorf("instance %d: FindFileDigest(common v1) = %q, %v; want %q", i, results[i], errs[i], want)
		}
	}
	for digest, want := range map[string]string{
		v2:   "common:acme/common/v1/common.proto@2..2/latest 3",
		shop: "shop:acme/shop/v1/shop.proto@1..2/latest 2",
	} {
		ms, err := b.FindFileDigest(ctx, digest)
		if got := matchesString(ms); err != nil || got != want {
			t.Errorf("FindFileDigest = %q, %v; want %q", got, err, want)
		}
	}
	kv, err := js.KeyValue(ctx, store.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, kv, "fdig.>")
	// common: 1 file x 3 versions; shop: 1 file x 2 versions.
	if len(keys) != 5 {
		t.Errorf("index keys: %v; want 5 (one per own file per version)", keys)
	}

	// A new version is indexed when someone asks next, by any instance.
	if _, err := pushShop(t, a, strings.Replace(shopV1, "string note = 1;", "string note = 1;\n  // extra is new.\n  string extra = 2;", 1), testschema.CommonV2); err != nil {
		t.Fatal(err)
	}
	ms, err := b.FindFileDigest(ctx, shop)
	if got := matchesString(ms); err != nil || got != "shop:acme/shop/v1/shop.proto@1..2/latest 3" {
		t.Errorf("after shop@3: %q, %v", got, err)
	}
	if n := len(listKeys(t, kv, "fdig.>")); n != 6 {
		t.Errorf("%d index keys after shop@3; want 6", n)
	}

	// Nothing matches an unknown digest; a malformed one is refused.
	if ms, err := a.FindFileDigest(ctx, "sha256:"+strings.Repeat("0", 64)); err != nil || len(ms) != 0 {
		t.Errorf("unknown digest: %v, %v; want no match", ms, err)
	}
	for _, bad := range []string{"", "sha256:abc", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("0", 63) + ".>"} {
		_, err := a.FindFileDigest(ctx, bad)
		wantKind(t, err, store.KindInvalidArgument, "sha256:")
	}

	// An entry the version record does not confirm is not reported: the
	// index is a hint, like the ownership index.
	hex := strings.TrimPrefix(v2, "sha256:")
	if _, err := kv.Put(ctx, "fdig."+hex+".shop.1", []byte(`{"format":1,"path":"acme/shop/v1/shop.proto"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "fdig."+hex+".shop.9", []byte(`{"format":1,"path":"acme/shop/v1/shop.proto"}`)); err != nil {
		t.Fatal(err)
	}
	ms, err = a.FindFileDigest(ctx, v2)
	if got := matchesString(ms); err != nil || got != "common:acme/common/v1/common.proto@2..2/latest 3" {
		t.Errorf("with forged entries: %q, %v", got, err)
	}
}

func listKeys(t testing.TB, kv jetstream.KeyValue, filter string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lister, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, k)
	}
	return out
}
