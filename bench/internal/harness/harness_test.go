package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestRunCountsCallsLatenciesAndBytes(t *testing.T) {
	lis, err := ListenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	wire := NewCounter(nil)
	go func() {
		l := Listener(lis, wire)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c) // echo
		}
	}()
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 100)
	target := &Target{
		Name: "echo",
		Call: func(context.Context) error {
			if _, err := conn.Write(buf); err != nil {
				return err
			}
			_, err := io.ReadFull(conn, buf)
			return err
		},
		CallerWire: wire,
	}
	r, err := Run(context.Background(), target, Options{Callers: 1, Duration: 5 * time.Second, MaxCalls: 200})
	if err != nil {
		t.Fatal(err)
	}
	if r.Calls != 200 {
		t.Fatalf("%d calls; want 200", r.Calls)
	}
	// The server side reads 100 bytes and writes 100 bytes per call.
	if r.CallerWirePerCall != 200 || r.AllWirePerCall != 200 {
		t.Fatalf("wire %v/%v bytes per call; want 200", r.CallerWirePerCall, r.AllWirePerCall)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.RPS <= 0 {
		t.Fatalf("implausible %+v", r)
	}
}

func TestRunStopsAtDeadlineAndOnError(t *testing.T) {
	target := &Target{Name: "sleep", Call: func(context.Context) error { time.Sleep(time.Millisecond); return nil }, CallerWire: NewCounter(nil)}
	t0 := time.Now()
	r, err := Run(context.Background(), target, Options{Callers: 4, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second || r.Calls == 0 {
		t.Fatalf("%d calls in %s", r.Calls, el)
	}
	boom := errors.New("boom")
	target.Call = func(context.Context) error { return boom }
	if _, err := Run(context.Background(), target, Options{Callers: 2, Duration: time.Second}); !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("err = %v; want ErrTooManyErrors", err)
	}
}

func TestCounterParent(t *testing.T) {
	all := NewCounter(nil)
	a, b := NewCounter(all), NewCounter(all)
	a.add(3)
	b.add(4)
	if a.Bytes() != 3 || b.Bytes() != 4 || all.Bytes() != 7 {
		t.Fatalf("%d %d %d", a.Bytes(), b.Bytes(), all.Bytes())
	}
}
