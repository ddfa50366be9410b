package lookuptest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/lookup"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// Lookup benchmarks: the gaming schemas (as the generated code compiled
// them in, without source info) pushed as module gaming to a
// real in-process JetStream registry. Run them without -race:
//
//	go test -run '^$' -bench . -count 5 ./registry/lookup/lookuptest

func benchLookup(b *testing.B) (*registrytest.Env, *lookup.Client) {
	b.Helper()
	env := registrytest.Start(b)
	req := testschema.GamingPushRequest()
	if _, err := env.Client.Push(registrytest.Ctx(b, time.Minute), req); err != nil {
		b.Fatal(err)
	}
	lc, err := lookup.New(registrytest.Ctx(b, time.Minute), natstest.Connect(b, env.Server))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lc.Close)
	return env, lc
}

const benchSymbol = protoreflect.FullName("gaming.quest_system.v1.Quest")

// BenchmarkLookupCached is a symbol lookup answered from the client's
// cache: what a service pays per message once the module is loaded.
func BenchmarkLookupCached(b *testing.B) {
	_, lc := benchLookup(b)
	if _, err := lc.FindMessageByName(benchSymbol); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lc.FindMessageByName(benchSymbol); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupCachedParallel is the cached lookup from many goroutines.
func BenchmarkLookupCachedParallel(b *testing.B) {
	_, lc := benchLookup(b)
	if _, err := lc.FindMessageByName(benchSymbol); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := lc.FindMessageByName(benchSymbol); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLookupCold is a first lookup: ResolveSymbol, then the whole
// module version (no source info) fetched and linked.
func BenchmarkLookupCold(b *testing.B) {
	env, _ := benchLookup(b)
	nc := natstest.Connect(b, env.Server)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		lc, err := lookup.New(context.Background(), nc)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := lc.FindMessageByName(benchSymbol); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		lc.Close()
		b.StartTimer()
	}
}

// BenchmarkProtojsonAnyCached decodes JSON with an Any of a type the
// program does not link, through the cached resolver.
func BenchmarkProtojsonAnyCached(b *testing.B) {
	_, lc := benchLookup(b)
	mt, err := lc.FindMessageByName("gaming.common.v1.Error")
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(`{"code":"ERROR_CODE_NOT_FOUND","message":"no such quest","details":[{"@type":"type.googleapis.com/gaming.quest_system.v1.Quest","questId":"q1","title":"The lost sword"}]}`)
	opts := protojson.UnmarshalOptions{Resolver: lc}
	if err := opts.Unmarshal(in, mt.New().Interface()); err != nil {
		b.Fatalf("sample does not fit the schema: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := opts.Unmarshal(in, mt.New().Interface()); err != nil {
			b.Fatal(err)
		}
	}
}
