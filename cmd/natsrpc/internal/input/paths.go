package input

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// pathSpec is --path or --exclude-path resolved for one input: the value
// as given, for messages, and the tree path it names.
type pathSpec struct {
	raw, tree string
}

// resolvePaths maps Options.Paths and Options.ExcludePaths to tree paths,
// as buf does for each kind of input: file system paths relative to the
// working directory for directories, paths relative to the subdir for git
// inputs (a --path there must be relative and stay inside the subdir;
// --exclude-path values are joined to the subdir unchecked, as buf joins
// them).
func (l *loader) resolvePaths() error {
	resolve := func(flag string, values []string, check bool) ([]pathSpec, error) {
		var out []pathSpec
		for _, raw := range values {
			var t string
			if l.osPaths {
				p := filepath.Clean(raw)
				if !filepath.IsAbs(p) {
					p = filepath.Join(l.opts.WorkDir, p)
				}
				t = strings.TrimPrefix(filepath.ToSlash(p), "/")
				if t == "" {
					t = "."
				}
			} else {
				n := filepath.ToSlash(filepath.Clean(raw))
				if check {
					if err := validateRelative(flag, raw, n); err != nil {
						return nil, err
					}
				}
				t = path.Join(l.ref.Subdir, n)
			}
			out = append(out, pathSpec{raw: raw, tree: t})
		}
		return out, nil
	}
	var err error
	if l.paths, err = resolve("--path", l.opts.Paths, true); err != nil {
		return err
	}
	l.excludes, err = resolve("--exclude-path", l.opts.ExcludePaths, false)
	return err
}

// validateRelative requires a normalized path to be relative and not to
// climb out of its base directory.
func validateRelative(flag, raw, normalized string) error {
	switch {
	case path.IsAbs(normalized) || filepath.IsAbs(raw):
		return fmt.Errorf("%s %q must be a relative path", flag, raw)
	case normalized == ".." || strings.HasPrefix(normalized, "../"):
		return fmt.Errorf("%s %q climbs out of the input (\"..\"); give a path inside it", flag, raw)
	}
	return nil
}

// checkPaths refuses --path and --exclude-path combinations buf refuses:
// inside a workspace (a v2 buf.yaml or a buf.work.yaml), a path outside
// it; a --path equal to the input directory (it selects everything), to
// an --exclude-path or inside one; an --exclude-path equal to the input
// (it excludes everything).
func (l *loader) checkPaths(wsRoot, inputDir string, isWorkspace bool) error {
	if isWorkspace {
		for _, group := range []struct {
			flag  string
			specs []pathSpec
		}{{"--path", l.paths}, {"--exclude-path", l.excludes}} {
			for _, p := range group.specs {
				if !equalsOrContains(wsRoot, p.tree) {
					return fmt.Errorf("%s %q is outside the workspace at %s that controls input %q; give a path inside it", group.flag, p.raw, l.where(wsRoot), l.ref.Raw)
				}
			}
		}
	}
	for _, p := range l.paths {
		if p.tree == inputDir {
			return fmt.Errorf("--path %q is the input %q itself, which selects everything; drop it or give a path inside the input", p.raw, l.ref.Raw)
		}
		for _, e := range l.excludes {
			if p.tree == e.tree {
				return fmt.Errorf("%q is given to both --path and --exclude-path; keep one", p.raw)
			}
			if equalsOrContains(e.tree, p.tree) {
				return fmt.Errorf("--exclude-path %q contains --path %q, so nothing under it would be checked; drop one of them", e.raw, p.raw)
			}
		}
	}
	for _, e := range l.excludes {
		if e.tree == inputDir {
			return fmt.Errorf("--exclude-path %q is the input %q itself, which excludes everything", e.raw, l.ref.Raw)
		}
	}
	return nil
}

// moduleFilter applies --path and --exclude-path to one module of the
// input, as buf targets modules: a --path strictly inside the module
// narrows it to what it names, and a module no --path is inside is not a
// target at all (even when a --path contains it); an --exclude-path
// inside a targeted module drops what it names. A path naming the module
// directory itself, or inside the module but outside its roots (v1beta1
// build.roots), is an error. The filter takes module-relative paths (root
// joined with import path); it is nil when nothing is filtered.
func (l *loader) moduleFilter(wsRoot string, s *moduleSpec) (func(modRel string) bool, error) {
	if len(l.paths) == 0 && len(l.excludes) == 0 {
		return nil, nil
	}
	modDir := joinPath(wsRoot, s.dir)
	inside := func(flag string, p pathSpec) (string, bool, error) {
		if p.tree == modDir && flag == "--path" {
			return "", false, fmt.Errorf("--path %q names module %q of the workspace; give the module directory as the input instead, or paths inside it", p.raw, s.dir)
		}
		if p.tree == modDir {
			return "", false, fmt.Errorf("--exclude-path %q names module %q of the workspace, and whole modules cannot be excluded; give the other modules as inputs, or exclude paths inside it", p.raw, s.dir)
		}
		if !strictlyContains(modDir, p.tree) {
			return "", false, nil
		}
		rel := relPath(modDir, p.tree)
		if !slices.ContainsFunc(s.roots, func(r string) bool { return strictlyContains(r, rel) }) {
			return "", false, fmt.Errorf("%s %q is not inside any of the roots %q of module %q; paths must be inside a root (and cannot be a root)", flag, p.raw, s.roots, s.dir)
		}
		return rel, true, nil
	}
	var paths, excludes []string
	for _, p := range l.paths {
		rel, ok, err := inside("--path", p)
		if err != nil {
			return nil, err
		}
		if ok {
			paths = append(paths, rel)
		}
	}
	if len(l.paths) > 0 && len(paths) == 0 {
		return func(string) bool { return false }, nil
	}
	for _, e := range l.excludes {
		rel, ok, err := inside("--exclude-path", e)
		if err != nil {
			return nil, err
		}
		if ok {
			excludes = append(excludes, rel)
		}
	}
	return func(modRel string) bool {
		if len(paths) > 0 && !containsPath(paths, modRel) {
			return false
		}
		return !containsPath(excludes, modRel)
	}, nil
}

// strictlyContains reports whether dir is one of p's ancestors (not p
// itself); "." contains every other path.
func strictlyContains(dir, p string) bool {
	return dir != p && equalsOrContains(dir, p)
}

// errNoTargets is what a --path and --exclude-path that select no file
// of an input say.
func errNoTargets(raw string) error {
	return fmt.Errorf("input %q has no .proto files matching --path and --exclude-path; --path names files or directories that do not exist there, or --exclude-path excludes them all", raw)
}

// filterImageFiles narrows an image's files to --path and exclude the
// --exclude-path, as buf narrows images: paths are the files' import
// paths. A --path naming a file selects it even when the image has it as
// an import; a --path naming a directory selects every file under it (an
// --exclude-path inside that directory drops the files under it); with
// only --exclude-path, the image's targets outside them are selected.
// Paths that match nothing are allowed, but an image left without files
// is an error. The result holds the selected files as targets followed by
// what they import, transitively, as imports.
func filterImageFiles(files []*File, paths, excludes []string) ([]*File, error) {
	norm := func(flag string, values []string) ([]string, error) {
		out := make([]string, 0, len(values))
		for _, raw := range values {
			n := filepath.ToSlash(filepath.Clean(raw))
			if err := validateRelative(flag, raw, n); err != nil {
				return nil, err
			}
			if slices.Contains(out, n) {
				return nil, fmt.Errorf("%s %q is given twice", flag, raw)
			}
			out = append(out, n)
		}
		return out, nil
	}
	ps, err := norm("--path", paths)
	if err != nil {
		return nil, err
	}
	es, err := norm("--exclude-path", excludes)
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]*File, len(files))
	for _, f := range files {
		byPath[f.Path] = f
	}
	selected := map[string]bool{}
	if len(ps) == 0 {
		for _, f := range files {
			if !f.Import && !containsPath(es, f.Path) {
				selected[f.Path] = true
			}
		}
	} else {
		for _, p := range ps {
			if slices.Contains(es, p) {
				return nil, fmt.Errorf("%q is given to both --path and --exclude-path; keep one", p)
			}
		}
		var dirs []string
		for _, p := range ps {
			if p == "." {
				return nil, errors.New(`--path "." is not valid for an image; name files or directories by their import paths`)
			}
			if _, ok := byPath[p]; ok && path.Ext(p) == ".proto" {
				selected[p] = true
				continue
			}
			dirs = append(dirs, p)
		}
		for _, f := range files {
			var matching []string
			for _, d := range dirs {
				if equalsOrContains(d, f.Path) {
					matching = append(matching, d)
				}
			}
			// A directory match stands unless an exclude inside that
			// directory covers the file.
			matching = slices.DeleteFunc(matching, func(d string) bool {
				return slices.ContainsFunc(es, func(e string) bool {
					return equalsOrContains(e, f.Path) && equalsOrContains(d, e)
				})
			})
			if len(matching) > 0 {
				selected[f.Path] = true
			}
		}
	}
	out := withImports(files, byPath, selected)
	if len(out) == 0 {
		return nil, errors.New("--path and --exclude-path leave the image without files")
	}
	return out, nil
}

// withImports returns the selected files as targets, sorted by path,
// followed by everything they import, transitively, as imports.
func withImports(files []*File, byPath map[string]*File, selected map[string]bool) []*File {
	var targets, imports []*File
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		f, ok := byPath[p]
		if !ok || seen[p] {
			return
		}
		seen[p] = true
		for _, d := range f.Proto.GetDependency() {
			visit(d)
		}
		if !selected[p] {
			c := *f
			c.Import = true
			imports = append(imports, &c)
		}
	}
	for _, f := range files {
		if selected[f.Path] {
			c := *f
			c.Import = false
			targets = append(targets, &c)
			visit(f.Path)
		}
	}
	slices.SortFunc(targets, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(imports, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	return append(targets, imports...)
}

// Narrowed reports whether the input was loaded with --path or
// --exclude-path.
func (in *Input) Narrowed() bool {
	return len(in.opts.Paths) > 0 || len(in.opts.ExcludePaths) > 0
}

// SelectAgainst narrows files that play the against side of a check
// without being an input of their own, such as a version from the schema
// registry (files named by import path, imports marked), with in's --path
// and --exclude-path. For an image input the paths are import paths and
// the files are narrowed as images are. For a directory or git input a
// file is selected when, placed at its import path in in's modules, it
// would have been one of in's targets; the result is the selected files
// followed by their imports. Without --path and --exclude-path, files is
// returned as is. No file selected is an error, as it is for any against
// input.
func (in *Input) SelectAgainst(files []*File) ([]*File, error) {
	if !in.Narrowed() {
		return files, nil
	}
	switch in.Ref.Format {
	case FormatBinpb, FormatJSON, FormatTxtpb:
		return filterImageFiles(files, in.opts.Paths, in.opts.ExcludePaths)
	}
	if in.selects == nil {
		return nil, fmt.Errorf("input %q cannot narrow other files with --path", in.Ref.Raw)
	}
	byPath := make(map[string]*File, len(files))
	selected := map[string]bool{}
	for _, f := range files {
		byPath[f.Path] = f
		if !f.Import && in.selects(f.Path) {
			selected[f.Path] = true
		}
	}
	if len(selected) == 0 {
		return nil, errors.New("no file of the against side matches --path and --exclude-path")
	}
	return withImports(files, byPath, selected), nil
}
