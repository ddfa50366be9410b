package rpcctl

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

// TestTemplateStopsRecursion: types that contain themselves (a
// descriptor's nested messages, Struct's values) give a finite template
// that protojson reads back; the same input gives the same bytes.
func TestTemplateStopsRecursion(t *testing.T) {
	types := schema.NewResolver(protoregistry.GlobalFiles)
	for _, md := range []protoreflect.MessageDescriptor{
		(&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
		(&structpb.Struct{}).ProtoReflect().Descriptor(),
		(&structpb.Value{}).ProtoReflect().Descriptor(),
	} {
		doc, notes, err := Template(md, types)
		if err != nil {
			t.Fatalf("%s: %v", md.FullName(), err)
		}
		if err := (protojson.UnmarshalOptions{Resolver: types}).Unmarshal(doc, dynamicpb.NewMessage(md)); err != nil {
			t.Errorf("%s: the template does not read back: %v\n%s", md.FullName(), err, doc)
		}
		again, _, _ := Template(md, types)
		if string(again) != string(doc) {
			t.Errorf("%s: two templates differ", md.FullName())
		}
		if len(notes) != 0 {
			t.Errorf("%s: notes %v; the well-known types' oneofs are not noted", md.FullName(), notes)
		}
	}
	doc, _, _ := Template((&descriptorpb.DescriptorProto{}).ProtoReflect().Descriptor(), types)
	// nested_type is a DescriptorProto inside a DescriptorProto: empty.
	if s := string(doc); !strings.Contains(s, `"nestedType":[]`) || !strings.Contains(s, `"field":[{`) {
		t.Errorf("DescriptorProto template: %s", s)
	}
}
