package store_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// Go-level benchmarks on a real in-process JetStream server. The NATS API
// adds one request/reply round trip on top.

func benchRegistry(b *testing.B) *store.Registry {
	_, js := startJS(b)
	r := newRegistry(b, js)
	set := testschema.Compile(b, nil, "gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto")
	mustPush(b, r, store.PushRequest{Module: "gaming", Files: set})
	return r
}

func BenchmarkResolveSymbol(b *testing.B) {
	r := benchRegistry(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	req := store.SymbolRequest{Symbol: "gaming.quest_system.v1.QuestSystemService.GetQuest", ExcludeSourceInfo: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ResolveSymbol(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveSubject(b *testing.B) {
	r := benchRegistry(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	req := store.SubjectRequest{Subject: "gaming.quest_system.v1.QuestSystemService.GetQuest"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ResolveSubject(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushUnchanged is the cost of `make run` re-pushing an unchanged
// proto/: parse, canonicalize, digest and compare with the latest.
func BenchmarkPushUnchanged(b *testing.B) {
	r := benchRegistry(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	set := testschema.Compile(b, nil, "gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto")
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.Push(ctx, store.PushRequest{Module: "gaming", Files: proto.CloneOf(set)})
		if err != nil || res.Created {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkPushNewVersion pushes the gaming schemas with alternating
// comments, so that every push is a new, compatible version: parse,
// canonicalize, breaking-change check against the latest, and the atomic
// commit.
func BenchmarkPushNewVersion(b *testing.B) {
	r := benchRegistry(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	sets := [2]*descriptorpb.FileDescriptorSet{
		testschema.Compile(b, nil, "gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"),
		testschema.Compile(b, nil, "gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"),
	}
	for _, f := range sets[1].File {
		if loc := f.GetSourceCodeInfo().GetLocation(); len(loc) > 0 {
			loc[0].LeadingDetachedComments = append(loc[0].LeadingDetachedComments, " benchmark\n")
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		res, err := r.Push(ctx, store.PushRequest{Module: "gaming", Files: proto.CloneOf(sets[i%2])})
		if err != nil || !res.Created {
			b.Fatal(res, err)
		}
	}
}
