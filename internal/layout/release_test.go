package layout

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

var (
	releaseVersion = flag.String("release", "v0.0.0-rc.0", "the version TestReleaseCandidate releases every module at")
	releaseInstall = flag.Bool("release-install", false, "TestReleaseCandidate also runs go install github.com/natsrpc/natsrpc/cmd/natsrpc@<version> (builds the CLI)")
)

// TestReleaseCandidate releases the checkout as docs/releasing.md says,
// into a module proxy in a temporary directory instead of tags: every
// module of go.work at one version, with its replace directives dropped
// and its requirements of the repository's modules set to that version
// (go.work and the root's go_test.mod are not published). Then each
// module, taken from that proxy as a user gets it, must resolve every
// package and test import (go list -deps -test; the root's packages only,
// its tests use the unpublished go_test.mod), and no published go.mod
// may keep a replace or exclude directive, which go install <pkg>@<version>
// refuses. `make release-check VERSION=v0.x.y` runs it with that version
// and -release-install, which also installs the CLI as a user would:
//
//	go install github.com/natsrpc/natsrpc/cmd/natsrpc@v0.x.y
//
// Third-party modules come from the local module cache, read as a proxy:
// no network, and nothing is written to the real cache.
func TestReleaseCandidate(t *testing.T) {
	if testing.Short() {
		t.Skip("copies and zips every module; skipped in -short mode")
	}
	repo := repoRoot(t)
	version := *releaseVersion
	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	dirs := workspaceModules(t, repo)
	local := map[string]bool{}
	for _, d := range dirs {
		local[modulePath(repo, d)] = true
	}
	for _, d := range dirs {
		mod := modulePath(repo, d)
		src := filepath.Join(repo, d)
		data, err := os.ReadFile(filepath.Join(src, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := modfile.Parse(filepath.Join(src, "go.mod"), data, nil)
		if err != nil {
			t.Fatal(err)
		}
		// What a release does to the module's go.mod.
		for _, r := range f.Replace {
			if !local[r.Old.Path] {
				t.Errorf("%s/go.mod replaces %s, which is not a module of this repository: a release cannot carry it (go install refuses replace directives)", d, r.Old.Path)
			}
			if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range f.Require {
			if local[r.Mod.Path] {
				if err := f.AddRequire(r.Mod.Path, version); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(f.Exclude) > 0 {
			t.Errorf("%s/go.mod has exclude directives, which go install <pkg>@<version> refuses", d)
		}
		f.Cleanup()
		released, err := f.Format()
		if err != nil {
			t.Fatal(err)
		}
		// The module as a proxy serves it.
		mv := module.Version{Path: mod, Version: version}
		escaped, err := module.EscapePath(mod)
		if err != nil {
			t.Fatal(err)
		}
		at := filepath.Join(proxy, escaped, "@v")
		if err := os.MkdirAll(at, 0o755); err != nil {
			t.Fatal(err)
		}
		zf, err := os.Create(filepath.Join(at, version+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		stage := filepath.Join(tmp, "stage", escaped)
		copyModule(t, repo, d, stage, released)
		if err := modzip.CreateFromDir(zf, mv, stage); err != nil {
			t.Fatalf("zip %s: %v", mod, err)
		}
		if err := zf.Close(); err != nil {
			t.Fatal(err)
		}
		info, _ := json.Marshal(map[string]string{"Version": version})
		for name, content := range map[string][]byte{version + ".mod": released, version + ".info": info, "list": []byte(version + "\n")} {
			if err := os.WriteFile(filepath.Join(at, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := []string{
		"GOPROXY=file://" + filepath.ToSlash(proxy) + ",file://" + filepath.ToSlash(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")),
		"GOMODCACHE=" + filepath.Join(tmp, "modcache"),
		// The third-party modules were verified when they entered the
		// cache; ours have no checksum anywhere yet.
		"GOSUMDB=off", "GOFLAGS=-mod=mod",
	}
	t.Cleanup(func() { _ = exec.Command("chmod", "-R", "u+w", filepath.Join(tmp, "modcache")).Run() })
	// Each module as a user's build sees it: downloaded at the version,
	// in a module that requires it.
	for _, d := range dirs {
		mod := modulePath(repo, d)
		user := filepath.Join(tmp, "user", strings.ReplaceAll(d, "/", "_"))
		if err := os.MkdirAll(user, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(user, "go.mod"), []byte("module example.com/user\n\ngo 1.26.0\n\nrequire "+mod+" "+version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		goCmd(t, user, env, "mod", "download", mod)
		// Tests too, except the root's: its tests use go_test.mod, which
		// is not published (TestConsumerGraph checks that the tests a
		// service's go mod tidy loads need nothing more).
		args := []string{"list", "-deps", "-test", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}", mod + "/..."}
		if mod == root {
			args = slices.Delete(args, 2, 3)
		}
		out := goCmd(t, user, env, args...)
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("%s@%s does not build as released:\n%s", mod, version, s)
		}
		// -mod=mod adds to the user's go.mod what an import needs and the
		// released go.mod lacks: nothing may be added.
		data, err := os.ReadFile(filepath.Join(user, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		uf, err := modfile.Parse("go.mod", data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range uf.Require {
			if r.Mod.Path != mod {
				t.Errorf("%s@%s lacks a requirement: building it needed %s", mod, version, r.Mod)
			}
		}
	}
	if *releaseInstall {
		gobin := filepath.Join(tmp, "bin")
		goCmd(t, tmp, append(env, "GOBIN="+gobin), "install", root+"/cmd/natsrpc@"+version)
		out, err := exec.Command(filepath.Join(gobin, "natsrpc"), "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("the installed natsrpc: %v\n%s", err, out)
		}
		t.Logf("go install %s/cmd/natsrpc@%s: %s", root, version, out)
	}
	t.Logf("released %d modules at %s into a proxy; each resolves as a user gets it", len(dirs), version)
}

// copyModule copies module dir's tracked and untracked (not ignored)
// files, except nested modules', to stage, with gomod as its go.mod.
func copyModule(t *testing.T, repo, dir, stage string, gomod []byte) {
	t.Helper()
	out, err := exec.Command("git", "-C", repo, "ls-files", "--cached", "--others", "--exclude-standard", "--", dir).Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	prefix := ""
	if dir != "." {
		prefix = dir + "/"
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rel := strings.TrimPrefix(f, prefix)
		if nestedModule(repo, dir, rel) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted, not yet staged
			}
			t.Fatal(err)
		}
		if rel == "go.mod" {
			data = gomod
		}
		target := filepath.Join(stage, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// nestedModule reports whether rel (a path in module dir) lies in a module
// nested in it.
func nestedModule(repo, dir, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if _, err := os.Stat(filepath.Join(repo, dir, filepath.FromSlash(strings.Join(parts[:i], "/")), "go.mod")); err == nil {
			return true
		}
	}
	return false
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
