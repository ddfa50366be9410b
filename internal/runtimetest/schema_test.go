package runtimetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// TestSchemaEndpoint checks wire.md §14: every instance answers $SRV.SCHEMA
// for the service, for its name and for its id with its file and the
// file's imports, each with the digest the registry computes; the same
// digest is in the discovery metadata; the descriptors link and describe
// the service the instance serves.
func TestSchemaEndpoint(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	svc := testService(t, server, []natsrpc.Handler{getItemHandler(echoGetItem)})

	// The digest a compiler other than the Go generator gives the file
	// (protocompile, with source info, as `natsrpc push` compiles): what
	// the registry stores for it.
	src, err := os.ReadFile(filepath.Join(testschema.RepoRoot(t), "internal", "testproto", "natsrpctest", "v1", "test.proto"))
	if err != nil {
		t.Fatal(err)
	}
	compiled := testschema.Compile(t, map[string]string{"natsrpctest/v1/test.proto": string(src)}, "natsrpctest/v1/test.proto")
	want := map[string]string{}
	for _, fd := range compiled.GetFile() {
		if _, _, err := descset.Canonicalize(fd); err != nil {
			t.Fatal(err)
		}
		d, err := descset.FileDigest(fd)
		if err != nil {
			t.Fatal(err)
		}
		want[fd.GetName()] = d
	}
	const file = "natsrpctest/v1/test.proto"

	var info micro.Info
	requestJSON(t, client, "$SRV.INFO."+itemMicroName, &info)
	if info.Metadata[natsrpc.MetadataFile] != file || info.Metadata[natsrpc.MetadataFileDigest] != want[file] {
		t.Errorf("INFO metadata %s, %s = %q, %q; want %q, %q", natsrpc.MetadataFile, natsrpc.MetadataFileDigest,
			info.Metadata[natsrpc.MetadataFile], info.Metadata[natsrpc.MetadataFileDigest], file, want[file])
	}
	var ping micro.Ping
	requestJSON(t, client, "$SRV.PING."+itemMicroName, &ping)
	if ping.Metadata[natsrpc.MetadataFileDigest] != want[file] {
		t.Errorf("PING metadata digest = %q; want %q", ping.Metadata[natsrpc.MetadataFileDigest], want[file])
	}

	for _, subject := range []string{"$SRV.SCHEMA", "$SRV.SCHEMA." + itemMicroName, "$SRV.SCHEMA." + itemMicroName + "." + svc.ID()} {
		var res natsrpc.SchemaResponse
		requestJSON(t, client, subject, &res)
		if res.Type != natsrpc.SchemaResponseType || res.ID != svc.ID() || res.Name != itemMicroName || res.Version != "1.0.0" {
			t.Errorf("%s: type, id, name, version = %q, %q, %q, %q", subject, res.Type, res.ID, res.Name, res.Version)
		}
		if res.Service != "natsrpctest.v1.TestService" || res.File != file {
			t.Errorf("%s: service, file = %q, %q", subject, res.Service, res.File)
		}
		set, err := descset.Unmarshal(res.FileDescriptorSet)
		if err != nil {
			t.Fatalf("%s: the set does not decode: %v", subject, err)
		}
		if len(set.GetFile()) != len(res.Files) || len(res.Files) != len(want) {
			t.Fatalf("%s: %d files in the set, %d listed; want %d (the file and its imports)", subject, len(set.GetFile()), len(res.Files), len(want))
		}
		for i, f := range res.Files {
			if set.GetFile()[i].GetName() != f.Name {
				t.Errorf("%s: file %d is %q in the set, %q in the list", subject, i, set.GetFile()[i].GetName(), f.Name)
			}
			if f.Digest != want[f.Name] {
				t.Errorf("%s: digest of %q = %q; the registry's is %q", subject, f.Name, f.Digest, want[f.Name])
			}
			if set.GetFile()[i].GetSourceCodeInfo() != nil {
				t.Errorf("%s: %q carries source info", subject, f.Name)
			}
		}
		if last := res.Files[len(res.Files)-1].Name; last != file {
			t.Errorf("%s: last file %q; want the service's", subject, last)
		}
		files, err := protodesc.NewFiles(set)
		if err != nil {
			t.Fatalf("%s: the set does not link: %v", subject, err)
		}
		d, err := files.FindDescriptorByName("natsrpctest.v1.TestService")
		if err != nil {
			t.Fatal(err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		if methods.Len() != itemService.Methods().Len() || methods.ByName("Get").Input().FullName() != "natsrpctest.v1.GetRequest" {
			t.Errorf("%s: the service has %d methods; want %d, Get taking a GetRequest", subject, methods.Len(), itemService.Methods().Len())
		}
	}

	// A service of another file in the same process has its own schema.
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, echo)})
	var ps natsrpc.SchemaResponse
	requestJSON(t, client, "$SRV.SCHEMA.natsrpctest_v1_PingService", &ps)
	if ps.File != "natsrpctest/v1/ping.proto" || len(ps.Files) != 2 || ps.Files[0].Name != "google/protobuf/wrappers.proto" {
		t.Errorf("ping schema: file %q, files %v", ps.File, ps.Files)
	}
	// The Go method gives what the wire carries.
	res, err := svc.Schema()
	if err != nil || res.Files[len(res.Files)-1].Digest != want[file] || !slices.Equal(res.FileDescriptorSet, mustSchema(t, client).FileDescriptorSet) {
		t.Errorf("Service.Schema() = %v, %v; want what $SRV.SCHEMA answers", res, err)
	}
}

func mustSchema(t *testing.T, nc *nats.Conn) natsrpc.SchemaResponse {
	t.Helper()
	var res natsrpc.SchemaResponse
	requestJSON(t, nc, "$SRV.SCHEMA."+itemMicroName, &res)
	return res
}

// TestSchemaEndpointOverMaxPayload: an answer that would not fit the
// server's max_payload is a micro error naming the sizes, at once, not a
// message the server refuses (which the requester would see as a
// timeout).
func TestSchemaEndpointOverMaxPayload(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t, natstest.WithMaxPayload(4096))
	testService(t, server, []natsrpc.Handler{getItemHandler(echoGetItem)})
	msg, err := client.Request("$SRV.SCHEMA."+itemMicroName, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(micro.ErrorCodeHeader) != "413" || len(msg.Data) != 0 {
		t.Fatalf("answer headers %v, %d bytes; want a 413 micro error", msg.Header, len(msg.Data))
	}
	// INFO still fits: the metadata carries one digest, not the schema.
	var info micro.Info
	requestJSON(t, client, "$SRV.INFO."+itemMicroName, &info)
	if info.Metadata[natsrpc.MetadataFileDigest] == "" {
		t.Errorf("INFO metadata has no digest: %v", info.Metadata)
	}
	if b, _ := json.Marshal(info); len(b) > 2048 {
		t.Errorf("INFO is %d bytes; want it small", len(b))
	}
}
