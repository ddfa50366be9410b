// Package buftest gives tests the real buf CLI, pinned in tools/go.mod:
// built once per tools/go.sum and cached in the user cache directory, and
// buf's own breaking test corpus from the module cache. Compatibility
// claims are tested against it.
package buftest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

var (
	once    sync.Once
	bufPath string
	bufErr  error
)

// Binary returns the pinned buf binary, built once and cached in the user
// cache directory under the hash of tools/go.sum. In -short mode, or when
// NATSRPC_SKIP_BUF is set, tests that need it are skipped.
func Binary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() || os.Getenv("NATSRPC_SKIP_BUF") != "" {
		tb.Skip("needs the buf CLI; skipped in -short mode or with NATSRPC_SKIP_BUF")
	}
	root := testschema.RepoRoot(tb)
	once.Do(func() {
		sum, err := os.ReadFile(filepath.Join(root, "tools", "go.sum"))
		if err != nil {
			bufErr = err
			return
		}
		h := sha256.Sum256(sum)
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "natsrpc-test", "buf-"+hex.EncodeToString(h[:6]))
		bufPath = filepath.Join(dir, "buf")
		if _, err := os.Stat(bufPath); err == nil {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			bufErr = err
			return
		}
		tmp, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			bufErr = err
			return
		}
		defer os.RemoveAll(tmp)
		cmd := ToolsGo(root, "build", "-o", filepath.Join(tmp, "buf"), "github.com/bufbuild/buf/cmd/buf")
		out, err := cmd.CombinedOutput()
		if err != nil {
			bufErr = errors.New(string(out) + err.Error())
			return
		}
		bufErr = os.Rename(filepath.Join(tmp, "buf"), bufPath)
	})
	if bufErr != nil {
		tb.Fatalf("cannot build buf from tools/go.mod (run `GOWORK=off go mod download -modfile=tools/go.mod` once with network access): %v", bufErr)
	}
	return bufPath
}

// ToolsGo returns `go <verb> -modfile=tools/go.mod args...` run in root
// with GOWORK=off: -modfile cannot be used in workspace mode.
func ToolsGo(root, verb string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{verb, "-modfile=" + filepath.Join(root, "tools", "go.mod")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	return cmd
}

// CorpusDir returns buf's breaking test corpus in the module cache.
func CorpusDir(tb testing.TB) string {
	tb.Helper()
	root := testschema.RepoRoot(tb)
	out, err := ToolsGo(root, "list", "-m", "-f", "{{.Dir}}", "github.com/bufbuild/buf").Output()
	if err != nil {
		tb.Fatalf("cannot locate the buf module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "private", "bufpkg", "bufcheck", "testdata", "breaking")
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("buf's breaking corpus is missing: %v", err)
	}
	return dir
}
