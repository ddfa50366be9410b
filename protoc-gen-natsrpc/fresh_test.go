package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

const (
	// freshDir holds the proto TestFreshPlugin generates from (its import
	// root) and the behaviour test it runs on the output.
	freshDir = "testdata/fresh"
	// freshModule is the temporary module's path. It lies under this
	// module's path so that its test may import internal/natsserver/natstest (Go
	// allows internal imports by import path, across modules).
	freshModule = "github.com/natsrpc/natsrpc/freshgen"
)

// TestFreshPlugin checks the behaviour of the code the plugin generates
// now, not of the committed golden files: the other behaviour tests
// compile the golden packages, so a generator bug that -update had written
// into them (a subject constant without its package, pointer receivers on
// the Unimplemented handler) would pass them.
//
// It builds protoc-gen-natsrpc, runs the binary on testdata/fresh's proto
// as protoc does (a CodeGeneratorRequest on stdin, compiled here with
// protocompile), adds protoc-gen-go's output, and puts both with
// testdata/fresh/behaviour_test.go in a temporary module that requires
// this checkout through a replace directive and copies its go_test.mod
// requirements and go_test.sum, so that it builds with the same versions
// (-mod=readonly: the copies must suffice, nothing is resolved anew). There
// go vet and go test run the behaviour test: the generated constants
// against the wire contract and the runtime, and the generated clients and
// handlers against each other on a real nats-server.
func TestFreshPlugin(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the plugin and runs go test on its output; skipped in -short mode")
	}
	bin := testPluginBinary(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	req := testRequest(t, freshDir, "paths=source_relative", "fresh/v1/fresh.proto")
	natsrpcFiles := testRunPluginBinary(t, bin, req)
	if len(natsrpcFiles) == 0 {
		t.Fatal("the plugin generated nothing")
	}

	mod := t.TempDir()
	for name, content := range natsrpcFiles {
		testWriteFile(t, filepath.Join(mod, "gen", filepath.FromSlash(name)), content)
	}
	for name, content := range testRunProtocGenGo(t, req) {
		testWriteFile(t, filepath.Join(mod, "gen", filepath.FromSlash(name)), content)
	}
	testCopyFile(t, filepath.Join(freshDir, "behaviour_test.go"), filepath.Join(mod, "behaviour_test.go"))
	testWriteFile(t, filepath.Join(mod, "go.mod"), freshGoMod(t, root))
	testCopyFile(t, filepath.Join(root, "go_test.sum"), filepath.Join(mod, "go.sum"))

	env := append(os.Environ(), "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=readonly"))
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "-v", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = mod, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s on the fresh plugin's output: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
}

// freshGoMod is the temporary module's go.mod: this module's go_test.mod
// (the behaviour test starts a nats-server, which go.mod leaves out),
// renamed, requiring this module from root, with its relative replace
// directives (the local test-support modules) made absolute.
func freshGoMod(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go_test.mod"))
	if err != nil {
		t.Fatal(err)
	}
	const self = "module github.com/natsrpc/natsrpc\n"
	gomod := string(b)
	if !strings.HasPrefix(gomod, self) {
		t.Fatalf("%s does not start with %q", filepath.Join(root, "go_test.mod"), self)
	}
	lines := strings.Split(strings.TrimPrefix(gomod, self), "\n")
	for i, line := range lines {
		before, target, ok := strings.Cut(line, " => ")
		if ok && (strings.HasPrefix(target, "./") || strings.HasPrefix(target, "../")) {
			lines[i] = before + " => " + filepath.Join(root, filepath.FromSlash(target))
		}
	}
	return "module " + freshModule + "\n" + strings.Join(lines, "\n") +
		"\nrequire github.com/natsrpc/natsrpc v0.0.0-00010101000000-000000000000\n" +
		"\nreplace github.com/natsrpc/natsrpc => " + root + "\n"
}

// testRunPluginBinary runs the built plugin on req, as protoc does, and
// returns the generated files' contents by name.
func testRunPluginBinary(t testing.TB, bin string, req *pluginpb.CodeGeneratorRequest) map[string]string {
	t.Helper()
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		t.Fatalf("decode the plugin's response: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("plugin error:\n%s", resp.GetError())
	}
	files := make(map[string]string)
	for _, f := range resp.GetFile() {
		files[f.GetName()] = f.GetContent()
	}
	return files
}
