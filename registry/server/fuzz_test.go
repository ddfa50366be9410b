package server

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// Fuzz targets for the registry server's conversions of what callers send
// and of what it replies. Seeds live in testdata/fuzz/<target>/.

// FuzzCarry checks the raw-bytes shortcut of binary replies: for any
// stored set, the reply decodes to the same set that decoding the stored
// bytes gives; bytes that are no set never reach carry (the registry only
// stores sets it decoded), and then the reply must fail to decode rather
// than carry something else.
func FuzzCarry(f *testing.F) {
	set, _ := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{Name: proto.String("a.proto"), Package: proto.String("a")}}})
	f.Add(set)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01})
	f.Fuzz(func(t *testing.T, stored []byte) {
		want := &descriptorpb.FileDescriptorSet{}
		wantErr := proto.Unmarshal(stored, want)
		out := &registryv1.GetModuleVersionResponse{Version: &registryv1.ModuleVersion{Module: "m", Version: 1}}
		if _, err := carry(context.Background(), store.Content{Set: stored}, out); err != nil {
			t.Fatalf("carry: %v", err)
		}
		wire, err := proto.Marshal(out)
		if err != nil {
			t.Fatalf("marshal reply: %v", err)
		}
		got := &registryv1.GetModuleVersionResponse{}
		if err := proto.Unmarshal(wire, got); err != nil {
			if wantErr == nil {
				t.Fatalf("reply carrying a valid set does not decode: %v", err)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("reply carrying bytes that are no set (%v) decodes", wantErr)
		}
		if !proto.Equal(got.GetFileDescriptorSet(), want) || got.GetVersion().GetModule() != "m" {
			t.Fatalf("reply carries %v; the stored bytes are %v", got.GetFileDescriptorSet(), want)
		}
	})
}

// FuzzPolicyFromProto decodes arbitrary SetPolicy policies: an unknown
// direction is invalid_argument, and an accepted policy converts back to
// the same direction.
func FuzzPolicyFromProto(f *testing.F) {
	p, _ := proto.Marshal(&registryv1.Policy{Categories: []string{"FILE"}, Direction: registryv1.Direction_DIRECTION_FULL, Transitive: true})
	f.Add(p)
	f.Add([]byte{0x10, 0x09})
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &registryv1.Policy{}
		if err := proto.Unmarshal(data, in); err != nil {
			return
		}
		pol, err := policyFromProto(in)
		if err != nil {
			if natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument {
				t.Fatalf("policyFromProto(%v) = %v", in, err)
			}
			return
		}
		back := policyToProto(pol)
		if d := in.GetDirection(); d != registryv1.Direction_DIRECTION_UNSPECIFIED && back.GetDirection() != d {
			t.Fatalf("direction %v came back as %v", d, back.GetDirection())
		}
		if back.GetTransitive() != in.GetTransitive() || len(back.GetCategories()) != len(in.GetCategories()) {
			t.Fatalf("%v came back as %v", in, back)
		}
	})
}
