package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	// Each method fails its first two calls with the code in the request,
	// then succeeds.
	counts := map[string]*atomic.Int32{"Ping": {}, "Read": {}, "Put": {}}
	failTwice := func(name string) func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if n := counts[name].Add(1); n <= 2 {
				var code natsrpc.Code
				_ = code.UnmarshalText([]byte(req.GetValue()))
				return nil, natsrpc.NewError(code, fmt.Errorf("attempt %d fails", n))
			}
			return wrapperspb.String("ok"), nil
		}
	}
	testPingService(t, server, []natsrpc.Handler{
		pingHandler(pingMethod, failTwice("Ping")),
		pingHandler(readMethod, failTwice("Read")),
		pingHandler(putMethod, failTwice("Put")),
	})
	ctx := context.Background()
	reset := func() {
		for _, c := range counts {
			c.Store(0)
		}
	}

	// IDEMPOTENCY_UNKNOWN: never retried.
	_, err := newPingClient(client, pingMethod).CallUnary(ctx, wrapperspb.String("unavailable"))
	wantCode(t, err, natsrpc.CodeUnavailable)
	if got := counts["Ping"].Load(); got != 1 {
		t.Errorf("Ping (not idempotent): %d attempts; want 1", got)
	}

	// NO_SIDE_EFFECTS and IDEMPOTENT: retried on unavailable and
	// resource_exhausted, by default up to 3 attempts.
	for _, code := range []string{"unavailable", "resource_exhausted"} {
		for _, md := range []string{"Read", "Put"} {
			reset()
			m := readMethod
			if md == "Put" {
				m = putMethod
			}
			res, err := newPingClient(client, m).CallUnary(ctx, wrapperspb.String(code))
			if err != nil || res.GetValue() != "ok" {
				t.Errorf("%s after two %s: %v, %v; want ok", md, code, res, err)
			}
			if got := counts[md].Load(); got != 3 {
				t.Errorf("%s after two %s: %d attempts; want 3", md, code, got)
			}
		}
	}

	// Other codes are not retried.
	reset()
	_, err = newPingClient(client, readMethod).CallUnary(ctx, wrapperspb.String("internal"))
	wantCode(t, err, natsrpc.CodeInternal)
	if got := counts["Read"].Load(); got != 1 {
		t.Errorf("Read after internal: %d attempts; want 1", got)
	}

	// MaxAttempts bounds the attempts; 1 turns retries off.
	reset()
	_, err = newPingClient(client, readMethod, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 2})).CallUnary(ctx, wrapperspb.String("unavailable"))
	wantCode(t, err, natsrpc.CodeUnavailable)
	if got := counts["Read"].Load(); got != 2 {
		t.Errorf("MaxAttempts 2: %d attempts; want 2", got)
	}
	reset()
	_, err = newPingClient(client, readMethod, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1})).CallUnary(ctx, wrapperspb.String("unavailable"))
	wantCode(t, err, natsrpc.CodeUnavailable)
	if got := counts["Read"].Load(); got != 1 {
		t.Errorf("MaxAttempts 1: %d attempts; want 1", got)
	}

	// Backoff never outlives the deadline: with 2s between attempts and a
	// 500ms deadline, the call fails after its first attempt.
	reset()
	start := time.Now()
	_, err = newPingClient(client, readMethod, natsrpc.WithRetry(natsrpc.RetryPolicy{InitialBackoff: 2 * time.Second})).
		CallUnary(ctx, wrapperspb.String("unavailable"), natsrpc.WithCallTimeout(500*time.Millisecond))
	wantCode(t, err, natsrpc.CodeUnavailable)
	if elapsed := time.Since(start); elapsed > 400*time.Millisecond {
		t.Errorf("call took %v; want it to give up instead of sleeping past its deadline", elapsed)
	}
}

func TestRetryNoResponders(t *testing.T) {
	t.Parallel()
	srv, client, _ := testConns(t)
	c := newPingClient(client, readMethod, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 10, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}))
	type result struct {
		res *wrapperspb.StringValue
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.CallUnary(context.Background(), wrapperspb.String("hello"))
		done <- result{res, err}
	}()
	// Give the first attempt time to find no responders (the outcome is the
	// same if it does not), then start the service while the client backs
	// off.
	time.Sleep(30 * time.Millisecond)
	testPingService(t, natsConnect(t, srv), []natsrpc.Handler{pingHandler(readMethod, echo)})
	if r := <-done; r.err != nil || r.res.GetValue() != "hello" {
		t.Errorf("call during the service's start: %v, %v; want hello", r.res, r.err)
	}
}

// recorder is an interceptor that logs what it sees.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (r recorder) add(s string) {
	r.mu.Lock()
	*r.log = append(*r.log, s)
	r.mu.Unlock()
}

func (r recorder) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		if !ok {
			return nil, errors.New("no CallInfo in an interceptor's context")
		}
		side := "server"
		if ci.Spec().IsClient {
			side = "client"
			ci.RequestHeader().Set("Seen-By-"+r.name, "yes")
		} else if ci.RequestHeader().Get("Seen-By-c1") == "yes" {
			side = "server (c1 header arrived)"
		}
		r.add(r.name + " in " + side + " " + ci.Spec().Procedure)
		res, err := next(ctx, req)
		r.add(r.name + " out")
		return res, err
	}
}

func (r recorder) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return next
}

func (r recorder) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return next
}

func TestInterceptorOrder(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	var (
		mu  sync.Mutex
		log []string
	)
	rec := func(name string) recorder { return recorder{name: name, mu: &mu, log: &log} }
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		rec("handler").add("handler")
		return req, nil
	})}, natsrpc.WithInterceptors(rec("s1")), natsrpc.WithInterceptors(rec("s2")))
	c := newPingClient(client, pingMethod, natsrpc.WithInterceptors(rec("c1"), rec("c2")))
	if _, err := c.CallUnary(context.Background(), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	const proc = "/natsrpctest.v1.PingService/Ping"
	want := []string{
		"c1 in client " + proc, "c2 in client " + proc,
		"s1 in server (c1 header arrived) " + proc, "s2 in server (c1 header arrived) " + proc,
		"handler", "s2 out", "s1 out",
		"c2 out", "c1 out",
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(log, want) {
		t.Errorf("order:\n got %q\nwant %q", log, want)
	}
}

func TestInterceptorShortCircuit(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	var calls atomic.Int32
	deny := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			if ci.RequestHeader().Get("Authorization") == "" {
				return nil, natsrpc.NewError(natsrpc.CodeUnauthenticated, errors.New("no credentials"))
			}
			if req.(*wrapperspb.StringValue).GetValue() == "swap" {
				return wrapperspb.String("from interceptor"), nil
			}
			return next(ctx, req)
		}
	})
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		calls.Add(1)
		return req, nil
	})}, natsrpc.WithInterceptors(deny))
	c := newPingClient(client, pingMethod)
	_, err := c.CallUnary(context.Background(), wrapperspb.String("x"))
	wantCode(t, err, natsrpc.CodeUnauthenticated)
	res, err := c.CallUnary(context.Background(), wrapperspb.String("swap"), natsrpc.WithHeader("Authorization", "Bearer t"))
	if err != nil || res.GetValue() != "from interceptor" {
		t.Errorf("swap: %v, %v", res, err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("handler calls = %d; want 0", got)
	}

	// A client interceptor that answers a different type is caught.
	bad := natsrpc.UnaryInterceptorFunc(func(natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(context.Context, proto.Message) (proto.Message, error) {
			return wrapperspb.Int32(1), nil
		}
	})
	_, err = newPingClient(client, pingMethod, natsrpc.WithInterceptors(bad)).CallUnary(context.Background(), wrapperspb.String("x"))
	wantCode(t, err, natsrpc.CodeInternal)
	// A client interceptor that sets a reserved header fails the call.
	reserved := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			ci.RequestHeader().Set("Nats-Rpc-Timeout", "99999")
			return next(ctx, req)
		}
	})
	_, err = newPingClient(client, pingMethod, natsrpc.WithInterceptors(reserved)).CallUnary(context.Background(), wrapperspb.String("x"))
	wantCode(t, err, natsrpc.CodeInvalidArgument)
}

func TestInterceptorReplacesContext(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, echo)})
	// An interceptor that drops the call's context (a bug, but one the
	// client survives): the call still gets a deadline and succeeds.
	detach := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(_ context.Context, req proto.Message) (proto.Message, error) {
			return next(context.Background(), req)
		}
	})
	res, err := newPingClient(client, pingMethod, natsrpc.WithInterceptors(detach)).CallUnary(context.Background(), wrapperspb.String("hi"))
	if err != nil || res.GetValue() != "hi" {
		t.Errorf("call = %v, %v; want hi", res, err)
	}
}
