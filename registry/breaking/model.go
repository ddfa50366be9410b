package breaking

import (
	"encoding/binary"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// side is one image (previous or current) in the form the rules read: the
// descriptor protos with their source locations, next to the linked
// protoreflect descriptors.
type side struct {
	files  []*file
	byPath map[string]*file
	ix     *index
	ixErr  error
	nats   map[string]*natsMethod
}

type file struct {
	side    *side
	path    string
	ext     string
	imp     bool
	pb      *descriptorpb.FileDescriptorProto
	fd      protoreflect.FileDescriptor
	pkg     string
	locList []*descriptorpb.SourceCodeInfo_Location
	locs    map[string]*descriptorpb.SourceCodeInfo_Location

	messages   []*message
	enums      []*enum
	services   []*service
	extensions []*field
}

type message struct {
	file       *file
	parent     *message
	pb         *descriptorpb.DescriptorProto
	md         protoreflect.MessageDescriptor
	path       []int32
	name       string
	nested     string
	full       string
	fields     []*field
	extensions []*field
	messages   []*message
	enums      []*enum
	oneofs     []*oneof
}

type field struct {
	file     *file
	parent   *message // the declaring message; nil for file-level extensions
	pb       *descriptorpb.FieldDescriptorProto
	fd       protoreflect.FieldDescriptor
	path     []int32
	name     string
	nested   string
	full     string
	isExt    bool
	extendee string
	typeName string
	oneof    *oneof
}

type oneof struct {
	msg  *message
	pb   *descriptorpb.OneofDescriptorProto
	od   protoreflect.OneofDescriptor
	path []int32
	name string
}

type enum struct {
	file   *file
	parent *message
	pb     *descriptorpb.EnumDescriptorProto
	ed     protoreflect.EnumDescriptor
	path   []int32
	name   string
	nested string
	full   string
	values []*enumValue
}

type enumValue struct {
	enum   *enum
	pb     *descriptorpb.EnumValueDescriptorProto
	path   []int32
	name   string
	number int32
}

type service struct {
	file    *file
	pb      *descriptorpb.ServiceDescriptorProto
	sd      protoreflect.ServiceDescriptor
	path    []int32
	name    string
	full    string
	methods []*method
}

type method struct {
	service *service
	pb      *descriptorpb.MethodDescriptorProto
	md      protoreflect.MethodDescriptor
	path    []int32
	name    string
	input   string
	output  string
}

// Image is one side of a comparison: a self-contained set of files, each
// knowing whether it is a target or an import and how to show its path.
type Image struct {
	Files []ImageFile
}

// ImageFile is one file of an [Image].
type ImageFile struct {
	// Proto is the file; source code info gives violations their
	// positions.
	Proto *descriptorpb.FileDescriptorProto
	// Import is true when the file is only needed by the image's targets.
	Import bool
	// ExternalPath is the path printed in violations; empty means the
	// file's name.
	ExternalPath string
	// Descriptor, when set for every file of an image, is used instead of
	// linking Proto again. It must be the linked form of Proto.
	Descriptor protoreflect.FileDescriptor
}

// ImageFromSet returns an image of the set's files, all targets.
func ImageFromSet(set *descriptorpb.FileDescriptorSet) Image {
	var img Image
	for _, f := range set.GetFile() {
		img.Files = append(img.Files, ImageFile{Proto: f})
	}
	return img
}

// ImageFromDescriptors returns an image of the given files and, marked as
// imports, everything they import.
func ImageFromDescriptors(fds []protoreflect.FileDescriptor) Image {
	var img Image
	seen := map[string]bool{}
	for _, fd := range fds {
		seen[fd.Path()] = true
		img.Files = append(img.Files, ImageFile{Proto: protodesc.ToFileDescriptorProto(fd), Descriptor: fd})
	}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			dep := imps.Get(i).FileDescriptor
			if dep == nil || seen[dep.Path()] {
				continue
			}
			seen[dep.Path()] = true
			img.Files = append(img.Files, ImageFile{Proto: protodesc.ToFileDescriptorProto(dep), Import: true, Descriptor: dep})
			visit(dep)
		}
	}
	for _, fd := range fds {
		visit(fd)
	}
	return img
}

func pathKey(p []int32) string {
	b := make([]byte, len(p)*4)
	for i, e := range p {
		binary.LittleEndian.PutUint32(b[i*4:], uint32(e))
	}
	return string(b)
}

func appendPath(p []int32, elems ...int32) []int32 {
	out := make([]int32, 0, len(p)+len(elems))
	out = append(out, p...)
	return append(out, elems...)
}

// newSide links the image's files and builds the model. It fails, without
// panicking, on any set protodesc rejects: missing imports, duplicate
// names, bad references.
func newSide(img Image, what string) (*side, error) {
	set := &descriptorpb.FileDescriptorSet{}
	s := &side{byPath: map[string]*file{}}
	for i, f := range img.Files {
		if f.Proto == nil {
			return nil, fmt.Errorf("%s image: file #%d is nil", what, i+1)
		}
		name := f.Proto.GetName()
		if name == "" {
			return nil, fmt.Errorf("%s image: file #%d has no name", what, i+1)
		}
		if _, dup := s.byPath[name]; dup {
			return nil, fmt.Errorf("%s image: file %q appears twice", what, name)
		}
		ext := f.ExternalPath
		if ext == "" {
			ext = name
		}
		fl := &file{side: s, path: name, ext: ext, imp: f.Import, pb: f.Proto, pkg: f.Proto.GetPackage()}
		s.byPath[name] = fl
		s.files = append(s.files, fl)
		set.File = append(set.File, f.Proto)
	}
	linked := len(img.Files) > 0
	for _, f := range img.Files {
		if f.Descriptor == nil || f.Descriptor.Path() != f.Proto.GetName() {
			linked = false
			break
		}
	}
	var reg interface {
		FindFileByPath(string) (protoreflect.FileDescriptor, error)
	}
	if !linked {
		r, err := protodesc.NewFiles(set)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", what, err)
		}
		reg = r
	}
	for i, f := range s.files {
		var fd protoreflect.FileDescriptor
		if linked {
			fd = img.Files[i].Descriptor
		} else {
			var err error
			if fd, err = reg.FindFileByPath(f.path); err != nil {
				return nil, fmt.Errorf("%s image: %w", what, err)
			}
		}
		f.fd = fd
		if err := f.build(); err != nil {
			return nil, fmt.Errorf("%s image: %s: %w", what, f.path, err)
		}
	}
	return s, nil
}

func (f *file) build() error {
	f.locList = f.pb.GetSourceCodeInfo().GetLocation()
	f.locs = make(map[string]*descriptorpb.SourceCodeInfo_Location, len(f.locList))
	for _, l := range f.locList {
		k := pathKey(l.GetPath())
		if _, ok := f.locs[k]; !ok {
			f.locs[k] = l
		}
	}
	switch f.pb.GetSyntax() {
	case "", "proto2", "proto3", "editions":
	default:
		return fmt.Errorf("unknown syntax: %q", f.pb.GetSyntax())
	}
	fd := f.fd
	for i, ep := range f.pb.GetEnumType() {
		f.enums = append(f.enums, f.newEnum(ep, fd.Enums().Get(i), []int32{5, int32(i)}, nil))
	}
	for i, mp := range f.pb.GetMessageType() {
		m, err := f.newMessage(mp, fd.Messages().Get(i), []int32{4, int32(i)}, nil)
		if err != nil {
			return err
		}
		f.messages = append(f.messages, m)
	}
	for i, sp := range f.pb.GetService() {
		sd := fd.Services().Get(i)
		sv := &service{file: f, pb: sp, sd: sd, path: []int32{6, int32(i)}, name: sp.GetName(), full: qualify(f.pkg, sp.GetName())}
		for j, mp := range sp.GetMethod() {
			sv.methods = append(sv.methods, &method{
				service: sv, pb: mp, md: sd.Methods().Get(j), path: []int32{6, int32(i), 2, int32(j)},
				name: mp.GetName(), input: strings.TrimPrefix(mp.GetInputType(), "."), output: strings.TrimPrefix(mp.GetOutputType(), "."),
			})
		}
		f.services = append(f.services, sv)
	}
	for i, xp := range f.pb.GetExtension() {
		f.extensions = append(f.extensions, f.newField(xp, fd.Extensions().Get(i), []int32{7, int32(i)}, nil, true, nil))
	}
	return nil
}

func qualify(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

func (f *file) newEnum(ep *descriptorpb.EnumDescriptorProto, ed protoreflect.EnumDescriptor, p []int32, parent *message) *enum {
	e := &enum{file: f, parent: parent, pb: ep, ed: ed, path: p, name: ep.GetName()}
	e.nested = e.name
	if parent != nil {
		e.nested = parent.nested + "." + e.name
	}
	e.full = qualify(f.pkg, e.nested)
	for i, vp := range ep.GetValue() {
		e.values = append(e.values, &enumValue{enum: e, pb: vp, path: appendPath(p, 2, int32(i)), name: vp.GetName(), number: vp.GetNumber()})
	}
	return e
}

func (f *file) newMessage(mp *descriptorpb.DescriptorProto, md protoreflect.MessageDescriptor, p []int32, parent *message) (*message, error) {
	m := &message{file: f, parent: parent, pb: mp, md: md, path: p, name: mp.GetName()}
	m.nested = m.name
	if parent != nil {
		m.nested = parent.nested + "." + m.name
	}
	m.full = qualify(f.pkg, m.nested)
	for i, op := range mp.GetOneofDecl() {
		m.oneofs = append(m.oneofs, &oneof{msg: m, pb: op, od: md.Oneofs().Get(i), path: appendPath(p, 8, int32(i)), name: op.GetName()})
	}
	for i, fp := range mp.GetField() {
		var o *oneof
		if fp.OneofIndex != nil {
			idx := int(fp.GetOneofIndex())
			if idx < 0 || idx >= len(m.oneofs) {
				return nil, fmt.Errorf("no oneof for index %d", idx)
			}
			o = m.oneofs[idx]
		}
		m.fields = append(m.fields, f.newField(fp, md.Fields().Get(i), appendPath(p, 2, int32(i)), m, false, o))
	}
	for i, xp := range mp.GetExtension() {
		m.extensions = append(m.extensions, f.newField(xp, md.Extensions().Get(i), appendPath(p, 6, int32(i)), m, true, nil))
	}
	for i, ep := range mp.GetEnumType() {
		m.enums = append(m.enums, f.newEnum(ep, md.Enums().Get(i), appendPath(p, 4, int32(i)), m))
	}
	for i, np := range mp.GetNestedType() {
		n, err := f.newMessage(np, md.Messages().Get(i), appendPath(p, 3, int32(i)), m)
		if err != nil {
			return nil, err
		}
		m.messages = append(m.messages, n)
	}
	return m, nil
}

func (f *file) newField(fp *descriptorpb.FieldDescriptorProto, fd protoreflect.FieldDescriptor, p []int32, parent *message, isExt bool, o *oneof) *field {
	fl := &field{
		file: f, parent: parent, pb: fp, fd: fd, path: p, name: fp.GetName(), isExt: isExt,
		extendee: strings.TrimPrefix(fp.GetExtendee(), "."),
		typeName: strings.TrimPrefix(fp.GetTypeName(), "."),
		oneof:    o,
	}
	fl.nested = fl.name
	if parent != nil {
		fl.nested = parent.nested + "." + fl.name
	}
	fl.full = qualify(f.pkg, fl.nested)
	return fl
}

// loc is a source location that exists in a file's source code info.
type loc struct {
	f    *file
	path []int32
}

// at returns the location of path in f, or nil when the source code info
// has no entry for exactly that path.
func (f *file) at(p []int32) *loc {
	if len(p) == 0 || len(f.locList) == 0 {
		return nil
	}
	if _, ok := f.locs[pathKey(p)]; !ok {
		return nil
	}
	return &loc{f: f, path: p}
}

// optionAt returns the location of an option path (options path, option
// field number, then extra path), falling back, like buf, to the closest
// recorded ancestor that reaches at least the option field, or to the
// first recorded location inside the path.
func (f *file) optionAt(optionsPath []int32, fieldNumber int32, extra ...int32) *loc {
	p := appendPath(optionsPath, fieldNumber)
	extLen := len(p)
	p = append(p, extra...)
	if l := f.at(p); l != nil {
		return l
	}
	var best []int32
	for _, sl := range f.locList {
		lp := sl.GetPath()
		if len(lp) >= extLen && hasPrefix(p, lp) && len(lp) > len(best) {
			best = lp
		} else if hasPrefix(lp, p) {
			return &loc{f: f, path: lp}
		}
	}
	if best != nil {
		return &loc{f: f, path: best}
	}
	return nil
}

func hasPrefix(p, prefix []int32) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

func firstLoc(ls ...*loc) *loc {
	for _, l := range ls {
		if l != nil {
			return l
		}
	}
	return nil
}

// span returns the 0-based span of path; ok is false when absent.
func (f *file) span(p []int32) (startLine, startCol, endLine, endCol int, ok bool) {
	sl, found := f.locs[pathKey(p)]
	if !found {
		return 0, 0, 0, 0, false
	}
	s := sl.GetSpan()
	switch len(s) {
	case 3:
		return int(s[0]), int(s[1]), int(s[0]), int(s[2]), true
	case 4:
		return int(s[0]), int(s[1]), int(s[2]), int(s[3]), true
	default:
		return 0, 0, 0, 0, true
	}
}

// Element locations, following buf's accessors.

func (m *message) location() *loc {
	if l := m.file.at(m.path); l != nil {
		return l
	}
	return m.mapEntryLocation()
}

func (m *message) mapEntryLocation() *loc {
	if !m.pb.GetOptions().GetMapEntry() || m.parent == nil || len(m.file.locList) == 0 {
		return nil
	}
	for _, f := range m.parent.fields {
		if f.pb.GetType() == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE &&
			f.pb.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED &&
			f.typeName == m.full {
			return f.typeNameLocation()
		}
	}
	return nil
}

func (f *field) mapEntryLocation() *loc {
	if f.parent == nil {
		return nil
	}
	return f.parent.mapEntryLocation()
}

func (f *field) location() *loc {
	if l := f.file.at(f.path); l != nil {
		return l
	}
	return f.mapEntryLocation()
}

func (f *field) nameLocation() *loc {
	if l := f.file.at(appendPath(f.path, 1)); l != nil {
		return l
	}
	return f.location()
}

func (f *field) typeLocation() *loc {
	if l := f.file.at(appendPath(f.path, 5)); l != nil {
		return l
	}
	return f.mapEntryLocation()
}

func (f *field) typeNameLocation() *loc {
	if l := f.file.at(appendPath(f.path, 6)); l != nil {
		return l
	}
	return f.mapEntryLocation()
}

func (f *field) optionsPath() []int32 { return appendPath(f.path, 8) }

func (e *enum) location() *loc       { return e.file.at(e.path) }
func (s *service) location() *loc    { return s.file.at(s.path) }
func (m *method) location() *loc     { return m.service.file.at(m.path) }
func (v *enumValue) numberLoc() *loc { return v.enum.file.at(appendPath(v.path, 2)) }

// syntaxLocation is the location of the syntax statement. Editions files
// record their edition statement at the edition field (14) in some
// compilers and at the syntax field (12) in buf's; both are accepted.
func (f *file) syntaxLocation() *loc {
	if l := f.at([]int32{12}); l != nil {
		return l
	}
	if f.pb.GetSyntax() == "editions" {
		return f.at([]int32{14})
	}
	return nil
}

// forEachMessage visits the file's messages depth-first in declaration
// order.
func (f *file) forEachMessage(fn func(*message)) {
	var walk func([]*message)
	walk = func(ms []*message) {
		for _, m := range ms {
			fn(m)
			walk(m.messages)
		}
	}
	walk(f.messages)
}

func (f *file) forEachEnum(fn func(*enum)) {
	for _, e := range f.enums {
		fn(e)
	}
	f.forEachMessage(func(m *message) {
		for _, e := range m.enums {
			fn(e)
		}
	})
}

func (f *file) forEachExtension(fn func(*field)) {
	for _, x := range f.extensions {
		fn(x)
	}
	f.forEachMessage(func(m *message) {
		for _, x := range m.extensions {
			fn(x)
		}
	})
}
