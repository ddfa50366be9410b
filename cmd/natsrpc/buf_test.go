package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// testTools returns the pinned buf and protoc-gen-go binaries (tools/go.mod),
// built once and cached in the user cache directory under the hash of
// tools/go.sum (the same cache as the breaking command's tests).
func testTools(t *testing.T) (buf, protocGenGo string) {
	t.Helper()
	if testing.Short() || os.Getenv("NATSRPC_SKIP_BUF") != "" {
		t.Skip("needs the buf CLI; skipped in -short mode or with NATSRPC_SKIP_BUF")
	}
	root := testschema.RepoRoot(t)
	toolsOnce.Do(func() {
		sum, err := os.ReadFile(filepath.Join(root, "tools", "go.sum"))
		if err != nil {
			toolsErr = err
			return
		}
		h := sha256.Sum256(sum)
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		toolsDir = filepath.Join(cache, "natsrpc-test", "buf-"+hex.EncodeToString(h[:6]))
		if err := os.MkdirAll(toolsDir, 0o755); err != nil {
			toolsErr = err
			return
		}
		for _, tool := range []struct{ name, pkg string }{
			{"buf", "github.com/bufbuild/buf/cmd/buf"},
			{"protoc-gen-go", "google.golang.org/protobuf/cmd/protoc-gen-go"},
		} {
			dst := filepath.Join(toolsDir, tool.name)
			if _, err := os.Stat(dst); err == nil {
				continue
			}
			tmp := dst + ".tmp-" + hex.EncodeToString(h[6:10])
			cmd := exec.Command("go", "build", "-modfile="+filepath.Join(root, "tools", "go.mod"), "-o", tmp, tool.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOWORK=off") // -modfile cannot be used in workspace mode
			if out, err := cmd.CombinedOutput(); err != nil {
				toolsErr = &buildError{tool.name, err, string(out)}
				return
			}
			if err := os.Rename(tmp, dst); err != nil {
				toolsErr = err
				return
			}
		}
	})
	if toolsErr != nil {
		t.Fatalf("build tools: %v", toolsErr)
	}
	return filepath.Join(toolsDir, "buf"), filepath.Join(toolsDir, "protoc-gen-go")
}

type buildError struct {
	tool string
	err  error
	out  string
}

func (e *buildError) Error() string { return e.tool + ": " + e.err.Error() + ": " + e.out }

func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGetOutputIsABufImage pushes this repository's proto/ as module
// gaming, gets it back with `natsrpc get`, and runs the real buf on the
// image: buf build and buf breaking accept it, and buf generate emits
// code for the module's own files only, identical to the repository's.
func TestGetOutputIsABufImage(t *testing.T) {
	t.Parallel()
	buf, protocGenGo := testTools(t)
	root := testschema.RepoRoot(t)
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	natsrpc(t, append(s, "push", filepath.Join(root, "proto"), "--module", "gaming")...).want(t, 0, "gaming@1", "")

	dir := t.TempDir()
	natsrpc(t, append(s, "get", "gaming", "-o", filepath.Join(dir, "gaming.binpb"))...).want(t, 0, "wrote gaming@1", "")

	runTool(t, dir, buf, "build", "gaming.binpb", "-o", "rebuilt.binpb")
	runTool(t, dir, buf, "breaking", "gaming.binpb", "--against", "gaming.binpb")
	// The repository's sources are what the image holds: no breaking change
	// either way.
	runTool(t, root, buf, "breaking", "proto", "--against", filepath.Join(dir, "gaming.binpb"))

	targets := strings.Fields(runTool(t, dir, buf, "ls-files", "gaming.binpb"))
	if slices.Contains(targets, "google/protobuf/timestamp.proto") || slices.Contains(targets, "natsrpc/v1/options.proto") {
		t.Errorf("buf sees imports as targets: %v", targets)
	}
	if !slices.Contains(targets, "gaming/quest_system/v1/quest_system.proto") {
		t.Errorf("buf targets %v lack the module's own files", targets)
	}

	gen := "version: v2\nplugins:\n  - local: " + protocGenGo + "\n    out: gen\n    opt: paths=source_relative\n"
	if err := os.WriteFile(filepath.Join(dir, "buf.gen.yaml"), []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, dir, buf, "generate", "gaming.binpb")
	var generated []string
	err := filepath.WalkDir(filepath.Join(dir, "gen"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(dir, "gen"), p)
			generated = append(generated, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) != len(targets) {
		t.Errorf("buf generate wrote %d files for %d own files: %v", len(generated), len(targets), generated)
	}
	for _, g := range generated {
		if strings.HasPrefix(g, "google/") || strings.HasPrefix(g, "natsrpc/v1/") {
			t.Errorf("buf generate emitted code for an import: %s", g)
		}
	}
	// Source info survived: the generated code carries the comments and
	// equals the repository's own generated code.
	want, err := os.ReadFile(filepath.Join(root, "proto", "gaming", "quest_system", "v1", "quest_system.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "gen", "gaming", "quest_system", "v1", "quest_system.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("code generated from the registry's image differs from the repository's generated code")
	}
}
