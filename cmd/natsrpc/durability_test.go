package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// buildNatsrpc builds this command once per test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func testBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "natsrpc-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "natsrpc")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// serveProcess runs `natsrpc registry serve --embedded` as a child
// process and waits until it serves.
type serveProcess struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	mu     sync.Mutex
}

func startServe(t *testing.T, bin, dataDir, listen string, extra ...string) *serveProcess {
	t.Helper()
	args := append([]string{"registry", "serve", "--embedded", "--data-dir", dataDir, "--listen", listen}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		closed := false
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "press Ctrl-C") && !closed {
				close(ready)
				closed = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatalf("natsrpc registry serve not ready after 90s; output:\n%s", p.output())
	}
	return p
}

func (p *serveProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *serveProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func durableSet(t *testing.T, fields int) *descriptorpb.FileDescriptorSet {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n\npackage durable.v1;\n\n// Record grows by one field per version.\nmessage Record {\n")
	for f := 1; f <= fields; f++ {
		fmt.Fprintf(&b, "  // f%d is field %d.\n  string f%d = %d;\n", f, f, f, f)
	}
	b.WriteString("}\n")
	return testschema.Compile(t, map[string]string{"durable/v1/durable.proto": b.String()}, "durable/v1/durable.proto")
}

// acked is what the client saw acknowledged for one version.
type acked struct {
	version uint64
	digest  string // the version's digest
	blob    string // sha256 of the stored descriptor set, as served
}

// TestServeSurvivesSIGKILL runs `natsrpc registry serve --embedded` as a
// real process, pushes new versions in a loop, SIGKILLs the process in the
// middle of the stream, restarts it on the same data directory and checks
// that every acknowledged version is there byte for byte, and that the
// push that was in flight is either entirely there or not at all.
func TestServeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the natsrpc binary")
	}
	t.Parallel()
	bin := testBinary(t)
	root := testschema.RepoRoot(t)
	dataDir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	url := "nats://" + listen

	// First start pushes this repository's proto/ as module gaming.
	p := startServe(t, bin, dataDir, listen, "--push-dir", filepath.Join(root, "proto"), "--push-module", "gaming")
	if out := p.output(); !strings.Contains(out, "gaming@1") || !strings.Contains(out, "created") {
		t.Fatalf("first start:\n%s", out)
	}

	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)

	const killAfter = 12
	sets := make([]*descriptorpb.FileDescriptorSet, 3*killAfter)
	for i := range sets {
		sets[i] = durableSet(t, i+1)
	}
	var (
		mu       sync.Mutex
		acks     []acked
		inFlight *descriptorpb.FileDescriptorSet
	)
	done := make(chan struct{})
	killNow := make(chan struct{})
	go func() {
		defer close(done)
		for _, set := range sets {
			mu.Lock()
			inFlight = set
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			res, err := c.Push(ctx, &registryv1.PushRequest{Module: "durable", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}})
			if err != nil {
				cancel()
				return // the server is gone
			}
			// Read back what was stored, as an object whose digest is the
			// sha256 of the stored bytes.
			raw, err := c.API().GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "durable", Version: res.GetVersion().GetVersion(), MaxInlineBytes: 1})
			cancel()
			mu.Lock()
			inFlight = nil
			acks = append(acks, acked{version: res.GetVersion().GetVersion(), digest: res.GetVersion().GetDigest()})
			if err == nil {
				acks[len(acks)-1].blob = raw.GetObject().GetDigest()
			}
			n := len(acks)
			mu.Unlock()
			if err != nil {
				return
			}
			if n == killAfter {
				close(killNow)
			}
		}
	}()
	select {
	case <-killNow:
	case <-done:
		t.Fatal("the push loop stopped before the kill")
	case <-time.After(2 * time.Minute):
		t.Fatal("pushes too slow")
	}
	// Kill the process at a random point of the pushes that follow (one
	// push and read-back take tens of milliseconds).
	time.Sleep(time.Duration(rand.N(60)) * time.Millisecond)
	p.kill(t)
	<-done
	nc.Close()

	mu.Lock()
	got, pending := append([]acked(nil), acks...), inFlight
	mu.Unlock()
	if len(got) < killAfter {
		t.Fatalf("only %d pushes acknowledged", len(got))
	}

	// Restart on the same data: the push on start finds gaming unchanged.
	p = startServe(t, bin, dataDir, listen, "--push-dir", filepath.Join(root, "proto"), "--push-module", "gaming")
	if out := p.output(); !strings.Contains(out, "gaming@1") || !strings.Contains(out, "unchanged") {
		t.Fatalf("restart:\n%s", out)
	}
	nc2, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	c = client.New(nc2)
	ctx := registrytest.Ctx(t, time.Minute)
	versions, err := c.ListVersions(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range versions {
		if v.GetVersion() != uint64(i+1) {
			t.Fatalf("versions are not dense: %d at position %d", v.GetVersion(), i+1)
		}
	}
	last := got[len(got)-1].version
	switch n := uint64(len(versions)); {
	case n == last:
	case n == last+1 && pending != nil:
		t.Logf("the push in flight at the kill committed; checking it is whole")
		// The push in flight committed before the kill but was never
		// acknowledged: it must be there whole.
		_, set, err := c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "durable", Version: n})
		if err != nil {
			t.Fatalf("the unacknowledged version %d is half there: %v", n, err)
		}
		if !proto.Equal(set.GetFile()[0], pending.GetFile()[0]) {
			t.Fatalf("version %d is not the push that was in flight", n)
		}
	default:
		t.Fatalf("%d versions after restart; %d were acknowledged", n, last)
	}
	for _, a := range got {
		v := versions[a.version-1]
		if v.GetDigest() != a.digest {
			t.Errorf("version %d: digest %s; acknowledged %s", a.version, v.GetDigest(), a.digest)
		}
		raw, err := c.API().GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "durable", Version: a.version, MaxInlineBytes: 1})
		if err != nil {
			t.Fatalf("version %d: %v", a.version, err)
		}
		if a.blob != "" && raw.GetObject().GetDigest() != a.blob {
			t.Errorf("version %d: stored bytes have digest %s; before the kill %s", a.version, raw.GetObject().GetDigest(), a.blob)
		}
		if _, _, err := c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "durable", Version: a.version}); err != nil {
			t.Errorf("version %d does not download: %v", a.version, err)
		}
	}
	mods, err := c.ListModules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if m.GetName() == "durable" && m.GetLatestVersion() != uint64(len(versions)) {
			t.Errorf("head of durable = %d; %d versions", m.GetLatestVersion(), len(versions))
		}
	}
	t.Logf("%d versions acknowledged before SIGKILL; %d after restart", len(got), len(versions))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSecondServerOnOneDataDirFails runs `natsrpc registry serve
// --embedded` as a real process and starts a second one on the same data
// directory (another port, as a newcomer whose port 4222 is busy would):
// the second fails at once, naming the directory and how to run a second
// instance, and the first keeps serving. Once the first is SIGKILLed, the
// directory is free again: the lock dies with its process.
func TestSecondServerOnOneDataDirFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the natsrpc binary")
	}
	t.Parallel()
	bin := testBinary(t)
	dataDir := t.TempDir()
	first := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startServe(t, bin, dataDir, first)

	second := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "registry", "serve", "--embedded", "--data-dir", dataDir, "--listen", second)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second server on %s: %v; want exit code 1\n%s", dataDir, err, out)
	}
	for _, want := range []string{
		fmt.Sprintf("%q is the data directory of another running embedded server (process %d)", dataDir, p.cmd.Process.Pid),
		"two servers on one data directory lose acknowledged writes",
		"--data-dir " + dataDir + "-2",
		"make run DATA_DIR=" + dataDir + "-2 LISTEN=",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the second server's error does not contain %q:\n%s", want, out)
		}
	}
	if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("the error is more than one line:\n%s", out)
	}

	// The first still serves.
	nc, err := nats.Connect("nats://"+first, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(nc).ListModules(registrytest.Ctx(t, 30*time.Second)); err != nil {
		t.Errorf("the first server after the second was refused: %v", err)
	}
	nc.Close()

	// SIGKILL frees the directory: a new server starts on it, and stops
	// on SIGINT (Ctrl-C) with exit code 0.
	p.kill(t)
	p = startServe(t, bin, dataDir, second)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGINT: %v; want exit code 0", err)
	}
}
