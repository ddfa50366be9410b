package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// racerSource is a version of module "race": fields 1..n of message M.
func racerSource(n int, tag string) string {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\npackage acme.race.v1;\n// M is raced on (" + tag + ").\nmessage M {\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  string f%d = %d;\n", i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

func TestConcurrentPushesStayDense(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	// Two registry instances on one JetStream, as in production.
	regs := []*store.Registry{newRegistry(t, js), newRegistry(t, js)}
	ctx := registrytest.Ctx(t, 2*time.Minute)
	const n = 12

	t.Run("distinct contents without checks", func(t *testing.T) {
		if _, err := regs[0].SetPolicy(ctx, "free", store.Policy{}); err != nil {
			t.Fatal(err)
		}
		sets := make([]*store.PushRequest, n)
		for i := range sets {
			src := strings.Replace(racerSource(2, fmt.Sprint("pusher ", i)), "acme.race.v1", "acme.free.v1", 1)
			sets[i] = &store.PushRequest{Module: "free", Files: testschema.Compile(t, map[string]string{"acme/free/v1/m.proto": src}, "acme/free/v1/m.proto")}
		}
		results := make([]*store.PushResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range sets {
			wg.Go(func() { results[i], errs[i] = regs[i%2].Push(ctx, *sets[i]) })
		}
		wg.Wait()
		seen := map[uint64]string{}
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("push %d: %v", i, errs[i])
			}
			if !results[i].Created {
				t.Fatalf("push %d = %+v; want created", i, results[i])
			}
			if _, dup := seen[results[i].Version.Version]; dup {
				t.Fatalf("version %d was given twice", results[i].Version.Version)
			}
			seen[results[i].Version.Version] = results[i].Version.Digest
		}
		vs, _, err := regs[1].ListVersions(ctx, "free", store.ListOptions{})
		if err != nil || len(vs) != n {
			t.Fatalf("versions = %d, %v; want %d", len(vs), err, n)
		}
		for i, v := range vs {
			if v.Version != uint64(i+1) || v.Digest != seen[v.Version] {
				t.Errorf("version %d = %+v; want digest %s", i+1, v, seen[v.Version])
			}
		}
	})

	t.Run("identical contents", func(t *testing.T) {
		req := store.PushRequest{Module: "same", Files: testschema.Compile(t, map[string]string{"acme/same/v1/m.proto": strings.Replace(racerSource(1, "same"), "acme.race.v1", "acme.same.v1", 1)}, "acme/same/v1/m.proto")}
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := range n {
			wg.Go(func() {
				res, err := regs[i%2].Push(ctx, store.PushRequest{Module: req.Module, Files: proto.CloneOf(req.Files)})
				if err != nil {
					t.Errorf("push: %v", err)
					return
				}
				if res.Version.Version != 1 {
					t.Errorf("version = %d; want 1", res.Version.Version)
				}
				mu.Lock()
				if res.Created {
					created++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if created != 1 {
			t.Errorf("%d pushes created the version; want 1", created)
		}
	})

	t.Run("racing versions under the default policy", func(t *testing.T) {
		base := testschema.Compile(t, map[string]string{"acme/race/v1/m.proto": racerSource(1, "base")}, "acme/race/v1/m.proto")
		if _, err := regs[0].Push(ctx, store.PushRequest{Module: "race", Files: base}); err != nil {
			t.Fatal(err)
		}
		// Pusher i sends fields 1..i+2: each is compatible with the base,
		// but a shorter one is breaking once a longer one landed.
		results := make([]*store.PushResult, n)
		errs := make([]error, n)
		digests := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			set := testschema.Compile(t, map[string]string{"acme/race/v1/m.proto": racerSource(i+2, "base")}, "acme/race/v1/m.proto")
			dry, err := regs[0].Push(ctx, store.PushRequest{Module: "race", Files: proto.CloneOf(set), DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			digests[i] = dry.Version.Digest
			wg.Go(func() { results[i], errs[i] = regs[i%2].Push(ctx, store.PushRequest{Module: "race", Files: set}) })
		}
		wg.Wait()
		created := map[uint64]string{}
		for i := range n {
			switch {
			case errs[i] == nil && results[i].Created:
				if _, dup := created[results[i].Version.Version]; dup {
					t.Fatalf("version %d given twice", results[i].Version.Version)
				}
				if results[i].Version.Digest != digests[i] {
					t.Errorf("push %d created digest %s; want %s", i, results[i].Version.Digest, digests[i])
				}
				created[results[i].Version.Version] = digests[i]
			case errs[i] != nil && store.IsRefused(errs[i]):
			default:
				t.Errorf("push %d = %+v, %v; want created or refused", i, results[i], errs[i])
			}
		}
		vs, _, err := regs[1].ListVersions(ctx, "race", store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != len(created)+1 {
			t.Fatalf("%d versions for %d created pushes (plus the base)", len(vs), len(created))
		}
		for i, v := range vs {
			if v.Version != uint64(i+1) {
				t.Fatalf("versions are not dense: %d at position %d", v.Version, i)
			}
			if i > 0 && created[v.Version] != v.Digest {
				t.Errorf("version %d has digest %s; the push that got it sent %s", v.Version, v.Digest, created[v.Version])
			}
		}
	})
}

// bigSource returns a file of n messages with long comments: with source
// info its descriptor set is larger than NATS's default 1 MB max payload.
func bigSource(n int) string {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\npackage acme.big.v1;\n")
	comment := strings.Repeat("lore ", 70)
	for i := range n {
		fmt.Fprintf(&b, "// M%d %s\nmessage M%d {\n  // f %s\n  string f = 1;\n}\n", i, comment, i, comment)
	}
	return b.String()
}

func TestDescriptorSetOverOneMegabyte(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, 2*time.Minute)
	set := testschema.Compile(t, map[string]string{"acme/big/v1/big.proto": bigSource(1500)}, "acme/big/v1/big.proto")
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 1<<20 {
		t.Fatalf("test set is only %d bytes", len(data))
	}
	// Large pushes go through the transfer bucket.
	name, err := r.Upload(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Push(ctx, store.PushRequest{Module: "big", Upload: name})
	if err != nil || !res.Created {
		t.Fatalf("push = %+v, %v", res, err)
	}
	// A reply larger than a NATS message names the stored object.
	mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if mc.Object == nil || mc.Set != nil || mc.Object.Bucket != store.DefaultBucket+"_blobs" || mc.Object.Size <= 1<<20 {
		t.Fatalf("content = %+v; want an object in the blobs bucket", mc.Object)
	}
	got, err := r.Download(ctx, *mc.Object)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got)
	if "sha256:"+hex.EncodeToString(sum[:]) != mc.Object.Digest {
		t.Errorf("downloaded bytes do not match the object's digest")
	}
	if inline := getBytes(t, r, "big", 1); !equalBytes(inline, got) {
		t.Errorf("object bytes differ from the inline bytes")
	}
	// Resolving a symbol in it returns a staged transfer object.
	sym, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.big.v1.M1499"})
	if err != nil || sym.Object == nil || sym.Object.Bucket != r.TransferBucket() {
		t.Fatalf("resolve = %+v, %v; want a transfer object", sym, err)
	}
	staged, err := r.Download(ctx, *sym.Object)
	if err != nil || !equalBytes(staged, got) {
		t.Errorf("staged reply differs from the stored set (%v)", err)
	}
	// Without source info it fits inline.
	small, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "big", ExcludeSourceInfo: true})
	if err != nil || small.Object != nil || len(small.Set) == 0 {
		t.Errorf("without source info = %v bytes inline, object %+v, %v", len(small.Set), small.Object, err)
	}
	// The same set inline (Go callers have no payload limit) is the same
	// version.
	again, err := r.Push(ctx, store.PushRequest{Module: "big", Files: set})
	if err != nil || again.Outcome != store.OutcomeUnchanged {
		t.Errorf("inline re-push = %+v, %v; want unchanged", again, err)
	}
}
