package server_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// Benchmarks through the NATS API: a real in-process nats-server with
// JetStream (sync_always), the registry server on one connection, the
// client on another, with the gaming schemas (as the generated code
// compiled them in, without source info) pushed as module gaming. Run
// them without -race:
//
//	go test -run '^$' -bench . -count 5 ./registry/server ./registry/lookup/lookuptest   (from the repository root)

// benchEnv pushes the gaming schemas as module gaming and returns the env
// and the push request.
func benchEnv(b *testing.B) (*registrytest.Env, *registryv1.PushRequest) {
	b.Helper()
	env := registrytest.Start(b)
	req := testschema.GamingPushRequest()
	if _, err := env.Client.Push(registrytest.Ctx(b, time.Minute), req); err != nil {
		b.Fatal(err)
	}
	return env, req
}

// BenchmarkResolveSymbolAPI is one uncached symbol lookup: a
// ResolveSymbol request answered by the registry server (the defining file
// and its imports, without source info).
func BenchmarkResolveSymbolAPI(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	req := &registryv1.ResolveSymbolRequest{Symbol: "gaming.quest_system.v1.Quest", ExcludeSourceInfo: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := env.Client.ResolveSymbol(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveSymbolAPIParallel is the same lookup from many
// goroutines at once: throughput of one registry instance.
func BenchmarkResolveSymbolAPIParallel(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	req := &registryv1.ResolveSymbolRequest{Symbol: "gaming.quest_system.v1.Quest", ExcludeSourceInfo: true}
	if _, _, err := env.Client.ResolveSymbol(ctx, req); err != nil { // warm the server's caches
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := env.Client.ResolveSymbol(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResolveSubjectAPI resolves a NATS subject to its method.
func BenchmarkResolveSubjectAPI(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	req := &registryv1.ResolveSubjectRequest{Subject: "gaming.quest_system.v1.QuestSystemService.GetQuest"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Client.API().ResolveSubject(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushProtoUnchanged is `natsrpc push proto --module gaming` when
// nothing changed (what `make run` does on every start), minus loading the
// sources: send, canonicalize, digest, compare with the latest.
func BenchmarkPushProtoUnchanged(b *testing.B) {
	env, req := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		res, err := env.Client.Push(ctx, req)
		if err != nil || res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_UNCHANGED {
			b.Fatal(res.GetOutcome(), err)
		}
	}
}

// BenchmarkPushProtoNewVersion pushes the gaming schemas with one comment
// changed, so that every push stores a new version: the full path with the ownership
// checks, the breaking-change check against the latest version and the
// fsynced atomic commit.
func BenchmarkPushProtoNewVersion(b *testing.B) {
	env, req := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := proto.CloneOf(req)
		fd := r.GetFileDescriptorSet().GetFile()[0]
		for _, f := range r.GetFileDescriptorSet().GetFile() {
			if f.GetName() == "gaming/common/v1/common.proto" {
				fd = f
			}
		}
		// The generated descriptors carry no source info: a comment on
		// the first message, different each time, makes every push a new
		// version without changing a type.
		fd.SourceCodeInfo = &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{{
			Path: []int32{4, 0}, Span: []int32{0, 0, 1}, LeadingComments: proto.String(fmt.Sprintf(" revision %d\n", i)),
		}}}
		res, err := env.Client.Push(ctx, r)
		if err != nil || !res.GetCreated() {
			b.Fatal(res.GetOutcome(), res.GetViolations(), err)
		}
	}
}
