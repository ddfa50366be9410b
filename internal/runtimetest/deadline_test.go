package runtimetest

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// deadlineRecorder is a ping handler that reports the time left before its
// context's deadline.
func deadlineRecorder(left chan<- time.Duration) func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		deadline, ok := ctx.Deadline()
		if !ok {
			left <- -1
		} else {
			left <- time.Until(deadline)
		}
		return req, nil
	}
}

// wantAbout fails t unless got is within [want-slack, want].
func wantAbout(t *testing.T, what string, got, want, slack time.Duration) {
	t.Helper()
	if got > want || got < want-slack {
		t.Errorf("%s: handler's time left = %v; want about %v (at most %v less)", what, got, want, slack)
	}
}

func TestDeadlinePropagation(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	left := make(chan time.Duration, 1)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, deadlineRecorder(left))},
		natsrpc.WithMaxTimeout(time.Hour))
	const slack = 500 * time.Millisecond
	req := wrapperspb.String("x")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := newPingClient(client, pingMethod).CallUnary(ctx, req); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "caller's 3s deadline", <-left, 3*time.Second, slack)

	// Without a deadline: WithTimeout, then the runtime's default (the ping
	// schema sets no timeout).
	if _, err := newPingClient(client, pingMethod, natsrpc.WithTimeout(7*time.Second)).CallUnary(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "WithTimeout(7s)", <-left, 7*time.Second, slack)
	if _, err := newPingClient(client, pingMethod).CallUnary(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "DefaultTimeout", <-left, natsrpc.DefaultTimeout, slack)

	// WithCallTimeout shortens the context's deadline but never extends it.
	if _, err := newPingClient(client, pingMethod).CallUnary(ctx, req, natsrpc.WithCallTimeout(time.Second)); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "WithCallTimeout(1s) under a 3s context", <-left, time.Second, slack)
	if _, err := newPingClient(client, pingMethod).CallUnary(ctx, req, natsrpc.WithCallTimeout(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := <-left; got > 3*time.Second {
		t.Errorf("WithCallTimeout(1m) under a 3s context: handler's time left = %v; want at most 3s", got)
	}
}

func TestSchemaTimeouts(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	left := make(chan time.Duration, 1)
	record := func(ctx context.Context) {
		deadline, _ := ctx.Deadline()
		left <- time.Until(deadline)
	}
	testService(t, server, []natsrpc.Handler{
		getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			record(ctx)
			return echoGetItem(ctx, req)
		}),
		natsrpc.NewUnaryHandler(generateItem, func(ctx context.Context, _ *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			record(ctx)
			return &natsrpctestv1.GenerateResponse{}, nil
		}),
	})
	const slack = 500 * time.Millisecond
	// The service's default_timeout (5s) and Generate's own timeout
	// (30s) come before the client's WithTimeout.
	if _, err := getItemClient(client, natsrpc.WithTimeout(time.Second)).CallUnary(context.Background(), &natsrpctestv1.GetRequest{}); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "service default_timeout", <-left, 5*time.Second, slack)
	if _, err := generateItemClient(client, natsrpc.WithTimeout(time.Second)).CallUnary(context.Background(), &natsrpctestv1.GenerateRequest{}); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "method timeout", <-left, 30*time.Second, slack)
}

func TestMaxTimeout(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	left := make(chan time.Duration, 1)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, deadlineRecorder(left))},
		natsrpc.WithMaxTimeout(300*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := newPingClient(client, pingMethod).CallUnary(ctx, wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "a 1m deadline clamped to 300ms", <-left, 300*time.Millisecond, 200*time.Millisecond)

	// A request without Nats-Rpc-Timeout (plain `nats req`) gets the
	// maximum, since the ping schema sets no timeout.
	if _, err := client.Request(pingSubject, nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "no timeout header", <-left, 300*time.Millisecond, 200*time.Millisecond)
}

func TestBadTimeoutHeader(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	var calls atomic.Int32
	svc := testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		calls.Add(1)
		return req, nil
	})})
	for _, v := range []string{"abc", "-5", "1.5", "12345678901", "5s"} {
		msg := nats.NewMsg(pingSubject)
		msg.Header.Set("Nats-Rpc-Timeout", v)
		resp, err := client.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := resp.Header.Get("Nats-Rpc-Code"); got != "invalid_argument" {
			t.Errorf("timeout %q: Nats-Rpc-Code = %q; want invalid_argument", v, got)
		}
	}
	// "0": the caller has already given up, so the request is dropped.
	msg := nats.NewMsg(pingSubject)
	msg.Header.Set("Nats-Rpc-Timeout", "0")
	if _, err := client.RequestMsg(msg, 200*time.Millisecond); err != nats.ErrTimeout {
		t.Errorf("timeout \"0\": err = %v; want no answer (nats.ErrTimeout)", err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("handler calls = %d; want 0", got)
	}
	waitFor(t, "the dropped request in the stats", func() bool {
		return svc.Stats().Endpoints[0].NumRequests == 6
	})
	var data struct{ Expired int }
	if err := json.Unmarshal(svc.Stats().Endpoints[0].Data, &data); err != nil || data.Expired != 1 {
		t.Errorf("stats data expired = %d (%v); want 1", data.Expired, err)
	}
}

func TestExpiredInQueueDropped(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	release := make(chan struct{})
	started := make(chan string, 2)
	svc := testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		started <- req.GetValue()
		<-release
		return req, nil
	})}, natsrpc.WithConcurrency(1))
	c := newPingClient(client, pingMethod)

	first := make(chan error, 1)
	go func() {
		_, err := c.CallUnary(context.Background(), wrapperspb.String("first"))
		first <- err
	}()
	if got := <-started; got != "first" {
		t.Fatalf("started %q; want first", got)
	}
	// The only worker is busy: the second request waits in the queue until
	// its deadline passes.
	_, err := c.CallUnary(context.Background(), wrapperspb.String("second"), natsrpc.WithCallTimeout(100*time.Millisecond))
	wantCode(t, err, natsrpc.CodeDeadlineExceeded)
	// The server's copy of the deadline started a transit time after the
	// caller's; let it pass too before the worker frees up.
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	waitFor(t, "both requests in the stats", func() bool {
		return svc.Stats().Endpoints[0].NumRequests == 2
	})
	select {
	case v := <-started:
		t.Errorf("handler started %q; the expired request must be dropped", v)
	default:
	}
	st := svc.Stats().Endpoints[0]
	var data struct{ Expired int }
	if err := json.Unmarshal(st.Data, &data); err != nil || data.Expired != 1 {
		t.Errorf("stats data expired = %d (%v); want 1", data.Expired, err)
	}
	if st.NumErrors != 1 {
		t.Errorf("num_errors = %d; want 1 (the dropped request)", st.NumErrors)
	}
}

func TestNoTimeoutHeaderUsesSchema(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	left := make(chan time.Duration, 1)
	testService(t, server, []natsrpc.Handler{
		natsrpc.NewUnaryHandler(generateItem, func(ctx context.Context, _ *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			deadline, _ := ctx.Deadline()
			left <- time.Until(deadline)
			return &natsrpctestv1.GenerateResponse{}, nil
		}),
	}, natsrpc.WithMaxTimeout(20*time.Second))
	// A plain request, as `nats req` sends it: Generate's schema says
	// 30s, clamped to the service's 20s maximum.
	if _, err := client.Request(genItemSubject, nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, "schema timeout clamped to the maximum", <-left, 20*time.Second, 500*time.Millisecond)
}
