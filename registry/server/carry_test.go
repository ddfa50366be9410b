package server

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// TestCarryFillsEveryReply checks that each reply carry serves has the
// object and file_descriptor_set fields it sets by name, and that both
// paths land in the reply's content oneof.
func TestCarryFillsEveryReply(t *testing.T) {
	replies := []func() proto.Message{
		func() proto.Message { return &registryv1.GetModuleVersionResponse{} },
		func() proto.Message { return &registryv1.ResolveSymbolResponse{} },
		func() proto.Message { return &registryv1.ResolveFileResponse{} },
		func() proto.Message { return &registryv1.ResolveSubjectResponse{} },
	}
	for _, newReply := range replies {
		name := newReply().ProtoReflect().Descriptor().FullName()
		out, err := carry(context.Background(), store.Content{Object: &store.ObjectRef{Bucket: "b", Name: "n"}}, newReply())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if od := out.ProtoReflect().Descriptor().Oneofs().ByName("content"); od == nil || out.ProtoReflect().WhichOneof(od).Name() != "object" {
			t.Errorf("%s: the object reference is not in the content oneof", name)
		}
		set, _ := proto.Marshal(&registryv1.ObjectRef{Name: "x"}) // any bytes: the binary path does not decode them
		out, err = carry(context.Background(), store.Content{Set: set}, newReply())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out.ProtoReflect().GetUnknown()) == 0 {
			t.Errorf("%s: the inline set is missing", name)
		}
	}
}
