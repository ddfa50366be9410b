package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/natsrpc/natsrpc/internal/descset"
)

// update rewrites the golden files: go test ./protoc-gen-natsrpc -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden files (and their .pb.go) under internal/testdata")

const (
	testdataDir = "internal/testdata"
	// repoProtoDir holds natsrpc/v1/options.proto, which test protos import.
	repoProtoDir = "../proto"
	// goldenImportPrefix is the Go import path of testdataDir.
	goldenImportPrefix = "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata"
)

// goldenCase is one directory under internal/testdata: .proto files whose
// import root is the directory, and gen/, the committed output of
// protoc-gen-go and protoc-gen-natsrpc with paths=source_relative.
type goldenCase struct {
	name string
	// param is added to paths=source_relative for protoc-gen-natsrpc.
	param string
	// editions marks cases that protoc 3.21 cannot compile.
	editions bool
	// want lists the .natsrpc.go files expected under gen/, so that a case
	// that silently generates nothing fails.
	want []string
}

var goldenCases = []goldenCase{
	{name: "simple", want: []string{"quest/v1/questv1natsrpc/quest.natsrpc.go"}},
	{name: "multifile", want: []string{
		"multi/v1/multiv1natsrpc/alpha.natsrpc.go",
		"multi/v1/multiv1natsrpc/beta.natsrpc.go",
	}},
	{name: "crosspackage", want: []string{"game/v1/gamev1natsrpc/game.natsrpc.go"}},
	{name: "clash", want: []string{"clash/nats/natsnatsrpc/nats.natsrpc.go"}},
	{name: "proto2", want: []string{"legacy/v1/legacyv1natsrpc/legacy.natsrpc.go"}},
	{name: "proto3optional", want: []string{"opt/v1/optv1natsrpc/opt.natsrpc.go"}},
	{name: "editions", editions: true, want: []string{"ed/v1/edv1natsrpc/ed.natsrpc.go"}},
	{name: "noservice", want: nil},
	{name: "options", want: []string{
		"world/v1/worldv1natsrpc/admin.natsrpc.go",
		"world/v1/worldv1natsrpc/world.natsrpc.go",
	}},
	{name: "samepackage", param: "package_suffix", want: []string{"same/v1/same.natsrpc.go"}},
	{name: "streaming", want: []string{"stream/v1/streamv1natsrpc/stream.natsrpc.go"}},
}

func (c goldenCase) dir() string    { return filepath.Join(testdataDir, c.name) }
func (c goldenCase) genDir() string { return filepath.Join(c.dir(), "gen") }

func (c goldenCase) parameter() string {
	if c.param == "" {
		return "paths=source_relative"
	}
	return "paths=source_relative," + c.param
}

// protoFiles lists the case's .proto files relative to its directory.
func (c goldenCase) protoFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(c.dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".proto") {
			rel, err := filepath.Rel(c.dir(), path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// goldenFiles reads the committed .natsrpc.go files of the case, keyed by
// their path relative to gen/.
func (c goldenCase) goldenFiles(t testing.TB) map[string]string {
	t.Helper()
	return c.goldenFilesEnding(t, generatedFilenameExtension)
}

// goldenFilesEnding reads the committed files of the case whose names end
// in suffix, keyed by their path relative to gen/.
func (c goldenCase) goldenFilesEnding(t testing.TB, suffix string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(c.genDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, suffix) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(c.genDir(), path)
			files[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// testRequest compiles files (paths relative to root, which is an import
// root next to ../proto and the well-known types) with protocompile, keeping
// comments, and returns the CodeGeneratorRequest protoc would send.
func testRequest(t testing.TB, root string, parameter string, files ...string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	req, err := compileRequest(&protocompile.SourceResolver{ImportPaths: []string{root, repoProtoDir}}, parameter, files...)
	if err != nil {
		t.Fatalf("compile %v: %v", files, err)
	}
	return req
}

// testRequestFromSources is testRequest for sources held in memory; they
// may import natsrpc/v1/options.proto and the well-known types.
func testRequestFromSources(t testing.TB, parameter string, sources map[string]string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	options, err := os.ReadFile(filepath.Join(repoProtoDir, "natsrpc/v1/options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"natsrpc/v1/options.proto": string(options)}
	var files []string
	for name, src := range sources {
		all[name] = src
		files = append(files, name)
	}
	slices.Sort(files)
	req, err := compileRequest(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(all)}, parameter, files...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return req
}

func compileRequest(resolver protocompile.Resolver, parameter string, files ...string) (*pluginpb.CodeGeneratorRequest, error) {
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolver),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return nil, err
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	// ProtoFile lists every file and its imports, dependencies first.
	req.ProtoFile = descset.Closure(compiled...).GetFile()
	return req, nil
}

// testGenerate runs the plugin's main loop on req, as protoc would.
func testGenerate(t testing.TB, req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(bytes.NewReader(in), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if got, want := resp.GetSupportedFeatures(), supportedFeatures; got != want {
		t.Errorf("SupportedFeatures = %d; want %d", got, want)
	}
	if got, want := resp.GetMinimumEdition(), int32(descriptorpb.Edition_EDITION_PROTO2); got != want {
		t.Errorf("MinimumEdition = %d; want %d", got, want)
	}
	if got, want := resp.GetMaximumEdition(), int32(descriptorpb.Edition_EDITION_2024); got != want {
		t.Errorf("MaximumEdition = %d; want %d", got, want)
	}
	return resp
}

// testGenerateOK is testGenerate for a request that must succeed; it
// returns the generated files' contents by name.
func testGenerateOK(t testing.TB, req *pluginpb.CodeGeneratorRequest) map[string]string {
	t.Helper()
	resp := testGenerate(t, req)
	if resp.Error != nil {
		t.Fatalf("plugin error:\n%s", resp.GetError())
	}
	files := make(map[string]string)
	for _, f := range resp.GetFile() {
		if _, dup := files[f.GetName()]; dup {
			t.Errorf("file %s generated twice", f.GetName())
		}
		files[f.GetName()] = f.GetContent()
	}
	return files
}

// testPlan runs the generator on req without encoding the response, for
// tests that look at the error value itself.
func testPlan(t testing.TB, req *pluginpb.CodeGeneratorRequest) (*protogen.Plugin, error) {
	t.Helper()
	params := &parameters{packageSuffix: defaultPackageSuffix}
	plugin, err := protogen.Options{ParamFunc: params.set, ImportRewriteFunc: rewriteImport}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	return plugin, generate(plugin, params, defaultShapes)
}

// TestGolden generates every golden case in-process and requires the
// committed gen/ directory: the plugin's files byte for byte, and
// protoc-gen-go's (pinned in tools/go.mod) for the same request. With
// -update it rewrites gen/ instead, except in CI (env CI set), where it
// fails: CI must compare the golden files, never rewrite them into
// agreement with the code under test.
func TestGolden(t *testing.T) {
	if *update && os.Getenv("CI") != "" {
		t.Fatalf("-update rewrites the golden files; refused in CI (CI=%q): run go test ./protoc-gen-natsrpc -run TestGolden -update locally, review the diff and commit it", os.Getenv("CI"))
	}
	t.Parallel()
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := testRequest(t, c.dir(), c.parameter(), c.protoFiles(t)...)
			got := testGenerateOK(t, req)
			for _, content := range got {
				testImportsUsed(t, content)
			}
			if *update {
				testUpdateGolden(t, c, req, got)
			}
			testCompareFiles(t, "protoc-gen-natsrpc output", got, "golden files in "+c.genDir(), c.goldenFiles(t))
			testCompareFiles(t, "protoc-gen-go output", testRunProtocGenGo(t, req), "golden .pb.go files in "+c.genDir(), c.goldenFilesEnding(t, ".pb.go"))
			var names []string
			for name := range got {
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, c.want) {
				t.Errorf("generated %q; want %q", names, c.want)
			}
		})
	}
}

// TestGoldenUpdateRefusedInCI runs TestGolden -update in this test binary
// with CI set, as make generate would in CI: it must fail and leave the
// golden files alone.
func TestGoldenUpdateRefusedInCI(t *testing.T) {
	// Not parallel: were the refusal broken, the child would rewrite the
	// golden files while the parallel tests read them.
	if *update {
		t.Skip("skipped while -update rewrites the golden files")
	}
	before := testReadTree(t, testdataDir)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGolden$", "-test.count=1", "-update")
	cmd.Env = append(os.Environ(), "CI=1")
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
		t.Errorf("TestGolden -update with CI set passed; want it refused:\n%s", out)
	case !strings.Contains(string(out), "refused in CI"):
		t.Errorf("TestGolden -update with CI set failed without saying it refuses -update: %v\n%s", err, out)
	}
	if !maps.Equal(before, testReadTree(t, testdataDir)) {
		t.Errorf("TestGolden -update with CI set changed files under %s", testdataDir)
	}
}

// testCompareFiles fails unless the two sets of files are identical, byte
// for byte, showing the first differing line.
func testCompareFiles(t testing.TB, gotName string, got map[string]string, wantName string, want map[string]string) {
	t.Helper()
	for name, content := range got {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s has %s; %s do not", gotName, name, wantName)
			continue
		}
		if content != w {
			t.Errorf("%s: %s differs from %s (run go test ./protoc-gen-natsrpc -run TestGolden -update if the change is intended):\n%s",
				name, gotName, wantName, firstDiff(content, w))
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s have %s; %s does not", wantName, name, gotName)
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("line %d:\n  got:  %q\n  want: %q", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}

// testUpdateGolden replaces the case's gen/ directory with the plugin's
// output and protoc-gen-go's output for the same request, so that the
// golden packages compile (the test imports them: see golden_test.go).
func testUpdateGolden(t testing.TB, c goldenCase, req *pluginpb.CodeGeneratorRequest, natsrpcFiles map[string]string) {
	t.Helper()
	if err := os.RemoveAll(c.genDir()); err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string)
	for name, content := range natsrpcFiles {
		files[name] = content
	}
	for name, content := range testRunProtocGenGo(t, req) {
		files[name] = content
	}
	for name, content := range files {
		path := filepath.Join(c.genDir(), filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// testRunProtocGenGo runs the repository's pinned protoc-gen-go (tools/go.mod)
// on req with paths=source_relative only (it rejects package_suffix).
func testRunProtocGenGo(t testing.TB, req *pluginpb.CodeGeneratorRequest) map[string]string {
	t.Helper()
	req = proto.CloneOf(req)
	req.Parameter = proto.String("paths=source_relative")
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-modfile=../tools/go.mod", "protoc-gen-go")
	cmd.Env = append(os.Environ(), "GOWORK=off") // -modfile cannot be used in workspace mode
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("protoc-gen-go: %v\n%s", err, stderr.String())
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatalf("protoc-gen-go: %s", resp.GetError())
	}
	files := make(map[string]string)
	for _, f := range resp.GetFile() {
		files[f.GetName()] = f.GetContent()
	}
	return files
}
