package descsettest

import (
	"context"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// TestClosureOrdersImportsFirst checks that every file comes once and after
// its imports, for generated descriptors.
func TestClosureOrdersImportsFirst(t *testing.T) {
	fd := questsystemv1.File_gaming_quest_system_v1_quest_system_proto
	set := descset.Closure(fd, fd)
	pos := map[string]int{}
	for i, f := range set.GetFile() {
		if _, dup := pos[f.GetName()]; dup {
			t.Fatalf("file %q appears twice", f.GetName())
		}
		pos[f.GetName()] = i
	}
	last := set.GetFile()[len(set.GetFile())-1].GetName()
	if last != fd.Path() {
		t.Errorf("last file = %q, want the requested %q", last, fd.Path())
	}
	for _, f := range set.GetFile() {
		for _, dep := range f.GetDependency() {
			p, ok := pos[dep]
			if !ok {
				t.Errorf("%q imports %q, which is missing", f.GetName(), dep)
			} else if p > pos[f.GetName()] {
				t.Errorf("%q comes before its import %q", f.GetName(), dep)
			}
		}
	}
}

// TestClosureKeepsSourceInfo checks that protocompile results keep their
// source info and that the set does not alias the compiler's protos.
func TestClosureKeepsSourceInfo(t *testing.T) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{
			"a.proto": "syntax = \"proto3\";\npackage a;\nimport \"google/protobuf/empty.proto\";\n// A is a message.\nmessage A { google.protobuf.Empty e = 1; }\n",
		})}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), "a.proto")
	if err != nil {
		t.Fatal(err)
	}
	set := descset.Closure(protoreflect.FileDescriptor(files[0]))
	if n := len(set.GetFile()); n != 2 {
		t.Fatalf("got %d files, want a.proto and its import", n)
	}
	a := set.GetFile()[1]
	if a.GetName() != "a.proto" || len(a.GetSourceCodeInfo().GetLocation()) == 0 {
		t.Fatalf("a.proto lost its source info: %v", a.GetSourceCodeInfo())
	}
	a.Name = nil
	if files[0].Path() != "a.proto" || descset.Closure(files[0]).GetFile()[1].GetName() != "a.proto" {
		t.Error("changing the returned set changed the compiler's result")
	}
}

// TestDefaultJSONName compares with the JSON names protobuf-go derives
// when a field sets none.
func TestDefaultJSONName(t *testing.T) {
	names := []string{"a", "foo_bar", "foo__bar", "_foo", "foo_", "foo_1bar", "fooBar_baz", "FOO_BAR", "x_y_z"}
	msg := &descriptorpb.DescriptorProto{Name: proto.String("M")}
	for i, n := range names {
		msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{
			Name:   proto.String(n),
			Number: proto.Int32(int32(i + 1)),
			Type:   descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(),
			Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		})
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("j.proto"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fields := fd.Messages().Get(0).Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if got, want := descset.DefaultJSONName(string(f.Name())), f.JSONName(); got != want {
			t.Errorf("DefaultJSONName(%q) = %q; protobuf-go says %q", f.Name(), got, want)
		}
	}
}
