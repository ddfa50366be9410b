// Package input loads the schemas that natsrpc commands work on: a
// directory of .proto files (with or without a buf.yaml, buf.work.yaml or v2
// workspace), a single .proto file, an image file (a FileDescriptorSet or
// buf image in binary, JSON or text form) or a commit of a local git
// repository such as ".git#branch=main,subdir=proto".
//
// Sources are compiled with protocompile, with source code info, resolving
// imports the way buf does: across the modules of a v2 buf.yaml workspace
// or a buf.work.yaml, inside the roots of a v1beta1 buf.yaml, or inside the
// directory itself; the well-known types are built in. The result is one
// [Module] per target module, each holding the module's files and, marked
// as imports, every file they import, the same split buf images make.
//
// The breaking-change checker and the registry's push command share this
// package, so both see exactly the same files.
package input

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/registry/breaking"
)

// Options tune [Load].
type Options struct {
	// WorkDir is the directory that relative inputs are resolved against
	// and that external paths are relative to. By default, the process's
	// working directory.
	WorkDir string
	// Paths, when set, limits the target files to those at or under these
	// paths, as buf's --path flag does; other files are still read as
	// imports. What a path is relative to depends on the input, as in buf:
	// the working directory (WorkDir) for directories, the subdir for git
	// inputs, and for images a path is an import path. A .proto file input
	// takes no paths. A breaking-change check gives the same paths to both
	// sides.
	Paths []string
	// ExcludePaths removes the target files at or under these paths, as
	// buf's --exclude-path flag does, relative to the same place as Paths.
	ExcludePaths []string
	// NoSourceInfo compiles without source info (comments and positions):
	// for the against side of a breaking-change check, whose findings are
	// located in the input checked, never in the side it is checked
	// against. Generating source info is about a fifth of compiling.
	NoSourceInfo bool
}

// Input is a loaded input.
type Input struct {
	// Ref is the parsed reference.
	Ref Ref
	// Config is the buf.yaml or buf.work.yaml that governs the input: the
	// controlling workspace's file, or the buf.yaml of the input directory.
	// It is nil when there is none, and always for images.
	Config *ConfigFile
	// Modules are the target modules, in the order of the workspace
	// configuration. Directory and git inputs without a workspace, and
	// images, have exactly one.
	Modules []*Module

	// opts are the options the input was loaded with.
	opts Options
	// selects, for directory and git inputs narrowed by --path or
	// --exclude-path, reports whether a file at an import path would be
	// one of the input's targets ([Input.SelectAgainst]).
	selects func(importPath string) bool
}

// ConfigFile is a buf.yaml or buf.work.yaml file.
type ConfigFile struct {
	// Path is where the file was read: a file system path, or a path
	// inside the git tree for git inputs.
	Path string
	// Version is the file's "version" key: "v1beta1", "v1" or "v2".
	Version string
	// BufYAML is the parsed buf.yaml; nil for a buf.work.yaml.
	BufYAML *breaking.BufYAML
}

// Module is one module of an input with the files it needs.
type Module struct {
	// Dir is the module directory relative to the workspace root, "." when
	// the input itself is the module.
	Dir string
	// Config is the buf.yaml that configures the module: its own v1 or
	// v1beta1 buf.yaml, or the workspace's v2 buf.yaml (whose module
	// entries and top-level sections apply by Dir). Nil when there is
	// none.
	Config *ConfigFile
	// Files are the module's target files followed by their imports
	// (Import set), each sorted by path. The imports are the transitive
	// closure, well-known types included.
	Files []*File
}

// File is one compiled or decoded file.
type File struct {
	// Path is the import path, e.g. "gaming/common/v1/common.proto".
	Path string
	// ExternalPath is the path to show users: relative to the working
	// directory for directory inputs (as buf prints it), the repository
	// path for git inputs, the import path for images and well-known
	// types.
	ExternalPath string
	// Import is true when the file is not a target of the module but is
	// needed by one.
	Import bool
	// Proto is the file's descriptor, with source code info when the file
	// was compiled from source. It is shared; do not modify it.
	Proto *descriptorpb.FileDescriptorProto
	// Descriptor is the linked file when the file was compiled from source;
	// nil for images. It matches Proto.
	Descriptor protoreflect.FileDescriptor
}

// FileDescriptorSet returns the module's files, imports included, as a
// FileDescriptorSet.
func (m *Module) FileDescriptorSet() *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range m.Files {
		set.File = append(set.File, f.Proto)
	}
	return set
}

// TargetFiles returns the module's files that are not imports.
func (m *Module) TargetFiles() []*File {
	var out []*File
	for _, f := range m.Files {
		if !f.Import {
			out = append(out, f)
		}
	}
	return out
}

// Files returns the files of all modules, each path once, sorted by path.
// A file is an import only if it is an import in every module that has it,
// so that the result is what a single image of the whole input holds.
func (in *Input) Files() []*File {
	byPath := map[string]*File{}
	for _, m := range in.Modules {
		for _, f := range m.Files {
			if prev, ok := byPath[f.Path]; ok {
				if prev.Import && !f.Import {
					byPath[f.Path] = f
				}
				continue
			}
			byPath[f.Path] = f
		}
	}
	out := make([]*File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// FileDescriptorSet returns [Input.Files] as a FileDescriptorSet, imports
// included.
func (in *Input) FileDescriptorSet() *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range in.Files() {
		set.File = append(set.File, f.Proto)
	}
	return set
}

// CompileError reports .proto sources that do not compile. Callers print
// each error as an annotation of type COMPILE, as buf does.
type CompileError struct {
	// Errors are the individual problems, in the order they were found.
	Errors []FileError
}

// FileError is one compile problem.
type FileError struct {
	// Path is the import path of the file, ExternalPath its path for users.
	Path, ExternalPath string
	// StartLine, StartColumn, EndLine and EndColumn are 1-based; zero when
	// unknown.
	StartLine, StartColumn, EndLine, EndColumn int
	// Message says what is wrong.
	Message string
}

func (e *CompileError) Error() string {
	if len(e.Errors) == 0 {
		return "compile failed"
	}
	first := e.Errors[0]
	msg := fmt.Sprintf("%s:%d:%d: %s", first.ExternalPath, first.StartLine, first.StartColumn, first.Message)
	if len(e.Errors) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(e.Errors)-1)
	}
	return msg
}

// Load reads and compiles the input named by ref.
func Load(ctx context.Context, ref string, opts Options) (*Input, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	return LoadRef(ctx, r, opts)
}

// LoadPair loads two inputs concurrently, such as the input and the
// against input of a breaking-change check. When both fail, the error of
// the first is returned.
func LoadPair(ctx context.Context, a, b string, optsA, optsB Options) (*Input, *Input, error) {
	var inB *Input
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		inB, errB = Load(ctx, b, optsB)
	}()
	inA, errA := Load(ctx, a, optsA)
	<-done
	if errA != nil {
		return nil, nil, errA
	}
	if errB != nil {
		return nil, nil, errB
	}
	return inA, inB, nil
}

// LoadRef is [Load] for a parsed reference.
func LoadRef(ctx context.Context, ref Ref, opts Options) (*Input, error) {
	if opts.WorkDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("cannot determine the working directory: %w", err)
		}
		opts.WorkDir = wd
	}
	if !filepath.IsAbs(opts.WorkDir) {
		abs, err := filepath.Abs(opts.WorkDir)
		if err != nil {
			return nil, fmt.Errorf("working directory %q: %w", opts.WorkDir, err)
		}
		opts.WorkDir = abs
	}
	switch ref.Format {
	case FormatBinpb, FormatJSON, FormatTxtpb:
		return loadImage(ref, opts)
	case FormatGit:
		return loadGit(ctx, ref, opts)
	case FormatDir, FormatProtoFile:
		return loadOSDir(ctx, ref, opts)
	default:
		return nil, fmt.Errorf("input %q: unsupported format %q", ref.Raw, ref.Format)
	}
}

func loadOSDir(ctx context.Context, ref Ref, opts Options) (*Input, error) {
	p := ref.Path
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(opts.WorkDir, p)
	}
	abs = filepath.Clean(abs)
	var targetFile string
	info, err := os.Stat(abs)
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("input %q does not exist; give a directory, a .proto file, an image file (.binpb, .json, .txtpb) or a git reference such as %q", ref.Raw, ".git#branch=main")
	case err != nil:
		return nil, fmt.Errorf("input %q: %w", ref.Raw, err)
	case ref.Format == FormatProtoFile && (len(opts.Paths) > 0 || len(opts.ExcludePaths) > 0):
		return nil, fmt.Errorf("input %q is a .proto file, which takes no --path or --exclude-path; give its directory as the input and narrow it with --path", ref.Raw)
	case ref.Format == FormatProtoFile:
		if info.IsDir() {
			return nil, fmt.Errorf("input %q is a directory, not a .proto file", ref.Raw)
		}
		targetFile = filepath.Base(abs)
		abs = filepath.Dir(abs)
	case !info.IsDir():
		return nil, fmt.Errorf("input %q is a file, not a directory; for images use a .binpb, .json or .txtpb extension or add #format=binpb", ref.Raw)
	}
	t := newOSTree()
	rel := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	if rel == "" {
		rel = "."
	}
	display := func(wsRoot string, isWorkspace bool) string {
		if isWorkspace {
			root := "/" + wsRoot
			if wsRoot == "." {
				root = "/"
			}
			if filepath.IsAbs(p) {
				return filepath.ToSlash(root)
			}
			r, err := filepath.Rel(opts.WorkDir, filepath.FromSlash(root))
			if err != nil {
				return filepath.ToSlash(root)
			}
			return filepath.ToSlash(r)
		}
		d := filepath.ToSlash(filepath.Clean(p))
		if ref.Format == FormatProtoFile {
			d = path.Dir(d)
		}
		return d
	}
	l := &loader{
		tree:    t,
		ref:     ref,
		opts:    opts,
		display: display,
		osPaths: true,
	}
	if targetFile != "" {
		l.onlyFile = targetFile
	}
	return l.load(ctx, rel)
}
