package store_test

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// annotatedSet is a module whose method carries a google.api.http
// annotation, with google/api/annotations.proto and its imports as they
// ship in genproto.
func annotatedSet(t testing.TB, pkg string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	ann, err := protoregistry.GlobalFiles.FindFileByPath("google/api/annotations.proto")
	if err != nil {
		t.Fatal(err)
	}
	add(ann)
	opts := &descriptorpb.MethodOptions{}
	proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/items/{id}"}})
	set.File = append(set.File, &descriptorpb.FileDescriptorProto{
		Name:       proto.String("acme/items/v1/items.proto"),
		Package:    proto.String(pkg),
		Dependency: []string{"google/api/annotations.proto"},
		Syntax:     proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Item"),
			Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("id"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("id")}},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("ItemService"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("GetItem"), InputType: proto.String("." + pkg + ".Item"), OutputType: proto.String("." + pkg + ".Item"), Options: opts}},
		}},
	})
	return set
}

// TestGoogleAPIsAreBuiltin checks that google/api files are treated like
// the well-known types: a module importing them pushes without any module
// owning package google.api, the registry serves them, and no module may
// declare them as its own.
func TestGoogleAPIsAreBuiltin(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	res := mustPush(t, r, store.PushRequest{Module: "items", Files: annotatedSet(t, "acme.items.v1")})
	if !res.Created || len(res.Version.Files) != 1 || res.Version.Files[0] != "acme/items/v1/items.proto" {
		t.Fatalf("push = %+v; want a version owning only acme/items/v1/items.proto", res)
	}
	builtin := map[string]bool{}
	for _, d := range res.Version.Dependencies {
		builtin[d.File] = d.Builtin
	}
	if !builtin["google/api/annotations.proto"] || !builtin["google/api/http.proto"] {
		t.Fatalf("dependencies %+v; want google/api/annotations.proto and http.proto built in", res.Version.Dependencies)
	}
	f, err := r.ResolveFile(registrytest.Ctx(t, 30*time.Second), store.FileRequest{File: "google/api/http.proto"})
	if err != nil {
		t.Fatalf("resolve google/api/http.proto: %v", err)
	}
	if f.Module != "" {
		t.Errorf("google/api/http.proto resolved to module %q; want the built-in file", f.Module)
	}
	_, err = r.Push(registrytest.Ctx(t, 30*time.Second), store.PushRequest{Module: "squatter", Files: annotatedSet(t, "google.api.v9")})
	wantKind(t, err, store.KindFailedPrecondition, "google.api.v9", "built into the registry")
}
