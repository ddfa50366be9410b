package descset

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// linked is a set with its linked files, indexed by path.
type linked struct {
	set    *descriptorpb.FileDescriptorSet
	files  *protoregistry.Files
	byPath map[string]*descriptorpb.FileDescriptorProto
}

// extKey identifies an extension by the message it extends and its number.
type extKey struct {
	extendee protoreflect.FullName
	number   protoreflect.FieldNumber
}

// Prune returns the files of set trimmed to the top-level declarations
// the symbols need, transitively (types, extendees, custom options). A
// symbol is a fully-qualified name (a leading dot is allowed) or a
// package, which keeps its files whole. files must be set linked
// (protodesc.NewFiles) and set in [Sort] order; custom options must be
// unknown fields, as [Unmarshal] leaves them. The returned files are fresh
// copies; set is not modified. When the trimmed set would not validate (it
// always should), Prune falls back to whole files: the files declaring the
// symbols and their transitive imports. A symbol found nowhere is an
// [*UnknownSymbolError].
func Prune(set *descriptorpb.FileDescriptorSet, files *protoregistry.Files, symbols []string) (*descriptorpb.FileDescriptorSet, error) {
	c := &linked{set: set, files: files, byPath: map[string]*descriptorpb.FileDescriptorProto{}}
	for _, fd := range set.GetFile() {
		c.byPath[fd.GetName()] = fd
	}
	exts := map[extKey]protoreflect.ExtensionDescriptor{}
	c.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		collectExtensions(fd.Extensions(), fd.Messages(), exts)
		return true
	})
	keep := map[protoreflect.FullName]protoreflect.Descriptor{} // top-level declarations
	var queue []protoreflect.Descriptor
	add := func(d protoreflect.Descriptor) {
		if d == nil {
			return
		}
		top := topLevel(d)
		if _, ok := keep[top.FullName()]; ok {
			return
		}
		keep[top.FullName()] = top
		queue = append(queue, top)
	}
	keptFiles := map[string]bool{}
	var roots []string
	for _, s := range symbols {
		s = strings.TrimPrefix(s, ".")
		d, err := c.files.FindDescriptorByName(protoreflect.FullName(s))
		if err == nil {
			add(d)
			roots = append(roots, d.ParentFile().Path())
			continue
		}
		found := false
		for _, fd := range c.set.GetFile() {
			if fd.GetPackage() != s {
				continue
			}
			found = true
			roots = append(roots, fd.GetName())
			f, err := c.files.FindFileByPath(fd.GetName())
			if err != nil {
				return nil, fmt.Errorf("file %q vanished from its registry: %w", fd.GetName(), err)
			}
			rangeTopLevel(f, add)
			keptFiles[fd.GetName()] = true
		}
		if !found {
			return nil, &UnknownSymbolError{Symbol: s}
		}
	}
	options := func(kind protoreflect.FullName, opts proto.Message) {
		if opts == nil {
			return
		}
		m := opts.ProtoReflect()
		if !m.IsValid() {
			return
		}
		for _, num := range UnknownNumbers(m.GetUnknown()) {
			if x, ok := exts[extKey{kind, protowire.Number(num)}]; ok {
				add(x)
			}
		}
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		keptFiles[d.ParentFile().Path()] = true
		visitDeps(d, add, options)
	}
	for p := range keptFiles {
		f, err := c.files.FindFileByPath(p)
		if err != nil {
			return nil, fmt.Errorf("file %q vanished from its registry: %w", p, err)
		}
		options("google.protobuf.FileOptions", f.Options())
	}
	// File options may have added declarations; drain again.
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if !keptFiles[d.ParentFile().Path()] {
			keptFiles[d.ParentFile().Path()] = true
			f, _ := c.files.FindFileByPath(d.ParentFile().Path())
			options("google.protobuf.FileOptions", f.Options())
		}
		visitDeps(d, add, options)
	}
	out := buildPruned(c, keep, keptFiles)
	if _, err := protodesc.NewFiles(out); err != nil {
		// Should not happen; whole files are always valid.
		return &descriptorpb.FileDescriptorSet{File: cloneFiles(ClosureByPath(c.byPath, roots...))}, nil
	}
	return out, nil
}

func cloneFiles(files []*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	out := make([]*descriptorpb.FileDescriptorProto, len(files))
	for i, f := range files {
		out[i] = proto.CloneOf(f)
	}
	return out
}

func collectExtensions(xs protoreflect.ExtensionDescriptors, msgs protoreflect.MessageDescriptors, out map[extKey]protoreflect.ExtensionDescriptor) {
	for i := 0; i < xs.Len(); i++ {
		x := xs.Get(i)
		out[extKey{x.ContainingMessage().FullName(), x.Number()}] = x
	}
	for i := 0; i < msgs.Len(); i++ {
		m := msgs.Get(i)
		collectExtensions(m.Extensions(), m.Messages(), out)
	}
}

// topLevel returns the file-level declaration d is part of.
func topLevel(d protoreflect.Descriptor) protoreflect.Descriptor {
	for {
		p := d.Parent()
		if p == nil {
			return d
		}
		if _, ok := p.(protoreflect.FileDescriptor); ok {
			return d
		}
		d = p
	}
}

func rangeTopLevel(f protoreflect.FileDescriptor, add func(protoreflect.Descriptor)) {
	for i := 0; i < f.Messages().Len(); i++ {
		add(f.Messages().Get(i))
	}
	for i := 0; i < f.Enums().Len(); i++ {
		add(f.Enums().Get(i))
	}
	for i := 0; i < f.Services().Len(); i++ {
		add(f.Services().Get(i))
	}
	for i := 0; i < f.Extensions().Len(); i++ {
		add(f.Extensions().Get(i))
	}
}

// visitDeps adds every declaration d uses: field types, extendees, method
// types, and the extensions behind custom options.
func visitDeps(d protoreflect.Descriptor, add func(protoreflect.Descriptor), options func(protoreflect.FullName, proto.Message)) {
	field := func(f protoreflect.FieldDescriptor) {
		options("google.protobuf.FieldOptions", f.Options())
		if m := f.Message(); m != nil {
			add(m)
		}
		if e := f.Enum(); e != nil {
			add(e)
		}
		if f.IsExtension() {
			add(f.ContainingMessage())
		}
	}
	var enum func(e protoreflect.EnumDescriptor)
	enum = func(e protoreflect.EnumDescriptor) {
		options("google.protobuf.EnumOptions", e.Options())
		for i := 0; i < e.Values().Len(); i++ {
			options("google.protobuf.EnumValueOptions", e.Values().Get(i).Options())
		}
	}
	var message func(m protoreflect.MessageDescriptor)
	message = func(m protoreflect.MessageDescriptor) {
		options("google.protobuf.MessageOptions", m.Options())
		for i := 0; i < m.Fields().Len(); i++ {
			field(m.Fields().Get(i))
		}
		for i := 0; i < m.Oneofs().Len(); i++ {
			options("google.protobuf.OneofOptions", m.Oneofs().Get(i).Options())
		}
		for i := 0; i < m.ExtensionRanges().Len(); i++ {
			options("google.protobuf.ExtensionRangeOptions", m.ExtensionRangeOptions(i))
		}
		for i := 0; i < m.Extensions().Len(); i++ {
			field(m.Extensions().Get(i))
		}
		for i := 0; i < m.Enums().Len(); i++ {
			enum(m.Enums().Get(i))
		}
		for i := 0; i < m.Messages().Len(); i++ {
			message(m.Messages().Get(i))
		}
	}
	switch d := d.(type) {
	case protoreflect.MessageDescriptor:
		message(d)
	case protoreflect.EnumDescriptor:
		enum(d)
	case protoreflect.ServiceDescriptor:
		options("google.protobuf.ServiceOptions", d.Options())
		for i := 0; i < d.Methods().Len(); i++ {
			md := d.Methods().Get(i)
			options("google.protobuf.MethodOptions", md.Options())
			add(md.Input())
			add(md.Output())
		}
	case protoreflect.ExtensionDescriptor:
		field(d)
	}
}

// buildPruned copies the kept files with only the kept declarations,
// imports trimmed to the files still needed (keeping public-import bridges
// to them), and source info remapped to the new element indexes.
func buildPruned(c *linked, keep map[protoreflect.FullName]protoreflect.Descriptor, keptFiles map[string]bool) *descriptorpb.FileDescriptorSet {
	// A dropped file stays as a bridge when a kept file reaches a kept
	// file through its public imports.
	needed := func(p string) bool { return keptFiles[p] }
	for changed := true; changed; {
		changed = false
		for p, fd := range c.byPath {
			if keptFiles[p] {
				continue
			}
			for _, i := range fd.GetPublicDependency() {
				if int(i) < len(fd.GetDependency()) && needed(fd.GetDependency()[i]) && importedByKept(c, p, keptFiles) {
					keptFiles[p] = true
					changed = true
					break
				}
			}
		}
	}
	out := &descriptorpb.FileDescriptorSet{}
	for _, orig := range c.set.GetFile() {
		if !keptFiles[orig.GetName()] {
			continue
		}
		fd := proto.CloneOf(orig)
		msgMap := filterIndex(len(fd.MessageType), func(i int) bool {
			return keep[protoreflect.FullName(qualify(fd.GetPackage(), fd.MessageType[i].GetName()))] != nil
		})
		enumMap := filterIndex(len(fd.EnumType), func(i int) bool {
			return keep[protoreflect.FullName(qualify(fd.GetPackage(), fd.EnumType[i].GetName()))] != nil
		})
		svcMap := filterIndex(len(fd.Service), func(i int) bool {
			return keep[protoreflect.FullName(qualify(fd.GetPackage(), fd.Service[i].GetName()))] != nil
		})
		extMap := filterIndex(len(fd.Extension), func(i int) bool {
			return keep[protoreflect.FullName(qualify(fd.GetPackage(), fd.Extension[i].GetName()))] != nil
		})
		depMap := filterIndex(len(fd.Dependency), func(i int) bool { return keptFiles[fd.Dependency[i]] })
		fd.MessageType = applyIndex(fd.MessageType, msgMap)
		fd.EnumType = applyIndex(fd.EnumType, enumMap)
		fd.Service = applyIndex(fd.Service, svcMap)
		fd.Extension = applyIndex(fd.Extension, extMap)
		fd.Dependency = applyIndex(fd.Dependency, depMap)
		pubMap := remapIndexList(&fd.PublicDependency, depMap)
		weakMap := remapIndexList(&fd.WeakDependency, depMap)
		if sci := fd.GetSourceCodeInfo(); sci != nil {
			var locs []*descriptorpb.SourceCodeInfo_Location
			for _, loc := range sci.GetLocation() {
				path := slices.Clone(loc.GetPath())
				if len(path) >= 2 {
					var m []int
					switch path[0] {
					case 4:
						m = msgMap
					case 5:
						m = enumMap
					case 6:
						m = svcMap
					case 7:
						m = extMap
					case 3:
						m = depMap
					case 10:
						m = pubMap
					case 11:
						m = weakMap
					}
					if m != nil {
						if int(path[1]) >= len(m) || m[path[1]] < 0 {
							continue
						}
						path[1] = int32(m[path[1]])
					}
				}
				loc = proto.CloneOf(loc)
				loc.Path = path
				locs = append(locs, loc)
			}
			sci.Location = locs
		}
		out.File = append(out.File, fd)
	}
	return out
}

func importedByKept(c *linked, p string, keptFiles map[string]bool) bool {
	for q, fd := range c.byPath {
		if keptFiles[q] && slices.Contains(fd.GetDependency(), p) {
			return true
		}
	}
	return false
}

func qualify(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

// filterIndex returns old index -> new index, -1 for dropped elements.
func filterIndex(n int, keep func(int) bool) []int {
	m := make([]int, n)
	next := 0
	for i := range m {
		if keep(i) {
			m[i] = next
			next++
		} else {
			m[i] = -1
		}
	}
	return m
}

func applyIndex[T any](s []T, m []int) []T {
	var out []T
	for i, v := range s {
		if m[i] >= 0 {
			out = append(out, v)
		}
	}
	return out
}

// remapIndexList rewrites a list of dependency indexes (public or weak)
// through depMap, dropping removed ones, and returns old position -> new
// position within the list itself.
func remapIndexList(list *[]int32, depMap []int) []int {
	pos := make([]int, len(*list))
	var out []int32
	for i, d := range *list {
		if int(d) < len(depMap) && depMap[d] >= 0 {
			pos[i] = len(out)
			out = append(out, int32(depMap[d]))
		} else {
			pos[i] = -1
		}
	}
	*list = out
	return pos
}
