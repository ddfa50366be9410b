package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// childEnv, when set in the environment, makes RunNATSChildIfAsked serve
// NATS instead of returning; childJetStreamEnv, when also set, enables
// JetStream with storage in that directory.
const (
	childEnv          = "NATSRPC_BENCH_NATS_CHILD"
	childJetStreamEnv = "NATSRPC_BENCH_NATS_JETSTREAM"
)

// NATS is a running nats-server on a random loopback port.
type NATS struct {
	URL  string
	stop func()
	// CPU returns the CPU time the server's process has used; nil when the
	// server runs in this process.
	CPU func() time.Duration
}

// Stop shuts the server down.
func (n *NATS) Stop() { n.stop() }

// StartNATS starts a nats-server on 127.0.0.1 with a random port, either in
// this process (inProcess) or, like in production, as a separate process:
// this same binary started again with childEnv set, which calls
// RunNATSChildIfAsked first thing. A separate process keeps the server's
// allocations and garbage collections out of the numbers measured here, so
// that allocations per call count the client and the handler only, as in
// the gRPC and HTTP rows.
func StartNATS(inProcess bool) (*NATS, error) {
	return startNATS(inProcess, "")
}

// StartNATSJetStream is StartNATS with JetStream enabled, storing in
// storeDir (file storage, as durable events use by default).
func StartNATSJetStream(inProcess bool, storeDir string) (*NATS, error) {
	return startNATS(inProcess, storeDir)
}

func startNATS(inProcess bool, storeDir string) (*NATS, error) {
	if inProcess {
		srv, err := startServer(storeDir)
		if err != nil {
			return nil, err
		}
		return &NATS{URL: srv.ClientURL(), stop: func() { srv.Shutdown(); srv.WaitForShutdown() }}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1", childJetStreamEnv+"="+storeDir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nats-server process: %w", err)
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "nats://") {
			stop()
			return nil, fmt.Errorf("nats-server process: unexpected first line %q", url)
		}
		pid := cmd.Process.Pid
		return &NATS{URL: url, stop: stop, CPU: func() time.Duration { return PIDCPU(pid) }}, nil
	case <-time.After(15 * time.Second):
		stop()
		return nil, errors.New("nats-server process: not ready after 15s")
	}
}

// RunNATSChildIfAsked serves NATS and exits when this process was started
// by StartNATS; otherwise it returns at once. Call it first in main and in
// TestMain.
func RunNATSChildIfAsked() {
	if os.Getenv(childEnv) == "" {
		return
	}
	srv, err := startServer(os.Getenv(childJetStreamEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.ClientURL())
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or dies
	srv.Shutdown()
	srv.WaitForShutdown()
	os.Exit(0)
}

func startServer(storeDir string) (*server.Server, error) {
	opts := &server.Options{
		Host:   "127.0.0.1",
		Port:   server.RANDOM_PORT,
		NoSigs: true,
		NoLog:  true,
	}
	if storeDir != "" {
		opts.JetStream, opts.StoreDir = true, storeDir
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats-server: not ready after 10s")
	}
	return srv, nil
}
