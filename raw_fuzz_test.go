package natsrpc

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// proto2Legacy is a proto2 message with the shapes proto3 lacks: a group,
// packed and unpacked repeated scalars, an unchecked string and a
// required field (left to the service: validateWire matches AllowPartial).
var proto2Legacy = func() protoreflect.MessageDescriptor {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("natsrpctest/v1/legacy.proto"),
		Package: proto.String("natsrpctest.v1"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Legacy"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("name"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
				{Name: proto.String("nums"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_SINT64.Enum(), Options: &descriptorpb.FieldOptions{Packed: proto.Bool(true)}},
				{Name: proto.String("fixed"), Number: proto.Int32(3), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_FIXED32.Enum()},
				{Name: proto.String("item"), Number: proto.Int32(4), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_GROUP.Enum(), TypeName: proto.String(".natsrpctest.v1.Legacy.Item")},
				{Name: proto.String("self"), Number: proto.Int32(5), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".natsrpctest.v1.Legacy")},
				{Name: proto.String("ratio"), Number: proto.Int32(6), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_DOUBLE.Enum()},
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name:  proto.String("Item"),
				Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("id"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()}},
			}},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	return fd.Messages().ByName("Legacy")
}()

// FuzzValidateWire holds validateWire to its promise: it accepts exactly
// what proto.Unmarshal (AllowPartial) accepts into a message of the type,
// for proto3 messages with nested messages, maps, enums and repeated
// strings, and a proto2 message with groups and packed fields.
func FuzzValidateWire(f *testing.F) {
	gen, _ := proto.Marshal(&natsrpctestv1.GenerateRequest{
		Meta: &natsrpctestv1.Meta{RequestId: "r", Labels: map[string]string{"k": "v"}}, OwnerId: "o", Level: -3,
		Priority: natsrpctestv1.Priority_PRIORITY_HIGH, ExcludedIds: []string{"a", "b"}, Hints: map[string]string{"x": "y"},
	})
	var legacy []byte
	legacy = protowire.AppendTag(legacy, 1, protowire.BytesType)
	legacy = protowire.AppendString(legacy, "\xff")
	legacy = protowire.AppendTag(legacy, 2, protowire.BytesType)
	legacy = protowire.AppendBytes(legacy, protowire.AppendVarint(protowire.AppendVarint(nil, 1), 300))
	legacy = protowire.AppendTag(legacy, 4, protowire.StartGroupType)
	legacy = protowire.AppendTag(legacy, 1, protowire.VarintType)
	legacy = protowire.AppendVarint(legacy, 7)
	legacy = protowire.AppendTag(legacy, 4, protowire.EndGroupType)
	for _, seed := range [][]byte{nil, gen, legacy, {0x1a, 0x02, 0xff, 0xfe}, {0x0c}, {0x00}, {0x23, 0x24}, {0x12, 0x02, 0x08}} {
		for kind := uint8(0); kind < 3; kind++ {
			f.Add(kind, seed)
		}
	}
	descs := []protoreflect.MessageDescriptor{
		(&natsrpctestv1.GenerateRequest{}).ProtoReflect().Descriptor(),
		(&natsrpctestv1.WatchResponse{}).ProtoReflect().Descriptor(),
		proto2Legacy,
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		desc := descs[int(kind)%len(descs)]
		err := validateWire(b, desc)
		uerr := proto.UnmarshalOptions{AllowPartial: true, Resolver: new(protoregistry.Types)}.Unmarshal(b, dynamicpb.NewMessage(desc))
		if (err == nil) != (uerr == nil) {
			t.Fatalf("%s %x: validateWire says %v; proto.Unmarshal says %v", desc.FullName(), b, err, uerr)
		}
	})
}
