package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

func fileNames(t testing.TB, c store.Content) []string {
	t.Helper()
	set, err := c.FileDescriptorSet()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if _, err := protodesc.NewFiles(set); err != nil {
		t.Fatalf("returned set does not link: %v", err)
	}
	var out []string
	for _, f := range set.GetFile() {
		out = append(out, f.GetName())
	}
	return out
}

// TestLookupsOnGamingSchemas pushes the repository's gaming schemas
// (common and quest_system) as one module and resolves symbols, files and
// subjects in it.
func TestLookupsOnGamingSchemas(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	set := testschema.Compile(t, nil, "gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto")
	res := mustPush(t, r, store.PushRequest{Module: "gaming", Files: set})
	if !slices.Equal(res.Version.Files, []string{"gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"}) {
		t.Fatalf("own files = %v; want the two gaming files (built-in files are imports)", res.Version.Files)
	}

	t.Run("symbols", func(t *testing.T) {
		tests := []struct {
			symbol string
			file   string
			kind   store.SymbolKind
		}{
			{"gaming.quest_system.v1.Quest", "gaming/quest_system/v1/quest_system.proto", store.SymbolMessage},
			{".gaming.quest_system.v1.QuestSystemService", "gaming/quest_system/v1/quest_system.proto", store.SymbolService},
			{"gaming.quest_system.v1.QuestSystemService.GetQuest", "gaming/quest_system/v1/quest_system.proto", store.SymbolMethod},
			{"gaming.quest_system.v1.QUEST_STATUS_ACTIVE", "gaming/quest_system/v1/quest_system.proto", store.SymbolEnumValue},
			{"gaming.common.v1.Meta.request_id", "gaming/common/v1/common.proto", store.SymbolField},
			{"gaming.common.v1", "gaming/common/v1/common.proto", store.SymbolPackage},
		}
		for _, test := range tests {
			got, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: test.symbol})
			if err != nil {
				t.Errorf("ResolveSymbol(%q): %v", test.symbol, err)
				continue
			}
			if got.Module != "gaming" || got.Version != 1 || got.File != test.file || got.Kind != test.kind {
				t.Errorf("ResolveSymbol(%q) = %s@%d %s %s; want gaming@1 %s %s", test.symbol, got.Module, got.Version, got.File, got.Kind, test.file, test.kind)
			}
			names := fileNames(t, got.Content)
			if names[len(names)-1] != test.file {
				t.Errorf("ResolveSymbol(%q) files = %v; want the defining file last", test.symbol, names)
			}
		}
		// Built-in types resolve without a module.
		got, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "google.protobuf.Timestamp"})
		if err != nil || got.Module != "" || got.File != "google/protobuf/timestamp.proto" {
			t.Errorf("ResolveSymbol(Timestamp) = %+v, %v", got, err)
		}
		// In a module, imports are searched too.
		got, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "google.protobuf.Duration", Module: "gaming", Version: 1})
		if err != nil || got.Module != "gaming" || got.File != "google/protobuf/duration.proto" {
			t.Errorf("ResolveSymbol(Duration in gaming@1) = %+v, %v", got, err)
		}
		_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "gaming.quest_system.v1.Nope"})
		wantKind(t, err, store.KindNotFound, `"gaming.quest_system.v1.Nope"`)
		_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "gaming..v1"})
		wantKind(t, err, store.KindInvalidArgument, "empty name part")
		_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "gaming.x", Version: 2})
		wantKind(t, err, store.KindInvalidArgument, "needs a module")
	})

	t.Run("files", func(t *testing.T) {
		got, err := r.ResolveFile(ctx, store.FileRequest{File: "gaming/quest_system/v1/quest_system.proto"})
		if err != nil || got.Module != "gaming" || got.Version != 1 {
			t.Fatalf("ResolveFile = %+v, %v", got, err)
		}
		names := fileNames(t, got.Content)
		for _, want := range []string{"gaming/common/v1/common.proto", "google/protobuf/timestamp.proto", "natsrpc/v1/options.proto"} {
			if !slices.Contains(names, want) {
				t.Errorf("files %v lack the dependency %q", names, want)
			}
		}
		got, err = r.ResolveFile(ctx, store.FileRequest{File: "google/protobuf/struct.proto"})
		if err != nil || got.Module != "" || fileNames(t, got.Content)[0] != "google/protobuf/struct.proto" {
			t.Errorf("ResolveFile(struct.proto) = %+v, %v", got, err)
		}
		_, err = r.ResolveFile(ctx, store.FileRequest{File: "gaming/nope.proto"})
		wantKind(t, err, store.KindNotFound, `"gaming/nope.proto"`)
		_, err = r.ResolveFile(ctx, store.FileRequest{File: "../etc/passwd"})
		wantKind(t, err, store.KindInvalidArgument)
	})

	t.Run("subjects", func(t *testing.T) {
		got, err := r.ResolveSubject(ctx, store.SubjectRequest{Subject: "gaming.quest_system.v1.QuestSystemService.GetQuest", IncludeFiles: true})
		if err != nil {
			t.Fatal(err)
		}
		want := store.SubjectResult{
			Module: "gaming", Version: 1, Service: "gaming.quest_system.v1.QuestSystemService", Method: "GetQuest",
			Kind: natsrpc.MethodKindUnary, RequestType: "gaming.quest_system.v1.GetQuestRequest", ResponseType: "gaming.quest_system.v1.GetQuestResponse",
			Subject: "gaming.quest_system.v1.QuestSystemService.GetQuest", QueueGroup: "q", File: "gaming/quest_system/v1/quest_system.proto",
		}
		got.Content = store.Content{Set: got.Set}
		if len(got.Set) == 0 {
			t.Errorf("IncludeFiles returned no files")
		}
		got.Set = nil
		if got.Module != want.Module || got.Service != want.Service || got.Method != want.Method || got.Kind != want.Kind ||
			got.RequestType != want.RequestType || got.ResponseType != want.ResponseType || got.Subject != want.Subject ||
			got.QueueGroup != want.QueueGroup || got.File != want.File || got.Prefix != "" || got.Version != 1 {
			t.Errorf("ResolveSubject = %+v; want %+v", *got, want)
		}
		// A deployment prefix is stripped.
		got, err = r.ResolveSubject(ctx, store.SubjectRequest{Subject: "eu1.prod.gaming.quest_system.v1.QuestSystemService.CompleteQuest"})
		if err != nil || got.Method != "CompleteQuest" || got.Prefix != "eu1.prod" {
			t.Errorf("ResolveSubject(prefixed) = %+v, %v", got, err)
		}
		_, err = r.ResolveSubject(ctx, store.SubjectRequest{Subject: "gaming.quest_system.v1.QuestSystemService.Nope"})
		wantKind(t, err, store.KindNotFound)
		_, err = r.ResolveSubject(ctx, store.SubjectRequest{Subject: "gaming.*.v1"})
		wantKind(t, err, store.KindInvalidArgument, "wildcard")
	})
}

func TestSubjectsWithOptionsAndEvents(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	src := `syntax = "proto3";
package acme.ev.v1;
import "google/protobuf/empty.proto";
import "natsrpc/v1/options.proto";
option (natsrpc.v1.file) = {subject_prefix: "studio"};
message Ping {}
service EvService {
  option (natsrpc.v1.service) = {queue_group: "workers"};
  rpc Pinged(Ping) returns (google.protobuf.Empty) {
    option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT, delivery: EVENT_DELIVERY_BROADCAST, subject: "pings.all"};
  }
  rpc Watch(Ping) returns (stream Ping);
}
`
	mustPush(t, r, store.PushRequest{Module: "ev", Files: testschema.Compile(t, map[string]string{"acme/ev/v1/ev.proto": src}, "acme/ev/v1/ev.proto")})
	got, err := r.ResolveSubject(ctx, store.SubjectRequest{Subject: "studio.acme.ev.v1.EvService.pings.all"})
	if err != nil || got.Method != "Pinged" || got.Kind != natsrpc.MethodKindEvent || got.QueueGroup != "" || got.ResponseType != "google.protobuf.Empty" {
		t.Errorf("event = %+v, %v", got, err)
	}
	got, err = r.ResolveSubject(ctx, store.SubjectRequest{Subject: "studio.acme.ev.v1.EvService.Watch"})
	if err != nil || got.Kind != natsrpc.MethodKindServerStream || got.QueueGroup != "workers" || got.Kind.String() != "server_stream" {
		t.Errorf("stream = %+v, %v", got, err)
	}
}

func TestGetTrimmedToSymbols(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)
	if _, err := pushShop(t, r, shopV1, testschema.CommonV1); err != nil {
		t.Fatal(err)
	}
	mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "shop", Symbols: []string{"acme.shop.v1.BuyResponse"}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := mc.FileDescriptorSet()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protodesc.NewFiles(set); err != nil {
		t.Fatalf("trimmed set does not link: %v", err)
	}
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range set.GetFile() {
		byName[f.GetName()] = f
	}
	if _, ok := byName["google/protobuf/timestamp.proto"]; ok {
		t.Errorf("timestamp.proto kept though BuyResponse does not need it: %v", keys(byName))
	}
	shop := byName["acme/shop/v1/shop.proto"]
	if shop == nil || byName["acme/common/v1/common.proto"] == nil {
		t.Fatalf("files = %v; want shop.proto and common.proto", keys(byName))
	}
	var msgs []string
	for _, m := range shop.GetMessageType() {
		msgs = append(msgs, m.GetName())
	}
	if !slices.Equal(msgs, []string{"Item", "BuyResponse"}) || len(shop.GetService()) != 0 {
		t.Errorf("shop.proto keeps messages %v and %d services; want [Item BuyResponse] and none", msgs, len(shop.GetService()))
	}
	if slices.Contains(shop.GetDependency(), "google/protobuf/timestamp.proto") {
		t.Errorf("shop.proto still imports timestamp.proto: %v", shop.GetDependency())
	}
	// Comments follow their declarations to the new indexes.
	for _, loc := range shop.GetSourceCodeInfo().GetLocation() {
		if slices.Equal(loc.GetPath(), []int32{4, 1}) && !strings.Contains(loc.GetLeadingComments(), "BuyResponse is the receipt") {
			t.Errorf("comment of message 1 = %q; want BuyResponse's", loc.GetLeadingComments())
		}
	}

	// A service keeps its methods' types and the natsrpc options it uses.
	mc, err = r.GetModuleVersion(ctx, store.GetRequest{Module: "shop", Symbols: []string{"acme.shop.v1.ShopService"}, ExcludeSourceInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	names := fileNames(t, mc.Content)
	for _, want := range []string{"natsrpc/v1/options.proto", "google/protobuf/timestamp.proto", "acme/common/v1/common.proto"} {
		if !slices.Contains(names, want) {
			t.Errorf("service closure %v lacks %q", names, want)
		}
	}
	_, err = r.GetModuleVersion(ctx, store.GetRequest{Module: "shop", Symbols: []string{"acme.shop.v1.Nope"}})
	wantKind(t, err, store.KindNotFound, `"acme.shop.v1.Nope"`)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestWatchReportsNewVersions(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)

	all, err := r.Watch(ctx, store.WatchOptions{IncludeCurrent: true})
	if err != nil {
		t.Fatal(err)
	}
	one, err := r.Watch(ctx, store.WatchOptions{Module: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	next := func(ch <-chan store.VersionEvent) store.VersionEvent {
		t.Helper()
		select {
		case ev := <-ch:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
		return store.VersionEvent{}
	}
	if ev := next(all); ev.Module != "common" || ev.Version != 1 || !ev.Current {
		t.Errorf("first event = %+v; want the current common@1", ev)
	}
	res, err := pushShop(t, r, shopV1, testschema.CommonV1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan store.VersionEvent{all, one} {
		if ev := next(ch); ev.Module != "shop" || ev.Version != 1 || ev.Digest != res.Version.Digest || ev.Current {
			t.Errorf("event = %+v; want new shop@1", ev)
		}
	}
	pushCommon(t, r, testschema.CommonV2)
	if ev := next(all); ev.Module != "common" || ev.Version != 2 {
		t.Errorf("event = %+v; want common@2", ev)
	}
	select {
	case ev := <-one:
		t.Errorf("shop watch got %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}
