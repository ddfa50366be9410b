package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/tap"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// live runs `natsrpc <args>` in process until stop is called, which
// returns its exit code; out and errOut fill as it runs.
type live struct {
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	code        chan int
	once        sync.Once
	exit        int
}

func startLive(args ...string) *live {
	ctx, cancel := context.WithCancel(context.Background())
	l := &live{out: &syncBuffer{}, errOut: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	root := newRoot()
	root.SetOut(l.out)
	root.SetErr(l.errOut)
	root.SetArgs(args)
	go func() { l.code <- cli.Execute(ctx, root) }()
	return l
}

// stop ends the command and returns its exit code; it may be called
// again.
func (l *live) stop() int {
	l.once.Do(func() {
		l.cancel()
		l.exit = <-l.code
	})
	return l.exit
}

// lines returns tap's --format json lines so far.
func (l *live) lines(t *testing.T) []tap.Line {
	t.Helper()
	var out []tap.Line
	for s := range strings.SplitSeq(strings.TrimSpace(l.out.String()), "\n") {
		if s == "" {
			continue
		}
		var line tap.Line
		if err := json.Unmarshal([]byte(s), &line); err != nil {
			t.Fatalf("tap printed %q: %v", s, err)
		}
		out = append(out, line)
	}
	return out
}

// find returns the first line of method and direction for which match
// holds.
func find(lines []tap.Line, method, direction string, match func(tap.Line) bool) (tap.Line, bool) {
	for _, l := range lines {
		if l.Method == method && l.Direction == direction && (match == nil || match(l)) {
			return l, true
		}
	}
	return tap.Line{}, false
}

func bodyHas(s string) func(tap.Line) bool {
	return func(l tap.Line) bool { return strings.Contains(string(l.Body), s) }
}

// TestTap: tap shows a unary call and its reply, an error, a server
// stream, a bidi stream and events (plain and durable, with JetStream's
// ack), decoded with the registry's descriptors; while it runs, a call to
// a service with no instance still fails at once with unavailable (tap is
// not subscribed to it), and so does a call to a service whose last
// instance stopped, once tap saw it go.
func TestTap(t *testing.T) {
	t.Parallel()
	e := startItems(t)
	s := []string{"-s", e.url}
	tp := startLive(append(s, "tap", "--refresh", "100ms", "--wait", "50ms", "--format", "json")...)
	defer tp.stop()
	eventually(t, "tap to watch TestService", func() bool {
		return strings.Contains(tp.errOut.String(), "natsrpc: tap: watching natsrpctest.v1.TestService (1 instance(s))")
	})

	// No responders is preserved for a service nobody runs: the call
	// fails with unavailable (78), not with its 20 s deadline (68).
	start := time.Now()
	natsrpc(t, append(s, "call", "gaming.quest_system.v1.QuestSystemService/GetQuest", "--descriptor-set", writeGamingImage(t), "--timeout", "20s")...).
		want(t, 78, "", "unavailable")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a call to a service with no instance took %s under tap; want an at-once unavailable", d)
	}

	call := func(code int, args ...string) {
		natsrpc(t, append(append(s, "call"), args...)...).want(t, code, "", "")
	}
	call(0, "natsrpctest.v1.TestService/Get", "-d", `{"id": "q-1"}`)
	call(69, "natsrpctest.v1.TestService/Get", "-d", `{"id": "missing"}`)
	call(0, "natsrpctest.v1.TestService/Watch", "-d", `{"script": "w", "count": 2}`)
	call(0, "natsrpctest.v1.TestService/Chat", "-d", `{"value": "hi"}`)
	call(0, "natsrpctest.v1.TestService/Notify", "-d", `{"id": "n-1"}`)
	call(0, "natsrpctest.v1.DurableService/Record", "-d", `{"id": "r-1"}`)

	const get, watch, chat = "natsrpctest.v1.TestService/Get", "natsrpctest.v1.TestService/Watch", "natsrpctest.v1.TestService/Chat"
	type want struct {
		method, direction, code string
		body                    string
	}
	wants := []want{
		{get, tap.DirRequest, "", `{"id":"q-1"}`},
		{get, tap.DirReply, "ok", `{"item":{"id":"q-1","title":"The q-1","status":"STATUS_ACTIVE"}}`},
		{get, tap.DirRequest, "", `{"id":"missing"}`},
		{get, tap.DirReply, "not_found", `{"message":"no item \"missing\""}`},
		{watch, tap.DirRequest, "", `{"script":"w","count":"2"}`},
		{watch, tap.DirOpen, "", ""},
		{watch, tap.DirServerMsg, "", `{"revision":"1","key":"w"}`},
		{watch, tap.DirServerMsg, "", `{"revision":"2","key":"w"}`},
		{watch, tap.DirEnd, "ok", ""},
		{chat, tap.DirRequest, "", ""},
		{chat, tap.DirClientMsg, "", `{"value":"hi"}`},
		{chat, tap.DirServerMsg, "", `{"value":"re: hi"}`},
		{chat, tap.DirClientEnd, "", ""},
		{chat, tap.DirEnd, "ok", ""},
		{"natsrpctest.v1.TestService/Notify", tap.DirEvent, "", `{"id":"n-1"}`},
		{"natsrpctest.v1.DurableService/Record", tap.DirEvent, "", `{"id":"r-1"}`},
		{"natsrpctest.v1.DurableService/Record", tap.DirAck, "ok", `"seq":1`},
	}
	var missing []want
	deadline := time.Now().Add(20 * time.Second)
	for {
		lines := tp.lines(t)
		missing = missing[:0]
		for _, w := range wants {
			if _, ok := find(lines, w.method, w.direction, bodyHas(w.body)); !ok {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tap shows none of %+v:\n%s\nstderr:\n%s", missing, tp.out.String(), tp.errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines := tp.lines(t)
	for _, w := range wants {
		l, _ := find(lines, w.method, w.direction, bodyHas(w.body))
		if l.Code != w.code {
			t.Errorf("%s %s: code %q; want %q", w.method, w.direction, l.Code, w.code)
		}
		if w.body != "" && w.direction != tap.DirAck && string(l.Body) != w.body {
			t.Errorf("%s %s: body %s; want %s", w.method, w.direction, l.Body, w.body)
		}
		hasLatency := w.direction != tap.DirRequest && w.direction != tap.DirEvent
		if (l.LatencyUS != nil) != hasLatency {
			t.Errorf("%s %s: latency %v; want one: %v", w.method, w.direction, l.LatencyUS, hasLatency)
		}
		if !strings.HasPrefix(l.Subject, "natsrpctest.v1.") || l.Time.IsZero() {
			t.Errorf("%s %s: subject %q, time %v", w.method, w.direction, l.Subject, l.Time)
		}
	}
	// Order within a call: the request, then its reply.
	idx := func(direction, body string) int {
		return slices.IndexFunc(lines, func(l tap.Line) bool {
			return l.Method == get && l.Direction == direction && strings.Contains(string(l.Body), body)
		})
	}
	if idx(tap.DirRequest, "q-1") > idx(tap.DirReply, "q-1") {
		t.Errorf("the reply printed before its request")
	}
	// Tap's own lookups (discovery, the registry) are not shown.
	for _, l := range lines {
		if strings.HasPrefix(l.Subject, "$SRV") || strings.HasPrefix(l.Subject, "_INBOX") {
			t.Errorf("tap shows its own or inbox traffic: %+v", l)
		}
	}

	// The last instance of TestService stops: once tap has seen it go,
	// a call fails at once again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.test.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tap to leave TestService", func() bool {
		return strings.Contains(tp.errOut.String(), "natsrpc: tap: stopped watching natsrpctest.v1.TestService: no instance answers $SRV.INFO")
	})
	start = time.Now()
	call(78, "natsrpctest.v1.TestService/Get", "-d", `{"id": "q-1"}`, "--timeout", "20s")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a call to the stopped service took %s under tap; want an at-once unavailable", d)
	}
	if code := tp.stop(); code != 0 {
		t.Errorf("tap exited %d; stderr:\n%s", code, tp.errOut.String())
	}
}

// TestTapText: text lines, narrowed to a subject, with a body tap cannot
// decode shown as base64 with the reason.
func TestTapText(t *testing.T) {
	t.Parallel()
	e := startItems(t)
	s := []string{"-s", e.url}
	tp := startLive(append(s, "tap", "natsrpctest.v1.TestService.Get", "--refresh", "100ms", "--wait", "50ms")...)
	defer tp.stop()
	eventually(t, "tap to watch TestService", func() bool {
		return strings.Contains(tp.errOut.String(), "watching natsrpctest.v1.TestService")
	})
	natsrpc(t, append(s, "call", "natsrpctest.v1.TestService/Get", "-d", `{"id": "q-1"}`)...).want(t, 0, "", "")
	natsrpc(t, append(s, "call", "natsrpctest.v1.TestService/Watch", "-d", `{"count": 1}`)...).want(t, 0, "", "")
	// Bytes that are not a GetRequest, sent with plain NATS.
	nc := connect(t, e.url)
	if _, err := nc.Request("natsrpctest.v1.TestService.Get", []byte{0xff, 0xff}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lines", func() bool {
		out := tp.out.String()
		return strings.Contains(out, "natsrpctest.v1.TestService/Get reply") && strings.Contains(out, " invalid_argument ")
	})
	out := tp.out.String()
	for _, want := range []string{
		` natsrpctest.v1.TestService.Get natsrpctest.v1.TestService/Get request - - {"id":"q-1"}`,
		` natsrpctest.v1.TestService.Get natsrpctest.v1.TestService/Get reply `,
		` ok {"item":{"id":"q-1","title":"The q-1","status":"STATUS_ACTIVE"}}`,
		`natsrpctest.v1.TestService/Get request - - <2 bytes base64://8=> (not a natsrpctest.v1.GetRequest: `,
		`natsrpctest.v1.TestService/Get reply`,
		` invalid_argument {"message":`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tap's text has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Watch") {
		t.Errorf("tap narrowed to Get shows Watch:\n%s", out)
	}
}

// writeGamingImage writes the gaming schemas, as compiled in, to a
// descriptor set file.
func writeGamingImage(t *testing.T) string {
	t.Helper()
	set, _ := testschema.GamingSet()
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gaming.binpb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
