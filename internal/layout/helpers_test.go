package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module path of the lean module.
const root = "github.com/natsrpc/natsrpc"

// repoRoot returns the repository root (where go.work lives).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err != nil {
		t.Fatalf("no go.work at %s: %v", dir, err)
	}
	return dir
}

// goCmd runs go with args in dir, alone (GOWORK=off), and returns its
// standard output.
func goCmd(t *testing.T, dir string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return out
}

// workspaceModules returns the module directories go.work uses, relative
// to the repository root ("." for the root).
func workspaceModules(t *testing.T, repo string) []string {
	t.Helper()
	var work struct {
		Use []struct{ DiskPath string }
	}
	if err := json.Unmarshal(goCmd(t, repo, nil, "work", "edit", "-json", "go.work"), &work); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, u := range work.Use {
		dirs = append(dirs, filepath.ToSlash(filepath.Clean(u.DiskPath)))
	}
	return dirs
}

// modulePath returns the module path of a module directory.
func modulePath(repo, dir string) string {
	if dir == "." {
		return root
	}
	return root + "/" + dir
}

// listedPackage is what `go list -json` says of a package.
type listedPackage struct {
	ImportPath string
	ForTest    string
	Standard   bool
	DepOnly    bool
	Module     *struct{ Path string }
	Imports    []string
	Deps       []string
}

func (p *listedPackage) module() string {
	if p.Module == nil {
		return ""
	}
	return p.Module.Path
}

// listPackages runs `go list -e=false -deps -test -json ./...` in a module
// alone (the root with go_test.mod) and returns every package, test
// variants included, by import path.
func listPackages(t *testing.T, repo, dir string) map[string]*listedPackage {
	t.Helper()
	args := []string{"list", "-deps", "-test", "-json"}
	if dir == "." {
		args = append(args, "-modfile=go_test.mod")
	}
	out := goCmd(t, filepath.Join(repo, dir), nil, append(args, "./...")...)
	pkgs := map[string]*listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := &listedPackage{}
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}
