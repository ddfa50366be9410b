package registry

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/protoset"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// bufImageExtensionField is the field number of buf's ImageFileExtension
// on an image's FileDescriptorProto (buf.alpha.image.v1.ImageFile); its
// field 1 is is_import.
const bufImageExtensionField = 8042

// natsrpcOptionsFile is the natsrpc options file, built into the registry.
const natsrpcOptionsFile = "natsrpc/v1/options.proto"

// IsBuiltinFile reports whether path is built into the registry: the
// well-known types and the rest of google/protobuf/, the googleapis files
// under google/api/ (google.api.http annotations and their kin, which the
// gateway reads; no module owns package google.api), and the natsrpc
// options. Built-in files are never a module's own; as imports they are
// accepted whatever their content (their digest is recorded).
func IsBuiltinFile(path string) bool {
	return strings.HasPrefix(path, "google/protobuf/") || strings.HasPrefix(path, googleAPIDir) || path == natsrpcOptionsFile
}

// googleAPIDir holds the googleapis files the registry treats like the
// well-known types; their descriptors are linked in (googleapis.go).
const googleAPIDir = "google/api/"

// isReservedPackage reports whether pkg belongs to the built-in files.
func isReservedPackage(pkg string) bool {
	return pkg == "google.protobuf" || strings.HasPrefix(pkg, "google.protobuf.") ||
		pkg == "google.api" || strings.HasPrefix(pkg, "google.api.") || pkg == "natsrpc.v1"
}

// maxPackageLength is the longest package name an own file may declare,
// protoc's limit.
const maxPackageLength = 511

// limits bounds what a push may contain.
type limits struct {
	maxSetBytes int
	maxFiles    int
}

// content is a descriptor set, validated and in canonical form, with
// everything the registry derives from it.
type content struct {
	// set holds the canonical files, dependencies first (ties by path).
	set *descriptorpb.FileDescriptorSet
	// byPath indexes set.
	byPath map[string]*descriptorpb.FileDescriptorProto
	// own are the module's own files, sorted.
	own []string
	// files is set as a registry.
	files *protoregistry.Files
	// digest is "sha256:<hex>" over the own files.
	digest string
	// fileDigests holds every file's digest without source info.
	fileDigests map[string]string
	// packages are the own files' packages, sorted.
	packages []string
	// subjects maps each NATS subject of the own files' methods to the
	// method.
	subjects map[string]*subjectInfo
	// blob is the canonical serialized set; blobSHA its sha256 (hex).
	blob    []byte
	blobSHA string
}

// subjectInfo is one method's NATS subject in a content.
type subjectInfo struct {
	method *spec.Method
	file   string
	// path is the method's source path: [6, service index, 2, method index].
	path []int32
}

func (c *content) isOwn(path string) bool {
	_, ok := slices.BinarySearch(c.own, path)
	return ok
}

func (c *content) snapshot(module string, version uint64) *Snapshot {
	return &Snapshot{Module: module, Version: version, Digest: c.digest, Set: c.set, Own: c.own, files: c.files}
}

// emptyTypes resolves no extension, so that every custom option stays an
// unknown field of its options message, whatever extensions this binary
// links. That keeps the canonical form independent of the binary.
var emptyTypes = new(protoregistry.Types)

// decodeSet parses a serialized FileDescriptorSet.
func decodeSet(data []byte, lim limits) (*descriptorpb.FileDescriptorSet, error) {
	if lim.maxSetBytes > 0 && len(data) > lim.maxSetBytes {
		return nil, invalidf("descriptor set is %d bytes; the registry accepts at most %d", len(data), lim.maxSetBytes)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := (proto.UnmarshalOptions{Resolver: emptyTypes}).Unmarshal(data, set); err != nil {
		return nil, invalidf("descriptor set is not a serialized google.protobuf.FileDescriptorSet: %w", err)
	}
	return set, nil
}

// newContent validates set, brings it into canonical form and derives the
// registry's view of it. own lists the module's own files; when nil, buf's
// image markers decide, and without markers every non-built-in file is
// own. set is modified.
//
// A push is strict: a service whose natsrpc options are invalid fails it.
// Stored content is loaded leniently (such a service just has no
// subjects), so that a later, stricter registry can still read every
// version it ever accepted.
func newContent(set *descriptorpb.FileDescriptorSet, own []string, lim limits, strict bool) (*content, error) {
	if len(set.GetFile()) == 0 {
		return nil, invalidf("descriptor set has no files")
	}
	if lim.maxFiles > 0 && len(set.GetFile()) > lim.maxFiles {
		return nil, invalidf("descriptor set has %d files; the registry accepts at most %d", len(set.GetFile()), lim.maxFiles)
	}
	if len(set.ProtoReflect().GetUnknown()) > 0 {
		return nil, invalidf("descriptor set has unknown fields; send a plain google.protobuf.FileDescriptorSet")
	}
	c := &content{byPath: map[string]*descriptorpb.FileDescriptorProto{}}
	markedImport := map[string]bool{}
	marked := false
	for i, fd := range set.GetFile() {
		name := fd.GetName()
		if err := validateFilePath(name); err != nil {
			return nil, invalidf("file %d of the descriptor set: %w", i+1, err)
		}
		if _, dup := c.byPath[name]; dup {
			return nil, invalidf("file %q is in the descriptor set twice", name)
		}
		c.byPath[name] = fd
		isImport, hasMarker, err := canonicalizeFile(fd)
		if err != nil {
			return nil, err
		}
		if hasMarker {
			marked = true
			markedImport[name] = isImport
		}
	}
	for _, fd := range set.GetFile() {
		for _, dep := range fd.GetDependency() {
			if _, ok := c.byPath[dep]; !ok {
				return nil, invalidf("file %q imports %q, which is not in the descriptor set; include every import (buf build does; with protoc pass --include_imports)", fd.GetName(), dep)
			}
		}
	}
	// Own files.
	switch {
	case len(own) > 0:
		seen := map[string]bool{}
		for _, p := range own {
			if _, ok := c.byPath[p]; !ok {
				return nil, invalidf("own file %q is not in the descriptor set", p)
			}
			if IsBuiltinFile(p) {
				return nil, invalidf("file %q is built into the registry (well-known types, google/api and natsrpc options) and cannot be a module's own file", p)
			}
			if !seen[p] {
				seen[p] = true
				c.own = append(c.own, p)
			}
		}
	case marked:
		for p := range c.byPath {
			if imp, ok := markedImport[p]; ok && !imp && !IsBuiltinFile(p) {
				c.own = append(c.own, p)
			}
		}
	default:
		for p := range c.byPath {
			if !IsBuiltinFile(p) {
				c.own = append(c.own, p)
			}
		}
	}
	if len(c.own) == 0 {
		return nil, invalidf("descriptor set has no files of the module's own (only imports and built-in files); name the module's files")
	}
	slices.Sort(c.own)
	for _, p := range c.own {
		pkg := c.byPath[p].GetPackage()
		if pkg == "" {
			return nil, invalidf("file %q declares no package; declare one (the registry assigns ownership by package)", p)
		}
		// A package becomes a KV key, part of a NATS subject; a long one
		// would make the server close the registry's connection on commit.
		// protoc and buf refuse packages this long too.
		if len(pkg) > maxPackageLength {
			return nil, invalidf("file %q declares a package of %d bytes; packages are at most %d bytes", p, len(pkg), maxPackageLength)
		}
	}
	// Dependencies first, ties by path.
	c.set = &descriptorpb.FileDescriptorSet{File: topoSort(c.byPath)}
	files, err := protodesc.NewFiles(c.set)
	if err != nil {
		return nil, invalidf("descriptor set is invalid: %w", err)
	}
	c.files = files
	// Digests.
	ownSet := &descriptorpb.FileDescriptorSet{}
	for _, p := range c.own {
		ownSet.File = append(ownSet.File, c.byPath[p])
	}
	b, err := marshalDeterministic(ownSet)
	if err != nil {
		return nil, err
	}
	c.digest = digestOf(b)
	c.fileDigests = map[string]string{}
	for p, fd := range c.byPath {
		d, err := fileDigest(fd)
		if err != nil {
			return nil, err
		}
		c.fileDigests[p] = d
	}
	if c.blob, err = marshalDeterministic(c.set); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c.blob)
	c.blobSHA = hex.EncodeToString(sum[:])
	// Packages and subjects.
	pkgs := map[string]bool{}
	c.subjects = map[string]*subjectInfo{}
	for _, p := range c.own {
		fd, err := files.FindFileByPath(p)
		if err != nil {
			return nil, internalf("file %q vanished from its own registry: %w", p, err)
		}
		pkgs[string(fd.Package())] = true
		for si := 0; si < fd.Services().Len(); si++ {
			svc, err := spec.ForService(fd.Services().Get(si))
			if err != nil {
				if !strict {
					continue
				}
				return nil, invalidf("%w", err)
			}
			for mi, m := range svc.Methods {
				if prev, ok := c.subjects[m.Subject]; ok {
					return nil, invalidf("methods %q and %q both listen on NATS subject %q; give one of them another subject with (natsrpc.v1.service).subject or (natsrpc.v1.method).subject",
						prev.method.Desc.FullName(), m.Desc.FullName(), m.Subject)
				}
				c.subjects[m.Subject] = &subjectInfo{method: m, file: p, path: []int32{6, int32(si), 2, int32(mi)}}
			}
		}
	}
	c.packages = sortedKeys(pkgs)
	return c, nil
}

// loadContent rebuilds a content from a stored blob and its own files.
func loadContent(blob []byte, own []string) (*content, error) {
	set, err := decodeSet(blob, limits{})
	if err != nil {
		return nil, err
	}
	c, err := newContent(set, own, limits{}, false)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func marshalDeterministic(m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, internalf("encode descriptors: %w", err)
	}
	return b, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fileDigest is a file's identity whoever compiled it: the digest of its
// canonical form without source info and with json_name cleared where it
// equals the default.
func fileDigest(fd *descriptorpb.FileDescriptorProto) (string, error) {
	c := proto.CloneOf(fd)
	c.SourceCodeInfo = nil
	clearDefaultJSONNames(c.GetExtension())
	var walk func(msgs []*descriptorpb.DescriptorProto)
	walk = func(msgs []*descriptorpb.DescriptorProto) {
		for _, m := range msgs {
			clearDefaultJSONNames(m.GetField())
			clearDefaultJSONNames(m.GetExtension())
			walk(m.GetNestedType())
		}
	}
	walk(c.GetMessageType())
	b, err := marshalDeterministic(c)
	if err != nil {
		return "", err
	}
	return digestOf(b), nil
}

func clearDefaultJSONNames(fields []*descriptorpb.FieldDescriptorProto) {
	for _, f := range fields {
		if f.JsonName != nil && f.GetJsonName() == protoset.DefaultJSONName(f.GetName()) {
			f.JsonName = nil
		}
	}
}

// optionsMessages are the descriptor.proto messages whose unknown fields
// are custom options (extensions), which are expected and kept.
var optionsMessages = map[protoreflect.FullName]bool{
	"google.protobuf.FileOptions":           true,
	"google.protobuf.MessageOptions":        true,
	"google.protobuf.FieldOptions":          true,
	"google.protobuf.OneofOptions":          true,
	"google.protobuf.EnumOptions":           true,
	"google.protobuf.EnumValueOptions":      true,
	"google.protobuf.ServiceOptions":        true,
	"google.protobuf.MethodOptions":         true,
	"google.protobuf.ExtensionRangeOptions": true,
	"google.protobuf.FeatureSet":            true,
}

// canonicalizeFile checks fd for unknown fields outside options messages,
// removes buf's image extension (reporting its is_import marker), and
// sorts the unknown fields (custom options) of every options message by
// field number, keeping the order of repeated values, so that two
// compilers that order custom options differently produce the same bytes.
func canonicalizeFile(fd *descriptorpb.FileDescriptorProto) (isImport, hasMarker bool, err error) {
	m := fd.ProtoReflect()
	if u := m.GetUnknown(); len(u) > 0 {
		var rest []byte
		for len(u) > 0 {
			num, typ, n := protowire.ConsumeField(u)
			if n < 0 {
				return false, false, invalidf("file %q: malformed unknown fields: %w", fd.GetName(), protowire.ParseError(n))
			}
			if num == bufImageExtensionField && typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(u[protowire.SizeTag(num):n])
				hasMarker = true
				isImport = bufIsImport(v)
			} else {
				rest = append(rest, u[:n]...)
			}
			u = u[n:]
		}
		if len(rest) > 0 {
			return false, false, invalidf("file %q has unknown fields (numbers %v) in google.protobuf.FileDescriptorProto; the registry stores only descriptor fields it understands: send descriptors from protoc, buf or protocompile", fd.GetName(), unknownNumbers(rest))
		}
		m.SetUnknown(nil)
	}
	if err := walkUnknown(m, fd.GetName(), false); err != nil {
		return false, false, err
	}
	return isImport, hasMarker, nil
}

func bufIsImport(ext []byte) bool {
	isImport := false
	for len(ext) > 0 {
		num, typ, n := protowire.ConsumeField(ext)
		if n < 0 {
			return isImport
		}
		if num == 1 && typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(ext[protowire.SizeTag(num):n])
			isImport = v != 0
		}
		ext = ext[n:]
	}
	return isImport
}

// walkUnknown visits every message below m. In options messages (and
// anything inside one) unknown fields are sorted; elsewhere they are an
// error.
func walkUnknown(m protoreflect.Message, file string, inOptions bool) error {
	var err error
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Message() == nil {
			return true
		}
		visit := func(sub protoreflect.Message) bool {
			opts := inOptions || optionsMessages[sub.Descriptor().FullName()]
			if u := sub.GetUnknown(); len(u) > 0 {
				if !opts {
					err = invalidf("file %q has unknown fields (numbers %v) in %s; the registry stores only descriptor fields it understands: send descriptors from protoc, buf or protocompile", file, unknownNumbers(u), sub.Descriptor().FullName())
					return false
				}
				sorted, serr := sortUnknown(u)
				if serr != nil {
					err = invalidf("file %q: malformed custom options in %s: %w", file, sub.Descriptor().FullName(), serr)
					return false
				}
				sub.SetUnknown(sorted)
			}
			if e := walkUnknown(sub, file, opts); e != nil {
				err = e
				return false
			}
			return true
		}
		switch {
		case f.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if !visit(l.Get(i).Message()) {
					return false
				}
			}
			return true
		case f.IsMap():
			return true
		default:
			return visit(v.Message())
		}
	})
	return err
}

func unknownNumbers(u []byte) []protowire.Number {
	var nums []protowire.Number
	for len(u) > 0 {
		num, _, n := protowire.ConsumeField(u)
		if n < 0 {
			break
		}
		if !slices.Contains(nums, num) {
			nums = append(nums, num)
		}
		u = u[n:]
	}
	return nums
}

// sortUnknown stably sorts raw fields by field number.
func sortUnknown(u []byte) (protoreflect.RawFields, error) {
	type field struct {
		num protowire.Number
		raw []byte
	}
	var fields []field
	for len(u) > 0 {
		num, _, n := protowire.ConsumeField(u)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		fields = append(fields, field{num, u[:n]})
		u = u[n:]
	}
	if slices.IsSortedFunc(fields, func(a, b field) int { return cmp.Compare(a.num, b.num) }) {
		var out []byte
		for _, f := range fields {
			out = append(out, f.raw...)
		}
		return out, nil
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].num < fields[j].num })
	var out []byte
	for _, f := range fields {
		out = append(out, f.raw...)
	}
	return out, nil
}

// topoSort orders files so that every file comes after its imports;
// among files whose order is free, by path.
func topoSort(byPath map[string]*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
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

// closure returns path and its transitive imports, dependencies first.
func closure(byPath map[string]*descriptorpb.FileDescriptorProto, roots ...string) []*descriptorpb.FileDescriptorProto {
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
	return topoSort(keep)
}

// location returns the 1-based span of the element at path in fd's source
// info; zeros when unknown.
func location(fd *descriptorpb.FileDescriptorProto, path ...int32) (line, col, endLine, endCol int) {
	for _, loc := range fd.GetSourceCodeInfo().GetLocation() {
		if !slices.Equal(loc.GetPath(), path) {
			continue
		}
		s := loc.GetSpan()
		switch len(s) {
		case 3:
			return int(s[0]) + 1, int(s[1]) + 1, int(s[0]) + 1, int(s[2]) + 1
		case 4:
			return int(s[0]) + 1, int(s[1]) + 1, int(s[2]) + 1, int(s[3]) + 1
		}
	}
	return 0, 0, 0, 0
}

func violationAt(rule string, fd *descriptorpb.FileDescriptorProto, path []int32, format string, args ...any) Violation {
	v := Violation{Rule: rule, File: fd.GetName(), Message: fmt.Sprintf(format, args...)}
	if path != nil {
		v.StartLine, v.StartColumn, v.EndLine, v.EndColumn = location(fd, path...)
	}
	return v
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
