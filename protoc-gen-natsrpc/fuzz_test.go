package main

import (
	"bytes"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// Fuzz targets for the plugin's main loop. Seeds live in
// testdata/fuzz/<target>/.
//
//	go test ./protoc-gen-natsrpc -run '^$' -fuzz '^FuzzGenerate$'

// fuzzRun runs the main loop on in and checks the response: run fails only
// on I/O, the response always decodes and reports the features, a problem
// is an error in the response (never a recovered panic, never Go code that
// does not parse), and a success generates distinct .natsrpc.go files of
// valid Go (and their .meta annotations with annotate_code).
func fuzzRun(t *testing.T, in []byte) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	var out bytes.Buffer
	if err := run(bytes.NewReader(in), &out); err != nil {
		t.Fatalf("run failed without an I/O error: %v", err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil {
		t.Fatalf("the response does not decode: %v", err)
	}
	if resp.GetSupportedFeatures() != supportedFeatures || resp.GetMinimumEdition() != int32(supportedEditionsMinimum) || resp.GetMaximumEdition() != int32(supportedEditionsMaximum) {
		t.Fatalf("response without the supported features: %v", resp)
	}
	if resp.Error != nil {
		msg := resp.GetError()
		switch {
		case msg == "":
			t.Fatal("empty error")
		case strings.Contains(msg, "please report it"), strings.Contains(msg, "panic"):
			t.Fatalf("internal error:\n%s", msg)
		case strings.Contains(msg, "unparsable Go source"):
			t.Fatalf("generated code that does not parse:\n%s", msg)
		}
		if len(resp.GetFile()) > 0 {
			t.Fatalf("error %q with %d files", msg, len(resp.GetFile()))
		}
		return resp
	}
	seen := map[string]bool{}
	for _, f := range resp.GetFile() {
		name := f.GetName()
		if seen[name] {
			t.Fatalf("generated file %q twice", name)
		}
		seen[name] = true
		if strings.HasSuffix(name, generatedFilenameExtension+".meta") { // annotate_code
			continue
		}
		if !strings.HasSuffix(name, generatedFilenameExtension) {
			t.Fatalf("generated file %q", name)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), name, f.GetContent(), parser.ParseComments); err != nil {
			t.Fatalf("%s does not parse: %v\n%s", name, err, f.GetContent())
		}
	}
	return resp
}

// fuzzRequest is the CodeGeneratorRequest for descfuzz's base schema.
func fuzzRequest(tb testing.TB) *pluginpb.CodeGeneratorRequest {
	tb.Helper()
	base, err := descfuzz.Base()
	if err != nil {
		tb.Fatal(err)
	}
	return &pluginpb.CodeGeneratorRequest{
		FileToGenerate: descfuzz.Targets,
		Parameter:      proto.String("paths=source_relative"),
		ProtoFile:      base.GetFile(),
	}
}

// FuzzRun feeds arbitrary bytes to the main loop, as protoc or buf (or
// anything else) could write them to its stdin.
func FuzzRun(f *testing.F) {
	// A small valid request keeps the fuzzer's mutations and minimization
	// fast; FuzzGenerate covers the larger schema structurally.
	set, err := testschema.CompileSet(map[string]string{"a/v1/a.proto": `syntax = "proto3";
package a.v1;
option go_package = "example.com/a/v1;av1";
message M { string s = 1; }
// S serves.
service S {
  rpc Get(M) returns (M);
  rpc Watch(M) returns (stream M);
}
`}, "a/v1/a.proto")
	if err != nil {
		f.Fatal(err)
	}
	valid, err := proto.Marshal(&pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"a/v1/a.proto"}, ProtoFile: set.GetFile()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte("this is not protobuf\xff"))
	f.Add([]byte{0x0a, 0x05, 'a', '.', 'p', 'r', 'o'})
	f.Add([]byte{0x12, 0x03, 'x', '=', 'y', 0x0a, 0x01, 'a'})
	f.Add([]byte{0x7a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRun(t, in)
	})
}

// fuzzParameters are parameter strings the generate target picks from:
// the ones protoc-gen-go and the plugin accept, and broken ones.
var fuzzParameters = []string{
	"", "paths=source_relative", "paths=import", "paths=bogus", "package_suffix", "package_suffix=", "package_suffix=x",
	"package_suffix=1x", "package_suffix=go", "package_suffix=a b", "module=example.com", "module=example.com/fuzz",
	"module=nope", "annotate_code", "annotate_code=maybe", "Mfuzz/svc/v1/svc.proto=example.com/other;otherv1",
	"Mfuzz/svc/v1/svc.proto=", "Mfuzz/common/v1/common.proto=example.com/fuzz/svc/v1;svcv1", "M=", "=", ",,", "x",
	"paths=source_relative,package_suffix=", "paths=source_relative,package_suffix=natsrpc,module=example.com",
}

// FuzzGenerate mutates a valid request structurally: a descfuzz program
// edits the descriptors (names, types, options, malformed natsrpc option
// bytes, go_package, comments, imports), and the parameter and the files
// to generate change. Whatever the request, the plugin must answer with
// valid code or an error in the response.
func FuzzGenerate(f *testing.F) {
	f.Add([]byte{}, byte(1), byte(0x0f), "")
	f.Add([]byte{29, 0, 1, 30, 0, 1}, byte(1), byte(0x0f), "")
	f.Add([]byte{32, 2, 8, 32, 1, 0}, byte(1), byte(0x08), "")
	f.Add([]byte{27, 0, 20, 28, 1, 21, 28, 2, 22}, byte(20), byte(0x0f), "")
	f.Add([]byte{34, 3, 50, 34, 2, 51}, byte(3), byte(0x0f), "")
	f.Add([]byte{18, 40, 0x38, 18, 41, 0x3c, 18, 42, 0x41}, byte(1), byte(0x0f), "")
	f.Add([]byte{0, 4, 'T', 'y', 'p', 'e', 27, 3, 255}, byte(7), byte(0x1f), "paths=source_relative,package_suffix=")
	base := fuzzRequest(f)
	f.Fuzz(func(t *testing.T, program []byte, param, files byte, extra string) {
		set := &descriptorpb.FileDescriptorSet{File: base.GetProtoFile()}
		set = proto.CloneOf(set)
		descfuzz.Mutate(set, program)
		req := &pluginpb.CodeGeneratorRequest{ProtoFile: set.GetFile()}
		if p := fuzzParameters[int(param)%len(fuzzParameters)]; p != "" || extra != "" {
			if extra != "" {
				p += "," + extra
			}
			req.Parameter = proto.String(p)
		}
		for i, name := range descfuzz.Targets {
			if files&(1<<i) != 0 {
				req.FileToGenerate = append(req.FileToGenerate, name)
			}
		}
		if files&0x10 != 0 {
			req.FileToGenerate = append(req.FileToGenerate, "missing.proto")
		}
		if files&0x20 != 0 {
			req.FileToGenerate = append(req.FileToGenerate, "natsrpc/v1/options.proto")
		}
		in, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
		if err != nil {
			return // invalid UTF-8 in a string field: not a request protoc can send
		}
		fuzzRun(t, in)
	})
}
