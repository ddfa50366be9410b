// Package protoset builds descriptor sets from compiled files and answers
// what protoc would derive for the descriptors in them.
package protoset

import (
	"strings"

	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Closure returns files and everything they import, transitively, as a
// descriptor set: each file once, every file after its imports, the order
// otherwise that of files and their import lists (what protoc's
// CodeGeneratorRequest and --include_imports expect). Files compiled by
// protocompile contribute a copy of their original descriptor proto, source
// info included; any other descriptor is converted with protodesc.
func Closure[F protoreflect.FileDescriptor](files ...F) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if fd == nil || seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		if r, ok := fd.(linker.Result); ok {
			set.File = append(set.File, proto.CloneOf(r.FileDescriptorProto()))
		} else {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		}
	}
	for _, fd := range files {
		add(fd)
	}
	return set
}

// DefaultJSONName is the JSON name protoc gives a field that sets none: the
// field name with underscores dropped and the letter after each one
// upper-cased. A json_name equal to it says nothing.
func DefaultJSONName(field string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}
