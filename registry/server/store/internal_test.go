package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// setOf returns fd and its transitive imports as a descriptor set built
// from generated descriptors (no source info).
func setOf(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	return descset.Closure(fd)
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestCrashBeforeCommitLeavesNothing publishes all of a push's commit batch
// except the commit message, as a registry that dies in the middle of its
// commit would, and checks that nothing of it becomes visible and that the
// next push gets the same version number.
func TestCrashBeforeCommitLeavesNothing(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithJetStream())
	nc := natstest.Connect(t, srv)
	js, _ := jetstream.New(nc)
	ctx := ctxFor(t)
	r, err := New(ctx, js, withBlobRefresh(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	own := []string{"gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"}
	c, err := newContent(setOf(questsystemv1.File_gaming_quest_system_v1_quest_system_proto), own, limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.plan(ctx, "gaming", c, DefaultPolicy(), "crashed-push")
	if err != nil || p.record == nil {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	blob, err := r.store.PutBlob(ctx, c.blob)
	if err != nil {
		t.Fatal(err)
	}
	p.record.Blob = blob
	rec, _ := json.Marshal(p.record)
	ops := append([]jsstore.Op{{Key: versionKey("gaming", 1), Value: rec}}, p.indexOps...)
	for i, op := range ops { // the head, last, is never sent
		m := nats.NewMsg("$KV." + DefaultBucket + "." + op.Key)
		m.Header.Set("Nats-Batch-Id", "crashed")
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		m.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(op.ExpectedRevision, 10))
		m.Data = op.Value
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if h, _, err := r.readHead(ctx, "gaming"); h != nil || err != nil {
		t.Errorf("head after a crashed commit = %+v, %v; want none", h, err)
	}
	if _, err := r.store.Get(ctx, versionKey("gaming", 1)); err == nil {
		t.Errorf("version 1 is visible after a crashed commit")
	}
	for _, key := range []string{pkgKey("gaming.quest_system.v1"), fileKey(own[1]), subjKey("gaming.quest_system.v1.QuestSystemService.GetQuest")} {
		if o, _, err := r.readOwner(ctx, key); o != nil || err != nil {
			t.Errorf("index %q after a crashed commit = %+v, %v; want free", key, o, err)
		}
	}
	if mods, _, err := r.ListModules(ctx, ListOptions{}); len(mods) != 0 || err != nil {
		t.Errorf("modules after a crashed commit = %+v, %v", mods, err)
	}

	// The next push gets version 1 and everything resolves.
	res, err := r.Push(ctx, PushRequest{Module: "gaming", Files: setOf(questsystemv1.File_gaming_quest_system_v1_quest_system_proto), OwnFiles: own})
	if err != nil || res.Version.Version != 1 {
		t.Fatalf("push after the crash = %+v, %v; want version 1", res, err)
	}
	if s, err := r.ResolveSubject(ctx, SubjectRequest{Subject: "gaming.quest_system.v1.QuestSystemService.GetQuest"}); err != nil || s.Module != "gaming" {
		t.Errorf("resolve subject = %+v, %v", s, err)
	}

	// A descriptor set stored by a push that never committed is garbage.
	orphan, err := newContent(setOf(questsystemv1.File_gaming_quest_system_v1_quest_system_proto), own[:1], limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	orphanBlob, err := r.store.PutBlob(ctx, orphan.blob[:len(orphan.blob)-1])
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	n, err := r.CollectGarbage(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("CollectGarbage = %d, %v; want 1 set deleted", n, err)
	}
	if _, err := r.store.GetBlob(ctx, orphanBlob); err == nil {
		t.Errorf("the orphan is still stored")
	}
	fresh, err := New(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.GetModuleVersion(ctx, GetRequest{Module: "gaming", Version: 1}); err != nil {
		t.Errorf("version 1 after garbage collection: %v", err)
	}
}

func TestCanonicalFormIgnoresCompilerDifferences(t *testing.T) {
	t.Parallel()
	base := setOf(questsystemv1.File_gaming_quest_system_v1_quest_system_proto)
	own := []string{"gaming/common/v1/common.proto", "gaming/quest_system/v1/quest_system.proto"}
	digest := func(set *descriptorpb.FileDescriptorSet) (string, map[string]string) {
		t.Helper()
		data, err := proto.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := decodeSet(data, limits{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := newContent(decoded, own, limits{}, true)
		if err != nil {
			t.Fatal(err)
		}
		return c.digest, c.fileDigests
	}
	want, wantFiles := digest(base)

	quest := func(set *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorProto {
		for _, f := range set.File {
			if f.GetName() == own[1] {
				return f
			}
		}
		t.Fatal("no quest file")
		return nil
	}
	// Two custom options written in the opposite order.
	withOptions := func(first, second protowire.Number) *descriptorpb.FileDescriptorSet {
		set := proto.CloneOf(base)
		m := quest(set).MessageType[0]
		if m.Options == nil {
			m.Options = &descriptorpb.MessageOptions{}
		}
		var b []byte
		for _, num := range []protowire.Number{first, second} {
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(num))
		}
		m.Options.ProtoReflect().SetUnknown(b)
		return set
	}
	a, _ := digest(withOptions(50001, 50002))
	b, _ := digest(withOptions(50002, 50001))
	if a != b || a == want {
		t.Errorf("custom option order changes the digest (%s vs %s)", a, b)
	}

	// buf's image markers are not content.
	marked := proto.CloneOf(base)
	for _, f := range marked.File {
		ext := protowire.AppendTag(nil, descset.BufImageExtensionField, protowire.BytesType)
		ext = protowire.AppendBytes(ext, []byte{0x08, 0x01})
		f.ProtoReflect().SetUnknown(ext)
	}
	if got, _ := digest(marked); got != want {
		t.Errorf("buf image markers change the digest")
	}

	// A json_name equal to the default does not change a file's identity
	// (some compilers write it, some do not); source info neither.
	explicit := proto.CloneOf(base)
	for _, f := range quest(explicit).MessageType[0].Field {
		f.JsonName = proto.String(descset.DefaultJSONName(f.GetName()))
	}
	quest(explicit).SourceCodeInfo = &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{{Path: []int32{4, 0}, Span: []int32{1, 0, 5}, LeadingComments: proto.String(" hi\n")}}}
	got, gotFiles := digest(explicit)
	if gotFiles[own[1]] != wantFiles[own[1]] {
		t.Errorf("default json_name or source info changes the file digest")
	}
	if got == want {
		t.Errorf("source info does not change the version digest; it must (it is part of the version)")
	}
}

func TestEscapeSubjectIsInjective(t *testing.T) {
	t.Parallel()
	subjects := []string{"a.b", "a=2Eb", "a.b$", "a.b=24", "ü.x", "a-b_c.D9"}
	seen := map[string]string{}
	for _, s := range subjects {
		k := escapeSubject(s)
		if prev, dup := seen[k]; dup {
			t.Errorf("escapeSubject(%q) = escapeSubject(%q) = %q", s, prev, k)
		}
		seen[k] = s
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '=') {
				t.Errorf("escapeSubject(%q) = %q has %q, not a KV key character", s, k, c)
			}
		}
	}
}

// TestFilePathReportsCharactersNotBytes: validateFilePath names a refused
// non-ASCII character whole.
func TestFilePathReportsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	err := validateFilePath("acme/ünï/v1/a.proto")
	if err == nil || !strings.Contains(err.Error(), "contains 'ü'") {
		t.Errorf("validateFilePath = %v; want it to name 'ü'", err)
	}
}
