package spectest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// compile compiles one test file that may import natsrpc/v1/options.proto
// and the well-known types, the way the registry and the checker compile
// sources: without natsrpc's Go types in the compiler's resolver.
func compile(t *testing.T, src string) protoreflect.FileDescriptor {
	t.Helper()
	options, err := os.ReadFile("../../../proto/natsrpc/v1/options.proto")
	if err != nil {
		t.Fatal(err)
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{
				"test.proto":               src,
				"natsrpc/v1/options.proto": string(options),
			}),
		}),
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return files[0]
}

const header = `syntax = "proto3";
package acme.billing.v1;
import "google/protobuf/empty.proto";
import "natsrpc/v1/options.proto";
message Req {}
message Res {}
`

func TestForServiceSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		src        string
		subjects   []string
		queue      string
		kinds      []spec.Kind
		version    string
		timeout    time.Duration
		methodTime time.Duration
	}{
		{
			name:     "defaults",
			src:      `service Svc { rpc Get(Req) returns (Res); rpc Watch(Req) returns (stream Res); }`,
			subjects: []string{"acme.billing.v1.Svc.Get", "acme.billing.v1.Svc.Watch"},
			queue:    "q",
			kinds:    []spec.Kind{spec.KindUnary, spec.KindServerStream},
			version:  "0.0.0",
		},
		{
			name: "file prefix",
			src: `option (natsrpc.v1.file) = {subject_prefix: "studio.eu"};
service Svc { rpc Get(Req) returns (Res); }`,
			subjects: []string{"studio.eu.acme.billing.v1.Svc.Get"},
			queue:    "q",
			kinds:    []spec.Kind{spec.KindUnary},
			version:  "0.0.0",
		},
		{
			name: "service prefix replaces file prefix, tokens overridden",
			src: `option (natsrpc.v1.file) = {subject_prefix: "studio"};
service Svc {
  option (natsrpc.v1.service) = {subject_prefix: "edge" subject: "billing" queue_group: "workers" version: "1.2.3-rc.1" default_timeout: {seconds: 3}};
  rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "get.one" timeout: {nanos: 500000000}}; }
  rpc List(Req) returns (Res);
}`,
			subjects:   []string{"edge.billing.get.one", "edge.billing.List"},
			queue:      "workers",
			kinds:      []spec.Kind{spec.KindUnary, spec.KindUnary},
			version:    "1.2.3-rc.1",
			timeout:    3 * time.Second,
			methodTime: 500 * time.Millisecond,
		},
		{
			name: "no queue group",
			src: `service Svc { option (natsrpc.v1.service) = {no_queue_group: true};
  rpc Changed(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`,
			subjects: []string{"acme.billing.v1.Svc.Changed"},
			queue:    "",
			kinds:    []spec.Kind{spec.KindEvent},
			version:  "0.0.0",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			fd := compile(t, header+test.src)
			s, err := spec.ForService(fd.Services().Get(0))
			if err != nil {
				t.Fatalf("ForService: %v", err)
			}
			if s.QueueGroup != test.queue {
				t.Errorf("QueueGroup = %q; want %q", s.QueueGroup, test.queue)
			}
			if s.Version != test.version {
				t.Errorf("Version = %q; want %q", s.Version, test.version)
			}
			if s.DefaultTimeout != test.timeout {
				t.Errorf("DefaultTimeout = %v; want %v", s.DefaultTimeout, test.timeout)
			}
			if s.MicroName != "acme_billing_v1_Svc" {
				t.Errorf("MicroName = %q", s.MicroName)
			}
			if len(s.Methods) != len(test.subjects) {
				t.Fatalf("got %d methods; want %d", len(s.Methods), len(test.subjects))
			}
			for i, m := range s.Methods {
				if m.Subject != test.subjects[i] {
					t.Errorf("method %s: Subject = %q; want %q", m.Name, m.Subject, test.subjects[i])
				}
				if m.Kind != test.kinds[i] {
					t.Errorf("method %s: Kind = %v; want %v", m.Name, m.Kind, test.kinds[i])
				}
			}
			if test.methodTime != 0 && s.Methods[0].Timeout != test.methodTime {
				t.Errorf("method timeout = %v; want %v", s.Methods[0].Timeout, test.methodTime)
			}
		})
	}
}

func TestForServiceEvents(t *testing.T) {
	t.Parallel()
	fd := compile(t, header+`service Svc {
  rpc Q(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; }
  rpc B(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST}; }
  rpc D(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {max_deliver: 3 backoff: [{seconds: 1}]}}; }
}`)
	s, err := spec.ForService(fd.Services().Get(0))
	if err != nil {
		t.Fatal(err)
	}
	q, b, d := s.Methods[0], s.Methods[1], s.Methods[2]
	if q.Delivery != spec.DeliveryQueue || q.QueueGroup != "q" || q.Durable != nil {
		t.Errorf("queue event: delivery %v, queue %q, durable %v", q.Delivery, q.QueueGroup, q.Durable)
	}
	if b.Delivery != spec.DeliveryBroadcast || b.QueueGroup != "" {
		t.Errorf("broadcast event: delivery %v, queue %q", b.Delivery, b.QueueGroup)
	}
	if d.Durable.GetMaxDeliver() != 3 || len(d.Durable.GetBackoff()) != 1 {
		t.Errorf("durable event settings lost: %v", d.Durable)
	}
}

func TestForServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		option string
		want   string
	}{
		{"wildcard in method subject", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "get.*"}; } }`, "(natsrpc.v1.method).subject", "wildcard"},
		{"empty token in prefix", `option (natsrpc.v1.file) = {subject_prefix: "a..b"}; service Svc { rpc Get(Req) returns (Res); }`, "(natsrpc.v1.file).subject_prefix", "empty token"},
		{"dollar subject", `service Svc { option (natsrpc.v1.service) = {subject: "$SRV.x"}; rpc Get(Req) returns (Res); }`, "(natsrpc.v1.service).subject", "reserved"},
		{"space in queue", `service Svc { option (natsrpc.v1.service) = {queue_group: "a b"}; rpc Get(Req) returns (Res); }`, "(natsrpc.v1.service).queue_group", "whitespace"},
		{"queue and no queue", `service Svc { option (natsrpc.v1.service) = {queue_group: "a" no_queue_group: true}; rpc Get(Req) returns (Res); }`, "(natsrpc.v1.service).queue_group", "no_queue_group"},
		{"bad version", `service Svc { option (natsrpc.v1.service) = {version: "v1"}; rpc Get(Req) returns (Res); }`, "(natsrpc.v1.service).version", "SemVer"},
		{"negative timeout", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {timeout: {seconds: -1}}; } }`, "(natsrpc.v1.method).timeout", "positive"},
		{"event not empty", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`, "(natsrpc.v1.method).kind", "google.protobuf.Empty"},
		{"event streams", `service Svc { rpc Get(Req) returns (stream google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT}; } }`, "(natsrpc.v1.method).kind", "cannot stream"},
		{"delivery without event", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {delivery: EVENT_DELIVERY_BROADCAST}; } }`, "(natsrpc.v1.method).delivery", "only events"},
		{"durable broadcast", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT delivery: EVENT_DELIVERY_BROADCAST durable: {}}; } }`, "(natsrpc.v1.method).durable", "broadcast"},
		{"durable bad stream", `service Svc { rpc Get(Req) returns (google.protobuf.Empty) { option (natsrpc.v1.method) = {kind: METHOD_KIND_EVENT durable: {stream: "a.b"}}; } }`, "(natsrpc.v1.method).durable", "stream"},
		{"duplicate subjects", `service Svc { rpc Get(Req) returns (Res) { option (natsrpc.v1.method) = {subject: "List"}; } rpc List(Req) returns (Res); }`, "(natsrpc.v1.method).subject", "also used"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			fd := compile(t, header+test.src)
			_, err := spec.ForService(fd.Services().Get(0))
			var se *spec.Error
			if !errors.As(err, &se) {
				t.Fatalf("ForService error = %v; want *spec.Error", err)
			}
			if se.File != "test.proto" || se.Option != test.option || !strings.Contains(se.Problem, test.want) {
				t.Errorf("error = %q (option %q); want option %q and a problem mentioning %q", err, se.Option, test.option, test.want)
			}
		})
	}
}

func TestForServiceGenerated(t *testing.T) {
	t.Parallel()
	// The generated descriptors carry the options as typed extensions.
	sd := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	s, err := spec.ForService(sd)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "1.0.0" || s.DefaultTimeout != 5*time.Second {
		t.Errorf("service options not read: version %q, timeout %v", s.Version, s.DefaultTimeout)
	}
	m := s.Methods[1]
	if m.Subject != "natsrpctest.v1.TestService.Generate" || m.Timeout != 30*time.Second {
		t.Errorf("Generate: subject %q, timeout %v", m.Subject, m.Timeout)
	}
	if m.Procedure != "/natsrpctest.v1.TestService/Generate" {
		t.Errorf("Procedure = %q", m.Procedure)
	}
}

func TestValidateSubject(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "a.b.c", "gaming.quest_system.v1.QuestSystemService.GenerateQuest", "a-b_c.D9"} {
		if err := spec.ValidateSubject(ok); err != nil {
			t.Errorf("ValidateSubject(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a\tb", "$JS.API", "a.\x00"} {
		if err := spec.ValidateSubject(bad); err == nil {
			t.Errorf("ValidateSubject(%q) = nil; want an error", bad)
		}
	}
}
