package spectest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// updateFixture rewrites the shared subject fixture instead of comparing it;
// `make generate` runs TestSubjectsFixture with it.
var updateFixture = flag.Bool("update", false, "rewrite testdata/conformance/subjects.json")

// subjectsFixture is the fixture's path from this package.
const subjectsFixture = "../../../testdata/conformance/subjects.json"

// fixtureCases are schemas written to exercise every rule of ForService,
// valid and invalid, next to the real schemas (proto/gaming and the
// library's test schema) in the fixture. Each is compiled as its own file,
// so their packages differ.
var fixtureCases = []struct{ name, src string }{
	{"defaults", `service Svc {
  rpc Get(Req) returns (Res);
  rpc Watch(Req) returns (stream Res);
  rpc Upload(stream Req) returns (Res);
  rpc Chat(stream Req) returns (stream Res);
}`},
	{"file_prefix", `option (natsrpc.v1.file) = {subject_prefix: "studio.eu"};
service Svc { rpc Get(Req) returns (Res); }
service Other { option (natsrpc.v1.service) = {subject_prefix: "edge"}; rpc Get(Req) returns (Res); }`},
	{"overrides", `option (natsrpc.v1.file) = {subject_prefix: "studio"};
service Svc {
  option (natsrpc.v1.service) = {subject_prefix: "eu.west" subject: "billing"};
  rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "fetch.one"}; }
  rpc List(Req) returns (Res);
}`},
	{"queue_groups", `service Workers { option (natsrpc.v1.service) = {queue_group: "workers"}; rpc Get(Req) returns (Res); rpc Ping(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST}; } }
service Everyone { option (natsrpc.v1.service) = {no_queue_group: true}; rpc Get(Req) returns (Res); rpc Note(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`},
	{"timeouts", `service Svc {
  option (natsrpc.v1.service) = {version: "1.2.3-beta.1+build.5" default_timeout: {seconds: 1 nanos: 500000000}};
  rpc Default(Req) returns (Res);
  rpc Long(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: 90}}; }
  rpc Short(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {nanos: 250000000}}; }
  rpc Tiny(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {nanos: 1500}}; }
  rpc Hours(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: 7200}}; }
  rpc Day(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: 86400}}; }
  rpc Odd(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: 3723 nanos: 40}}; }
  rpc Watch(Req) returns (stream Res) { option (natsrpc.v1.method) = {timeout: {seconds: 600}}; }
  rpc Tail(Req) returns (stream Res);
}`},
	{"events", `service Svc {
  rpc Queued(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; }
  rpc Everyone(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST}; }
  rpc Stored(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {}}; }
  rpc Named(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_QUEUE durable: {stream: "NAMED" consumer: "named-c" storage: STORAGE_TYPE_MEMORY replicas: 3 max_deliver: 2 backoff: [{seconds: 1}] ack_wait: {seconds: 10}}}; }
  rpc Plain(Req) returns (Res) { option (natsrpc.v1.method) = {kind: METHOD_KIND_REQUEST_REPLY}; }
}`},
	{"flags", `service Svc {
  option deprecated = true;
  rpc Read(Req) returns (Res) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc Put(Req) returns (Res) { option idempotency_level = IDEMPOTENT; }
  rpc Old(Req) returns (Res) { option deprecated = true; }
  rpc Hidden(Req) returns (Res) { option (natsrpc.v1.method) = {skip: true subject: "Read"}; }
}
service Skipped { option (natsrpc.v1.service) = {skip: true}; rpc Get(Req) returns (Res); }`},
	{"unicode", `service Svc {
  option (natsrpc.v1.service) = {subject: "jeu.état"};
  rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "obtenir_ç"}; }
}`},
	{"long_subject", `service Svc {
  option (natsrpc.v1.service) = {subject: "` + longToken(1000) + `"};
  rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "` + longToken(23) + `"}; }
}`},
	{"err_long_subject", `service Svc {
  option (natsrpc.v1.service) = {subject: "` + longToken(1000) + `"};
  rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "` + longToken(24) + `"}; }
}`},
	{"err_file_prefix", `option (natsrpc.v1.file) = {subject_prefix: "a..b"}; service Svc { rpc Get(Req) returns (Res); }`},
	{"err_service_prefix", `service Svc { option (natsrpc.v1.service) = {subject_prefix: "a.*"}; rpc Get(Req) returns (Res); }`},
	{"err_dollar_subject", `service Svc { option (natsrpc.v1.service) = {subject: "$SRV.x"}; rpc Get(Req) returns (Res); }`},
	{"err_method_subject", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "get.>"}; } }`},
	{"err_method_space", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "a b"}; } }`},
	{"err_queue_and_none", `service Svc { option (natsrpc.v1.service) = {queue_group: "a" no_queue_group: true}; rpc Get(Req) returns (Res); }`},
	{"err_queue_dot", `service Svc { option (natsrpc.v1.service) = {queue_group: "a.b"}; rpc Get(Req) returns (Res); }`},
	{"err_version", `service Svc { option (natsrpc.v1.service) = {version: "1.2"}; rpc Get(Req) returns (Res); }`},
	{"err_default_timeout", `service Svc { option (natsrpc.v1.service) = {default_timeout: {seconds: -1}}; rpc Get(Req) returns (Res); }`},
	{"err_timeout_day", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: 86401}}; } }`},
	{"err_timeout_nanos", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {nanos: 1000000000}}; } }`},
	{"err_timeout_zero", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {}}; } }`},
	{"err_delivery", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {delivery: EVENT_DELIVERY_QUEUE}; } }`},
	{"err_durable_not_event", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {durable: {}}; } }`},
	{"err_event_streams", `service Svc { rpc Get(Req) returns (stream google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`},
	{"err_event_output", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`},
	{"err_durable_broadcast", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST durable: {}}; } }`},
	{"err_durable_stream", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {stream: "a.b"}}; } }`},
	{"err_durable_consumer", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {consumer: "c*"}}; } }`},
	{"err_durable_replicas", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {replicas: 6}}; } }`},
	{"err_durable_max_deliver", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {max_deliver: -1}}; } }`},
	{"err_durable_max_bytes", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {max_bytes: -1}}; } }`},
	{"err_durable_ack_wait", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {ack_wait: {seconds: -5}}}; } }`},
	{"err_durable_backoff", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {backoff: [{seconds: 1}, {}]}}; } }`},
	{"err_duplicate", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "List"}; } rpc List(Req) returns (Res); }`},
}

// longToken is a subject token n bytes long.
func longToken(n int) string {
	return string(bytes.Repeat([]byte("x"), n))
}

// fixtureFile is the fixture: a descriptor set (every file, its imports
// first) and, for every service in it, what ForService derives or the
// option it refuses.
type fixtureFile struct {
	Comment       string           `json:"comment"`
	DescriptorSet []byte           `json:"descriptorSet"`
	Services      []fixtureService `json:"services"`
}

type fixtureService struct {
	Service string        `json:"service"`
	File    string        `json:"file"`
	Error   *fixtureError `json:"error,omitempty"`
	Spec    *fixtureSpec  `json:"spec,omitempty"`
}

type fixtureError struct {
	Element string `json:"element"`
	Option  string `json:"option"`
}

type fixtureSpec struct {
	MicroName      string          `json:"microName"`
	Version        string          `json:"version"`
	SubjectBase    string          `json:"subjectBase"`
	QueueGroup     string          `json:"queueGroup"`
	DefaultTimeout string          `json:"defaultTimeout"`
	Skip           bool            `json:"skip"`
	Deprecated     bool            `json:"deprecated"`
	Methods        []fixtureMethod `json:"methods"`
}

type fixtureMethod struct {
	Name          string `json:"name"`
	Procedure     string `json:"procedure"`
	Subject       string `json:"subject"`
	Kind          string `json:"kind"`
	QueueGroup    string `json:"queueGroup"`
	Timeout       string `json:"timeout"`
	MethodTimeout string `json:"methodTimeout"`
	Idempotency   string `json:"idempotency"`
	Delivery      string `json:"delivery"`
	Durable       bool   `json:"durable"`
	Skip          bool   `json:"skip"`
	Deprecated    bool   `json:"deprecated"`
}

// TestSubjectsFixture checks that testdata/conformance/subjects.json is what
// ForService derives today; with -update (make generate) it rewrites it.
// The TypeScript runtime's tests read the same file and must derive the
// same mapping from the same descriptors, so the two cannot drift.
func TestSubjectsFixture(t *testing.T) {
	got := buildFixture(t)
	if *updateFixture {
		if err := os.MkdirAll(filepath.Dir(subjectsFixture), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(subjectsFixture, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(subjectsFixture)
	if err != nil {
		t.Fatalf("read the fixture (run 'make generate'): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run 'make generate' (go test ./internal/spec/spectest -run TestSubjectsFixture -update) and commit it", subjectsFixture)
	}
}

func buildFixture(t *testing.T) []byte {
	t.Helper()
	sources := map[string]string{}
	var names []string
	for i, c := range fixtureCases {
		name := "conformance/" + c.name + ".proto"
		if _, dup := sources[name]; dup || i > 99 {
			t.Fatalf("fixture case %q twice", c.name)
		}
		sources[name] = `syntax = "proto3";
package conformance.` + c.name + `.v1;
import "google/protobuf/empty.proto";
import "natsrpc/v1/options.proto";
message Req {}
message Res {}
` + c.src + "\n"
		names = append(names, name)
	}
	// The real schemas: every file with services under proto/ (the studio's
	// and the registry's) and the library's test schema.
	for _, dir := range []struct{ root, sub string }{
		{"../../../proto", "gaming"}, {"../../../proto", "natsrpc/registry"}, {"../../../internal/testproto", "."},
	} {
		err := filepath.WalkDir(filepath.Join(dir.root, dir.sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
				return err
			}
			rel, err := filepath.Rel(dir.root, path)
			names = append(names, filepath.ToSlash(rel))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)},
			&protocompile.SourceResolver{ImportPaths: []string{"../../../proto", "../../../internal/testproto"}},
		}),
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(fd)
		if _, synthetic := sources[fd.Path()]; !synthetic && fd.Package() != "google.protobuf" && fd.Path() != "natsrpc/v1/options.proto" {
			// ForService reads services, methods and options only: the
			// real schemas' message fields would triple the fixture.
			for _, m := range fdp.GetMessageType() {
				stripFields(m)
			}
		}
		set.File = append(set.File, fdp)
	}
	out := fixtureFile{
		Comment: "Generated by TestSubjectsFixture (internal/spec/spectest/fixture_test.go; make generate); do not edit. " +
			"descriptorSet is a binary google.protobuf.FileDescriptorSet, base64 (the real schemas' message fields stripped); services holds what internal/spec derives " +
			"for each service in it (durations as Go prints them), or the element and option it refuses. " +
			"The TypeScript runtime's test/spec.test.ts derives the same from the same descriptors.",
	}
	for _, f := range files {
		add(f)
		services := f.Services()
		for i := 0; i < services.Len(); i++ {
			out.Services = append(out.Services, describe(t, f.Path(), services.Get(i)))
		}
	}
	out.DescriptorSet, err = proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func describe(t *testing.T, file string, sd protoreflect.ServiceDescriptor) fixtureService {
	t.Helper()
	fs := fixtureService{Service: string(sd.FullName()), File: file}
	s, err := spec.ForService(sd)
	if err != nil {
		var se *spec.Error
		if !errors.As(err, &se) {
			t.Fatalf("%s: ForService error %v is not a *spec.Error", sd.FullName(), err)
		}
		fs.Error = &fixtureError{Element: se.Element, Option: se.Option}
		return fs
	}
	fs.Spec = &fixtureSpec{
		MicroName:      s.MicroName,
		Version:        s.Version,
		SubjectBase:    s.SubjectBase,
		QueueGroup:     s.QueueGroup,
		DefaultTimeout: durationString(s.DefaultTimeout),
		Skip:           s.Skip,
		Deprecated:     s.Deprecated,
	}
	for _, m := range s.Methods {
		fm := fixtureMethod{
			Name:        m.Name,
			Procedure:   m.Procedure,
			Subject:     m.Subject,
			Kind:        m.Kind.String(),
			QueueGroup:  m.QueueGroup,
			Timeout:     durationString(m.Timeout),
			Idempotency: idempotency(m.Idempotency),
			Durable:     m.Durable != nil,
			Skip:        m.Skip,
			Deprecated:  m.Deprecated,
		}
		if o, _ := spec.MethodOptions(m.Desc); o.GetTimeout() != nil {
			fm.MethodTimeout = durationString(o.GetTimeout().AsDuration())
		}
		if m.Kind == spec.KindEvent {
			fm.Delivery = m.Delivery.String()
		}
		fs.Spec.Methods = append(fs.Spec.Methods, fm)
	}
	return fs
}

// stripFields drops the fields and oneofs of m and its nested messages.
func stripFields(m *descriptorpb.DescriptorProto) {
	m.Field, m.OneofDecl = nil, nil
	for _, n := range m.GetNestedType() {
		stripFields(n)
	}
}

// durationString is d as Go prints it, "" for zero (unset).
func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func idempotency(l descriptorpb.MethodOptions_IdempotencyLevel) string {
	switch l {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return "no_side_effects"
	case descriptorpb.MethodOptions_IDEMPOTENT:
		return "idempotent"
	default:
		return "unknown"
	}
}
