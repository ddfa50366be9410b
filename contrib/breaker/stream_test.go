package breaker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/breaker"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// countingWatches serves Watch with contribtest's script and counts the
// streams that reach it.
func countingWatches(n *atomic.Int32) *contribtest.Handler {
	return &contribtest.Handler{
		WatchFunc: func(ctx context.Context, req *natsrpctestv1.WatchRequest, stream *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
			n.Add(1)
			return contribtest.Watch(ctx, req, stream)
		},
	}
}

// TestStreamLifecycle: stream opens that find no service open the breaker;
// while it is open, opens fail fast without reaching the (restarted)
// service, for every stream kind the breaker guards; after the timeout a
// probe open goes through and closes it.
func TestStreamLifecycle(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	b := newBreaker(t, breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(1500*time.Millisecond))
	watcher := env.NewClient(natsrpc.WithInterceptors(b))
	ctx := context.Background()

	for i := range 3 {
		_, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 1))
		if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable || errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("open %d without a service: %v; want no responders", i, err)
		}
	}
	if s := b.State(""); s != breaker.StateOpen {
		t.Fatalf("after 3 failed opens: state %v; want open", s)
	}

	var reached atomic.Int32
	env.Serve(t, countingWatches(&reached))
	for range 3 {
		_, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 1))
		if oe := wantOpenError(t, err, breaker.StateOpen); oe.Breaker != "items" || time.Until(oe.RetryAt) <= 0 {
			t.Errorf("open error %+v", oe)
		}
	}
	// A bidirectional stream opens with its first call: that call fails
	// fast, and so does every later one.
	echo, err := contribtest.NewChatClient(env.Client, natsrpc.WithInterceptors(b)).CallBidiStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOpenError(t, echo.Send(contribtest.Chat("hail")), breaker.StateOpen)
	_, err = echo.Recv()
	wantOpenError(t, err, breaker.StateOpen)
	wantOpenError(t, echo.CloseSend(), breaker.StateOpen)
	if err := echo.Close(); err != nil {
		t.Errorf("Close of a refused stream: %v", err)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d streams reached the service while the breaker was open; want 0", n)
	}

	waitState(t, b, "", breaker.StateHalfOpen)
	probe, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 2))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	// The open's outcome is known once Watch returned: the breaker closed
	// before the stream is read.
	if s := b.State(""); s != breaker.StateClosed {
		t.Errorf("after the probe opened: state %v; want closed", s)
	}
	if got, err := contribtest.ReadAll(probe.Recv); err != nil || len(got) != 2 {
		t.Errorf("probe stream: %d, %v", len(got), err)
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("%d streams reached the service; want the probe", n)
	}
}

// TestStreamRefusal: a service that refuses a stream (it serves its
// maximum) answered: by default that is a success, and with
// resource_exhausted among the failure codes, a failure.
func TestStreamRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  []breaker.Option
		state breaker.State
	}{
		{"default codes", nil, breaker.StateClosed},
		{"resource_exhausted fails", []breaker.Option{breaker.WithFailureCodes(natsrpc.CodeResourceExhausted)}, breaker.StateOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := contribtest.Start(t)
			env.Serve(t, &contribtest.Handler{}, natsrpc.WithMaxStreams(1))
			b := newBreaker(t, append([]breaker.Option{breaker.WithConsecutiveFailures(2)}, tc.opts...)...)
			watcher := env.NewClient(natsrpc.WithInterceptors(b))
			ctx := context.Background()
			held, err := watcher.Watch(ctx, contribtest.WatchRequest("forever", 0))
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			for range 2 {
				if _, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 0)); natsrpc.CodeOf(err) != natsrpc.CodeResourceExhausted {
					t.Fatalf("second stream: %v; want resource_exhausted", err)
				}
			}
			if s := b.State(""); s != tc.state {
				t.Errorf("after 2 refused opens: state %v; want %v", s, tc.state)
			}
		})
	}
}

// TestStreamFailureAfterOpen: what happens on a stream after it opened
// does not count: a stream whose service stops under it ends unavailable,
// and a breaker that opens at the first failure stays closed; the next
// open, which finds no service, opens it.
func TestStreamFailureAfterOpen(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(env.Service, &contribtest.Handler{})
	if err != nil {
		t.Fatal(err)
	}
	b := newBreaker(t, breaker.WithConsecutiveFailures(1))
	watcher := env.NewClient(natsrpc.WithInterceptors(b))
	ctx := context.Background()
	watch, err := watcher.Watch(ctx, contribtest.WatchRequest("forever", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = svc.Stop(stopCtx) // gives up on the watch, which ends unavailable
	_ = env.Service.Flush()
	if _, err := watch.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Fatalf("Recv after the service stopped: %v; want unavailable", err)
	}
	if s := b.State(""); s != breaker.StateClosed {
		t.Fatalf("after a failure on an open stream: state %v; want closed", s)
	}
	if _, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 1)); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable || errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("open without a service: %v; want no responders", err)
	}
	if s := b.State(""); s != breaker.StateOpen {
		t.Errorf("after a failed open: state %v; want open", s)
	}
}

// openSignal is a handler interceptor that reports each Chat stream
// reaching its handler.
type openSignal chan struct{}

func (o openSignal) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc { return next }

func (o openSignal) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return next
}

func (o openSignal) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return func(ctx context.Context, conn natsrpc.StreamingHandlerConn) error {
		if conn.Spec().Method.Name() == "Chat" {
			o <- struct{}{}
		}
		return next(ctx, conn)
	}
}

// TestStreamProbeReleased: a bidirectional stream that receives before it
// sends is a half-open breaker's probe until its first message; while it
// waits, other opens fail fast; closed before any message came, it counts
// for nothing and frees the probe slot for the next open.
func TestStreamProbeReleased(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	b := newBreaker(t, breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(200*time.Millisecond))
	echoClient := contribtest.NewChatClient(env.Client, natsrpc.WithInterceptors(b))
	watcher := env.NewClient(natsrpc.WithInterceptors(b))
	ctx := context.Background()
	if _, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 1)); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Fatalf("open without a service: %v", err)
	}
	opened := make(openSignal, 4)
	env.Serve(t, &contribtest.Handler{}, natsrpc.WithInterceptors(opened))
	waitState(t, b, "", breaker.StateHalfOpen)

	echo, err := echoClient.CallBidiStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan error, 1)
	go func() {
		_, err := echo.Recv() // opens the stream, then waits: Chat only answers
		received <- err
	}()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the Chat stream did not open")
	}
	_, err = watcher.Watch(ctx, contribtest.WatchRequest("ok", 1))
	wantOpenError(t, err, breaker.StateHalfOpen)

	if err := echo.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-received; natsrpc.CodeOf(err) != natsrpc.CodeCanceled {
		t.Errorf("Recv after Close: %v; want canceled", err)
	}
	if s := b.State(""); s != breaker.StateHalfOpen {
		t.Fatalf("after the probe was closed unanswered: state %v; want still half-open", s)
	}
	watch, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 1))
	if err != nil {
		t.Fatalf("the next probe: %v", err)
	}
	_ = watch.Close()
	if s := b.State(""); s != breaker.StateClosed {
		t.Errorf("after a probe opened: state %v; want closed", s)
	}
}
