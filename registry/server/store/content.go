package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// IsBuiltinFile reports whether path is built into the registry: the
// well-known types and the rest of google/protobuf/, the googleapis files
// under google/api/ (google.api.http annotations and their kin, which the
// gateway reads; no module owns package google.api), and the natsrpc
// options. Built-in files are never a module's own; as imports they are
// accepted whatever their content (their digest is recorded).
func IsBuiltinFile(path string) bool { return descset.IsBuiltinFile(path) }

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

// decodeSet parses a serialized FileDescriptorSet.
func decodeSet(data []byte, lim limits) (*descriptorpb.FileDescriptorSet, error) {
	if lim.maxSetBytes > 0 && len(data) > lim.maxSetBytes {
		return nil, invalidf("descriptor set is %d bytes; the registry accepts at most %d", len(data), lim.maxSetBytes)
	}
	set, err := descset.Unmarshal(data)
	if err != nil {
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
		isImport, hasMarker, err := descset.Canonicalize(fd)
		if err != nil {
			return nil, invalidf("%w", err)
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
	c.set = &descriptorpb.FileDescriptorSet{File: descset.Sort(c.byPath)}
	files, err := protodesc.NewFiles(c.set)
	if err != nil {
		return nil, invalidf("descriptor set is invalid: %w", err)
	}
	c.files = files
	// Digests.
	ownFiles := make([]*descriptorpb.FileDescriptorProto, 0, len(c.own))
	for _, p := range c.own {
		ownFiles = append(ownFiles, c.byPath[p])
	}
	if c.digest, err = descset.Digest(ownFiles); err != nil {
		return nil, internalf("encode descriptors: %w", err)
	}
	c.fileDigests = map[string]string{}
	for p, fd := range c.byPath {
		d, err := descset.FileDigest(fd)
		if err != nil {
			return nil, internalf("encode descriptors: %w", err)
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
	b, err := descset.Marshal(m)
	if err != nil {
		return nil, internalf("encode descriptors: %w", err)
	}
	return b, nil
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

// prune trims c to what symbols need (see [descset.Prune]); an unknown
// symbol is not_found.
func prune(c *content, symbols []string) (*descriptorpb.FileDescriptorSet, error) {
	set, err := descset.Prune(c.set, c.files, symbols)
	if err != nil {
		if u, ok := errors.AsType[*descset.UnknownSymbolError](err); ok {
			return nil, notFoundf("%s", u.Error())
		}
		return nil, internalf("%w", err)
	}
	return set, nil
}

// contentWeight is what the content cache counts for c: an upper bound of
// the memory a parsed version holds. Measured on the gaming module
// (TestContentWeightBoundsItsMemory), the decoded descriptors, their
// protoregistry files and indexes hold 20 times the serialized set
// without source info (142 KB -> 2.9 MB) and 14 times with it (462 KB ->
// 6.5 MB); 32 times leaves room for other shapes of schema.
func contentWeight(c *content) int64 {
	return 32 * int64(len(c.blob))
}
