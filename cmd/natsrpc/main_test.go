package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The CLI tests run the real command tree in process against a real
// nats-server with JetStream and the registry's NATS API, and check
// stdout, stderr and the exit code.

type result struct {
	stdout, stderr string
	code           int
}

// natsrpc runs `natsrpc <args>` in process.
func natsrpc(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return natsrpcContext(ctx, args...)
}

func natsrpcContext(ctx context.Context, args ...string) result {
	root := newRoot()
	var stdout, stderr syncBuffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	code := cli.Execute(ctx, root)
	return result{stdout.String(), stderr.String(), code}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (r result) want(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d; want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, stdout) {
		t.Fatalf("stdout does not contain %q:\n%s\nstderr: %s", stdout, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, stderr) {
		t.Fatalf("stderr does not contain %q:\n%s", stderr, r.stderr)
	}
	if r.code != 0 && strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && code != cli.ExitRefused {
		t.Errorf("stderr has more than one line:\n%s", r.stderr)
	}
}

// writeModule writes the common test module into dir as a buf module.
func writeModule(t *testing.T, dir, src string) {
	t.Helper()
	p := filepath.Join(dir, "acme", "common", "v1", "common.proto")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "buf.yaml"), []byte("version: v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCommandsEndToEnd(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	url := env.Server.ClientURL()
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	s := []string{"-s", url}

	// push: created, then unchanged.
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@1 sha256:", "")
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@1 sha256:", "")
	if r := natsrpc(t, append(s, "push", dir, "--module", "common")...); !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("re-push: %q; want unchanged", r.stdout)
	}

	// A breaking change: refused with exit 100, the violation on stdout
	// pointing at the file, nothing stored.
	writeModule(t, dir, testschema.CommonBroken)
	r := natsrpc(t, append(s, "push", dir, "--module", "common")...)
	r.want(t, cli.ExitRefused, filepath.Join(dir, "acme/common/v1/common.proto")+":", "push of module \"common\" refused")
	if !strings.Contains(r.stdout, `Previously present field "2" with name "units" on message "Money" was deleted`) {
		t.Errorf("violation text: %q", r.stdout)
	}
	natsrpc(t, append(s, "push", dir, "--module", "common", "--dry-run", "--error-format", "github-actions")...).
		want(t, cli.ExitRefused, "::error file=", "dry run: push of module \"common\" would be refused")
	natsrpc(t, append(s, "push", dir, "--module", "common", "--error-format", "json")...).
		want(t, cli.ExitRefused, `"type":"FIELD_NO_DELETE"`, "")
	if r := natsrpc(t, append(s, "ls", "common")...); strings.Count(r.stdout, "sha256:") != 1 {
		t.Fatalf("versions after refused pushes:\n%s; want one", r.stdout)
	}

	// A compatible change: a dry run stores nothing, a push creates v2.
	writeModule(t, dir, testschema.CommonV2)
	natsrpc(t, append(s, "push", dir, "--module", "common", "--dry-run")...).want(t, 0, "common@2 sha256:", "")
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@2 sha256:", "")

	// Ownership: another module may not declare common's package.
	natsrpc(t, append(s, "push", dir, "--module", "thief")...).
		want(t, cli.ExitRefused, `package "acme.common.v1" belongs to module "common"`, "refused")

	// ls.
	r = natsrpc(t, append(s, "ls")...)
	r.want(t, 0, "MODULE", "")
	if !strings.Contains(r.stdout, "common  2") || strings.Contains(r.stdout, "thief") {
		t.Errorf("ls:\n%s", r.stdout)
	}
	r = natsrpc(t, append(s, "ls", "common")...)
	r.want(t, 0, "VERSION", "")
	if strings.Count(r.stdout, "sha256:") != 2 {
		t.Errorf("ls common:\n%s", r.stdout)
	}
	natsrpc(t, append(s, "ls", "nope")...).want(t, 1, "", `module "nope" has no versions`)

	// describe.
	r = natsrpc(t, append(s, "describe", "acme.common.v1.Money")...)
	r.want(t, 0, "acme.common.v1.Money is a message (common@2, acme/common/v1/common.proto):\n// Money is an amount in a currency.\nmessage Money {\n", "")
	if !strings.Contains(r.stdout, "  // nanos are billionths of a unit.\n  int32 nanos = 3;\n") {
		t.Errorf("describe:\n%s", r.stdout)
	}
	r = natsrpc(t, append(s, "describe", "acme.common.v1.Money", "--module", "common", "--version", "1")...)
	r.want(t, 0, "common@1", "")
	if strings.Contains(r.stdout, "nanos") {
		t.Errorf("describe at version 1 shows a field of version 2:\n%s", r.stdout)
	}
	// --module MODULE@VERSION is the same; --version stays an alias.
	if r := natsrpc(t, append(s, "describe", "acme.common.v1.Money", "--module", "common@1")...); r.code != 0 || !strings.Contains(r.stdout, "common@1") || strings.Contains(r.stdout, "nanos") {
		t.Errorf("describe --module common@1: %+v", r)
	}
	natsrpc(t, append(s, "describe", "acme.common.v1.Money", "--module", "common@1", "--version", "2")...).want(t, 1, "", "name different versions")
	natsrpc(t, append(s, "describe", "acme.common.v1.Money", "--module", "common@x")...).want(t, 1, "", "MODULE@VERSION")
	natsrpc(t, append(s, "describe", "acme.common.v1.Money.units")...).want(t, 0, "is a field", "")
	natsrpc(t, append(s, "describe", "acme.common.v1")...).want(t, 0, "message acme.common.v1.Money", "")
	natsrpc(t, append(s, "describe", "acme.common.v1.Nope")...).want(t, 1, "", `"acme.common.v1.Nope"`)
	natsrpc(t, append(s, "describe", "acme.common.v1.Money", "--version", "1")...).want(t, 1, "", "--version needs --module")

	// policy: show, set, show.
	natsrpc(t, append(s, "policy", "common")...).want(t, 0, "module common (default policy):\n  categories: FILE, NATSRPC\n  direction:  backward\n  transitive: false\n", "")
	natsrpc(t, append(s, "policy", "common", "--use", "wire,natsrpc", "--direction", "full", "--transitive")...).
		want(t, 0, "module common:\n  categories: WIRE, NATSRPC\n  direction:  full\n  transitive: true\n", "")
	natsrpc(t, append(s, "policy", "common", "--direction", "forward")...).want(t, 0, "categories: WIRE, NATSRPC\n  direction:  forward\n", "")
	natsrpc(t, append(s, "policy", "common", "--use", "BOGUS")...).want(t, 1, "", "BOGUS")
	natsrpc(t, append(s, "policy", "common", "--direction", "sideways")...).want(t, 1, "", "sideways")

	// get.
	out := filepath.Join(t.TempDir(), "common.binpb")
	natsrpc(t, append(s, "get", "common@1", "-o", out)...).want(t, 0, "wrote common@1", "")
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("image: %v", err)
	}
	natsrpc(t, append(s, "get", "common@9", "-o", out)...).want(t, 1, "", "no version 9")
	natsrpc(t, append(s, "get", "common", "-o", "x.json")...).want(t, 1, "", ".binpb")
	natsrpc(t, append(s, "get", "common@x", "-o", out)...).want(t, 1, "", "MODULE@VERSION")

	// Bad flags and arguments: exit 1 with what to do.
	natsrpc(t, append(s, "push", dir)...).want(t, 1, "", "--module is required")
	natsrpc(t, append(s, "push", dir, "--module", "Bad.Name")...).want(t, 1, "", "module name")
	natsrpc(t, append(s, "push", filepath.Join(dir, "nope"), "--module", "x")...).want(t, 1, "", "does not exist")
	natsrpc(t, append(s, "push", dir, "--module", "x", "--error-format", "xml")...).want(t, 1, "", "--error-format")

	// Connection flags.
	natsrpc(t, append(s, "ls", "--tls-cert", "cert.pem")...).want(t, 1, "", "--tls-cert gives a client certificate without its key")
	natsrpc(t, append(s, "ls", "--creds", filepath.Join(dir, "nope.creds"))...).want(t, 1, "", "--creds")

	// Unreachable server, and a NATS server without a registry.
	natsrpc(t, "-s", "nats://127.0.0.1:1", "ls").want(t, 1, "", "cannot connect to NATS")
	bare := natstest.Start(t)
	natsrpc(t, "-s", bare.ClientURL(), "ls").want(t, 1, "", "no registry answers")
}

// TestPushCompileErrors: sources that do not compile are bad input
// (exit 1), with the compile errors printed in the chosen format.
func TestPushCompileErrors(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	dir := t.TempDir()
	writeModule(t, dir, "syntax = \"proto3\";\npackage acme.common.v1;\nmessage Money { strin currency = 1; }\n")
	r := natsrpc(t, "-s", env.Server.ClientURL(), "push", dir, "--module", "common")
	r.want(t, 1, "common.proto:3:", "does not compile")
}

// TestBreakingAgainstRegistry is the CI gate against the registry: the
// findings of the module's policy, an unknown module or version is an
// error.
func TestBreakingAgainstRegistry(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@1", "")

	// Unchanged and compatible inputs pass.
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "common")...).want(t, 0, "", "")
	writeModule(t, dir, testschema.CommonV2)
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "common@1")...).want(t, 0, "", "")

	// A breaking change fails with 100 and buf's output, as against a directory.
	writeModule(t, dir, testschema.CommonBroken)
	r := natsrpc(t, append(s, "breaking", dir, "--against-registry", "common", "--error-format", "json")...)
	r.want(t, cli.ExitRefused, `"type":"FIELD_NO_DELETE"`, "")
	if !strings.Contains(r.stdout, `"path":"`+filepath.Join(dir, "acme/common/v1/common.proto")) {
		t.Errorf("violation path: %s", r.stdout)
	}

	// A module the registry never heard of: exit 1 (TestGateUnknownModule).
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "brandnew")...).want(t, 1, "", "module \"brandnew\" is unknown")
	// An unknown version, a bad reference, both flags: exit 1.
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "common@7")...).want(t, 1, "", "no version 7")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "Common")...).want(t, 1, "", "--against-registry")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "common", "--against", dir)...).want(t, 1, "", "not both")
}

// TestServeOnExistingNATS runs `natsrpc registry serve` in process against
// a NATS server it does not own, with a push on start, until its context
// ends (as Ctrl-C would end it).
func TestServeOnExistingNATS(t *testing.T) {
	t.Parallel()
	srv := registrytest.StartNATS(t)
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result)
	go func() {
		done <- natsrpcContext(ctx, "-s", srv.ClientURL(), "registry", "serve", "--push-dir", dir, "--push-module", "common")
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		r := natsrpc(t, "-s", srv.ClientURL(), "ls")
		if r.code == 0 && strings.Contains(r.stdout, "common  1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry never listed common: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	r := <-done
	r.want(t, 0, "natsrpc registry serving on "+srv.ClientURL(), "")
	if !strings.Contains(r.stdout, "common@1") || !strings.Contains(r.stdout, "natsrpc ls common") {
		t.Errorf("banner:\n%s", r.stdout)
	}
	natsrpc(t, "-s", srv.ClientURL(), "registry", "serve", "--data-dir", "x").want(t, 1, "", "--data-dir needs --embedded")
	natsrpc(t, "-s", srv.ClientURL(), "registry", "serve", "--push-dir", dir).want(t, 1, "", "go together")
}
