package input

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/natsrpc/natsrpc/registry/breaking"
)

// loader turns a directory of a tree into an [Input].
type loader struct {
	tree *tree
	ref  Ref
	opts Options
	// display returns the prefix of external paths for files of a
	// workspace rooted at wsRoot (a tree path), or of the input directory
	// itself when isWorkspace is false.
	display func(wsRoot string, isWorkspace bool) string
	// osPaths is true for file system inputs, where --path values are
	// file system paths.
	osPaths bool
	// onlyFile, when set, is the single target file (a protofile input),
	// relative to the input directory.
	onlyFile string
	// configName names where config files live in errors: "" for the file
	// system, or the git reference.
	configName string
	// paths and excludes are --path and --exclude-path as tree paths.
	paths, excludes []pathSpec
}

// moduleSpec is one module of a workspace before compilation.
type moduleSpec struct {
	// dir is relative to the workspace root.
	dir string
	// roots are relative to dir; ["."] unless a v1beta1 buf.yaml sets
	// build.roots.
	roots []string
	// excludes maps a root to directories (relative to the root) to skip.
	excludes map[string][]string
	// includes, when set (v2), are the only directories (relative to dir)
	// whose files belong to the module.
	includes []string
	config   *ConfigFile
	target   bool
	// targetSub, when set, restricts the targets to files whose
	// module-relative path (root joined with import path) equals or is
	// under it.
	targetSub string
}

func (l *loader) where(p string) string {
	if l.configName != "" {
		return l.configName + ": " + p
	}
	return "/" + strings.TrimPrefix(p, "/")
}

// readConfig reads and parses a buf.yaml with the one parser natsrpc has
// for it (registry/breaking's), which is strict as buf is.
func (l *loader) readConfig(p string) (*ConfigFile, error) {
	data, err := l.tree.readFile(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", l.where(p), err)
	}
	b, err := breaking.ParseBufYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.where(p), err)
	}
	cf := &ConfigFile{Path: l.where(p), Version: string(b.Version), BufYAML: b}
	if !l.osPaths {
		cf.Path = p
	}
	return cf, nil
}

// readWorkConfig reads and parses a buf.work.yaml.
func (l *loader) readWorkConfig(p string) (*ConfigFile, *breaking.BufWorkYAML, error) {
	data, err := l.tree.readFile(p)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %w", l.where(p), err)
	}
	w, err := breaking.ParseBufWorkYAML(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", l.where(p), err)
	}
	cf := &ConfigFile{Path: l.where(p), Version: "v1"}
	if !l.osPaths {
		cf.Path = p
	}
	return cf, w, nil
}

// load loads the input directory inputDir (a tree path).
func (l *loader) load(ctx context.Context, inputDir string) (*Input, error) {
	in := &Input{Ref: l.ref, opts: l.opts}
	if err := l.resolvePaths(); err != nil {
		return nil, err
	}
	wsRoot, specs, cfg, err := l.findWorkspace(inputDir)
	if err != nil {
		return nil, err
	}
	isWorkspace := specs != nil
	if err := l.checkPaths(wsRoot, inputDir, isWorkspace); err != nil {
		return nil, err
	}
	if !isWorkspace {
		wsRoot = inputDir
		spec := &moduleSpec{dir: ".", roots: []string{"."}, excludes: map[string][]string{}, target: true}
		if l.tree.isFile(joinPath(inputDir, "buf.yaml")) {
			c, err := l.readConfig(joinPath(inputDir, "buf.yaml"))
			if err != nil {
				return nil, err
			}
			if err := applyV1Layout(spec, c); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Path, err)
			}
			spec.config = c
			cfg = c
		}
		if l.onlyFile != "" {
			spec.targetSub = l.onlyFile
		}
		specs = []*moduleSpec{spec}
	}
	in.Config = cfg
	prefix := l.display(wsRoot, isWorkspace)
	mods, err := l.compile(ctx, wsRoot, prefix, specs)
	if err != nil {
		return nil, err
	}
	in.Modules = mods
	if len(l.paths) > 0 || len(l.excludes) > 0 {
		// Errors were reported by compile, which built the same filters.
		var filters []func(string) bool
		var roots [][]string
		for _, s := range specs {
			if f, err := l.moduleFilter(wsRoot, s); err == nil && s.target && f != nil {
				filters = append(filters, f)
				roots = append(roots, s.roots)
			}
		}
		in.selects = func(importPath string) bool {
			for i, f := range filters {
				for _, root := range roots[i] {
					if f(joinPath(root, importPath)) {
						return true
					}
				}
			}
			return false
		}
	}
	return in, nil
}

// findWorkspace walks up from inputDir looking for the workspace that
// controls it, as buf does: a v2 buf.yaml whose modules contain, equal or
// sit inside the input, or a buf.work.yaml listing it. specs is nil when
// there is none.
func (l *loader) findWorkspace(inputDir string) (string, []*moduleSpec, *ConfigFile, error) {
	cur := inputDir
	for {
		work := joinPath(cur, "buf.work.yaml")
		buf := joinPath(cur, "buf.yaml")
		hasWork, hasBuf := l.tree.isFile(work), l.tree.isFile(buf)
		if hasWork && hasBuf {
			return "", nil, nil, fmt.Errorf("%s has both a buf.work.yaml and a buf.yaml; keep only one", l.where(cur))
		}
		rel := relPath(cur, inputDir)
		if hasBuf {
			c, err := l.readConfig(buf)
			if err != nil {
				return "", nil, nil, err
			}
			if c.Version == "v2" {
				dirs, err := v2ModuleDirs(c.BufYAML)
				if err != nil {
					return "", nil, nil, fmt.Errorf("%s: %w", c.Path, err)
				}
				controls := cur == inputDir
				for _, d := range dirs {
					if equalsOrContains(d, rel) || equalsOrContains(rel, d) {
						controls = true
					}
				}
				if controls {
					specs, err := l.v2Specs(cur, rel, c)
					return cur, specs, c, err
				}
			}
		}
		if hasWork {
			c, work, err := l.readWorkConfig(work)
			if err != nil {
				return "", nil, nil, err
			}
			controls := cur == inputDir
			for _, d := range work.Directories {
				if d, ok := cleanRel(d); ok && equalsOrContains(d, rel) {
					controls = true
				}
			}
			if controls {
				specs, err := l.workSpecs(cur, rel, c, work)
				return cur, specs, c, err
			}
		}
		if cur == "." {
			return "", nil, nil, nil
		}
		cur = parentDir(cur)
	}
}

func parentDir(p string) string {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return "."
	}
	return p[:i]
}

func v2ModuleDirs(ext *breaking.BufYAML) ([]string, error) {
	if len(ext.Modules) == 0 {
		return []string{"."}, nil
	}
	var dirs []string
	for _, m := range ext.Modules {
		d, ok := cleanRel(m.Path)
		if !ok {
			return nil, fmt.Errorf("module path %q must be a relative path inside the workspace", m.Path)
		}
		if slices.Contains(dirs, d) {
			return nil, fmt.Errorf("module path %q is listed twice", d)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// v2Specs builds the module specs of a v2 workspace at root for the input
// at rel (relative to root).
func (l *loader) v2Specs(root, rel string, c *ConfigFile) ([]*moduleSpec, error) {
	ext := c.BufYAML
	dirs, err := v2ModuleDirs(ext)
	if err != nil {
		return nil, err
	}
	var specs []*moduleSpec
	for i, d := range dirs {
		spec := &moduleSpec{dir: d, roots: []string{"."}, excludes: map[string][]string{}, config: c}
		if len(ext.Modules) > 0 {
			m := ext.Modules[i]
			for _, e := range m.Excludes {
				ce, ok := cleanRel(e)
				if !ok || !equalsOrContains(d, ce) || ce == d {
					return nil, fmt.Errorf("%s: exclude path %q must be a directory inside module %q", c.Path, e, d)
				}
				spec.excludes["."] = append(spec.excludes["."], relPath(d, ce))
			}
			for _, inc := range m.Includes {
				ci, ok := cleanRel(inc)
				if !ok || !equalsOrContains(d, ci) || ci == d {
					return nil, fmt.Errorf("%s: include path %q must be a directory inside module %q", c.Path, inc, d)
				}
				spec.includes = append(spec.includes, relPath(d, ci))
			}
		}
		specs = append(specs, spec)
	}
	return specs, l.markTargets(root, rel, specs)
}

// workSpecs builds the module specs of a buf.work.yaml workspace.
func (l *loader) workSpecs(root, rel string, c *ConfigFile, ext *breaking.BufWorkYAML) ([]*moduleSpec, error) {
	var specs []*moduleSpec
	for _, d := range ext.Directories {
		cd, ok := cleanRel(d)
		if !ok || cd == "." {
			return nil, fmt.Errorf("%s: directory %q must be a relative path below the workspace", c.Path, d)
		}
		spec := &moduleSpec{dir: cd, roots: []string{"."}, excludes: map[string][]string{}}
		bufPath := joinPath(root, cd, "buf.yaml")
		if l.tree.isFile(bufPath) {
			mc, err := l.readConfig(bufPath)
			if err != nil {
				return nil, err
			}
			if err := applyV1Layout(spec, mc); err != nil {
				return nil, fmt.Errorf("%s: %w", mc.Path, err)
			}
			spec.config = mc
		}
		specs = append(specs, spec)
	}
	return specs, l.markTargets(root, rel, specs)
}

func (l *loader) markTargets(root, rel string, specs []*moduleSpec) error {
	if l.onlyFile != "" {
		fileRel := joinPath(rel, l.onlyFile)
		for _, s := range specs {
			if equalsOrContains(s.dir, fileRel) {
				s.target = true
				s.targetSub = relPath(s.dir, fileRel)
			}
		}
		return nil
	}
	for _, s := range specs {
		switch {
		case rel == "." || equalsOrContains(rel, s.dir):
			s.target = true
		case equalsOrContains(s.dir, rel):
			return fmt.Errorf("input %q is inside module %q of the workspace at %s; give the module or the workspace as the input and narrow it with --path", l.ref.Raw, s.dir, l.where(root))
		}
	}
	return nil
}

// applyV1Layout reads roots and excludes from a v1 or v1beta1 buf.yaml.
func applyV1Layout(spec *moduleSpec, c *ConfigFile) error {
	ext := c.BufYAML
	switch c.Version {
	case "v1beta1", "v1":
	default:
		return fmt.Errorf("version %q is not valid for a module inside a buf.work.yaml workspace; use v1", c.Version)
	}
	if len(ext.Roots) > 0 {
		spec.roots = nil
		for _, r := range ext.Roots {
			cr, ok := cleanRel(r)
			if !ok {
				return fmt.Errorf("root %q must be a relative path inside the module", r)
			}
			if slices.Contains(spec.roots, cr) {
				return fmt.Errorf("root %q is listed twice", r)
			}
			spec.roots = append(spec.roots, cr)
		}
	}
	for _, e := range ext.Excludes {
		ce, ok := cleanRel(e)
		if !ok || strings.HasSuffix(ce, ".proto") {
			return fmt.Errorf("exclude %q must be a directory inside the module", e)
		}
		found := false
		for _, r := range spec.roots {
			if equalsOrContains(r, ce) {
				if ce == r {
					return fmt.Errorf("%q is both a root and an exclude", ce)
				}
				spec.excludes[r] = append(spec.excludes[r], relPath(r, ce))
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("exclude %q is not inside any root", e)
		}
	}
	return nil
}
