package bufdiff

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/internal/testkit/buftest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/breaking"
)

// The differential tests run the real buf CLI, pinned in tools/go.mod, and
// require natsrpc's output to be identical.

// repoRoot returns the repository root (where tools/go.mod lives).
func repoRoot(tb testing.TB) string { return testschema.RepoRoot(tb) }

// testBuf returns the pinned buf binary (see package buftest).
func testBuf(tb testing.TB) string { return buftest.Binary(tb) }

// bufCorpusDir returns buf's breaking test corpus in the module cache.
func bufCorpusDir(tb testing.TB) string { return buftest.CorpusDir(tb) }

// runBuf runs `buf breaking <cur> --against <prev> --error-format <f>` in
// dir and returns stdout and the exit code.
func runBuf(tb testing.TB, dir string, args ...string) (string, string, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testBuf(tb), append([]string{"breaking"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			tb.Fatalf("running buf: %v", err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// runOurs runs natsrpc's checker like `natsrpc breaking` does and returns
// the JSON output (or the compile annotations) and whether it failed to
// load or check.
func runOurs(tb testing.TB, dir, cur, prev, format string, opts input.BreakingOptions) (string, error) {
	tb.Helper()
	return runOursPaths(tb, dir, cur, prev, format, opts, nil, nil)
}

// runOursPaths is runOurs with --path and --exclude-path, given to both
// sides as `natsrpc breaking` (and buf) give them.
func runOursPaths(tb testing.TB, dir, cur, prev, format string, opts input.BreakingOptions, paths, excludes []string) (string, error) {
	tb.Helper()
	ctx := context.Background()
	opts.WorkDir = dir
	var buf bytes.Buffer
	inOpts := input.Options{WorkDir: dir, Paths: paths, ExcludePaths: excludes}
	in, against, err := input.LoadPair(ctx, cur, prev, inOpts, inOpts)
	if err == nil {
		var vs []breaking.Violation
		vs, _, err = input.CheckBreaking(ctx, in, against, opts)
		if err == nil {
			if perr := breaking.Print(&buf, vs, format); perr != nil {
				tb.Fatal(perr)
			}
			return buf.String(), nil
		}
	}
	var ce *input.CompileError
	if errors.As(err, &ce) {
		if perr := breaking.Print(&buf, input.CompileViolations(ce), format); perr != nil {
			tb.Fatal(perr)
		}
		return buf.String(), err
	}
	return "", err
}

// gitCommitAll makes dir a git repository whose branch main holds every
// file in it, so that `<dir>/.git#branch=main` reads what dir holds now.
func gitCommitAll(tb testing.TB, dir string) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git is not installed")
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "previous"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
}

// pathArgs returns --path and --exclude-path flags for buf.
func pathArgs(paths, excludes []string) []string {
	var args []string
	for _, p := range paths {
		args = append(args, "--path", p)
	}
	for _, e := range excludes {
		args = append(args, "--exclude-path", e)
	}
	return args
}

// copyTree copies a directory tree.
func copyTree(tb testing.TB, from, to string) {
	tb.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// diffLines describes the lines only in want and only in got.
func diffLines(want, got string) string {
	ws, gs := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		ws[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		gs[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !gs[l] {
			b.WriteString("  buf only:     " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !ws[l] {
			b.WriteString("  natsrpc only: " + l + "\n")
		}
	}
	if b.Len() == 0 {
		b.WriteString("  (same lines, different order)\n")
	}
	return b.String()
}
