package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// The staged commit (docs/registry.md, "How a push commits"), driven with
// a batch limit of 4 so that the quest system's two files, two packages
// and its subjects take several batches, and with hooks between them.

const questPkg = "gaming.quest_system.v1"

var questOwn = []string{"gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"}

func questPush() PushRequest {
	return PushRequest{Module: "gaming", Files: setOf(questsystemv1.File_gaming_quest_system_v1_quest_system_proto), OwnFiles: questOwn}
}

// rivalPush declares the quest system's package in a file of its own.
func rivalPush() PushRequest {
	return PushRequest{Module: "rival", Files: &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name:        proto.String("rival/quest.proto"),
		Package:     proto.String(questPkg),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Rival")}},
	}}}}
}

// messagesPush is a module of n files, each declaring package
// msgs.p<i>.v1 with one message and no service: claims of packages and
// paths only.
func messagesPush(n int) PushRequest {
	return messagesModule("msgs", n)
}

// messagesModule is messagesPush for module, with packages
// <module>.p<i>.v1.
func messagesModule(module string, n int) PushRequest {
	set := &descriptorpb.FileDescriptorSet{}
	for i := range n {
		set.File = append(set.File, &descriptorpb.FileDescriptorProto{
			Name:        proto.String(fmt.Sprintf("%s/p%d/v1/m.proto", module, i)),
			Package:     proto.String(fmt.Sprintf("%s.p%d.v1", module, i)),
			Syntax:      proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
		})
	}
	return PushRequest{Module: module, Files: set}
}

// stagedRegistries returns a registry with a batch limit of 4 and a second
// instance on the same JetStream with the default limit, as another
// process would be.
func stagedRegistries(t *testing.T, opts ...Option) (*Registry, *Registry, context.Context) {
	t.Helper()
	srv := natstest.Start(t, natstest.WithJetStream())
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)
	r, err := New(ctx, js, append([]Option{withBatchLimit(4)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(ctx, js, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newContent(questPush().Files, questOwn, limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.plan(ctx, "gaming", c, DefaultPolicy(), "count")
	if err != nil || len(p.indexOps) < 8 {
		t.Fatalf("the quest system claims %d index entries (%v); the tests need two batches of 3 or more", len(p.indexOps), err)
	}
	return r, other, ctx
}

// declaredBy returns the modules whose latest version declares pkg.
func declaredBy(t *testing.T, ctx context.Context, r *Registry, pkg string, modules ...string) []string {
	t.Helper()
	var out []string
	for _, m := range modules {
		owns, err := r.declaresPackage(ctx, m, pkg)
		if err != nil {
			t.Fatal(err)
		}
		if owns {
			out = append(out, m)
		}
	}
	return out
}

// TestStagedPushLosesAClaimTakenBetweenBatches: another module claims a
// package that a staged push has already claimed but not yet published
// (legitimately: the claimer's version does not exist yet) and publishes
// first. The staged push's next batch must fail and its new plan refuse
// it; without the index generation both versions would be published,
// declaring the same package.
func TestStagedPushLosesAClaimTakenBetweenBatches(t *testing.T) {
	t.Parallel()
	r, other, ctx := stagedRegistries(t)
	var once sync.Once
	r.afterStage = func() {
		once.Do(func() {
			if o, _, err := r.readOwner(ctx, pkgKey(questPkg)); err != nil || o == nil || o.Module != "gaming" {
				t.Errorf("after the first batch the package's entry is %+v, %v; want gaming's staged claim", o, err)
			}
			if res, err := other.Push(ctx, rivalPush()); err != nil || !res.Created {
				t.Errorf("rival push between two batches = %+v, %v; want created", res, err)
			}
		})
	}
	_, err := r.Push(ctx, questPush())
	if !IsRefused(err) {
		t.Fatalf("the staged push after the rival published = %v; want refused", err)
	}
	if got := declaredBy(t, ctx, other, questPkg, "gaming", "rival"); len(got) != 1 || got[0] != "rival" {
		t.Errorf("%s is declared by %v; want [rival]", questPkg, got)
	}
	if h, _, err := r.readHead(ctx, "gaming"); h != nil || err != nil {
		t.Errorf("gaming's head = %+v, %v; want none", h, err)
	}
}

// TestStagedPushReclaimsItsOwnStaleClaims: a push that died after staging
// every claim leaves entries naming its module. Its next push must claim
// them again (advancing the index generation) rather than take them as
// its own: a rival taking one just before that push publishes must make
// the publish fail. The module has no services, so that its packages and
// paths are all it claims.
func TestStagedPushReclaimsItsOwnStaleClaims(t *testing.T) {
	t.Parallel()
	r, other, ctx := stagedRegistries(t)
	crashCtx, crash := context.WithCancel(ctx)
	r.beforePublish = crash // the process dies with every claim staged
	if _, err := r.Push(crashCtx, messagesPush(6)); err == nil {
		t.Fatal("the push survived its crash")
	}
	if o, _, err := r.readOwner(ctx, pkgKey("msgs.p3.v1")); err != nil || o == nil || o.Module != "msgs" {
		t.Fatalf("after the crash: %+v, %v; want msgs's staged claim", o, err)
	}
	var once sync.Once
	r.beforePublish = func() {
		once.Do(func() {
			rival := messagesPush(4)
			rival.Module = "rival"
			rival.Files.File = rival.Files.File[3:]
			rival.Files.File[0].Name = proto.String("rival/m.proto")
			if res, err := other.Push(ctx, rival); err != nil || !res.Created {
				t.Errorf("rival push before the publish = %+v, %v; want created", res, err)
			}
		})
	}
	_, err := r.Push(ctx, messagesPush(6))
	if !IsRefused(err) {
		t.Fatalf("the push after the rival published = %v; want refused", err)
	}
	if got := declaredBy(t, ctx, other, "msgs.p3.v1", "msgs", "rival"); len(got) != 1 || got[0] != "rival" {
		t.Errorf("msgs.p3.v1 is declared by %v; want [rival]", got)
	}
}

// TestCrashMidStagingLeavesNoVersion: a push that dies between two staged
// batches leaves no version, only index entries naming its module, which
// mislead no lookup, are collected as garbage, and do not stop the next
// push.
func TestCrashMidStagingLeavesNoVersion(t *testing.T) {
	t.Parallel()
	r, _, ctx := stagedRegistries(t, withBlobRefresh(time.Millisecond))
	crashCtx, crash := context.WithCancel(ctx)
	r.afterStage = crash // the process dies after its first batch
	if _, err := r.Push(crashCtx, questPush()); err == nil {
		t.Fatal("the push survived its crash")
	}
	r.afterStage = nil
	staged := []string{pkgKey("gaming.common.v1"), pkgKey(questPkg), fileKey(questOwn[0])}
	for _, key := range staged {
		if o, _, err := r.readOwner(ctx, key); err != nil || o == nil || o.Module != "gaming" {
			t.Fatalf("%s after the crash = %+v, %v; want gaming's staged claim", key, o, err)
		}
	}
	if h, _, err := r.readHead(ctx, "gaming"); h != nil || err != nil {
		t.Errorf("head after the crash = %+v, %v; want none", h, err)
	}
	if _, err := r.store.Get(ctx, versionKey("gaming", 1)); err == nil {
		t.Errorf("version 1 is stored after the crash")
	}
	if _, err := r.ResolveSymbol(ctx, SymbolRequest{Symbol: questPkg + ".Quest"}); !IsNotFound(err) {
		t.Errorf("resolve in a staged package = %v; want not found", err)
	}

	// Garbage collection deletes the staged entries.
	time.Sleep(5 * time.Millisecond)
	if _, err := r.CollectGarbage(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, key := range staged {
		if o, _, err := r.readOwner(ctx, key); o != nil || err != nil {
			t.Errorf("%s after garbage collection = %+v, %v; want deleted", key, o, err)
		}
	}

	// A second crash, then a push that completes: version 1, whole, and
	// garbage collection keeps every entry it owns.
	crashCtx, crash = context.WithCancel(ctx)
	r.afterStage = crash
	if _, err := r.Push(crashCtx, questPush()); err == nil {
		t.Fatal("the push survived its crash")
	}
	r.afterStage = nil
	res, err := r.Push(ctx, questPush())
	if err != nil || res.Version.Version != 1 {
		t.Fatalf("push after the crash = %+v, %v; want version 1", res, err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := r.CollectGarbage(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, key := range append(staged, fileKey(questOwn[1]), subjKey(questPkg+".QuestSystemService.GetQuest")) {
		if o, _, err := r.readOwner(ctx, key); err != nil || o == nil || o.Module != "gaming" {
			t.Errorf("%s after the push and garbage collection = %+v, %v; want gaming", key, o, err)
		}
	}
	if s, err := r.ResolveSubject(ctx, SubjectRequest{Subject: questPkg + ".QuestSystemService.GetQuest"}); err != nil || s.Module != "gaming" {
		t.Errorf("resolve subject = %+v, %v", s, err)
	}
}

// TestStaleClaimIsNotAnOwnFile: a path a crashed push of the module
// staged is not one of the module's own files: the next push may import
// it.
func TestStaleClaimIsNotAnOwnFile(t *testing.T) {
	t.Parallel()
	r, _, ctx := stagedRegistries(t)
	crashCtx, crash := context.WithCancel(ctx)
	r.beforePublish = crash
	if _, err := r.Push(crashCtx, messagesPush(6)); err == nil {
		t.Fatal("the push survived its crash")
	}
	r.beforePublish = nil
	// Now p0 is an import of p1, not one of the module's own files.
	req := messagesPush(6)
	req.Files.File[1].Dependency = []string{"msgs/p0/v1/m.proto"}
	for _, f := range req.Files.File[1:] {
		req.OwnFiles = append(req.OwnFiles, f.GetName())
	}
	res, err := r.Push(ctx, req)
	if err != nil || !res.Created {
		t.Fatalf("push importing a path a crashed push staged = %+v, %v; want created", res, err)
	}
}
