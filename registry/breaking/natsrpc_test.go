package breaking

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// compileNATS compiles one test file that may import natsrpc's options,
// the way the CLI and the registry do: without natsrpc's Go types.
func compileNATS(t *testing.T, src string) Image {
	t.Helper()
	options, err := os.ReadFile(filepath.Join(testschema.RepoRoot(t), "proto", "natsrpc", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{
				"svc.proto":                src,
				"natsrpc/v1/options.proto": string(options),
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), "svc.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	fds := make([]protoreflect.FileDescriptor, len(files))
	for i, f := range files {
		fds[i] = f
	}
	return ImageFromDescriptors(fds)
}

const natsHeader = `syntax = "proto3";
package acme.npc.v1;
import "google/protobuf/empty.proto";
import "natsrpc/v1/options.proto";
message Req {}
message Res {}
`

func natsViolations(t *testing.T, prev, cur string, cfg Config) []string {
	t.Helper()
	vs, err := CheckImages(context.Background(), compileNATS(t, natsHeader+prev), compileNATS(t, natsHeader+cur), cfg)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.RuleID+": "+v.Message)
	}
	return out
}

func TestNATSRPCRules(t *testing.T) {
	t.Parallel()
	const base = `service NpcService {
  option (natsrpc.v1.service) = { queue_group: "npc" };
  rpc Decide(Req) returns (Res);
  rpc Watch(Req) returns (stream Res);
  rpc Moved(google.protobuf.Empty) returns (google.protobuf.Empty) {
    option (natsrpc.v1.method) = { kind: METHOD_KIND_EVENT };
  }
}
`
	tests := []struct {
		name string
		cur  string
		want []string
	}{
		{"unchanged", base, nil},
		{
			"method subject option",
			strings.Replace(base, "rpc Decide(Req) returns (Res);", `rpc Decide(Req) returns (Res) { option (natsrpc.v1.method) = { subject: "decide" }; }`, 1),
			[]string{`NATSRPC_SUBJECT_NO_CHANGE: RPC "Decide" on service "NpcService" changed NATS subject from "acme.npc.v1.NpcService.Decide" to "acme.npc.v1.NpcService.decide".`},
		},
		{
			"service subject prefix",
			strings.Replace(base, `queue_group: "npc"`, `queue_group: "npc" subject_prefix: "studio"`, 1),
			[]string{
				`NATSRPC_SUBJECT_NO_CHANGE: RPC "Decide" on service "NpcService" changed NATS subject from "acme.npc.v1.NpcService.Decide" to "studio.acme.npc.v1.NpcService.Decide".`,
				`NATSRPC_SUBJECT_NO_CHANGE: RPC "Watch" on service "NpcService" changed NATS subject from "acme.npc.v1.NpcService.Watch" to "studio.acme.npc.v1.NpcService.Watch".`,
				`NATSRPC_SUBJECT_NO_CHANGE: RPC "Moved" on service "NpcService" changed NATS subject from "acme.npc.v1.NpcService.Moved" to "studio.acme.npc.v1.NpcService.Moved".`,
			},
		},
		{
			"event becomes request/reply",
			strings.Replace(base, "kind: METHOD_KIND_EVENT", "kind: METHOD_KIND_REQUEST_REPLY", 1),
			[]string{`NATSRPC_KIND_NO_CHANGE: RPC "Moved" on service "NpcService" changed NATS kind from "event" to "unary".`},
		},
		{
			"queue group",
			strings.Replace(base, `queue_group: "npc"`, `queue_group: "npc2"`, 1),
			[]string{
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Decide" on service "NpcService" changed NATS queue group from "npc" to "npc2".`,
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Watch" on service "NpcService" changed NATS queue group from "npc" to "npc2".`,
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Moved" on service "NpcService" changed NATS queue group from "npc" to "npc2".`,
			},
		},
		{
			"no queue group",
			strings.Replace(base, `queue_group: "npc"`, `no_queue_group: true`, 1),
			[]string{
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Decide" on service "NpcService" changed NATS queue group from "npc" to "(none)".`,
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Watch" on service "NpcService" changed NATS queue group from "npc" to "(none)".`,
				`NATSRPC_QUEUE_GROUP_NO_CHANGE: RPC "Moved" on service "NpcService" changed NATS queue group from "npc" to "(none)".`,
			},
		},
		{
			"method deleted",
			strings.Replace(base, "  rpc Watch(Req) returns (stream Res);\n", "", 1),
			[]string{`NATSRPC_SUBJECT_NO_DELETE: Previously served NATS subject "acme.npc.v1.NpcService.Watch" of RPC "Watch" on service "NpcService" is no longer served: the RPC was deleted.`},
		},
		{
			"method skipped",
			strings.Replace(base, "rpc Watch(Req) returns (stream Res);", "rpc Watch(Req) returns (stream Res) { option (natsrpc.v1.method) = { skip: true }; }", 1),
			[]string{`NATSRPC_SUBJECT_NO_DELETE: Previously served NATS subject "acme.npc.v1.NpcService.Watch" of RPC "Watch" on service "NpcService" is no longer served: the RPC is now skipped.`},
		},
		{
			"method renamed keeping its subject",
			strings.Replace(base, "rpc Watch(Req) returns (stream Res);", `rpc Observe(Req) returns (stream Res) { option (natsrpc.v1.method) = { subject: "Watch" }; }`, 1),
			nil,
		},
		{
			"streaming change",
			strings.Replace(base, "rpc Decide(Req) returns (Res);", "rpc Decide(Req) returns (stream Res);", 1),
			[]string{`NATSRPC_KIND_NO_CHANGE: RPC "Decide" on service "NpcService" changed NATS kind from "unary" to "server_stream".`},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			got := natsViolations(t, base, test.cur, Config{Use: []string{"WIRE"}, Except: []string{"WIRE"}, NATSRPC: true})
			if !slices.Equal(got, test.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(test.want, "\n"))
			}
			off := natsViolations(t, base, test.cur, Config{Use: []string{"FILE"}})
			for _, v := range off {
				if strings.HasPrefix(v, "NATSRPC_") {
					t.Errorf("NATSRPC rule ran without Config.NATSRPC: %s", v)
				}
			}
		})
	}
}

func TestNATSRPCInvalidOptions(t *testing.T) {
	t.Parallel()
	prev := compileNATS(t, natsHeader+`service S { rpc A(Req) returns (Res); }`)
	bad := compileNATS(t, natsHeader+`service S { rpc A(Req) returns (Res) { option (natsrpc.v1.method) = { subject: "a.*" }; } }`)
	if _, err := CheckImages(context.Background(), prev, bad, Config{NATSRPC: true}); err == nil || !strings.Contains(err.Error(), "invalid natsrpc options") {
		t.Errorf("invalid options in the current schema: got %v, want an error", err)
	}
	// An invalid previous schema is skipped, not an error.
	if _, err := CheckImages(context.Background(), bad, prev, Config{NATSRPC: true}); err != nil {
		t.Errorf("invalid options in the previous schema: %v", err)
	}
	// So is an import with invalid options (found by the registry's
	// FuzzPushContent: a push that only imports such a file failed its
	// check with an internal error): its owner answers for it.
	imported := Image{Files: slices.Clone(bad.Files)}
	for i := range imported.Files {
		imported.Files[i].Import = true
	}
	if _, err := CheckImages(context.Background(), prev, imported, Config{NATSRPC: true}); err != nil {
		t.Errorf("invalid options in an import: %v", err)
	}
}

// TestNATSRPCGamingSchemas runs every rule, NATSRPC ones included, on the
// repository's schemas (every file in proto/) against themselves: there
// must be no finding.
func TestNATSRPCGamingSchemas(t *testing.T) {
	t.Parallel()
	img := ImageFromDescriptors(testschema.CompileDir(t, filepath.Join(testschema.RepoRoot(t), "proto")))
	vs, err := CheckImages(context.Background(), img, img, Config{Use: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE", "CSR"}, NATSRPC: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > 0 {
		t.Errorf("schema against itself: %v", vs)
	}
}
