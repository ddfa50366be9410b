package descset_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// questSet is the quest system's file and its imports, decoded as the
// registry decodes a push (custom options as unknown fields) and in
// canonical form.
func questSet(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	data, err := descset.Marshal(descset.Closure(questsystemv1.File_gaming_quest_system_v1_quest_system_proto))
	if err != nil {
		t.Fatal(err)
	}
	set, err := descset.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range set.GetFile() {
		if _, _, err := descset.Canonicalize(fd); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

// TestDigestIsCanonical checks that the digests do not depend on what a
// compiler is free to vary: the order of custom options, buf's image
// markers, a json_name equal to the default (file digest), source info
// (file digest); and that they do depend on content.
func TestDigestIsCanonical(t *testing.T) {
	base := questSet(t)
	last := func(set *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorProto {
		return set.GetFile()[len(set.GetFile())-1]
	}
	digests := func(set *descriptorpb.FileDescriptorSet) (string, string) {
		t.Helper()
		for _, fd := range set.GetFile() {
			if _, _, err := descset.Canonicalize(fd); err != nil {
				t.Fatal(err)
			}
		}
		d, err := descset.Digest([]*descriptorpb.FileDescriptorProto{last(set)})
		if err != nil {
			t.Fatal(err)
		}
		fdg, err := descset.FileDigest(last(set))
		if err != nil {
			t.Fatal(err)
		}
		return d, fdg
	}
	want, wantFile := digests(proto.CloneOf(base))

	withOptions := func(first, second protowire.Number) *descriptorpb.FileDescriptorSet {
		set := proto.CloneOf(base)
		m := last(set).MessageType[0]
		m.Options = &descriptorpb.MessageOptions{}
		var b []byte
		for _, num := range []protowire.Number{first, second} {
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(num))
		}
		m.Options.ProtoReflect().SetUnknown(b)
		return set
	}
	a, _ := digests(withOptions(50001, 50002))
	b, _ := digests(withOptions(50002, 50001))
	if a != b || a == want {
		t.Errorf("custom option order changes the digest, or options do not count (%s, %s, %s)", a, b, want)
	}

	marked := proto.CloneOf(base)
	ext := protowire.AppendTag(nil, descset.BufImageExtensionField, protowire.BytesType)
	ext = protowire.AppendBytes(ext, []byte{0x08, 0x01})
	last(marked).ProtoReflect().SetUnknown(ext)
	isImport, hasMarker, err := descset.Canonicalize(last(marked))
	if err != nil || !hasMarker || !isImport {
		t.Errorf("Canonicalize(marked) = %v, %v, %v; want an import marker", isImport, hasMarker, err)
	}
	if got, _ := digests(marked); got != want {
		t.Errorf("buf image markers change the digest")
	}

	explicit := proto.CloneOf(base)
	for _, f := range last(explicit).MessageType[0].Field {
		f.JsonName = proto.String(descset.DefaultJSONName(f.GetName()))
	}
	last(explicit).SourceCodeInfo = &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{{Path: []int32{4, 0}, Span: []int32{1, 0, 5}}}}
	got, gotFile := digests(explicit)
	if gotFile != wantFile {
		t.Errorf("default json_name or source info changes the file digest")
	}
	if got == want {
		t.Errorf("source info does not change the version digest; it must (it is part of the version)")
	}
	if d := descset.Sum([]byte("x")); d != "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Errorf("Sum(x) = %s", d)
	}
}

// TestSortAndClosureByPath checks the order the registry stores files in:
// imports first, ties by path, whatever order the map is built in; and
// that a closure holds exactly a root and what it imports.
func TestSortAndClosureByPath(t *testing.T) {
	set := questSet(t)
	byPath := map[string]*descriptorpb.FileDescriptorProto{}
	for _, fd := range set.GetFile() {
		byPath[fd.GetName()] = fd
	}
	sorted := descset.Sort(byPath)
	if len(sorted) != len(byPath) {
		t.Fatalf("Sort returned %d files of %d", len(sorted), len(byPath))
	}
	pos := map[string]int{}
	for i, fd := range sorted {
		pos[fd.GetName()] = i
	}
	for _, fd := range sorted {
		for _, dep := range fd.GetDependency() {
			if pos[dep] > pos[fd.GetName()] {
				t.Errorf("%q comes before its import %q", fd.GetName(), dep)
			}
		}
	}
	again := descset.Sort(byPath)
	for i := range sorted {
		if sorted[i] != again[i] {
			t.Fatalf("Sort is not deterministic at %d", i)
		}
	}
	common := descset.ClosureByPath(byPath, "gaming/common/v1/common.proto")
	for _, fd := range common {
		if fd.GetName() == "gaming/quest_system/v1/quest_system.proto" {
			t.Errorf("the closure of common.proto holds the quest system, which imports it")
		}
	}
	if n := len(descset.ClosureByPath(byPath, "gaming/quest_system/v1/quest_system.proto")); n != len(byPath) {
		t.Errorf("the quest system's closure has %d files; want all %d", n, len(byPath))
	}
	if got := descset.ClosureByPath(byPath, "nope.proto"); len(got) != 0 {
		t.Errorf("closure of a missing file = %d files; want none", len(got))
	}
}
