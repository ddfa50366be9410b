package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// TestMakeRunStopsCleanlyOnCtrlC runs `make run` as a terminal would (its
// own process group), waits until it serves, and sends SIGINT to the whole
// group, as Ctrl-C does: natsrpc must stop cleanly, so that make reports
// no error, and make must say that it builds natsrpc before the (on a
// first run, long) build.
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make run")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make")
	}
	t.Parallel()
	testBinary(t) // compiles the packages `make run` builds, once
	root := testschema.RepoRoot(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", root, "--no-print-directory", "run", "LISTEN="+listen, "DATA_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "press Ctrl-C") {
				close(ready)
			}
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	select {
	case <-ready:
	case <-scanned:
		_ = cmd.Wait()
		t.Fatalf("make run ended before serving:\n%s", output())
	case <-ctx.Done():
		t.Fatalf("make run not serving after 5 minutes:\n%s", output())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-scanned
	err = cmd.Wait()
	got := output()
	// make itself gets the SIGINT too: it waits for natsrpc, then either
	// exits 0 or ends by the same signal (GNU make re-raises it), which a
	// shell reports silently. An exit code (2, with "Error 1") means
	// natsrpc did not stop cleanly.
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("make run ended with %v on Ctrl-C; want exit code 0 or the SIGINT itself\n%s", err, got)
		}
	default:
		t.Fatal(err)
	}
	if strings.Contains(got, "make: ***") {
		t.Errorf("make reports an error on Ctrl-C:\n%s", got)
	}
	if i := strings.Index(got, "building natsrpc"); i < 0 || i > strings.Index(got, "natsrpc registry serving") {
		t.Errorf("make run does not say it builds natsrpc before it serves:\n%s", got)
	}
}
