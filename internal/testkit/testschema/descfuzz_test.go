package testschema_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

var update = flag.Bool("update", false, "rewrite internal/descfuzz/base.binpb")

// TestDescfuzzBaseIsFresh compiles descfuzz's Sources and requires the
// bytes descfuzz embeds as its base schema (descfuzz needs no compiler, so
// that lean packages can fuzz with it). `make generate` runs it with
// -update.
func TestDescfuzzBaseIsFresh(t *testing.T) {
	set, err := testschema.CompileSet(descfuzz.Sources, descfuzz.Targets...)
	if err != nil {
		t.Fatalf("descfuzz.Sources do not compile: %v", err)
	}
	// Through the wire and back, as descfuzz.Base decodes it: custom
	// options become unknown fields.
	data, err := descset.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := descset.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if data, err = descset.Marshal(decoded); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testschema.RepoRoot(t), "internal", "descfuzz", "base.binpb")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// This binary embeds the old bytes; the next run compares.
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s is stale: it is not descfuzz.Sources compiled; run make generate", path)
	}
	base, err := descfuzz.Base()
	if err != nil {
		t.Fatalf("descfuzz.Base: %v", err)
	}
	if again, _ := descset.Marshal(base); !bytes.Equal(again, data) {
		t.Fatal("descfuzz.Base does not decode to the embedded bytes")
	}
}
