package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// running is a command started in process that has not necessarily
// finished: its output can be read while it runs.
type running struct {
	stdout, stderr *syncBuffer
	done           chan int
}

func startNatsrpc(ctx context.Context, args ...string) *running {
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	root := newRoot()
	root.SetOut(r.stdout)
	root.SetErr(r.stderr)
	root.SetArgs(args)
	go func() { r.done <- cli.Execute(ctx, root) }()
	return r
}

// waitStderr waits until the command's stderr contains s.
func (r *running) waitStderr(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(r.stderr.String(), s) {
		select {
		case code := <-r.done:
			t.Fatalf("the command exited (%d) before printing %q\nstdout: %s\nstderr: %s", code, s, r.stdout, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not contain %q after %s:\n%s", s, d, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeReplicasNeedACluster: --replicas above 1 on a single server
// says that a cluster is needed, embedded or not, and does not blame the
// server's version.
func TestServeReplicasNeedACluster(t *testing.T) {
	t.Parallel()
	r := natsrpc(t, "registry", "serve", "--embedded", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--replicas", "3")
	r.want(t, 1, "", "--replicas 3 needs a NATS cluster of at least 3 servers, and the embedded server is a single server")
	if strings.Contains(r.stderr, "2.12") {
		t.Errorf("the error blames the server's version: %s", r.stderr)
	}
	srv := registrytest.StartNATS(t)
	r = natsrpc(t, "-s", srv.ClientURL(), "registry", "serve", "--replicas", "3")
	r.want(t, 1, "", "--replicas 3: registry: replicas 3:")
	if !strings.Contains(r.stderr, "need a cluster of at least 3 JetStream servers") || strings.Contains(r.stderr, "2.12") {
		t.Errorf("the error does not say a cluster is needed, or blames the server's version: %s", r.stderr)
	}
}

// TestServeWithoutJetStreamSaysSo: `registry serve -s URL` on a NATS
// server without JetStream says so at once, keeps waiting for JetStream
// (a server may be restarted with it), and stops cleanly on Ctrl-C.
func TestServeWithoutJetStreamSaysSo(t *testing.T) {
	t.Parallel()
	bare := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startNatsrpc(ctx, "-s", bare.ClientURL(), "registry", "serve")
	r.waitStderr(t, "natsrpc: warning: the NATS server at "+bare.ClientURL()+" does not run JetStream", 10*time.Second)
	if !strings.Contains(r.stderr.String(), "nats-server -js") || !strings.Contains(r.stderr.String(), "waiting for JetStream") {
		t.Errorf("the warning does not say how to fix it or what happens next: %s", r.stderr)
	}
	select {
	case code := <-r.done:
		t.Fatalf("serve gave up (exit %d) instead of waiting for JetStream: %s", code, r.stderr)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	select {
	case code := <-r.done:
		if code != 0 || !strings.Contains(r.stderr.String(), "stopped before the registry served") {
			t.Errorf("exit %d after Ctrl-C; want 0 and a line saying it stopped\nstderr: %s", code, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on Ctrl-C")
	}
}

// TestServeBusyPortFailsAtOnce: --listen on a port something else holds
// fails at once (it used to wait out nats-server's 10 s readiness
// timeout), saying how to run a second instance.
func TestServeBusyPortFailsAtOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	start := time.Now()
	r := natsrpc(t, "registry", "serve", "--embedded", "--data-dir", dir, "--listen", addr)
	took := time.Since(start)
	r.want(t, 1, "", "cannot listen on "+addr+": another registry or NATS server runs there")
	if want := fmt.Sprintf("make run LISTEN=127.0.0.1:%d DATA_DIR=%s-2", port+1, dir); !strings.Contains(r.stderr, want) {
		t.Errorf("the error does not say how to run a second instance (%q):\n%s", want, r.stderr)
	}
	// Failing at once, not after a timeout: the readiness timeout is 10 s.
	if took > 5*time.Second {
		t.Errorf("a busy port took %s to report", took)
	}
}
