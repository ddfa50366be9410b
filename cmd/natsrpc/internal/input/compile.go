package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// source is one .proto file of a workspace.
type source struct {
	treePath string
	external string
	spec     *moduleSpec
	modRel   string // path relative to the module directory (root joined)
}

// compile reads every module's files, compiles the targets and returns one
// Module per target module.
func (l *loader) compile(ctx context.Context, wsRoot, prefix string, specs []*moduleSpec) ([]*Module, error) {
	sources := map[string]*source{}
	for _, spec := range specs {
		for _, root := range spec.roots {
			dir := joinPath(wsRoot, spec.dir, root)
			if !l.tree.isDir(dir) {
				if spec.dir == "." && root == "." {
					return nil, fmt.Errorf("input %q: %s is not a directory", l.ref.Raw, l.where(dir))
				}
				continue
			}
			files, err := l.tree.protoFiles(dir, spec.excludes[root])
			if err != nil {
				return nil, fmt.Errorf("input %q: cannot list %s: %w", l.ref.Raw, l.where(dir), err)
			}
			for _, f := range files {
				modRel := joinPath(root, f)
				if len(spec.includes) > 0 && !containsPath(spec.includes, modRel) {
					continue
				}
				if prev, ok := sources[f]; ok {
					return nil, fmt.Errorf("input %q: import path %q is provided by both %s and %s; every file needs a unique import path", l.ref.Raw, f, prev.external, joinPath(prefix, spec.dir, modRel))
				}
				sources[f] = &source{
					treePath: joinPath(dir, f),
					external: joinPath(prefix, spec.dir, modRel),
					spec:     spec,
					modRel:   modRel,
				}
			}
		}
	}
	filters := map[*moduleSpec]func(string) bool{}
	for _, s := range specs {
		if !s.target {
			continue
		}
		f, err := l.moduleFilter(wsRoot, s)
		if err != nil {
			return nil, err
		}
		filters[s] = f
	}
	targetsBySpec := map[*moduleSpec][]string{}
	var allTargets []string
	for p, src := range sources {
		s := src.spec
		if !s.target {
			continue
		}
		if s.targetSub != "" && !equalsOrContains(s.targetSub, src.modRel) {
			continue
		}
		if f := filters[s]; f != nil && !f(src.modRel) {
			continue
		}
		targetsBySpec[s] = append(targetsBySpec[s], p)
		allTargets = append(allTargets, p)
	}
	if len(allTargets) == 0 {
		if l.onlyFile != "" {
			return nil, fmt.Errorf("input %q: the file is not inside a module or is excluded", l.ref.Raw)
		}
		if len(l.paths) > 0 || len(l.excludes) > 0 {
			return nil, errNoTargets(l.ref.Raw)
		}
		return nil, fmt.Errorf("input %q has no .proto files", l.ref.Raw)
	}
	slices.Sort(allTargets)

	// Each module is compiled on its own, as buf builds one image per
	// module: unrelated modules may then define the same symbols.
	var mu sync.Mutex
	var errs []FileError
	var firstErr error
	byPath := map[*moduleSpec]map[string]linker.File{}
	resolver := withGoogleAPIs(protocompile.WithStandardImports(protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		src, ok := sources[p]
		if !ok {
			return protocompile.SearchResult{}, fs.ErrNotExist
		}
		data, err := l.tree.readFile(src.treePath)
		if err != nil {
			return protocompile.SearchResult{}, err
		}
		return protocompile.SearchResult{Source: io.NopCloser(bytes.NewReader(data))}, nil
	})))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	targetModules := 0
	for _, spec := range specs {
		if len(targetsBySpec[spec]) > 0 {
			targetModules++
		}
	}
	// One module compiles its files in parallel; many modules compile
	// side by side, each on one goroutine.
	parallelism := 1
	if targetModules == 1 {
		parallelism = 0
	}
	for _, spec := range specs {
		targets := targetsBySpec[spec]
		if len(targets) == 0 {
			continue
		}
		slices.Sort(targets)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
				mu.Lock()
				defer mu.Unlock()
				errs = append(errs, l.fileError(err, sources))
				return nil
			}, nil)
			sourceInfo := protocompile.SourceInfoStandard
			if l.opts.NoSourceInfo {
				sourceInfo = protocompile.SourceInfoNone
			}
			comp := protocompile.Compiler{
				Resolver:       resolver,
				SourceInfoMode: sourceInfo,
				Reporter:       rep,
				MaxParallelism: parallelism,
			}
			results, err := comp.Compile(ctx, targets...)
			mu.Lock()
			defer mu.Unlock()
			var ewp reporter.ErrorWithPos
			if err != nil && errors.As(err, &ewp) {
				errs = append(errs, l.fileError(ewp, sources))
				return
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			m := map[string]linker.File{}
			for _, r := range results {
				m[r.Path()] = r
			}
			byPath[spec] = m
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b FileError) int {
			if c := strings.Compare(a.ExternalPath, b.ExternalPath); c != 0 {
				return c
			}
			if a.StartLine != b.StartLine {
				return a.StartLine - b.StartLine
			}
			return a.StartColumn - b.StartColumn
		})
		return nil, &CompileError{Errors: dedupeErrors(errs)}
	}
	if firstErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("input %q: %w", l.ref.Raw, firstErr)
	}
	externalFor := func(p string) string {
		if src, ok := sources[p]; ok {
			return src.external
		}
		return p
	}
	var mods []*Module
	for _, spec := range specs {
		targets := targetsBySpec[spec]
		if len(targets) == 0 {
			continue
		}
		slices.Sort(targets)
		m := &Module{Dir: spec.dir, Config: spec.config}
		isTarget := map[string]bool{}
		for _, t := range targets {
			isTarget[t] = true
		}
		seen := map[string]bool{}
		var imports []*File
		var visit func(fd protoreflect.FileDescriptor)
		visit = func(fd protoreflect.FileDescriptor) {
			if seen[fd.Path()] {
				return
			}
			seen[fd.Path()] = true
			imps := fd.Imports()
			for i := 0; i < imps.Len(); i++ {
				visit(imps.Get(i).FileDescriptor)
			}
			if isTarget[fd.Path()] {
				return
			}
			imports = append(imports, &File{
				Path:         fd.Path(),
				ExternalPath: externalFor(fd.Path()),
				Import:       true,
				Proto:        fileProto(fd),
				Descriptor:   fd,
			})
		}
		for _, t := range targets {
			fd := byPath[spec][t]
			m.Files = append(m.Files, &File{
				Path:         t,
				ExternalPath: externalFor(t),
				Proto:        fileProto(fd),
				Descriptor:   fd,
			})
			visit(fd)
		}
		slices.SortFunc(imports, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
		m.Files = append(m.Files, imports...)
		mods = append(mods, m)
	}
	return mods, nil
}

func fileProto(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	if r, ok := fd.(interface {
		FileDescriptorProto() *descriptorpb.FileDescriptorProto
	}); ok {
		return r.FileDescriptorProto()
	}
	return protodesc.ToFileDescriptorProto(fd)
}

func (l *loader) fileError(err reporter.ErrorWithPos, sources map[string]*source) FileError {
	start, end := err.Start(), err.End()
	fe := FileError{
		Path:        start.Filename,
		StartLine:   start.Line,
		StartColumn: start.Col,
		EndLine:     end.Line,
		EndColumn:   end.Col,
	}
	if fe.EndLine == 0 || (fe.EndLine == fe.StartLine && fe.EndColumn <= fe.StartColumn) {
		// A point: report it one character wide, as buf does.
		fe.EndLine, fe.EndColumn = fe.StartLine, fe.StartColumn+1
	}
	if src, ok := sources[fe.Path]; ok {
		fe.ExternalPath = src.external
	} else {
		fe.ExternalPath = fe.Path
	}
	var inner error = err
	if u := err.Unwrap(); u != nil {
		inner = u
	}
	fe.Message = inner.Error()
	return fe
}

func dedupeErrors(errs []FileError) []FileError {
	seen := map[FileError]bool{}
	var out []FileError
	for _, e := range errs {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}

// errNoFiles is returned when an image holds no files.
var errNoFiles = errors.New("holds no files")
