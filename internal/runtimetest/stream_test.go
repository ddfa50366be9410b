package runtimetest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// Short heartbeats for tests that wait for a vanished peer: a heartbeat
// every 50ms, given up after 400ms of silence.
var fastHeartbeat = natsrpc.WithHeartbeat(50*time.Millisecond, 400*time.Millisecond)

// countTo answers Watch("n") with "0" .. "n-1".
func countTo(_ context.Context, req *str, s *natsrpc.HandlerSendStream[str]) error {
	n, err := strconv.Atoi(req.GetValue())
	if err != nil {
		return natsrpc.NewError(natsrpc.CodeInvalidArgument, err)
	}
	for i := range n {
		if err := s.Send(&str{Value: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

// recvAll reads a stream to its end.
func recvAll(t testing.TB, s *natsrpc.ClientRecvStream[str]) ([]string, error) {
	t.Helper()
	var got []string
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.GetValue())
	}
}

// within fails t unless ch delivers within d.
func within[T any](t testing.TB, d time.Duration, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not happen within %s", what, d)
		panic("unreachable")
	}
}

// TestStreamManyMessagesInOrder streams 100,000 messages and checks that
// every one arrives, once, in order, and that the stream then ends with
// io.EOF.
func TestStreamManyMessagesInOrder(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(countTo)})
	const n = 100_000
	st, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: strconv.Itoa(n)})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m, err := range st.All() {
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if want := strconv.Itoa(i); m.GetValue() != want {
			t.Fatalf("message %d is %q", i, m.GetValue())
		}
		i++
	}
	if i != n {
		t.Fatalf("received %d messages; want %d", i, n)
	}
}

// TestStreamSlowClientHoldsServerBack checks flow control: a client that
// reads slowly makes the handler's Send block, the handler never runs more
// than the window ahead of what the client consumed, and NATS drops
// nothing as a slow consumer.
func TestStreamSlowClientHoldsServerBack(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	var slow atomic.Int64
	cnc := natstest.Connect(t, srv, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			slow.Add(1)
		}
	}))
	snc := natstest.Connect(t, srv)
	const (
		n      = 200
		window = 16
	)
	var sent atomic.Int64
	var blocked atomic.Int64 // Sends that took long: they waited for credit
	svc := startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(_ context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
		payload := strings.Repeat("x", 1000)
		for range n {
			start := time.Now()
			if err := s.Send(&str{Value: payload}); err != nil {
				return err
			}
			if time.Since(start) > time.Millisecond {
				blocked.Add(1)
			}
			sent.Add(1)
		}
		return nil
	})})
	st, err := watchClient(cnc, natsrpc.WithStreamWindow(window, 1<<20)).CallServerStream(t.Context(), &str{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	received := int64(0)
	for {
		_, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		received++
		if ahead := sent.Load() - received; ahead > window {
			t.Fatalf("the handler sent %d messages, the client consumed %d: %d ahead, more than the window of %d", sent.Load(), received, ahead, window)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if received != n {
		t.Fatalf("received %d; want %d", received, n)
	}
	if blocked.Load() == 0 {
		t.Error("the handler's Send never blocked waiting for the slow client")
	}
	if slow.Load() != 0 {
		t.Errorf("the client connection reported %d slow-consumer errors", slow.Load())
	}
	data := endpointData(t, svc, "Watch")
	if data.CreditWaits == 0 {
		t.Errorf("stats credit_waits = 0; want the sends that waited counted")
	}
	if data.StreamMessagesSent != n {
		t.Errorf("stats stream_messages_sent = %d; want %d", data.StreamMessagesSent, n)
	}
}

// statsData is the part of an endpoint's $SRV.STATS data these tests read.
type statsData struct {
	InFlight           int64 `json:"in_flight"`
	Rejected           int64 `json:"rejected"`
	StreamMessagesSent int64 `json:"stream_messages_sent"`
	CreditWaits        int64 `json:"credit_waits"`
	StreamsActive      int64 `json:"streams_active"`
	Redelivered        int64 `json:"redelivered"`
	Parked             int64 `json:"parked"`
	Unimplemented      bool  `json:"unimplemented"`
}

func endpointData(t testing.TB, svc *natsrpc.Service, name string) statsData {
	t.Helper()
	for _, ep := range svc.Stats().Endpoints {
		if ep.Name == name {
			var d statsData
			if err := json.Unmarshal(ep.Data, &d); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("no endpoint %q in the stats", name)
	return statsData{}
}

// endless streams "tick" until its context ends, and reports how the
// context ended on done.
func endless(done chan<- error) func(context.Context, *str, *natsrpc.HandlerSendStream[str]) error {
	return func(ctx context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
		for {
			if err := s.Send(&str{Value: "tick"}); err != nil {
				<-ctx.Done()
				done <- context.Cause(ctx)
				return err
			}
			select {
			case <-ctx.Done():
				done <- context.Cause(ctx)
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// TestStreamClientGoneStopsHandler checks that the handler's context ends
// within a few seconds whichever way the client goes: Close, context
// cancellation, or a crash (its connection dropped without a word).
func TestStreamClientGoneStopsHandler(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// leave makes the client go away; it runs after the first message.
		leave func(cancel context.CancelFunc, s *natsrpc.ClientRecvStream[str], nc *nats.Conn)
		// wait is how long the handler may take to notice.
		wait time.Duration
		opts []natsrpc.ClientOption
	}{
		{name: "close", wait: time.Second, leave: func(_ context.CancelFunc, s *natsrpc.ClientRecvStream[str], _ *nats.Conn) { _ = s.Close() }},
		{name: "cancel", wait: time.Second, leave: func(cancel context.CancelFunc, _ *natsrpc.ClientRecvStream[str], _ *nats.Conn) { cancel() }},
		{name: "crash", wait: 2 * time.Second, opts: []natsrpc.ClientOption{fastHeartbeat},
			leave: func(_ context.CancelFunc, _ *natsrpc.ClientRecvStream[str], nc *nats.Conn) { nc.Close() }},
		{name: "crash with default heartbeats", wait: natsrpc.DefaultLiveness + 2*time.Second,
			leave: func(_ context.CancelFunc, _ *natsrpc.ClientRecvStream[str], nc *nats.Conn) { nc.Close() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cnc, snc := testConns(t)
			done := make(chan error, 1)
			var hopts []natsrpc.HandlerOption
			if len(c.opts) > 0 {
				hopts = append(hopts, fastHeartbeat)
			}
			startService(t, snc, streamService, []natsrpc.Handler{watchHandler(endless(done))}, hopts...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st, err := watchClient(cnc, c.opts...).CallServerStream(ctx, &str{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Recv(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c.leave(cancel, st, cnc)
			cause := within(t, c.wait, "the handler's context ending", done)
			if !errors.Is(cause, context.Canceled) {
				t.Errorf("handler context cause = %v; want a cancellation", cause)
			}
			t.Logf("handler stopped %s after the client left: %v", time.Since(start).Round(time.Millisecond), cause)
			if c.name == "close" || c.name == "cancel" {
				if _, err := st.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeCanceled {
					t.Errorf("Recv after the client left = %v; want canceled", err)
				}
			}
		})
	}
}

// TestStreamServerGone checks that a client's Recv ends with
// CodeUnavailable when the service's connection drops (a crash), and when
// the service stops while the stream runs.
func TestStreamServerGone(t *testing.T) {
	t.Parallel()
	t.Run("crash", func(t *testing.T) {
		t.Parallel()
		_, cnc, snc := testConns(t)
		done := make(chan error, 1)
		startService(t, snc, streamService, []natsrpc.Handler{watchHandler(endless(done))}, fastHeartbeat)
		st, err := watchClient(cnc, fastHeartbeat).CallServerStream(t.Context(), &str{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		snc.Close()
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			for {
				if _, err := st.Recv(); err != nil {
					errc <- err
					return
				}
			}
		}()
		err = within(t, 3*time.Second, "Recv failing", errc)
		wantCode(t, err, natsrpc.CodeUnavailable)
		t.Logf("Recv failed %s after the service's connection closed: %v", time.Since(start).Round(time.Millisecond), err)
	})
	t.Run("stop", func(t *testing.T) {
		t.Parallel()
		_, cnc, snc := testConns(t)
		done := make(chan error, 1)
		svc, err := natsrpc.NewService(snc, streamService, []natsrpc.Handler{watchHandler(endless(done))})
		if err != nil {
			t.Fatal(err)
		}
		st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		if err := svc.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 streams") {
			t.Errorf("Stop = %v; want the deadline and the stream in flight", err)
		}
		_, err = recvAll(t, st)
		e := wantCode(t, err, natsrpc.CodeUnavailable)
		if !natsrpc.IsWireError(e) {
			t.Errorf("error %v should come from the service", e)
		}
		if err := svc.Stop(t.Context()); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

// TestStreamErrorAfterMessages checks that a handler's error reaches the
// client after every message sent before it, with its code, message,
// details and the trailer.
func TestStreamErrorAfterMessages(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(_ context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
		s.ResponseHeader().Set("X-Region", "eu")
		for i := range 3 {
			if err := s.Send(&str{Value: strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		s.ResponseTrailer().Set("X-Processed", "3")
		e := natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no document \"d-4\""))
		if err := e.AddDetail(wrapperspb.String("d-4")); err != nil {
			return err
		}
		return e
	})})
	st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(t, st)
	if strings.Join(got, ",") != "0,1,2" {
		t.Errorf("received %q before the error; want 0, 1, 2", got)
	}
	e := wantCode(t, err, natsrpc.CodeNotFound)
	if !natsrpc.IsWireError(e) || e.Message() != `no document "d-4"` {
		t.Errorf("error = %v (wire %v); want the handler's message from the wire", e, natsrpc.IsWireError(e))
	}
	if len(e.Details()) != 1 {
		t.Fatalf("details = %v; want one", e.Details())
	}
	if v, err := e.Details()[0].UnmarshalNew(); err != nil || v.(*wrapperspb.StringValue).GetValue() != "d-4" {
		t.Errorf("detail = %v, %v", v, err)
	}
	if h := st.ResponseHeader().Get("X-Region"); h != "eu" {
		t.Errorf("response header X-Region = %q; want eu", h)
	}
	if h := st.ResponseTrailer().Get("X-Processed"); h != "3" {
		t.Errorf("trailer X-Processed = %q; want 3", h)
	}
	if _, err := st.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeNotFound {
		t.Errorf("Recv after the end = %v; want the same error again", err)
	}
}

// TestStreamNoResponders checks that a stream to a subject nobody serves
// fails at once with CodeUnavailable, not after a timeout.
func TestStreamNoResponders(t *testing.T) {
	t.Parallel()
	_, cnc, _ := testConns(t)
	start := time.Now()
	_, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
	wantCode(t, err, natsrpc.CodeUnavailable)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("error %v does not wrap nats.ErrNoResponders", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("no responders took %s; want it at once", d)
	}
}

// TestStreamDeadline checks that a deadline bounds the whole stream: the
// handler sees it, the client's Recv fails with CodeDeadlineExceeded when
// it passes, and the handler stops. A service's default_timeout does not
// cut a stream.
func TestStreamDeadline(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		opts []natsrpc.CallOption
	}{
		{name: "context", ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 400*time.Millisecond)
		}},
		{name: "call option", ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		}, opts: []natsrpc.CallOption{natsrpc.WithCallTimeout(400 * time.Millisecond)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cnc, snc := testConns(t)
			done := make(chan error, 1)
			deadline := make(chan time.Duration, 1)
			startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(ctx context.Context, req *str, s *natsrpc.HandlerSendStream[str]) error {
				dl, ok := ctx.Deadline()
				if !ok {
					deadline <- -1
				} else {
					deadline <- time.Until(dl)
				}
				return endless(done)(ctx, req, s)
			})})
			ctx, cancel := c.ctx(t.Context())
			defer cancel()
			start := time.Now()
			st, err := watchClient(cnc).CallServerStream(ctx, &str{}, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if d := within(t, time.Second, "the handler starting", deadline); d < 200*time.Millisecond || d > 400*time.Millisecond {
				t.Errorf("the handler's deadline is %s away; want about 400ms", d)
			}
			_, err = recvAll(t, st)
			wantCode(t, err, natsrpc.CodeDeadlineExceeded)
			if d := time.Since(start); d < 350*time.Millisecond || d > 2*time.Second {
				t.Errorf("the stream ended after %s; want about 400ms", d)
			}
			within(t, time.Second, "the handler stopping", done)
		})
	}
	t.Run("default_timeout does not cut streams", func(t *testing.T) {
		t.Parallel()
		_, cnc, snc := testConns(t)
		startService(t, snc, slowService, []natsrpc.Handler{natsrpc.NewServerStreamHandler(slowWatch, func(ctx context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
			if _, ok := ctx.Deadline(); ok {
				return errors.New("the handler has a deadline")
			}
			for range 5 {
				time.Sleep(50 * time.Millisecond) // the service's default_timeout is 100ms
				if err := s.Send(&str{Value: "x"}); err != nil {
					return err
				}
			}
			return nil
		})})
		st, err := natsrpc.NewServerStreamClient[str, str](cnc, slowWatch).CallServerStream(context.Background(), &str{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(t, st)
		if err != nil || len(got) != 5 {
			t.Errorf("received %d messages, then %v; want 5 and the end", len(got), err)
		}
	})
}

// rawFrame publishes a hand-made stream frame, as another implementation
// (or an attacker) would.
func rawFrame(t testing.TB, nc *nats.Conn, subject string, kv ...string) {
	t.Helper()
	if err := publishFrame(nc, subject, kv...); err != nil {
		t.Fatal(err)
	}
}

// publishFrame is rawFrame for subscription callbacks, which must not
// fail the test (they may run after it ended).
// Besides header pairs and "body", kv may hold "compact" with a sequence
// number: the frame is then a compact data frame (no headers, the number
// as a uvarint before the body), or "payload" with raw bytes in hex, sent
// as they are.
func publishFrame(nc *nats.Conn, subject string, kv ...string) error {
	h := nats.Header{}
	var data []byte
	compact := false
	var seq uint64
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "body":
			data, _ = proto.Marshal(&str{Value: kv[i+1]})
		case "compact":
			compact = true
			seq, _ = strconv.ParseUint(kv[i+1], 10, 64)
		case "payload":
			raw, err := hex.DecodeString(kv[i+1])
			if err != nil {
				return err
			}
			return nc.Publish(subject, raw)
		default:
			h.Set(kv[i], kv[i+1])
		}
	}
	if compact {
		return nc.Publish(subject, append(binary.AppendUvarint(nil, seq), data...))
	}
	return nc.PublishMsg(&nats.Msg{Subject: subject, Header: h, Data: data})
}

// TestStreamDetectsLostMessages plays a hand-written service that breaks
// the numbering in various ways, and checks that the client reports
// CodeDataLoss after the messages that did arrive in order, and tells the
// service to stop.
func TestStreamDetectsLostMessages(t *testing.T) {
	t.Parallel()
	const control = "_INBOX.rawservice.control"
	cases := []struct {
		name string
		// frames after the open frame: header pairs, "body" for a payload
		// (see publishFrame).
		frames [][]string
		want   []string
		// malformed: the client reports CodeInternal, not CodeDataLoss.
		malformed bool
	}{
		{name: "gap in compact frames", want: []string{"a"}, frames: [][]string{
			{"compact", "1", "body", "a"},
			{"compact", "3", "body", "c"},
		}},
		{name: "compact and header frames mixed", want: []string{"a", "b", "c"}, frames: [][]string{
			{"compact", "1", "body", "a"},
			{"Nats-Rpc-Seq", "2", "body", "b", "X-Extra", "1"},
			{"compact", "3", "body", "c"},
			{"compact", "5", "body", "e"},
		}},
		{name: "compact frame numbered 0", malformed: true, frames: [][]string{{"compact", "0", "body", "a"}}},
		{name: "compact frame without a number", malformed: true, frames: [][]string{{"payload", ""}}},
		{name: "compact frame with a truncated number", malformed: true, frames: [][]string{{"payload", "80"}}},
		{name: "compact frame with a padded number", malformed: true, frames: [][]string{{"payload", "8100"}}},
		{name: "gap", want: []string{"a"}, frames: [][]string{
			{"Nats-Rpc-Seq", "1", "body", "a"},
			{"Nats-Rpc-Seq", "3", "body", "c"},
		}},
		{name: "repeat", want: []string{"a", "b"}, frames: [][]string{
			{"Nats-Rpc-Seq", "1", "body", "a"},
			{"Nats-Rpc-Seq", "2", "body", "b"},
			{"Nats-Rpc-Seq", "2", "body", "b"},
		}},
		{name: "reordered", want: nil, frames: [][]string{
			{"Nats-Rpc-Seq", "2", "body", "b"},
			{"Nats-Rpc-Seq", "1", "body", "a"},
		}},
		{name: "lost before a heartbeat", want: []string{"a"}, frames: [][]string{
			{"Nats-Rpc-Seq", "1", "body", "a"},
			{"Nats-Rpc-Frame", "heartbeat", "Nats-Rpc-Seq", "2"},
		}},
		{name: "lost before the end", want: []string{"a"}, frames: [][]string{
			{"Nats-Rpc-Seq", "1", "body", "a"},
			{"Nats-Rpc-Frame", "end", "Nats-Rpc-Seq", "2", "Nats-Rpc-Code", "ok"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cnc, snc := testConns(t)
			canceled := make(chan struct{}, 1)
			if _, err := snc.Subscribe(control, func(m *nats.Msg) {
				if m.Header.Get("Nats-Rpc-Frame") == "cancel" {
					canceled <- struct{}{}
				}
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := snc.Subscribe(streamWatchSubject, func(m *nats.Msg) {
				_ = publishFrame(snc, m.Reply, "Nats-Rpc-Frame", "open", "Nats-Rpc-Seq", "0",
					"Nats-Rpc-Control", control, "Nats-Rpc-Heartbeat", "1000")
				for _, f := range c.frames {
					_ = publishFrame(snc, m.Reply, f...)
				}
			}); err != nil {
				t.Fatal(err)
			}
			if err := snc.Flush(); err != nil {
				t.Fatal(err)
			}
			st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := recvAll(t, st)
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("received %q; want %q", got, c.want)
			}
			if c.malformed {
				wantCode(t, err, natsrpc.CodeInternal)
			} else {
				wantCode(t, err, natsrpc.CodeDataLoss)
			}
			if c.frames[len(c.frames)-1][1] != "end" {
				// The client tells a service that has not ended to stop.
				within(t, 2*time.Second, "a cancel frame", canceled)
			}
		})
	}
	// A frame injected into a real stream by a third party that learned the
	// client's inbox (here: by listening to the method's subject outside
	// the queue group) breaks the numbering, and the client notices.
	t.Run("injected into a real stream", func(t *testing.T) {
		t.Parallel()
		srv, cnc, snc := testConns(t)
		release := make(chan struct{})
		startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(ctx context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
			if err := s.Send(&str{Value: "a"}); err != nil {
				return err
			}
			<-release
			return s.Send(&str{Value: "b"})
		})})
		spy := natsConnect(t, srv)
		inbox := make(chan string, 1)
		if _, err := spy.Subscribe(streamWatchSubject, func(m *nats.Msg) { inbox <- m.Reply }); err != nil {
			t.Fatal(err)
		}
		if err := spy.Flush(); err != nil {
			t.Fatal(err)
		}
		st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := st.Recv(); err != nil || m.GetValue() != "a" {
			t.Fatalf("first Recv = %v, %v", m, err)
		}
		rawFrame(t, spy, within(t, time.Second, "the spy seeing the request", inbox), "Nats-Rpc-Seq", "7", "body", "forged")
		_, err = st.Recv()
		wantCode(t, err, natsrpc.CodeDataLoss)
		close(release)
	})
}

// TestStreamPermissions runs streams on a server with authorization:
// service and client users with per-user permissions, custom inbox
// prefixes, and allow_responses. It documents what streams need: the
// service may send any number of responses (allow_responses max -1) and
// subscribes to its own inbox prefix; the client may publish to the
// service's inbox prefix. With the default allow_responses (one response
// per request) a stream cannot work: the client gets CodeUnavailable.
func TestStreamPermissions(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithConfigure(func(o *server.Options) {
		service := func(name string, responses *server.ResponsePermission) *server.User {
			return &server.User{Username: name, Password: "pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Deny: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"natsrpctest.v1.>", "_INBOX_" + name + ".>", "$SRV.>"}},
				Response:  responses,
			}}
		}
		o.Users = []*server.User{
			service("svc", &server.ResponsePermission{MaxMsgs: -1, Expires: time.Hour}),
			service("svc1", &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}),
			{Username: "cli", Password: "pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"natsrpctest.v1.StreamService.>", "_INBOX_svc.>", "_INBOX_svc1.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_cli.>"}},
			}},
		}
	}))
	var violations atomic.Int64
	conn := func(user string) *nats.Conn {
		return natstest.Connect(t, srv, nats.UserInfo(user, "pw"), nats.CustomInboxPrefix("_INBOX_"+user),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				if errors.Is(err, nats.ErrPermissionViolation) {
					violations.Add(1)
				}
			}))
	}
	cnc := conn("cli")
	for _, c := range []struct {
		user string
		ok   bool
	}{{"svc", true}, {"svc1", false}} {
		t.Run(c.user, func(t *testing.T) {
			snc := conn(c.user)
			svc, err := natsrpc.NewService(snc, streamService, []natsrpc.Handler{watchHandler(countTo)}, fastHeartbeat)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = svc.Stop(ctx)
			}()
			st, err := watchClient(cnc, fastHeartbeat, natsrpc.WithStreamWindow(8, 1<<20)).CallServerStream(t.Context(), &str{Value: "100"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := recvAll(t, st)
			if c.ok {
				if err != nil || len(got) != 100 {
					t.Fatalf("received %d messages, then %v; want 100 and the end", len(got), err)
				}
				if n := violations.Load(); n != 0 {
					t.Errorf("%d permission violations", n)
				}
				return
			}
			wantCode(t, err, natsrpc.CodeUnavailable)
			if violations.Load() == 0 {
				t.Error("no permission violation reported to the service's connection")
			}
			t.Logf("with allow_responses max 1: %d messages, then %v", len(got), err)
		})
	}
}

// TestStreamLimit checks that a service refuses streams beyond
// WithMaxStreams at once, and that streams do not take the workers unary
// requests need.
func TestStreamLimit(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	done := make(chan error, 2)
	svc := startService(t, snc, streamService, []natsrpc.Handler{watchHandler(endless(done))}, natsrpc.WithMaxStreams(1), natsrpc.WithConcurrency(1))
	st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = watchClient(cnc).CallServerStream(t.Context(), &str{})
	e := wantCode(t, err, natsrpc.CodeResourceExhausted)
	if !natsrpc.IsWireError(e) {
		t.Errorf("error %v should come from the service", e)
	}
	if d := endpointData(t, svc, "Watch"); d.Rejected != 1 || d.StreamsActive != 1 {
		t.Errorf("stats rejected = %d, streams_active = %d; want 1 and 1", d.Rejected, d.StreamsActive)
	}
}

// TestStreamStats checks that streams are counted in $SRV.STATS when they
// end, with their errors, and their messages.
func TestStreamStats(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	svc := startService(t, snc, streamService, []natsrpc.Handler{watchHandler(countTo)})
	for _, v := range []string{"3", "5", "bad"} {
		st, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: v})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = recvAll(t, st)
	}
	waitFor(t, "three streams counted", func() bool {
		for _, ep := range svc.Stats().Endpoints {
			if ep.Name == "Watch" {
				return ep.NumRequests == 3
			}
		}
		return false
	})
	for _, ep := range svc.Stats().Endpoints {
		if ep.Name != "Watch" {
			continue
		}
		if ep.NumErrors != 1 || !strings.Contains(ep.LastError, "invalid_argument") {
			t.Errorf("num_errors = %d, last_error = %q; want the bad request", ep.NumErrors, ep.LastError)
		}
	}
	if d := endpointData(t, svc, "Watch"); d.StreamMessagesSent != 8 {
		t.Errorf("stream_messages_sent = %d; want 8", d.StreamMessagesSent)
	}
	info := svc.Info()
	for _, ep := range info.Endpoints {
		if ep.Name == "Watch" && ep.Metadata["natsrpc.kind"] != "server_stream" {
			t.Errorf("Watch's natsrpc.kind = %q", ep.Metadata["natsrpc.kind"])
		}
	}
}

// TestStreamJSON streams protojson.
func TestStreamJSON(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(countTo)})
	st, err := watchClient(cnc, natsrpc.WithJSON()).CallServerStream(t.Context(), &str{Value: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0,1,2" {
		t.Errorf("received %q, %v", got, err)
	}
}

// TestStreamRawClient speaks the protocol by hand, as a client in another
// language would from docs/wire.md: handshake, open frame, data frames
// within the granted credit, credit, end frame.
func TestStreamRawClient(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(countTo)})
	inbox := nats.NewInbox()
	sub, err := cnc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := proto.Marshal(&str{Value: "5"})
	err = cnc.PublishMsg(&nats.Msg{Subject: streamWatchSubject, Reply: inbox, Data: body, Header: nats.Header{
		"Nats-Rpc-Stream":       {"1"},
		"Nats-Rpc-Credit":       {"2"},
		"Nats-Rpc-Credit-Bytes": {"1000000"},
		"Nats-Rpc-Heartbeat":    {"1000"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	next := func() *nats.Msg {
		t.Helper()
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	open := next()
	if open.Header.Get("Nats-Rpc-Frame") != "open" || open.Header.Get("Nats-Rpc-Seq") != "0" || open.Header.Get("Nats-Rpc-Heartbeat") == "" {
		t.Fatalf("first frame %v; want open", open.Header)
	}
	control := open.Header.Get("Nats-Rpc-Control")
	var got []string
	readData := func(n int) {
		for len(got) < n {
			m := next()
			if m.Header.Get("Nats-Rpc-Frame") == "heartbeat" {
				continue
			}
			// Data frames without response headers are compact: no
			// headers, the sequence number as a uvarint, the message.
			if len(m.Header) != 0 {
				t.Fatalf("data frame with headers %v; want a compact frame", m.Header)
			}
			seq, n := binary.Uvarint(m.Data)
			if want := uint64(len(got) + 1); n <= 0 || seq != want {
				t.Fatalf("compact data frame % x: numbered %d (%d bytes); want %d", m.Data, seq, n, want)
			}
			var v str
			if err := proto.Unmarshal(m.Data[n:], &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v.GetValue())
		}
	}
	readData(2)
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil && m.Header.Get("Nats-Rpc-Frame") == "" {
		t.Fatalf("the service sent %v beyond its credit of 2", m.Header)
	}
	rawFrame(t, cnc, control, "Nats-Rpc-Frame", "credit", "Nats-Rpc-Seq", "0", "Nats-Rpc-Credit", "10", "Nats-Rpc-Credit-Bytes", "1000000")
	readData(5)
	end := next()
	for end.Header.Get("Nats-Rpc-Frame") == "heartbeat" {
		end = next()
	}
	if end.Header.Get("Nats-Rpc-Frame") != "end" || end.Header.Get("Nats-Rpc-Seq") != "5" || end.Header.Get("Nats-Rpc-Code") != "ok" {
		t.Errorf("end frame %v; want end, 5 messages, ok", end.Header)
	}
	if strings.Join(got, ",") != "0,1,2,3,4" {
		t.Errorf("received %q", got)
	}
	// A request without the protocol header is refused with an end frame.
	m, err := cnc.Request(streamWatchSubject, body, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Nats-Rpc-Frame") != "end" || m.Header.Get("Nats-Rpc-Code") != "invalid_argument" {
		t.Errorf("plain request answered %v; want an end frame with invalid_argument", m.Header)
	}
}

// TestClientStream uploads a stream of requests and gets one answer; a
// handler that reads slowly holds the client's Send back.
func TestClientStream(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	const window = 4
	var consumed atomic.Int64
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewClientStreamHandler(streamUpload, func(ctx context.Context, s *natsrpc.HandlerRecvStream[str]) (*str, error) {
		if s.RequestHeader().Get("X-Batch") != "b-1" {
			return nil, errors.New("missing X-Batch")
		}
		var parts []string
		for m, err := range s.All() {
			if err != nil {
				return nil, err
			}
			parts = append(parts, m.GetValue())
			consumed.Add(1)
			time.Sleep(time.Millisecond)
		}
		s.ResponseHeader().Set("X-Parts", strconv.Itoa(len(parts)))
		return &str{Value: strings.Join(parts, "")}, nil
	})}, natsrpc.WithStreamWindow(window, 1<<20))
	client := natsrpc.NewClientStreamClient[str, str](cnc, streamUpload)
	up, err := client.CallClientStream(t.Context(), natsrpc.WithHeader("X-Batch", "b-1"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 100 {
		v := strconv.Itoa(i % 10)
		want.WriteString(v)
		if err := up.Send(&str{Value: v}); err != nil {
			t.Fatal(err)
		}
		if ahead := int64(i+1) - consumed.Load(); ahead > window+1 {
			t.Fatalf("sent %d, the handler consumed %d: more than the window ahead", i+1, consumed.Load())
		}
	}
	res, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if res.GetValue() != want.String() {
		t.Errorf("response %q; want %q", res.GetValue(), want.String())
	}
	if up.ResponseHeader().Get("X-Parts") != "100" {
		t.Errorf("X-Parts = %q", up.ResponseHeader().Get("X-Parts"))
	}

	t.Run("handler error", func(t *testing.T) {
		up, err := client.CallClientStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_, err = up.CloseAndRecv()
		wantCode(t, err, natsrpc.CodeUnknown)
	})
	t.Run("no responders", func(t *testing.T) {
		up, err := natsrpc.NewClientStreamClient[str, str](cnc, streamUpload, natsrpc.WithSubjectPrefix("nobody")).CallClientStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, up.Send(&str{}), natsrpc.CodeUnavailable)
	})
}

// TestBidiStream echoes messages both ways at once.
func TestBidiStream(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(ctx context.Context, s *natsrpc.HandlerBidiStream[str, str]) error {
		for m, err := range s.All() {
			if err != nil {
				return err
			}
			if err := s.Send(&str{Value: "echo " + m.GetValue()}); err != nil {
				return err
			}
		}
		return s.Send(&str{Value: "bye"})
	})}, natsrpc.WithStreamWindow(8, 1<<20))
	chat, err := natsrpc.NewBidiStreamClient[str, str](cnc, streamChat, natsrpc.WithStreamWindow(8, 1<<20)).CallBidiStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := chat.Send(&str{Value: strconv.Itoa(i)}); err != nil {
				errc <- err
				return
			}
		}
		errc <- chat.CloseSend()
	}()
	i := 0
	for m, err := range chat.All() {
		if err != nil {
			t.Fatal(err)
		}
		want := "echo " + strconv.Itoa(i)
		if i == n {
			want = "bye"
		}
		if m.GetValue() != want {
			t.Fatalf("message %d = %q; want %q", i, m.GetValue(), want)
		}
		i++
	}
	if i != n+1 {
		t.Errorf("received %d; want %d", i, n+1)
	}
	if err := <-errc; err != nil {
		t.Errorf("sending: %v", err)
	}
}

// streamRecorder is an interceptor that records what it sees of streams.
type streamRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *streamRecorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *streamRecorder) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc { return next }

func (r *streamRecorder) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return func(ctx context.Context, spec natsrpc.Spec) natsrpc.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("X-Intercepted", "client")
		r.add(fmt.Sprintf("client %s %s client=%v", spec.Procedure, spec.Kind, spec.IsClient))
		return &recordingClientConn{StreamingClientConn: conn, r: r}
	}
}

func (r *streamRecorder) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return func(ctx context.Context, conn natsrpc.StreamingHandlerConn) error {
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		r.add("handler " + conn.RequestHeader().Get("X-Intercepted") + " " + ci.RequestHeader().Get("X-Intercepted"))
		err := next(ctx, &recordingHandlerConn{StreamingHandlerConn: conn, r: r})
		r.add(fmt.Sprintf("handler returned %v", err))
		return err
	}
}

type recordingClientConn struct {
	natsrpc.StreamingClientConn
	r *streamRecorder
}

func (c *recordingClientConn) Receive(m proto.Message) error {
	err := c.StreamingClientConn.Receive(m)
	c.r.add(fmt.Sprintf("client received %v", err))
	return err
}

type recordingHandlerConn struct {
	natsrpc.StreamingHandlerConn
	r *streamRecorder
}

func (c *recordingHandlerConn) Send(m proto.Message) error {
	c.r.add("handler sent " + m.(*str).GetValue())
	return c.StreamingHandlerConn.Send(m)
}

// TestStreamInterceptors checks that client and handler interceptors see
// streams: the spec, the headers, every message and the end.
func TestStreamInterceptors(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	rec := &streamRecorder{}
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(countTo)}, natsrpc.WithInterceptors(rec))
	st, err := watchClient(cnc, natsrpc.WithInterceptors(rec)).CallServerStream(t.Context(), &str{Value: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(t, st); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler interceptor returning", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.events) == 8
	})
	want := []string{
		"client /natsrpctest.v1.StreamService/Watch server_stream client=true",
		"handler client client",
		"handler sent 0",
		"handler sent 1",
		"client received <nil>",
		"client received <nil>",
		"client received EOF",
		"handler returned <nil>",
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := rec.events
	// The two sides run concurrently: compare each side's order.
	side := func(events []string, prefix string) []string {
		var out []string
		for _, e := range events {
			if strings.HasPrefix(e, prefix) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, p := range []string{"client", "handler"} {
		if g, w := side(got, p), side(want, p); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s events:\n%s\nwant:\n%s", p, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
}

// TestStreamInvalidUse checks the errors of misuse.
func TestStreamInvalidUse(t *testing.T) {
	t.Parallel()
	_, cnc, _ := testConns(t)
	_, err := natsrpc.NewServerStreamClient[str, str](cnc, streamUpload).CallServerStream(t.Context(), &str{})
	wantCode(t, err, natsrpc.CodeInvalidArgument)
	_, err = watchClient(cnc).CallServerStream(t.Context(), nil)
	wantCode(t, err, natsrpc.CodeInvalidArgument)
	_, err = watchClient(cnc, natsrpc.WithStreamWindow(0, 1)).CallServerStream(t.Context(), &str{})
	wantCode(t, err, natsrpc.CodeInvalidArgument)
	if _, err := natsrpc.NewService(cnc, streamService, []natsrpc.Handler{natsrpc.NewServerStreamHandler[str, str](streamChat, nil)}); err == nil {
		t.Error("NewService accepted a server-stream handler for a bidi method")
	}
	if _, err := natsrpc.NewService(cnc, streamService, nil, natsrpc.WithMaxStreams(0)); err == nil {
		t.Error("NewService accepted WithMaxStreams(0)")
	}
}

// TestStreamMessageTooLarge checks that a message larger than the server's
// max_payload fails the Send with CodeResourceExhausted and the stream
// stays usable.
func TestStreamMessageTooLarge(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithMaxPayload(4096))
	sendErr := make(chan error, 1)
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(_ context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
		sendErr <- s.Send(&str{Value: strings.Repeat("x", 8000)})
		return s.Send(&str{Value: "small"})
	})})
	st, err := watchClient(cnc).CallServerStream(t.Context(), &str{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(t, st)
	if err != nil || strings.Join(got, ",") != "small" {
		t.Errorf("received %q, %v; want the small message and the end", got, err)
	}
	wantCode(t, <-sendErr, natsrpc.CodeResourceExhausted)
}

// TestBidiServerEndsFirst checks that once the service ends a bidi stream,
// the client's Send reports io.EOF and Recv the service's status.
func TestBidiServerEndsFirst(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(_ context.Context, s *natsrpc.HandlerBidiStream[str, str]) error {
		if _, err := s.Recv(); err != nil {
			return err
		}
		return natsrpc.NewError(natsrpc.CodePermissionDenied, errors.New("not your chat"))
	})})
	chat, err := natsrpc.NewBidiStreamClient[str, str](cnc, streamChat).CallBidiStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer chat.Close()
	if err := chat.Send(&str{Value: "hi"}); err != nil {
		t.Fatal(err)
	}
	_, err = chat.Recv()
	wantCode(t, err, natsrpc.CodePermissionDenied)
	if err := chat.Send(&str{Value: "again"}); err != io.EOF {
		t.Errorf("Send after the service ended = %v; want io.EOF", err)
	}
}

// TestWithMethods checks that a service can serve part of its methods:
// here its streams without its durable event, which would need JetStream.
func TestWithMethods(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t) // no JetStream
	handlers := []natsrpc.Handler{
		watchHandler(countTo),
		natsrpc.NewEventHandler(streamRecord, func(context.Context, *str) error { return nil }),
	}
	if _, err := natsrpc.NewService(snc, streamService, handlers); err == nil {
		t.Fatal("NewService registered a durable event without JetStream")
	}
	svc := startService(t, snc, streamService, handlers, natsrpc.WithMethods("Watch"))
	if n := len(svc.Info().Endpoints); n != 1 {
		t.Errorf("%d endpoints; want Watch only", n)
	}
	st, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := recvAll(t, st); err != nil || len(got) != 2 {
		t.Errorf("received %q, %v", got, err)
	}
	if _, err := natsrpc.NewService(snc, streamService, handlers, natsrpc.WithMethods("Nope")); err == nil || !strings.Contains(err.Error(), `"Nope"`) {
		t.Errorf("NewService with an unknown method = %v", err)
	}
	err = natsrpc.NewEventClient[str](cnc, streamWatch).Publish(t.Context(), &str{})
	wantCode(t, err, natsrpc.CodeInvalidArgument)
}
