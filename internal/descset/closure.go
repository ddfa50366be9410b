package descset

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoBacked is a file descriptor that keeps the descriptor proto it was
// built from, source info included: protocompile's linker.Result does.
// Asserting this method set instead of importing the compiler keeps this
// package free of it.
type protoBacked interface {
	FileDescriptorProto() *descriptorpb.FileDescriptorProto
}

// Closure returns files and everything they import, transitively, as a
// descriptor set: each file once, every file after its imports, the order
// otherwise that of files and their import lists (what protoc's
// CodeGeneratorRequest and --include_imports expect). A file that keeps its
// original descriptor proto (protocompile's results do) contributes a copy
// of it, source info included; any other descriptor is converted with
// protodesc.
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
		if r, ok := fd.(protoBacked); ok && r.FileDescriptorProto() != nil {
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

// Sort orders files so that every file comes after its imports; among
// files whose order is free, by path. Imports missing from byPath are
// skipped; an import cycle is left for protodesc to report.
func Sort(byPath map[string]*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	paths := sortedKeys(byPath)
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var out []*descriptorpb.FileDescriptorProto
	var visit func(p string)
	visit = func(p string) {
		if state[p] != 0 {
			return // done, or an import cycle, which protodesc reports
		}
		state[p] = 1
		deps := slices.Clone(byPath[p].GetDependency())
		slices.Sort(deps)
		for _, d := range deps {
			if _, ok := byPath[d]; ok {
				visit(d)
			}
		}
		state[p] = 2
		out = append(out, byPath[p])
	}
	for _, p := range paths {
		visit(p)
	}
	return out
}

// ClosureByPath returns the files at roots and their transitive imports,
// in [Sort] order. The files are those of byPath, not copies.
func ClosureByPath(byPath map[string]*descriptorpb.FileDescriptorProto, roots ...string) []*descriptorpb.FileDescriptorProto {
	keep := map[string]*descriptorpb.FileDescriptorProto{}
	var add func(p string)
	add = func(p string) {
		fd, ok := byPath[p]
		if !ok || keep[p] != nil {
			return
		}
		keep[p] = fd
		for _, d := range fd.GetDependency() {
			add(d)
		}
	}
	for _, r := range roots {
		add(r)
	}
	return Sort(keep)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
