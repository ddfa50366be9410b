package breaking_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/command/breaking"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// The CLI tests run `natsrpc breaking` in process and, where buf has the
// same feature, the real buf CLI (pinned in tools/go.mod) on the same
// inputs, and require the same stdout and exit code.

var (
	bufOnce sync.Once
	bufPath string
	bufErr  error
)

// testBuf returns the pinned buf binary, built once and cached in the user
// cache directory under the hash of tools/go.sum.
func testBuf(t *testing.T) string {
	t.Helper()
	if testing.Short() || os.Getenv("NATSRPC_SKIP_BUF") != "" {
		t.Skip("needs the buf CLI; skipped in -short mode or with NATSRPC_SKIP_BUF")
	}
	root := testschema.RepoRoot(t)
	bufOnce.Do(func() {
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
		cmd := exec.Command("go", "build", "-modfile="+filepath.Join(root, "tools", "go.mod"), "-o", filepath.Join(tmp, "buf"), "github.com/bufbuild/buf/cmd/buf")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOWORK=off") // -modfile cannot be used in workspace mode
		if out, err := cmd.CombinedOutput(); err != nil {
			bufErr = errors.New(string(out) + err.Error())
			return
		}
		bufErr = os.Rename(filepath.Join(tmp, "buf"), bufPath)
	})
	if bufErr != nil {
		t.Fatalf("cannot build buf from tools/go.mod: %v", bufErr)
	}
	return bufPath
}

// natsrpc runs `natsrpc <args>` in process in dir and returns stdout,
// stderr and the exit code.
func natsrpc(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	root := cli.NewRoot("natsrpc", breaking.NewCommand("breaking"))
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	oldStderr := os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stderr = w
	code := cli.Execute(context.Background(), root)
	os.Stderr = oldStderr
	w.Close()
	var errOut bytes.Buffer
	if _, err := errOut.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String() + errOut.String(), code
}

func runBuf(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testBuf(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), ee.ExitCode()
	default:
		t.Fatalf("running buf: %v", err)
		return "", 0
	}
}

func testdata(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	copyTree(t, src, dir)
	return dir
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
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
		t.Fatal(err)
	}
}

// TestErrorFormatsMatchBuf compares every error format with buf's.
func TestErrorFormatsMatchBuf(t *testing.T) {
	dir := testdata(t)
	for _, format := range []string{"text", "json", "msvs", "junit", "github-actions", "gitlab-code-quality"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"breaking", "current", "--against", "previous", "--error-format", format}
			want, wantCode := runBuf(t, dir, args...)
			got, stderr, code := natsrpc(t, dir, args...)
			if code != wantCode || code != cli.ExitRefused {
				t.Fatalf("exit code %d, buf %d; stderr: %s", code, wantCode, stderr)
			}
			if got != want {
				t.Errorf("output differs from buf\nbuf:\n%s\nnatsrpc:\n%s", want, got)
			}
		})
	}
}

// TestInputsMatchBuf compares buf and natsrpc on the input kinds both
// support: directories, images in every encoding, git references and
// configuration overrides.
func TestInputsMatchBuf(t *testing.T) {
	dir := testdata(t)
	buf := testBuf(t)
	for _, f := range []string{"previous.binpb", "previous.json", "previous.txtpb"} {
		cmd := exec.Command(buf, "build", "previous", "-o", f)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("buf build: %v: %s", err, out)
		}
	}
	cmd := exec.Command(buf, "build", "previous", "--exclude-source-info", "-o", "nosource.binpb")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v: %s", err, out)
	}
	gitInit(t, dir)
	cases := []struct {
		name string
		args []string
	}{
		{"dir", []string{"current", "--against", "previous"}},
		{"clean", []string{"clean", "--against", "previous"}},
		{"binpb image", []string{"current", "--against", "previous.binpb"}},
		{"json image", []string{"current", "--against", "previous.json"}},
		{"txtpb image", []string{"current", "--against", "previous.txtpb"}},
		{"image against image", []string{"previous.binpb", "--against", "previous.json"}},
		{"image without source info", []string{"nosource.binpb", "--against", "previous.binpb"}},
		{"git branch", []string{"current", "--against", ".git#branch=main,subdir=previous"}},
		{"git tag", []string{"current", "--against", ".git#tag=v1,subdir=previous"}},
		{"git head", []string{"current", "--against", ".git#subdir=clean"}},
		{"config inline yaml", []string{"current", "--against", "previous", "--config", "version: v1\nbreaking:\n  use: [WIRE]\n"}},
		{"config inline json", []string{"current", "--against", "previous", "--config", `{"version":"v1","breaking":{"use":["WIRE_JSON"],"except":["FIELD_SAME_JSON_NAME"]}}`}},
		{"config file", []string{"current", "--against", "previous", "--config", "wire.yaml"}},
		{"config ignore_only", []string{"current", "--against", "previous", "--config", "version: v1\nbreaking:\n  use: [FILE]\n  ignore_only:\n    FIELD_SAME_TYPE: [gaming/npc]\n"}},
		{"exclude imports", []string{"current", "--against", "previous", "--exclude-imports"}},
		{"path", []string{"current", "--against", "previous", "--path", "current/gaming/npc/v1/npc.proto"}},
		{"deprecated rules", []string{"current", "--against", "previous", "--config", "version: v1\nbreaking:\n  use: [FIELD_SAME_LABEL, FIELD_SAME_CTYPE]\n"}},
	}
	if err := os.WriteFile(filepath.Join(dir, "wire.yaml"), []byte("version: v1\nbreaking:\n  use: [WIRE]\n  except: [RPC_SAME_SERVER_STREAMING]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"breaking"}, c.args...)
			args = append(args, "--error-format", "json")
			want, wantCode := runBuf(t, dir, args...)
			got, stderr, code := natsrpc(t, dir, args...)
			if code != wantCode {
				t.Fatalf("exit code %d, buf %d; stderr: %s", code, wantCode, stderr)
			}
			if got != want {
				t.Errorf("output differs from buf\nbuf:\n%s\nnatsrpc:\n%s", want, got)
			}
		})
	}
}

func gitInit(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "previous", "clean"},
		{"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "previous"},
		{"tag", "v1"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
}

// TestExitCodes checks the exit codes and the one-line messages.
func TestExitCodes(t *testing.T) {
	dir := testdata(t)
	if err := os.MkdirAll(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken", "x.proto"), []byte("syntax = \"proto3\";\nmessage M { int32 a = 1 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage.binpb"), []byte("not a descriptor set"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring of stdout
		stderr     string // substring of stderr
		emptyStdio bool
	}{
		{"breaking", []string{"current", "--against", "previous"}, 100, `on message "Npc" was deleted.`, "", false},
		{"gcc is not a breaking format", []string{"current", "--against", "previous", "--error-format", "gcc"}, 1, "", `invalid format: "gcc"`, true},
		{"v2 config override", []string{"current", "--against", "previous", "--config", "version: v2\nbreaking:\n  use: [WIRE]\n", "--error-format", "json"}, 100, `"type":"RPC_SAME_SERVER_STREAMING"`, "", false},
		{"clean", []string{"clean", "--against", "previous"}, 0, "", "", true},
		{"compile error in input", []string{"broken", "--against", "previous", "--error-format", "json"}, 100, `"type":"COMPILE"`, "", false},
		{"compile error in against", []string{"previous", "--against", "broken", "--error-format", "github-actions"}, 100, "::error file=broken/x.proto,line=2", "", false},
		{"missing against", []string{"current"}, 1, "", "--against is required", true},
		{"bad format", []string{"current", "--against", "previous", "--error-format", "xml"}, 1, "", `invalid format: "xml"`, true},
		{"unknown flag", []string{"current", "--against", "previous", "--bogus"}, 1, "", "unknown flag", true},
		{"missing input", []string{"nothere", "--against", "previous"}, 1, "", `input "nothere" does not exist`, true},
		{"garbage image", []string{"current", "--against", "garbage.binpb"}, 1, "", "not a binary FileDescriptorSet", true},
		{"missing git repo", []string{"current", "--against", "nothere/.git#branch=main"}, 1, "", "does not exist", true},
		{"bad config", []string{"current", "--against", "previous", "--config", "version: v2\nbreaking:\n  use: [NOT_A_RULE]\n"}, 1, "", `"NOT_A_RULE" is not a known rule or category ID`, true},
		{"bad ref options", []string{"current", "--against", "previous#branch"}, 1, "", "key=value", true},
		{"natsrpc rules off by default", []string{"clean", "--against", "previous", "--natsrpc-rules"}, 0, "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := natsrpc(t, dir, append([]string{"breaking"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, c.stdout)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, c.stderr)
			}
			if c.emptyStdio && stdout != "" {
				t.Errorf("stdout should be empty, got %q", stdout)
			}
			if c.code == 1 && strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage") {
				t.Errorf("error should be one line, got %q", stderr)
			}
		})
	}
}

// TestPathsMatchBuf runs buf and natsrpc with --path and --exclude-path on
// a module that lost a package (b), gained one (c) and changed one (d),
// against the previous commit, an image of it, and from the module
// directory and from above it. buf narrows both sides with the same paths
// (relative to the working directory for directories, to the subdir for
// git inputs, import paths for images), so a deletion outside the paths is
// not reported, and a path that selects nothing on one side is refused.
func TestPathsMatchBuf(t *testing.T) {
	buf := testBuf(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(pkg, name, typ string) string {
		return "syntax = \"proto3\";\npackage " + pkg + ";\nmessage " + name + " { " + typ + " x = 1; }\n"
	}
	write("proto/buf.yaml", "version: v2\n")
	write("proto/a/a.proto", msg("a", "A", "int32"))
	write("proto/b/b.proto", msg("b", "B", "int32"))
	write("proto/d/d.proto", msg("d", "D", "int32"))
	build := func(out string) {
		t.Helper()
		cmd := exec.Command(buf, "build", "proto", "-o", out)
		cmd.Dir = dir
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("buf build: %v: %s", err, o)
		}
	}
	build("prev.binpb")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "proto"},
		{"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "previous"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "proto", "b")); err != nil {
		t.Fatal(err)
	}
	write("proto/c/c.proto", msg("c", "C", "int32"))
	write("proto/d/d.proto", msg("d", "D", "int64"))
	build("cur.binpb")

	type run struct {
		wd   string // relative to dir
		args []string
	}
	var runs []run
	inProto := [][]string{
		{"--path", "a"}, // the issue: buf passes, natsrpc reported b as deleted
		{"--path", "d"},
		{"--path", "b"},
		{"--path", "c"},
		{"--path", "a/a.proto"},
		{"--path", "a", "--path", "b"},
		{"--path", "a", "--path", "nothere"},
		{"--exclude-path", "b"},
		{"--exclude-path", "d"},
		{"--exclude-path", "a", "--exclude-path", "d"},
		{"--path", "d", "--exclude-path", "d/d.proto"},
		{"--path", "d/d.proto", "--exclude-path", "d"},
		{"--path", "."},
		{"--path", "../proto/a"},
	}
	for _, p := range inProto {
		runs = append(runs,
			run{"proto", append([]string{".", "--against", "../.git#branch=main,subdir=proto"}, p...)},
			run{"proto", append([]string{".", "--against", "../prev.binpb"}, p...)},
			run{".", append([]string{"cur.binpb", "--against", "prev.binpb"}, p...)},
		)
	}
	for _, p := range [][]string{
		{"--path", "proto/a"},
		{"--path", "proto/c"},
		{"--exclude-path", "proto/b"},
		{"--path", "proto", "--exclude-path", "proto/d"},
		{"--path", "proto/a", "--path", "elsewhere"},
	} {
		runs = append(runs,
			run{".", append([]string{"proto", "--against", ".git#branch=main,subdir=proto"}, p...)},
			run{".", append([]string{"proto", "--against", "proto"}, p...)},
			run{".", append([]string{"proto", "--against", "prev.binpb"}, p...)},
		)
	}
	runs = append(runs,
		run{"proto", []string{"a/a.proto", "--against", "../.git#branch=main,subdir=proto", "--exclude-path", "d"}},
		run{"proto", []string{".", "--against", "a/a.proto", "--path", "a"}},
	)
	codes := map[int]int{}
	for _, r := range runs {
		t.Run(strings.Join(append([]string{r.wd}, r.args...), " "), func(t *testing.T) {
			args := append([]string{"breaking"}, r.args...)
			args = append(args, "--error-format", "json")
			wd := filepath.Join(dir, r.wd)
			want, wantCode := runBuf(t, wd, args...)
			got, stderr, code := natsrpc(t, wd, args...)
			codes[wantCode]++
			if code != wantCode {
				t.Fatalf("exit code %d, buf %d; stdout: %s; stderr: %s", code, wantCode, got, stderr)
			}
			if got != want {
				t.Errorf("output differs from buf\nbuf:\n%s\nnatsrpc:\n%s", want, got)
			}
		})
	}
	if codes[0] == 0 || codes[1] == 0 || codes[100] == 0 {
		t.Errorf("the runs should include clean, refused and breaking outcomes; buf's exit codes: %v", codes)
	}
}
