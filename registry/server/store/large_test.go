package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// bigModule compiles a module of n files, each in its own package
// big.p<i>.v1 (so n files, n packages and, with a service in every tenth
// file, n/10 NATS subjects to own): more index entries than one JetStream
// atomic batch may hold (1000 by default). Packages from first to
// first+n-1.
func bigModule(t testing.TB, first, n int, extra string) (*descriptorpb.FileDescriptorSet, []string) {
	t.Helper()
	srcs := map[string]string{}
	var targets []string
	for i := first; i < first+n; i++ {
		path := fmt.Sprintf("big/p%04d/v1/m.proto", i)
		var b strings.Builder
		fmt.Fprintf(&b, "syntax = \"proto3\";\npackage big.p%04d.v1;\n// M%d is message %d.\nmessage M%d { string id = 1; %s}\n", i, i, i, i, extra)
		if i%10 == 0 {
			fmt.Fprintf(&b, "service S%d { rpc Get(M%d) returns (M%d); }\n", i, i, i)
		}
		srcs[path] = b.String()
		targets = append(targets, path)
	}
	return testschema.Compile(t, srcs, targets...), targets
}

// TestPushOverTheBatchLimit pushes a module of 600 files and packages (60
// services), whose index entries do not fit one atomic batch, then a
// version that moves half of its packages, and checks that every version
// is whole and ownership exact.
func TestPushOverTheBatchLimit(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js, store.WithMaxFiles(2000))
	ctx := registrytest.Ctx(t, 3*time.Minute)

	set, own := bigModule(t, 0, 600, "")
	res := mustPush(t, r, store.PushRequest{Module: "big", Files: set, OwnFiles: own})
	if !res.Created || res.Version.Version != 1 || len(res.Version.Files) != 600 {
		t.Fatalf("push = %+v", res.Version.Version)
	}
	for _, sym := range []string{"big.p0000.v1.M0", "big.p0599.v1.M599", "big.p0590.v1.S590"} {
		got, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: sym})
		if err != nil || got.Module != "big" || got.Version != 1 {
			t.Errorf("resolve %s = %+v, %v", sym, got, err)
		}
	}
	if s, err := r.ResolveSubject(ctx, store.SubjectRequest{Subject: "big.p0300.v1.S300.Get"}); err != nil || s.Module != "big" {
		t.Errorf("resolve subject = %+v, %v", s, err)
	}

	// Another module cannot take any of it.
	thief, thiefOwn := bigModule(t, 599, 1, "")
	_, err := r.Push(ctx, store.PushRequest{Module: "thief", Files: thief, OwnFiles: thiefOwn})
	wantKind(t, err, store.KindFailedPrecondition, `belongs to module "big"`)

	// Version 2 drops packages 0-299 and adds 600-899: 300 releases, 300
	// new files and packages, 30 new subjects. The policy would refuse
	// deleting files; this module has no breaking-change categories.
	if _, err := r.SetPolicy(ctx, "big", store.Policy{}); err != nil {
		t.Fatal(err)
	}
	set2, own2 := bigModule(t, 300, 600, "")
	res = mustPush(t, r, store.PushRequest{Module: "big", Files: set2, OwnFiles: own2})
	if !res.Created || res.Version.Version != 2 {
		t.Fatalf("second push = %+v", res.Version)
	}
	if got, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "big.p0899.v1.M899"}); err != nil || got.Version != 2 {
		t.Errorf("resolve a new package = %+v, %v", got, err)
	}
	if _, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "big.p0000.v1.M0"}); !store.IsNotFound(err) {
		t.Errorf("resolve a dropped package = %v; want not found", err)
	}
	// A released package is free for another module.
	freed, freedOwn := bigModule(t, 0, 1, "")
	mustPush(t, r, store.PushRequest{Module: "heir", Files: freed, OwnFiles: freedOwn})
	if got, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "big.p0000.v1.M0"}); err != nil || got.Module != "heir" {
		t.Errorf("resolve a package taken over = %+v, %v", got, err)
	}
	vs, _, err := r.ListVersions(ctx, "big", store.ListOptions{})
	if err != nil || len(vs) != 2 || len(vs[0].Files) != 600 || len(vs[1].Files) != 600 {
		t.Fatalf("versions = %d, %v", len(vs), err)
	}
}

// TestRaceForAPackageAcrossTheBatchLimit races a push too large for one
// atomic batch against small pushes of other modules, each claiming one of
// its packages at a random moment: whatever the interleaving, exactly one
// module ends up owning each package, and the loser is refused. (The
// commit_internal_test.go tests drive the dangerous interleavings
// deterministically.)
func TestRaceForAPackageAcrossTheBatchLimit(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	regs := []*store.Registry{newRegistry(t, js, store.WithMaxFiles(2000)), newRegistry(t, js, store.WithMaxFiles(2000))}
	ctx := registrytest.Ctx(t, 3*time.Minute)
	set, own := bigModule(t, 0, 600, "")
	const rivals = 3
	contested := []int{599, 0, 300}
	var wg sync.WaitGroup
	errs := make([]error, rivals+1)
	wg.Go(func() {
		_, errs[rivals] = regs[0].Push(ctx, store.PushRequest{Module: "big", Files: set, OwnFiles: own})
	})
	for i := range rivals {
		small, smallOwn := bigModule(t, contested[i], 1, "")
		wg.Go(func() {
			// At a random point of the big push (about 0.5 s on 2
			// cores): its plan, a staged batch, its publish, or after.
			time.Sleep(rand.N(800 * time.Millisecond))
			_, errs[i] = regs[1].Push(ctx, store.PushRequest{Module: fmt.Sprintf("rival%d", i), Files: small, OwnFiles: smallOwn})
		})
	}
	wg.Wait()
	t.Logf("big: %v; rivals: %v", errs[rivals] == nil, errs[:rivals])
	for i, err := range errs {
		if err != nil && !store.IsRefused(err) {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	// Whoever won, each contested package has exactly one module whose
	// latest version declares it.
	for i, p := range contested {
		pkg := fmt.Sprintf("big.p%04d.v1", p)
		var declaredBy []string
		for _, m := range []string{"big", fmt.Sprintf("rival%d", i)} {
			if declares(t, ctx, regs[1], m, pkg) {
				declaredBy = append(declaredBy, m)
			}
		}
		if len(declaredBy) != 1 {
			t.Errorf("package %s is declared by %v; want exactly one module", pkg, declaredBy)
		}
		bigWon := errs[rivals] == nil
		if bigWon == (errs[i] == nil) {
			t.Errorf("big: %v, rival%d: %v; want exactly one refused", errs[rivals], i, errs[i])
		}
	}
}

// declares reports whether module's latest version declares pkg.
func declares(t *testing.T, ctx context.Context, r *store.Registry, module, pkg string) bool {
	t.Helper()
	v, err := r.GetModuleVersion(ctx, store.GetRequest{Module: module, ExcludeSourceInfo: true, MaxInlineBytes: -1})
	if store.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	set, err := v.FileDescriptorSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range set.GetFile() {
		if f.GetPackage() == pkg {
			for _, o := range v.Version.Files {
				if o == f.GetName() {
					return true
				}
			}
		}
	}
	return false
}

// TestPushAdaptsToTheServersBatchLimit: a server configured with a
// max_batch_size below the registry's batch limit refuses the first
// batches as too large; the push commits in smaller batches instead of
// failing.
func TestPushAdaptsToTheServersBatchLimit(t *testing.T) {
	t.Parallel()
	_, js := startJS(t, natstest.WithConfigure(func(o *server.Options) {
		o.SyncAlways = true
		o.JetStreamLimits.MaxBatchSize = 50
	}))
	r := newRegistry(t, js, store.WithMaxFiles(2000))
	set, own := bigModule(t, 0, 100, "")
	res := mustPush(t, r, store.PushRequest{Module: "big", Files: set, OwnFiles: own})
	if !res.Created || len(res.Version.Files) != 100 {
		t.Fatalf("push = %+v", res.Version)
	}
	got, err := r.ResolveSymbol(registrytest.Ctx(t, time.Minute), store.SymbolRequest{Symbol: "big.p0099.v1.M99"})
	if err != nil || got.Module != "big" {
		t.Errorf("resolve = %+v, %v", got, err)
	}
}
