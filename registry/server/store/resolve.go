package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/descset"
)

// SymbolKind is what kind of element a symbol names.
type SymbolKind int

const (
	// SymbolPackage is a proto package.
	SymbolPackage SymbolKind = iota + 1
	// SymbolMessage is a message.
	SymbolMessage
	// SymbolField is a message field.
	SymbolField
	// SymbolOneof is a oneof.
	SymbolOneof
	// SymbolEnum is an enum.
	SymbolEnum
	// SymbolEnumValue is an enum value.
	SymbolEnumValue
	// SymbolService is a service.
	SymbolService
	// SymbolMethod is a method.
	SymbolMethod
	// SymbolExtension is an extension field.
	SymbolExtension
)

// String returns the kind's lower-case name.
func (k SymbolKind) String() string {
	switch k {
	case SymbolPackage:
		return "package"
	case SymbolMessage:
		return "message"
	case SymbolField:
		return "field"
	case SymbolOneof:
		return "oneof"
	case SymbolEnum:
		return "enum"
	case SymbolEnumValue:
		return "enum_value"
	case SymbolService:
		return "service"
	case SymbolMethod:
		return "method"
	case SymbolExtension:
		return "extension"
	default:
		return fmt.Sprintf("symbol_kind(%d)", int(k))
	}
}

func kindOf(d protoreflect.Descriptor) SymbolKind {
	switch d := d.(type) {
	case protoreflect.MessageDescriptor:
		return SymbolMessage
	case protoreflect.FieldDescriptor:
		if d.IsExtension() {
			return SymbolExtension
		}
		return SymbolField
	case protoreflect.OneofDescriptor:
		return SymbolOneof
	case protoreflect.EnumDescriptor:
		return SymbolEnum
	case protoreflect.EnumValueDescriptor:
		return SymbolEnumValue
	case protoreflect.ServiceDescriptor:
		return SymbolService
	case protoreflect.MethodDescriptor:
		return SymbolMethod
	}
	return 0
}

// SymbolRequest names a symbol to resolve.
type SymbolRequest struct {
	// Symbol is a fully-qualified name, e.g. "gaming.quest_system.v1.Quest".
	Symbol string
	// Module restricts the lookup to one module; empty finds the module
	// that owns the symbol's package (or a built-in file).
	Module string
	// Version is the version to look in; 0 means the latest. Needs Module.
	Version uint64
	// ExcludeSourceInfo drops comments and positions.
	ExcludeSourceInfo bool
	// MaxInlineBytes is as in [GetRequest].
	MaxInlineBytes int64
}

// SymbolResult is where a symbol is defined.
type SymbolResult struct {
	// Module is the module the symbol was found in; empty for built-in
	// files.
	Module string
	// Version is the version the symbol was found in; 0 for built-in
	// files.
	Version uint64
	// File is the path of the file that defines the symbol (for a package,
	// the first of its files).
	File string
	// Kind is what the symbol names.
	Kind SymbolKind
	// Content holds the defining file(s) and their transitive imports,
	// dependencies first.
	Content
}

// ResolveSymbol returns the file that defines a fully-qualified symbol,
// with its transitive dependencies (gRPC reflection's
// file_containing_symbol). Without a module, the symbol's package decides
// the module, and the module's latest version is searched.
func (r *Registry) ResolveSymbol(ctx context.Context, req SymbolRequest) (*SymbolResult, error) {
	sym := strings.TrimPrefix(req.Symbol, ".")
	if err := validateSymbol(sym); err != nil {
		return nil, err
	}
	if req.Module != "" {
		rec, err := r.resolveVersion(ctx, req.Module, req.Version)
		if err != nil {
			return nil, err
		}
		c, err := r.content(ctx, rec)
		if err != nil {
			return nil, err
		}
		res, ok, err := r.findSymbol(ctx, c, sym, req)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFoundf("symbol %q is not defined in %s@%d or its imports", sym, rec.Module, rec.Version)
		}
		res.Module, res.Version = rec.Module, rec.Version
		return res, nil
	}
	if req.Version != 0 {
		return nil, invalidf("a version needs a module; name the module or drop the version")
	}
	// The candidate packages are the symbol's prefixes, longest first.
	var candidates []string
	for p := sym; p != ""; {
		candidates = append(candidates, p)
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	// owner is the module whose latest version declares the longest
	// candidate package, when the symbol is not found: the module the
	// symbol would belong to.
	var owner *versionRecord
	var ownerPkg string
	for _, fresh := range []bool{false, true} {
		for _, pkg := range candidates {
			rec, err := r.ownerLatest(ctx, pkgKey(pkg), fresh)
			if err != nil {
				return nil, err
			}
			if rec == nil {
				continue
			}
			c, err := r.content(ctx, rec)
			if err != nil {
				return nil, err
			}
			res, ok, err := r.findSymbol(ctx, c, sym, req)
			if err != nil {
				return nil, err
			}
			if ok && c.isOwn(res.File) {
				res.Module, res.Version = rec.Module, rec.Version
				return res, nil
			}
			// The index is a hint: only a latest version that declares
			// the package makes its module the owner.
			if _, declared := slices.BinarySearch(c.packages, pkg); declared && (owner == nil || len(pkg) > len(ownerPkg)) {
				owner, ownerPkg = rec, pkg
			}
		}
	}
	if res, ok, err := r.builtinSymbol(ctx, sym, req); err != nil || ok {
		return res, err
	}
	if owner != nil {
		return nil, notFoundf("symbol %q is not in the latest version of module %q (%s@%d), which owns package %q; check the spelling, or name the module and an earlier version that has it", sym, owner.Module, owner.Module, owner.Version, ownerPkg)
	}
	return nil, notFoundf("symbol %q is not defined in any module (no module owns a package it could belong to); check the spelling, or name the module", sym)
}

func validateSymbol(s string) error {
	if s == "" {
		return invalidf("symbol is empty; give a fully-qualified name such as \"gaming.quest_system.v1.Quest\"")
	}
	if len(s) > 1024 {
		return invalidf("symbol is %d bytes long; the registry accepts names up to 1024 bytes", len(s))
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return invalidf("symbol %q has an empty name part; give a fully-qualified name such as \"gaming.quest_system.v1.Quest\"", s)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return invalidf("symbol %q contains %q; proto names use letters, digits and \"_\"", s, rune(c))
			}
		}
	}
	return nil
}

// ownerHint reads an index key through an in-memory cache of hints.
// Callers verify every hint against the version content; fresh bypasses
// the cache (and refreshes it).
func (r *Registry) ownerHint(ctx context.Context, key string, fresh bool) (*ownerRecord, error) {
	if !fresh {
		if v, ok := r.owners.Load(key); ok {
			return v.(*ownerRecord), nil
		}
		return nil, nil
	}
	o, _, err := r.readOwner(ctx, key)
	if err != nil {
		return nil, err
	}
	if o != nil {
		r.owners.Store(key, o)
	} else {
		r.owners.Delete(key)
	}
	return o, nil
}

// ownerLatest returns the latest version of the module an index key
// names: nil when the key is unset or the module has no version any more.
// The hint comes from the cache unless fresh (see ownerHint); callers
// verify it against the version's content.
func (r *Registry) ownerLatest(ctx context.Context, key string, fresh bool) (*versionRecord, error) {
	o, err := r.ownerHint(ctx, key, fresh)
	if err != nil || o == nil {
		return nil, err
	}
	rec, err := r.latest(ctx, o.Module)
	if IsNotFound(err) {
		return nil, nil
	}
	return rec, err
}

// findSymbol looks sym up in c: a descriptor, or a package declared by
// some file.
func (r *Registry) findSymbol(ctx context.Context, c *content, sym string, req SymbolRequest) (*SymbolResult, bool, error) {
	if d, err := c.files.FindDescriptorByName(protoreflect.FullName(sym)); err == nil {
		file := d.ParentFile().Path()
		out, err := r.closureOutput(ctx, c, []string{file}, req.ExcludeSourceInfo, req.MaxInlineBytes)
		if err != nil {
			return nil, false, err
		}
		return &SymbolResult{File: file, Kind: kindOf(d), Content: out}, true, nil
	}
	var files []string
	for _, fd := range c.set.GetFile() {
		if fd.GetPackage() == sym {
			files = append(files, fd.GetName())
		}
	}
	if len(files) == 0 {
		return nil, false, nil
	}
	out, err := r.closureOutput(ctx, c, files, req.ExcludeSourceInfo, req.MaxInlineBytes)
	if err != nil {
		return nil, false, err
	}
	return &SymbolResult{File: files[0], Kind: SymbolPackage, Content: out}, true, nil
}

// closureOutput returns roots and their transitive imports. The serialized
// sets are cached: content is immutable, so they never go stale.
func (r *Registry) closureOutput(ctx context.Context, c *content, roots []string, excludeSourceInfo bool, maxInline int64) (Content, error) {
	key := c.blobSHA + "|" + strings.Join(roots, "|") + "|" + strconv.FormatBool(excludeSourceInfo)
	data, ok := r.closures.get(key)
	if !ok {
		var err error
		data, err = serialize(&descriptorpb.FileDescriptorSet{File: descset.ClosureByPath(c.byPath, roots...)}, excludeSourceInfo)
		if err != nil {
			return Content{}, err
		}
		r.closures.add(key, data)
	}
	return r.output(ctx, data, maxInline, nil)
}

// builtinSymbol resolves sym in the files built into the registry.
func (r *Registry) builtinSymbol(ctx context.Context, sym string, req SymbolRequest) (*SymbolResult, bool, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sym))
	if err != nil || !IsBuiltinFile(d.ParentFile().Path()) {
		return nil, false, nil
	}
	out, err := r.builtinOutput(ctx, d.ParentFile().Path(), req.ExcludeSourceInfo, req.MaxInlineBytes)
	if err != nil {
		return nil, false, err
	}
	return &SymbolResult{File: d.ParentFile().Path(), Kind: kindOf(d), Content: out}, true, nil
}

func (r *Registry) builtinOutput(ctx context.Context, path string, excludeSourceInfo bool, maxInline int64) (Content, error) {
	byPath := map[string]*descriptorpb.FileDescriptorProto{}
	var add func(p string) error
	add = func(p string) error {
		if byPath[p] != nil {
			return nil
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
		if err != nil {
			return internalf("built-in file %q: %w", p, err)
		}
		byPath[p] = protodesc.ToFileDescriptorProto(fd)
		for i := 0; i < fd.Imports().Len(); i++ {
			if err := add(fd.Imports().Get(i).Path()); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(path); err != nil {
		return Content{}, err
	}
	data, err := serialize(&descriptorpb.FileDescriptorSet{File: descset.Sort(byPath)}, excludeSourceInfo)
	if err != nil {
		return Content{}, err
	}
	return r.output(ctx, data, maxInline, nil)
}

// FileRequest names a file to resolve.
type FileRequest struct {
	// File is the file's path, e.g. "gaming/common/v1/common.proto".
	File string
	// Module restricts the lookup to one module; empty finds the module
	// that owns the file (or a built-in file).
	Module string
	// Version is the version to look in; 0 means the latest. Needs Module.
	Version uint64
	// ExcludeSourceInfo drops comments and positions.
	ExcludeSourceInfo bool
	// MaxInlineBytes is as in [GetRequest].
	MaxInlineBytes int64
}

// FileResult is a file with its dependencies.
type FileResult struct {
	// Module is the module the file was found in; empty for built-in
	// files.
	Module string
	// Version is the version the file was found in; 0 for built-in files.
	Version uint64
	// Content holds the file and its transitive imports, dependencies
	// first (the file last).
	Content
}

// ResolveFile returns a file by path with its transitive dependencies
// (gRPC reflection's file_by_filename). Without a module, the module that
// owns the path is searched at its latest version; built-in files are
// served from the registry's own copies.
func (r *Registry) ResolveFile(ctx context.Context, req FileRequest) (*FileResult, error) {
	if err := validateFilePath(req.File); err != nil {
		return nil, invalidf("%w", err)
	}
	if req.Module != "" {
		rec, err := r.resolveVersion(ctx, req.Module, req.Version)
		if err != nil {
			return nil, err
		}
		c, err := r.content(ctx, rec)
		if err != nil {
			return nil, err
		}
		if _, ok := c.byPath[req.File]; !ok {
			return nil, notFoundf("file %q is not in %s@%d or its imports", req.File, rec.Module, rec.Version)
		}
		out, err := r.closureOutput(ctx, c, []string{req.File}, req.ExcludeSourceInfo, req.MaxInlineBytes)
		if err != nil {
			return nil, err
		}
		return &FileResult{Module: rec.Module, Version: rec.Version, Content: out}, nil
	}
	if req.Version != 0 {
		return nil, invalidf("a version needs a module; name the module or drop the version")
	}
	for _, fresh := range []bool{false, true} {
		rec, err := r.ownerLatest(ctx, fileKey(req.File), fresh)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue
		}
		if _, ok := rec.fileDigest(req.File); !ok {
			continue
		}
		c, err := r.content(ctx, rec)
		if err != nil {
			return nil, err
		}
		out, err := r.closureOutput(ctx, c, []string{req.File}, req.ExcludeSourceInfo, req.MaxInlineBytes)
		if err != nil {
			return nil, err
		}
		return &FileResult{Module: rec.Module, Version: rec.Version, Content: out}, nil
	}
	if IsBuiltinFile(req.File) {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(req.File); err == nil {
			out, err := r.builtinOutput(ctx, req.File, req.ExcludeSourceInfo, req.MaxInlineBytes)
			if err != nil {
				return nil, err
			}
			return &FileResult{Content: out}, nil
		}
	}
	return nil, notFoundf("file %q belongs to no module; check the path (it is the import path, e.g. \"gaming/common/v1/common.proto\"), or name the module that imports it", req.File)
}

// SubjectRequest names a NATS subject to resolve.
type SubjectRequest struct {
	// Subject is a literal subject a request or event was sent on. When no
	// method listens on it exactly, leading tokens are dropped one at a
	// time, so a subject with a deployment prefix still resolves.
	Subject string
	// IncludeFiles also returns the file that defines the service and its
	// imports.
	IncludeFiles bool
	// ExcludeSourceInfo drops comments and positions from those files.
	ExcludeSourceInfo bool
	// MaxInlineBytes is as in [GetRequest].
	MaxInlineBytes int64
}

// SubjectResult is the method a subject belongs to.
type SubjectResult struct {
	// Module is the module that defines the service.
	Module string
	// Version is the module's latest version, which the answer comes from.
	Version uint64
	// Service is the service's fully-qualified name.
	Service string
	// Method is the method's name.
	Method string
	// Kind is how the method travels.
	Kind natsrpc.MethodKind
	// RequestType and ResponseType are the fully-qualified message names.
	RequestType, ResponseType string
	// Subject is the method's subject as the schema declares it.
	Subject string
	// Prefix is what preceded Subject in the requested subject (without
	// the joining dot); empty for an exact match.
	Prefix string
	// QueueGroup is the queue group of the method's handlers; empty for
	// none.
	QueueGroup string
	// File is the path of the file that defines the service.
	File string
	// Content holds File and its imports when IncludeFiles was set.
	Content
}

// ResolveSubject returns the service method that listens on a NATS
// subject, from the latest version of the module that owns the subject.
func (r *Registry) ResolveSubject(ctx context.Context, req SubjectRequest) (*SubjectResult, error) {
	s := req.Subject
	if len(s) > 4096 {
		return nil, invalidf("subject is %d bytes long; NATS subjects of natsrpc methods are shorter", len(s))
	}
	tokens := strings.Split(s, ".")
	for _, t := range tokens {
		if t == "" || strings.ContainsAny(t, "*> \t\r\n") {
			return nil, invalidf("subject %q is not a literal NATS subject (empty token, wildcard or whitespace); give the subject a message was sent on", s)
		}
	}
	for _, fresh := range []bool{false, true} {
		for i := range tokens {
			candidate := strings.Join(tokens[i:], ".")
			rec, err := r.ownerLatest(ctx, subjKey(candidate), fresh)
			if err != nil {
				return nil, err
			}
			if rec == nil {
				continue
			}
			c, err := r.content(ctx, rec)
			if err != nil {
				return nil, err
			}
			info, ok := c.subjects[candidate]
			if !ok {
				continue
			}
			m := info.method
			res := &SubjectResult{
				Module:       rec.Module,
				Version:      rec.Version,
				Service:      m.Service.FullName,
				Method:       m.Name,
				Kind:         natsrpc.MethodKind(m.Kind),
				RequestType:  string(m.Desc.Input().FullName()),
				ResponseType: string(m.Desc.Output().FullName()),
				Subject:      candidate,
				Prefix:       strings.Join(tokens[:i], "."),
				QueueGroup:   m.QueueGroup,
				File:         info.file,
			}
			if req.IncludeFiles {
				if res.Content, err = r.closureOutput(ctx, c, []string{info.file}, req.ExcludeSourceInfo, req.MaxInlineBytes); err != nil {
					return nil, err
				}
			}
			return res, nil
		}
	}
	return nil, notFoundf("no method of any module listens on subject %q", s)
}
