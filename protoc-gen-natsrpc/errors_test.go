package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

const errHeader = `syntax = "proto3";
package acme.v1;
import "google/protobuf/empty.proto";
import "natsrpc/v1/options.proto";
option go_package = "example.com/acme/v1;acmev1";
message Req {}
message Res {}
`

// TestOptionErrors checks that misused natsrpc options come back in the
// response's error field, naming the file, the element and the option, and
// that nothing is generated.
func TestOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sources map[string]string
		param   string
		want    string
	}{
		{
			name: "file subject_prefix with a wildcard",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `option (natsrpc.v1.file) = {subject_prefix: "studio.*"};
service Svc { rpc Get(Req) returns (Res); }`},
			want: `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.file).subject_prefix: "studio.*": token 2: "*" contains the wildcard '*'`,
		},
		{
			name:    "service subject_prefix starting with $",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { option (natsrpc.v1.service) = {subject_prefix: "$SRV"}; rpc Get(Req) returns (Res); }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.service).subject_prefix: "$SRV": subjects starting with "$" are reserved for NATS`,
		},
		{
			name:    "service subject with an empty token",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { option (natsrpc.v1.service) = {subject: "billing..v1"}; rpc Get(Req) returns (Res); }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.service).subject: "billing..v1": token 2: empty token (two dots in a row, or a leading or trailing dot)`,
		},
		{
			name:    "method subject with whitespace",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "get one"}; } }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.Get: option (natsrpc.v1.method).subject: "get one": token 1: "get one" contains whitespace or a control character`,
		},
		{
			name: "two methods on one subject",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc {
  rpc Get(Req) returns (Res);
  rpc Fetch(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "Get"}; }
}`},
			want: `acme/v1/bad.proto: acme.v1.Svc.Fetch: option (natsrpc.v1.method).subject: subject "acme.v1.Svc.Get" is also used by method "Get"; give one of them another subject`,
		},
		{
			name:    "version that is not SemVer",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { option (natsrpc.v1.service) = {version: "v1"}; rpc Get(Req) returns (Res); }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.service).version: "v1" is not a SemVer version such as "1.2.3"`,
		},
		{
			name:    "queue_group with no_queue_group",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { option (natsrpc.v1.service) = {queue_group: "w" no_queue_group: true}; rpc Get(Req) returns (Res); }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.service).queue_group: "w" is set together with no_queue_group; set one of them`,
		},
		{
			name:    "negative timeout",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: -1}}; } }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.Get: option (natsrpc.v1.method).timeout: duration {seconds: -1, nanos: 0} must be positive with nanos below 1e9`,
		},
		{
			name:    "event that does not return Empty",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Changed(Req) returns (Res) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.Changed: option (natsrpc.v1.method).kind: an event must return google.protobuf.Empty, not "acme.v1.Res"`,
		},
		{
			name:    "streaming event",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Changed(Req) returns (stream google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.Changed: option (natsrpc.v1.method).kind: an event cannot stream; remove "stream" from the method or make it request/reply`,
		},
		{
			name:    "delivery on a request/reply method",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {delivery: EVENT_DELIVERY_BROADCAST}; } }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.Get: option (natsrpc.v1.method).delivery: only events have a delivery; set kind: METHOD_KIND_EVENT or remove delivery`,
		},
		{
			name: "durable broadcast event",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Changed(Req) returns (google.protobuf.Empty) {
  option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST durable: {}};
} }`},
			want: `acme/v1/bad.proto: acme.v1.Svc.Changed: option (natsrpc.v1.method).durable: a durable event is consumed once by a durable consumer and cannot be broadcast; remove delivery or durable`,
		},
		{
			name: "durable event with a bad stream name",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc Changed(Req) returns (google.protobuf.Empty) {
  option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {stream: "world.events"}};
} }`},
			want: `acme/v1/bad.proto: acme.v1.Svc.Changed: option (natsrpc.v1.method).durable: stream "world.events": use only letters, digits, "_" and "-"`,
		},
		{
			name: "skipped service is still validated",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc {
  option (natsrpc.v1.service) = {skip: true version: "latest"};
  rpc Get(Req) returns (Res);
}`},
			want: `acme/v1/bad.proto: acme.v1.Svc: option (natsrpc.v1.service).version: "latest" is not a SemVer version such as "1.2.3"`,
		},
		{
			name: "every error of every file",
			sources: map[string]string{
				"acme/v1/a.proto": strings.Replace(errHeader, "message Req {}\nmessage Res {}\n", "", 1) + `import "acme/v1/types.proto";
service A { option (natsrpc.v1.service) = {version: "one"}; rpc Get(Req) returns (Res); }
service B { option (natsrpc.v1.service) = {queue_group: "a.b"}; rpc Get(Req) returns (Res); }`,
				"acme/v1/b.proto": strings.Replace(errHeader, "message Req {}\nmessage Res {}\n", "", 1) + `import "acme/v1/types.proto";
service C { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: ">"}; } }`,
				"acme/v1/types.proto": "syntax = \"proto3\";\npackage acme.v1;\noption go_package = \"example.com/acme/v1;acmev1\";\nmessage Req {}\nmessage Res {}\n",
			},
			want: `acme/v1/a.proto: acme.v1.A: option (natsrpc.v1.service).version: "one" is not a SemVer version such as "1.2.3"
acme/v1/a.proto: acme.v1.B: option (natsrpc.v1.service).queue_group: "a.b": "a.b" contains a dot
acme/v1/b.proto: acme.v1.C.Get: option (natsrpc.v1.method).subject: ">": token 1: ">" contains the wildcard '>'`,
		},
		{
			name: "generated names clash between services",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Foo { rpc ServiceList(Req) returns (Res); }
service FooService { rpc List(Req) returns (Res); }`},
			want: `acme/v1/bad.proto: acme.v1.FooService.List: the generated Go identifier FooServiceListSubject is also generated for acme.v1.Foo.ServiceList (acme/v1/bad.proto); rename one of them`,
		},
		{
			name: "generated names clash between files of one package",
			sources: map[string]string{
				"acme/v1/a.proto": errHeader + `service Foo { rpc Get(Req) returns (Res); }`,
				"acme/v1/b.proto": strings.Replace(errHeader, "message Req {}\nmessage Res {}\n", "message Req2 {}\n", 1) + `service NewFoo { rpc Get(Req2) returns (Req2); }`,
			},
			want: `acme/v1/b.proto: acme.v1.NewFoo: the generated Go identifier NewFooClient is also generated for acme.v1.Foo (acme/v1/a.proto); rename one of them`,
		},
		{
			name: "generated names clash with messages in the same package",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `message SvcClient {}
service Svc { rpc Get(Req) returns (Res); }`},
			param: "package_suffix=",
			want:  `acme/v1/bad.proto: acme.v1.Svc: the generated Go identifier SvcClient is also declared by protoc-gen-go for message acme.v1.SvcClient (acme/v1/bad.proto) in the same Go package; rename one of them or set package_suffix`,
		},
		{
			name:    "method names that differ only in case",
			sources: map[string]string{"acme/v1/bad.proto": errHeader + `service Svc { rpc GetX(Req) returns (Res); rpc get_x(Req) returns (Res); }`},
			want:    `acme/v1/bad.proto: acme.v1.Svc.get_x: the generated Go identifier SvcGetXSubject is also generated for acme.v1.Svc.GetX (acme/v1/bad.proto); rename one of them`,
		},
		{
			name:    "missing go_package",
			sources: map[string]string{"acme/v1/bad.proto": strings.Replace(errHeader, "option go_package = \"example.com/acme/v1;acmev1\";\n", "", 1) + `service Svc { rpc Get(Req) returns (Res); }`},
			want: `unable to determine Go import path for "acme/v1/bad.proto"

Please specify either:
	• a "go_package" option in the .proto source file, or
	• a "M" argument on the command line.

See https://protobuf.dev/reference/go/go-generated#package for more information.
`,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			req := testRequestFromSources(t, test.param, test.sources)
			resp := testGenerate(t, req)
			if resp.Error == nil {
				t.Fatalf("no error; want:\n%s", test.want)
			}
			if got := resp.GetError(); got != test.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, test.want)
			}
			if len(resp.GetFile()) != 0 {
				t.Errorf("generated %d files with an error; want none", len(resp.GetFile()))
			}
		})
	}
}

// TestSpecErrorType checks that option errors are spec's: the plugin, the
// runtime, the checker and the registry report the same problem the same
// way.
func TestSpecErrorType(t *testing.T) {
	t.Parallel()
	req := testRequestFromSources(t, "", map[string]string{"acme/v1/bad.proto": errHeader +
		`service Svc { option (natsrpc.v1.service) = {version: "x"}; rpc Get(Req) returns (Res); }`})
	_, err := testPlan(t, req)
	var specErr *spec.Error
	if !errors.As(err, &specErr) {
		t.Fatalf("error %v (%T) is not a *spec.Error", err, err)
	}
	if specErr.File != "acme/v1/bad.proto" || specErr.Element != "acme.v1.Svc" || specErr.Option != "(natsrpc.v1.service).version" {
		t.Errorf("spec.Error{File: %q, Element: %q, Option: %q}", specErr.File, specErr.Element, specErr.Option)
	}
}

// TestRunRecoversPanics checks that a bug in the generator comes back as an
// error in the response, not as a crash that protoc reports obscurely.
func TestRunRecoversPanics(t *testing.T) {
	t.Parallel()
	req := testRequest(t, goldenCases[0].dir(), "", goldenCases[0].protoFiles(t)...)
	broken := map[spec.Kind]*shape{}
	for k, v := range defaultShapes {
		broken[k] = v
	}
	broken[spec.KindUnary] = &shape{label: "unary", noun: "RPC"} // no signature functions
	resp := generateResponse(req, broken)
	if !strings.HasPrefix(resp.GetError(), "internal error, please report it: panic: ") {
		t.Errorf("error = %q; want an internal error", resp.GetError())
	}
	if resp.GetSupportedFeatures() != supportedFeatures {
		t.Errorf("SupportedFeatures = %d; want %d even on errors", resp.GetSupportedFeatures(), supportedFeatures)
	}
}

// TestRunBadInput checks that input that is not a CodeGeneratorRequest gets
// an error response, and that only I/O failures make run fail.
func TestRunBadInput(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(strings.NewReader("this is not protobuf\xff"), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil {
		t.Fatal(err)
	}
	if want := "stdin is not a CodeGeneratorRequest (protoc-gen-natsrpc is run by protoc or buf, not directly): "; !strings.HasPrefix(resp.GetError(), want) {
		t.Errorf("error = %q; want prefix %q", resp.GetError(), want)
	}

	if err := run(iotestErrReader{}, &out); err == nil || !strings.Contains(err.Error(), "read CodeGeneratorRequest from stdin") {
		t.Errorf("run with a failing stdin = %v; want a read error", err)
	}
	if err := run(strings.NewReader(""), iotestErrWriter{}); err == nil || !strings.Contains(err.Error(), "write CodeGeneratorResponse to stdout") {
		t.Errorf("run with a failing stdout = %v; want a write error", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

type iotestErrWriter struct{}

func (iotestErrWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
