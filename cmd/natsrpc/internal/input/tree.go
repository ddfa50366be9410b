package input

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing/fstest"
)

// tree is a read-only file tree addressed with slash paths relative to its
// root ("." is the root). The OS tree is rooted at the file system root, a
// git tree at the repository root.
type tree struct {
	fsys fs.FS
}

func newOSTree() *tree {
	return &tree{fsys: os.DirFS("/")}
}

func newMapTree(files map[string][]byte) *tree {
	m := fstest.MapFS{}
	for p, data := range files {
		m[p] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return &tree{fsys: m}
}

func (t *tree) readFile(p string) ([]byte, error) {
	return fs.ReadFile(t.fsys, p)
}

func (t *tree) isFile(p string) bool {
	info, err := fs.Stat(t.fsys, p)
	return err == nil && info.Mode().IsRegular()
}

func (t *tree) isDir(p string) bool {
	info, err := fs.Stat(t.fsys, p)
	return err == nil && info.IsDir()
}

// protoFiles returns the .proto files under dir as paths relative to dir,
// sorted, skipping the directories in excludes (relative to dir).
func (t *tree) protoFiles(dir string, excludes []string) ([]string, error) {
	var out []string
	err := fs.WalkDir(t.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) && p != dir {
				return nil
			}
			return err
		}
		rel := relPath(dir, p)
		if d.IsDir() {
			if rel != "." && containsPath(excludes, rel) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".proto") {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if !t.isFile(p) {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	slices.Sort(out)
	return out, err
}

// relPath returns p relative to dir; both are clean slash paths and p is dir
// or below it.
func relPath(dir, p string) string {
	if dir == "." {
		return p
	}
	if p == dir {
		return "."
	}
	return strings.TrimPrefix(p, dir+"/")
}

// equalsOrContains reports whether dir is p or one of p's ancestors. Both
// are clean relative slash paths; "." contains everything.
func equalsOrContains(dir, p string) bool {
	if dir == "." || dir == p {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// containsPath reports whether any of dirs equals or contains p.
func containsPath(dirs []string, p string) bool {
	for _, d := range dirs {
		if equalsOrContains(d, p) {
			return true
		}
	}
	return false
}

// joinPath joins slash paths and cleans the result.
func joinPath(elems ...string) string {
	return path.Join(elems...)
}

// cleanRel normalises a user-given relative path; ok is false when it
// escapes upwards or is absolute.
func cleanRel(p string) (string, bool) {
	if p == "" {
		return ".", true
	}
	if strings.HasPrefix(p, "/") {
		return "", false
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}
