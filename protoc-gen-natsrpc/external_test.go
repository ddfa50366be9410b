package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pluginBinary is protoc-gen-natsrpc built once for the tests that run it
// as protoc and buf do.
var pluginBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginBinary.dir != "" {
		os.RemoveAll(pluginBinary.dir)
	}
	os.Exit(code)
}

func testPluginBinary(t testing.TB) string {
	t.Helper()
	pluginBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "protoc-gen-natsrpc-test-")
		if err != nil {
			pluginBinary.err = err
			return
		}
		pluginBinary.dir = dir
		pluginBinary.path = filepath.Join(dir, "protoc-gen-natsrpc")
		out, err := exec.Command("go", "build", "-o", pluginBinary.path, ".").CombinedOutput()
		if err != nil {
			pluginBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if pluginBinary.err != nil {
		t.Fatal(pluginBinary.err)
	}
	return pluginBinary.path
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	bin := testPluginBinary(t)
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{args: []string{"--version"}, wantStdout: version + "\n"},
		{args: []string{"--help"}, wantStdout: usage + "\n"},
		{args: []string{"-h"}, wantStdout: usage + "\n"},
		{args: []string{"generate"}, wantCode: 2, wantStderr: "protoc-gen-natsrpc: unknown argument \"generate\"\n\n" + usage + "\n"},
	}
	for _, test := range tests {
		cmd := exec.Command(bin, test.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != test.wantCode || stdout.String() != test.wantStdout || stderr.String() != test.wantStderr {
			t.Errorf("protoc-gen-natsrpc %v: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
				test.args, code, stdout.String(), stderr.String(), test.wantCode, test.wantStdout, test.wantStderr)
		}
	}
}

// TestBufAndProtoc runs the built plugin under the real buf generate and
// the real protoc on every golden case and requires both to produce the
// committed golden files, byte for byte. protoc 3.21 cannot parse editions,
// so the editions case runs under buf only. Without protoc the protoc half
// is skipped locally but fails in CI (env CI set), which installs it.
func TestBufAndProtoc(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs buf and protoc; skipped in -short mode")
	}
	bin := testPluginBinary(t)
	protoc, protocErr := exec.LookPath("protoc")
	if protocErr != nil && os.Getenv("CI") != "" {
		t.Fatalf("protoc is required in CI (apt-get install protobuf-compiler): %v", protocErr)
	}
	repoRoot, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			files := c.protoFiles(t)
			for _, f := range files {
				testCopyFile(t, filepath.Join(c.dir(), f), filepath.Join(src, f))
			}
			testCopyFile(t, filepath.Join(repoProtoDir, "natsrpc/v1/options.proto"), filepath.Join(src, "natsrpc/v1/options.proto"))
			golden := c.goldenFiles(t)

			// buf generate, from the repository root so that go tool finds
			// tools/go.mod, on a workspace holding the case's files.
			testWriteFile(t, filepath.Join(tmp, "buf.yaml"), "version: v2\nmodules:\n  - path: src\n")
			opts := `"` + strings.Join(strings.Split(c.parameter(), ","), `", "`) + `"`
			testWriteFile(t, filepath.Join(tmp, "buf.gen.yaml"), fmt.Sprintf(
				"version: v2\nplugins:\n  - local: %q\n    out: buf-out\n    opt: [%s]\n    strategy: all\n", bin, opts))
			buf := exec.Command("go", "tool", "-modfile=tools/go.mod", "buf", "generate", tmp,
				"--template", filepath.Join(tmp, "buf.gen.yaml"), "-o", tmp)
			buf.Dir = repoRoot
			// -modfile cannot be used in workspace mode; buf's plugins
			// inherit the setting.
			buf.Env = append(os.Environ(), "GOWORK=off")
			if out, err := buf.CombinedOutput(); err != nil {
				t.Fatalf("buf generate: %v\n%s", err, out)
			}
			bufFiles := testReadTree(t, filepath.Join(tmp, "buf-out"))
			testCompareFiles(t, "buf generate output", bufFiles, "golden files in "+c.genDir(), golden)

			if c.editions {
				return
			}
			if protocErr != nil {
				t.Skipf("protoc not found, protoc half skipped (it fails when CI is set): %v", protocErr)
			}
			out := filepath.Join(tmp, "protoc-out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			args := append([]string{
				"-I", src,
				"--plugin=protoc-gen-natsrpc=" + bin,
				"--natsrpc_out=" + out,
				"--natsrpc_opt=" + c.parameter(),
			}, files...)
			cmd := exec.Command(protoc, args...)
			if output, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("protoc %s: %v\n%s", strings.Join(args, " "), err, output)
			}
			testCompareFiles(t, "protoc output", testReadTree(t, out), "buf generate output", bufFiles)
		})
	}
}

// TestProtocReportsErrors checks that an invalid option reaches the user
// through protoc as the plugin's error, naming file, element and option.
func TestProtocReportsErrors(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs protoc; skipped in -short mode")
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("protoc is required in CI: %v", err)
		}
		t.Skipf("protoc not found: %v", err)
	}
	bin := testPluginBinary(t)
	src := t.TempDir()
	testCopyFile(t, filepath.Join(repoProtoDir, "natsrpc/v1/options.proto"), filepath.Join(src, "natsrpc/v1/options.proto"))
	testWriteFile(t, filepath.Join(src, "acme/v1/bad.proto"), errHeader+
		`service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "a..b"}; } }`+"\n")
	cmd := exec.Command(protoc, "-I", src, "--plugin=protoc-gen-natsrpc="+bin, "--natsrpc_out="+t.TempDir(), "acme/v1/bad.proto")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("protoc succeeded; want the plugin's error")
	}
	want := `--natsrpc_out: acme/v1/bad.proto: acme.v1.Svc.Get: option (natsrpc.v1.method).subject: "a..b": token 2: empty token (two dots in a row, or a leading or trailing dot)`
	if !strings.Contains(string(out), want) {
		t.Errorf("protoc output:\n%s\nwant it to contain:\n%s", out, want)
	}
}

func testCopyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	testWriteFile(t, to, string(b))
}

func testWriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testReadTree reads every file under dir, keyed by slash path relative to
// dir; a missing dir is empty.
func testReadTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

// TestGoldenVet runs go vet on the golden packages: go vet ./... skips
// testdata directories, and importing them (golden_test.go) only
// type-checks them.
func TestGoldenVet(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go vet; skipped in -short mode")
	}
	if *update {
		// The golden packages are being rewritten by TestGolden right now.
		t.Skip("skipped while -update rewrites the golden files")
	}
	dirs := make(map[string]bool)
	err := filepath.WalkDir(testdataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			dirs["./"+filepath.ToSlash(filepath.Dir(path))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no golden Go files under %s: go vet would check nothing", testdataDir)
	}
	args := []string{"vet"}
	for dir := range dirs {
		args = append(args, dir)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Errorf("go vet on the golden packages: %v\n%s", err, out)
	}
}
