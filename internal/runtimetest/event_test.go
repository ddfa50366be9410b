package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testhook"
)

// eventLog records the events one handler instance handled.
type eventLog struct {
	mu   sync.Mutex
	seen []string
	hdrs []nats.Header
}

func (l *eventLog) handler(fail func(v string, n int) error) func(context.Context, *str) error {
	return func(ctx context.Context, req *str) error {
		l.mu.Lock()
		l.seen = append(l.seen, req.GetValue())
		n := 0
		for _, v := range l.seen {
			if v == req.GetValue() {
				n++
			}
		}
		if ci, ok := natsrpc.CallInfoFromContext(ctx); ok {
			l.hdrs = append(l.hdrs, ci.RequestHeader())
		}
		l.mu.Unlock()
		if fail != nil {
			return fail(req.GetValue(), n)
		}
		return nil
	}
}

func (l *eventLog) values() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// waitUntil polls cond every 5ms until d passes.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventDelivery checks the two deliveries of plain events across two
// instances of a service: a queue event is handled by exactly one
// instance, a broadcast event by every instance.
func TestEventDelivery(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	var notify, announce [2]eventLog
	for i := range 2 {
		startService(t, natstest.Connect(t, srv), streamService, []natsrpc.Handler{
			natsrpc.NewEventHandler(streamNotify, notify[i].handler(nil)),
			natsrpc.NewEventHandler(streamAnnounce, announce[i].handler(nil)),
		})
	}
	cnc := natstest.Connect(t, srv)
	notifyClient := natsrpc.NewEventClient[str](cnc, streamNotify)
	announceClient := natsrpc.NewEventClient[str](cnc, streamAnnounce)
	const n = 100
	for i := range n {
		if err := notifyClient.Publish(t.Context(), &str{Value: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		if err := announceClient.Publish(t.Context(), &str{Value: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "every event handled", func() bool {
		return notify[0].len()+notify[1].len() >= n && announce[0].len() >= n && announce[1].len() >= n
	})
	time.Sleep(50 * time.Millisecond) // would-be duplicates
	seen := map[string]int{}
	for i := range 2 {
		for _, v := range notify[i].values() {
			seen[v]++
		}
		if notify[i].len() == 0 {
			t.Errorf("instance %d handled no queue event: the queue group did not spread them", i)
		}
		if got := announce[i].len(); got != n {
			t.Errorf("instance %d handled %d broadcast events; want all %d", i, got, n)
		}
	}
	for i := range n {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Errorf("queue event %d handled %d times; want once", i, c)
		}
	}
}

// eventRecorder is an interceptor that records the events it sees.
type eventRecorder struct {
	natsrpc.UnaryInterceptorFunc
	mu   sync.Mutex
	seen []string
}

func newEventRecorder() *eventRecorder {
	r := &eventRecorder{}
	r.UnaryInterceptorFunc = func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			sp := ci.Spec()
			if sp.IsClient {
				ci.RequestHeader().Set("X-Intercepted", "yes")
			}
			res, err := next(ctx, req)
			r.mu.Lock()
			r.seen = append(r.seen, fmt.Sprintf("%s client=%v %s res=%T err=%v", sp.Kind, sp.IsClient, req.(*str).GetValue(), res, err))
			r.mu.Unlock()
			return res, err
		}
	}
	return r
}

// TestEventHeaders checks that events carry the call's headers (metadata,
// trace context, the idempotency key, JSON's Content-Type) and pass
// through interceptors on both sides.
func TestEventHeaders(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	var log eventLog
	rec := newEventRecorder()
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamNotify, log.handler(nil))}, natsrpc.WithInterceptors(rec))
	client := natsrpc.NewEventClient[str](cnc, streamNotify, natsrpc.WithJSON(), natsrpc.WithInterceptors(rec))
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	err := client.Publish(t.Context(), &str{Value: "quest-7"},
		natsrpc.WithHeader("X-Player", "p-1"), natsrpc.WithHeader("traceparent", traceparent), natsrpc.WithIdempotencyKey("k-1"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the event", func() bool { return log.len() == 1 })
	if v := log.values()[0]; v != "quest-7" {
		t.Errorf("handled %q", v)
	}
	h := log.hdrs[0]
	for k, want := range map[string]string{
		"X-Player": "p-1", "traceparent": traceparent, "Nats-Msg-Id": "k-1",
		"Content-Type": "application/json", "X-Intercepted": "yes",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	waitUntil(t, 5*time.Second, "both interceptors", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.seen) == 2
	})
	rec.mu.Lock()
	got := strings.Join(rec.seen, "\n")
	rec.mu.Unlock()
	for _, want := range []string{"event client=true quest-7 res=*emptypb.Empty err=<nil>", "event client=false quest-7 res=*emptypb.Empty err=<nil>"} {
		if !strings.Contains(got, want) {
			t.Errorf("interceptors saw:\n%s\nwant %q", got, want)
		}
	}
	// Reserved headers and bad keys fail before publishing.
	err = client.Publish(t.Context(), &str{}, natsrpc.WithHeader("Nats-Rpc-Seq", "1"))
	wantCode(t, err, natsrpc.CodeInvalidArgument)
	err = client.Publish(t.Context(), &str{}, natsrpc.WithIdempotencyKey(""))
	wantCode(t, err, natsrpc.CodeInvalidArgument)
}

// TestEventUnimplemented checks that an instance whose handler answers
// CodeUnimplemented stops consuming the event.
func TestEventUnimplemented(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	var calls atomic.Int64
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamNotify, func(context.Context, *str) error {
		calls.Add(1)
		return natsrpc.NewError(natsrpc.CodeUnimplemented, errors.New("not here"))
	})})
	client := natsrpc.NewEventClient[str](cnc, streamNotify)
	if err := client.Publish(t.Context(), &str{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the instance to stop consuming", func() bool { return endpointData(t, svc, "Notify").Unimplemented })
	for range 10 {
		if err := client.Publish(t.Context(), &str{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cnc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times; want once, then never again", n)
	}
}

// recordClient publishes the stream service's durable event.
func recordClient(nc *nats.Conn) *natsrpc.EventClient[str] {
	return natsrpc.NewEventClient[str](nc, streamRecord)
}

// TestDurableEventRedelivered checks at-least-once delivery: a handler
// error gets the event redelivered after the backoff, and the handler's
// deadline is the consumer's ack_wait.
func TestDurableEventRedelivered(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	var (
		log       eventLog
		times     []time.Time
		deadlines []time.Duration
		mu        sync.Mutex
	)
	handle := log.handler(func(v string, n int) error {
		if n == 1 {
			return errors.New("database busy")
		}
		return nil
	})
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, func(ctx context.Context, req *str) error {
		mu.Lock()
		times = append(times, time.Now())
		dl, _ := ctx.Deadline()
		deadlines = append(deadlines, time.Until(dl))
		mu.Unlock()
		return handle(ctx, req)
	})})
	if err := recordClient(cnc).Publish(t.Context(), &str{Value: "payment-1"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the redelivery", func() bool { return log.len() == 2 })
	waitFor(t, "the stats", func() bool { return endpointData(t, svc, "Record").Redelivered == 1 })
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 50*time.Millisecond {
		t.Errorf("redelivered %s after the failure; want the 50ms backoff", gap)
	}
	for _, d := range deadlines {
		if d < time.Second || d > 2*time.Second {
			t.Errorf("handler deadline %s away; want the 2s ack_wait", d)
		}
	}
}

// TestDurableEventSlowHandler checks that a handler running past its
// event's ack_wait (2s here) is not handed the event again while it runs:
// LLM work is slow, and a slow handler that is not idempotent must run
// once. The runtime's in-progress ack, half-way through ack_wait, restarts
// JetStream's redelivery timer; without it JetStream redelivers the event
// at ack_wait, to another worker, while the first is still at work. The
// handler ignores its context, as a blocking call without one would.
func TestDurableEventSlowHandler(t *testing.T) {
	t.Parallel()
	const (
		ackWait = 2 * time.Second // the Record event's
		// runFor is past ack_wait but short of the redelivery timer an
		// in-progress ack at ack_wait/2 restarts (1.5 ack_wait), with a
		// margin of a quarter of ack_wait on both sides.
		runFor = ackWait + ackWait/4
	)
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	var calls atomic.Int32
	finished := make(chan struct{}, 2)
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, func(context.Context, *str) error {
		calls.Add(1)
		time.Sleep(runFor)
		finished <- struct{}{}
		return nil
	})}, natsrpc.WithConcurrency(4))
	if err := recordClient(cnc).Publish(t.Context(), &str{Value: "charge-once"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	within(t, runFor+5*time.Second, "the handler finishing", finished)
	t.Logf("handler finished %s after the publish", time.Since(start).Round(time.Millisecond))
	waitFor(t, "the acknowledgement", func() bool {
		for _, ep := range svc.Stats().Endpoints {
			if ep.Name == "Record" {
				return ep.NumRequests >= 1
			}
		}
		return false
	})
	time.Sleep(ackWait / 2) // a redelivery after a lost ack would come within it
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times; want once: JetStream redelivered the event while its handler ran", n)
	}
	if d := endpointData(t, svc, "Record"); d.Redelivered != 0 {
		t.Errorf("stats redelivered = %d; want 0", d.Redelivered)
	}
}

// TestDurableEventDeduplicated checks that publishing twice with one
// idempotency key stores and handles the event once.
func TestDurableEventDeduplicated(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	var log eventLog
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, log.handler(nil))})
	client := recordClient(cnc)
	for _, v := range []string{"first", "retry", "other"} {
		key := "pay-1"
		if v == "other" {
			key = "pay-2"
		}
		if err := client.Publish(t.Context(), &str{Value: v}, natsrpc.WithIdempotencyKey(key)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "two events", func() bool { return log.len() == 2 })
	time.Sleep(200 * time.Millisecond)
	got := log.values()
	slices.Sort(got) // workers may handle them in either order
	if strings.Join(got, ",") != "first,other" {
		t.Errorf("handled %q; want first and other (the retry deduplicated)", got)
	}
}

// TestDurableEventParked checks that an event whose handler fails on every
// attempt is parked after max_deliver attempts, with the reason, the
// attempts and the last error, and never delivered again; and that an
// undecodable event is parked at once.
func TestDurableEventParked(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	var log eventLog
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, log.handler(func(string, int) error {
		return natsrpc.NewError(natsrpc.CodeFailedPrecondition, errors.New("inventory locked"))
	}))})
	if err := recordClient(cnc).Publish(t.Context(), &str{Value: "doomed"}, natsrpc.WithHeader("X-Player", "p-9")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the event parked", func() bool { return endpointData(t, svc, "Record").Parked == 1 })
	js, err := jetstream.New(cnc)
	if err != nil {
		t.Fatal(err)
	}
	// An event that does not decode is parked without calling the handler.
	if _, err := js.Publish(t.Context(), streamRecordSubject, []byte{0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the undecodable event parked", func() bool { return endpointData(t, svc, "Record").Parked == 2 })
	time.Sleep(300 * time.Millisecond) // would-be redeliveries
	if got := strings.Join(log.values(), ","); got != "doomed,doomed,doomed" {
		t.Errorf("handled %q; want three attempts (max_deliver 3) and nothing more", got)
	}
	parked, err := js.Stream(t.Context(), streamRecordStream+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]map[string]string{
		1: {
			"Nats-Rpc-Parked-Reason":   "handler_error",
			"Nats-Rpc-Parked-Attempts": "3",
			"Nats-Rpc-Parked-Error":    "inventory locked",
			"Nats-Rpc-Parked-Code":     "failed_precondition",
			"Nats-Rpc-Parked-Stream":   streamRecordStream,
			"Nats-Rpc-Parked-Sequence": "1",
			"Nats-Rpc-Parked-Subject":  streamRecordSubject,
			"Nats-Rpc-Parked-Consumer": "natsrpctest_v1_StreamService",
			"X-Player":                 "p-9",
		},
		2: {
			"Nats-Rpc-Parked-Reason":   "undecodable",
			"Nats-Rpc-Parked-Attempts": "1",
			"Nats-Rpc-Parked-Code":     "invalid_argument",
			"Nats-Rpc-Parked-Sequence": "2",
		},
	} {
		m, err := parked.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "natsrpc.parked."+streamRecordStream {
			t.Errorf("parked on %q", m.Subject)
		}
		for k, v := range want {
			if got := m.Header.Get(k); got != v {
				t.Errorf("parked event %d: %s = %q; want %q", seq, k, got, v)
			}
		}
		if m.Header.Get("Nats-Rpc-Parked-Time") == "" {
			t.Errorf("parked event %d has no time", seq)
		}
		if seq == 1 {
			var v str
			if err := proto.Unmarshal(m.Data, &v); err != nil || v.GetValue() != "doomed" {
				t.Errorf("parked body %v, %v; want the event", &v, err)
			}
		}
	}
}

// TestDurableEventHandlerCrash checks that an event whose handler's
// process dies before acknowledging it is handled by the next instance,
// and not again once acknowledged.
func TestDurableEventHandlerCrash(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t, natstest.WithJetStream())
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, func(context.Context, *str) error {
		started <- struct{}{}
		<-release
		return nil // too late: the connection is gone, the ack is lost
	})})
	if err := recordClient(cnc).Publish(t.Context(), &str{Value: "payment-7"}); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the first instance starting the event", started)
	snc.Close() // the process dies mid-handler
	close(release)
	var log eventLog
	svc2 := startService(t, natstest.Connect(t, srv), streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, log.handler(nil))})
	start := time.Now()
	waitUntil(t, 10*time.Second, "the second instance handling the event", func() bool { return log.len() == 1 })
	t.Logf("redelivered to the second instance %s after the crash (ack_wait 2s)", time.Since(start).Round(time.Millisecond))
	waitFor(t, "the acknowledgement", func() bool {
		for _, ep := range svc2.Stats().Endpoints {
			if ep.Name == "Record" {
				return ep.NumRequests == 1
			}
		}
		return false
	})
	time.Sleep(2500 * time.Millisecond) // longer than ack_wait: a lost ack would redeliver
	if got := log.values(); len(got) != 1 || got[0] != "payment-7" {
		t.Errorf("second instance handled %q; want payment-7 once", got)
	}
}

// TestDurableEventServerRestart publishes durable events while the NATS
// server restarts (same store, same port), with handlers running, and
// checks that every event is handled and none is handled again after its
// acknowledgement was confirmed.
func TestDurableEventServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	srv := natstest.Start(t, natstest.WithStoreDir(dir), natstest.WithPort(port))
	reconnect := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond), nats.ReconnectBufSize(16 << 20)}
	cnc := natstest.Connect(t, srv, reconnect...)
	snc := natstest.Connect(t, srv, reconnect...)

	const prefix = "restart-"
	var (
		mu         sync.Mutex
		handled    = map[string]int{}
		acked      = map[string]bool{}
		afterAck   []string
		ackFailed  int
		duplicates int
		inFlight   atomic.Int64
	)
	restore := testhook.SetAcked(func(id string, err error) {
		if !strings.HasPrefix(id, prefix) {
			return // another test's event
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			ackFailed++
			return
		}
		acked[id] = true
	})
	t.Cleanup(restore)
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, func(ctx context.Context, req *str) error {
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		id := ci.RequestHeader().Get("Nats-Msg-Id")
		inFlight.Add(1)
		time.Sleep(50 * time.Millisecond) // keep events in flight across the restart
		inFlight.Add(-1)
		mu.Lock()
		defer mu.Unlock()
		if acked[id] {
			afterAck = append(afterAck, id)
		}
		if handled[id] > 0 {
			duplicates++
		}
		handled[id]++
		return nil
	})})

	client := recordClient(cnc)
	const n = 200
	publish := func(i int) {
		id := prefix + strconv.Itoa(i)
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			err := client.Publish(ctx, &str{Value: id}, natsrpc.WithIdempotencyKey(id))
			cancel()
			if err == nil {
				return
			}
			if attempt == 30 {
				t.Errorf("publish %s: %v", id, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t0 := time.Now()
	for i := range n / 2 {
		publish(i)
	}
	t.Logf("first half published after %s", time.Since(t0))
	// Restart the server while the handlers work through the first half.
	t.Logf("restarting with %d handlers running", inFlight.Load())
	srv.Shutdown()
	srv.WaitForShutdown()
	natstest.Start(t, natstest.WithStoreDir(dir), natstest.WithPort(port))
	t.Logf("restarted after %s", time.Since(t0))
	for i := n / 2; i < n; i++ {
		publish(i)
	}
	t.Logf("second half published after %s", time.Since(t0))
	waitUntil(t, 30*time.Second, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == n
	})
	t.Logf("all handled after %s", time.Since(t0))
	time.Sleep(2500 * time.Millisecond) // longer than ack_wait: lost acks redeliver
	if err := svc.Stop(t.Context()); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(afterAck) > 0 {
		t.Errorf("events handled again after a confirmed acknowledgement: %q", afterAck)
	}
	for i := range n {
		if handled[prefix+strconv.Itoa(i)] == 0 {
			t.Errorf("event %d lost", i)
		}
	}
	t.Logf("%d events handled; %d handled twice because their acknowledgement was lost in the restart (%d acks failed)", n, duplicates, ackFailed)
}

// TestDurablePublishWithoutStream checks that publishing a durable event
// nobody has registered fails with CodeUnavailable instead of vanishing.
func TestDurablePublishWithoutStream(t *testing.T) {
	t.Parallel()
	_, cnc, _ := testConns(t, natstest.WithJetStream())
	err := recordClient(cnc).Publish(t.Context(), &str{Value: "lost?"})
	e := wantCode(t, err, natsrpc.CodeUnavailable)
	if !strings.Contains(e.Error(), streamRecordStream) {
		t.Errorf("error %v should name the stream", e)
	}
}
