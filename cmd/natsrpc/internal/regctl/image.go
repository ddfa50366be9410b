package regctl

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// bufImageExtension is the field number of buf_extension
// (buf.alpha.image.v1.ImageFileExtension) in buf's ImageFile, which is
// FileDescriptorProto plus this field; bufIsImport is the number of
// ImageFileExtension.is_import. See buf/alpha/image/v1/image.proto.
const (
	bufImageExtension protowire.Number = 8042
	bufIsImport       protowire.Number = 1
)

// Fetch returns a version of a module and its descriptor set (own files
// and imports, dependencies first, source info included).
func Fetch(ctx context.Context, c *client.Client, ref ModuleRef) (*registryv1.ModuleVersion, *descriptorpb.FileDescriptorSet, error) {
	return c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: ref.Module, Version: ref.Version})
}

// Image returns a version of a module as a binary buf image: a
// FileDescriptorSet, dependencies first, with source info, in which every
// file that is not one of the module's own carries buf's image extension
// with is_import set. `buf build`, `buf breaking --against` and
// `buf generate` accept it, and `buf generate` emits code only for the
// module's own files.
func Image(ctx context.Context, c *client.Client, ref ModuleRef) (*registryv1.ModuleVersion, []byte, error) {
	mv, set, err := Fetch(ctx, c, ref)
	if err != nil {
		return nil, nil, err
	}
	data, err := MarshalImage(set, mv.GetFiles())
	if err != nil {
		return nil, nil, err
	}
	return mv, data, nil
}

// MarshalImage serializes set as a buf image whose targets are own; every
// other file is marked as an import. set is not modified.
func MarshalImage(set *descriptorpb.FileDescriptorSet, own []string) ([]byte, error) {
	isOwn := make(map[string]bool, len(own))
	for _, p := range own {
		isOwn[p] = true
	}
	var marker []byte
	marker = protowire.AppendTag(marker, bufIsImport, protowire.VarintType)
	marker = protowire.AppendVarint(marker, 1)
	ext := protowire.AppendTag(nil, bufImageExtension, protowire.BytesType)
	ext = protowire.AppendBytes(ext, marker)

	out := &descriptorpb.FileDescriptorSet{File: make([]*descriptorpb.FileDescriptorProto, 0, len(set.GetFile()))}
	for _, fd := range set.GetFile() {
		if !isOwn[fd.GetName()] {
			fd = proto.CloneOf(fd)
			m := fd.ProtoReflect()
			m.SetUnknown(append(m.GetUnknown(), ext...))
		}
		out.File = append(out.File, fd)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode the image: %w", err)
	}
	return data, nil
}
