package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/breaker"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

const generateProcedure = "/natsrpctest.v1.TestService/Generate"

func newBreaker(t *testing.T, opts ...breaker.Option) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New("items", opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

// counting answers Generate and counts the calls that reach it.
func counting(n *atomic.Int32) *contribtest.Handler {
	return &contribtest.Handler{
		GenerateFunc: func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			n.Add(1)
			return &natsrpctestv1.GenerateResponse{}, nil
		},
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			n.Add(1)
			return contribtest.Item(ctx, req)
		},
	}
}

// changes records state changes.
type changes struct {
	mu  sync.Mutex
	log []string
}

func (c *changes) add(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func (c *changes) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// waitState polls b until procedure's state is want; State itself moves an
// open breaker whose timeout has passed to half-open.
func waitState(t *testing.T, b *breaker.Breaker, procedure string, want breaker.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.State(procedure) != want {
		if time.Now().After(deadline) {
			t.Fatalf("state = %v; want %v", b.State(procedure), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantOpenError(t *testing.T, err error, wantState breaker.State) *breaker.OpenError {
	t.Helper()
	if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err = %v; want unavailable from an open breaker", err)
	}
	if natsrpc.IsWireError(err) {
		t.Errorf("err %v is a wire error; a breaker's refusal never reached a server", err)
	}
	var oe *breaker.OpenError
	if !errors.As(err, &oe) || oe.State != wantState {
		t.Fatalf("err = %#v; want an *OpenError in state %v", err, wantState)
	}
	return oe
}

// TestLifecycle: a burst of no responders opens the breaker; while open,
// calls fail fast without reaching the (restarted) service; after the
// timeout a probe goes through and closes it.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	var reached atomic.Int32
	stop := env.Serve(t, counting(&reached))
	var log changes
	var b *breaker.Breaker
	b = newBreaker(t,
		breaker.WithConsecutiveFailures(3),
		// Long enough that the fail-fast calls below surely happen before
		// it ends, even on a slow machine.
		breaker.WithOpenTimeout(1500*time.Millisecond),
		breaker.WithStateChange(func(c breaker.StateChange) {
			// Calling State from the callback must not deadlock.
			log.add(fmt.Sprintf("%s %s->%s (now %s)", c.Breaker, c.From, c.To, b.State(c.Procedure)))
		}),
	)
	c := env.NewClient(natsrpc.WithInterceptors(b))
	ctx := context.Background()
	if _, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{}); err != nil {
		t.Fatalf("first call: %v", err)
	}

	// The service goes away: three calls find no responders.
	stop()
	for i := range 3 {
		_, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
		if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable || errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("call %d without a service: %v; want no responders", i, err)
		}
	}
	if s := b.State(""); s != breaker.StateOpen {
		t.Fatalf("after 3 failures: state %v; want open", s)
	}

	// The service is back, but the breaker is open: calls fail at once
	// and none reaches it.
	reached.Store(0)
	env.Serve(t, counting(&reached))
	for range 5 {
		_, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
		oe := wantOpenError(t, err, breaker.StateOpen)
		if oe.Breaker != "items" || oe.Procedure != "" || time.Until(oe.RetryAt) <= 0 {
			t.Errorf("open error %+v; want breaker items, no procedure, a retry time ahead", oe)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, `unavailable: circuit breaker "items" is open; failing fast until `) {
			t.Errorf("message %q does not name the breaker and its retry time", msg)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d calls reached the service while the breaker was open; want 0", n)
	}

	// After the timeout, one probe goes through and closes the breaker.
	waitState(t, b, "", breaker.StateHalfOpen)
	if _, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("%d calls reached the service; want the probe", n)
	}
	if s := b.State(""); s != breaker.StateClosed {
		t.Errorf("after the probe: state %v; want closed", s)
	}
	want := []string{
		"items closed->open (now open)",
		"items open->half-open (now half-open)",
		"items half-open->closed (now closed)",
	}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("state changes:\n got %q\nwant %q", got, want)
	}
}

// TestHalfOpenProbeFails: a failed probe opens the breaker again, for a new
// timeout; while the probe is in flight, other calls fail fast.
func TestHalfOpenProbeFails(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	b := newBreaker(t, breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(50*time.Millisecond))
	c := env.NewClient(natsrpc.WithInterceptors(b))
	ctx := context.Background()
	_, _ = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	_, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	first := wantOpenError(t, err, breaker.StateOpen).RetryAt

	waitState(t, b, "", breaker.StateHalfOpen)
	_, err = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable || errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("probe without a service: %v; want no responders", err)
	}
	_, err = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	if again := wantOpenError(t, err, breaker.StateOpen).RetryAt; !again.After(first) {
		t.Errorf("reopened until %v; want later than the first opening's %v", again, first)
	}

	// A probe in flight holds the only half-open slot.
	waitState(t, b, "", breaker.StateHalfOpen)
	entered, release := make(chan struct{}), make(chan struct{})
	env.Serve(t, &contribtest.Handler{
		GenerateFunc: func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			close(entered)
			<-release
			return &natsrpctestv1.GenerateResponse{}, nil
		},
	})
	probe := make(chan error, 1)
	go func() {
		_, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
		probe <- err
	}()
	<-entered
	_, err = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	wantOpenError(t, err, breaker.StateHalfOpen)
	if !strings.Contains(err.Error(), `circuit breaker "items" is half-open and its probe calls are in flight`) {
		t.Errorf("message %q", err)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := b.State(""); s != breaker.StateClosed {
		t.Errorf("after the probe: state %v; want closed", s)
	}
}

// TestOtherCodesDoNotTrip: answers with any code but the failure codes
// prove the service is there; they never open the breaker, and they break
// a run of consecutive failures. Canceled calls do not count at all.
func TestOtherCodesDoNotTrip(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	var reached atomic.Int32
	env.Serve(t, &contribtest.Handler{
		GenerateFunc: func(_ context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			reached.Add(1)
			var code natsrpc.Code
			if err := code.UnmarshalText([]byte(req.GetOwnerId())); err != nil {
				return nil, err
			}
			return nil, natsrpc.NewError(code, errors.New("as asked"))
		},
	})
	b := newBreaker(t, breaker.WithConsecutiveFailures(3))
	c := env.NewClient(natsrpc.WithInterceptors(b))
	call := func(code string) error {
		_, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{OwnerId: code})
		return err
	}
	for range 10 {
		for _, code := range []string{"not_found", "invalid_argument", "internal", "permission_denied", "failed_precondition", "resource_exhausted", "unimplemented"} {
			if err := call(code); errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("%s calls opened the breaker: %v", code, err)
			}
		}
	}
	if n := reached.Load(); n != 70 {
		t.Errorf("%d calls reached the service; want all 70", n)
	}
	// A service answering unavailable is a failure (it said so); two of
	// them, a not_found, two more: never three in a row.
	for _, code := range []string{"unavailable", "unavailable", "not_found", "unavailable", "unavailable"} {
		_ = call(code)
	}
	if s := b.State(""); s != breaker.StateClosed {
		t.Fatalf("state %v; want closed: not_found broke the run", s)
	}
	// Canceled calls neither fail nor succeed.
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		_, err := c.Generate(canceled, &natsrpctestv1.GenerateRequest{OwnerId: "ok"})
		if natsrpc.CodeOf(err) != natsrpc.CodeCanceled {
			t.Fatalf("canceled call: %v", err)
		}
	}
	if s := b.State(""); s != breaker.StateClosed {
		t.Fatalf("state %v after canceled calls; want closed", s)
	}
	// The third failure in a row, after the canceled ones, opens it.
	_ = call("unavailable")
	if s := b.State(""); s != breaker.StateOpen {
		t.Errorf("state %v; want open after three unavailable in a row", s)
	}
}

// TestDeadlineExceededTrips: a stuck service opens the breaker too.
func TestDeadlineExceededTrips(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	env.Serve(t, &contribtest.Handler{
		GenerateFunc: func(ctx context.Context, _ *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	b := newBreaker(t, breaker.WithConsecutiveFailures(2))
	c := env.NewClient(natsrpc.WithInterceptors(b))
	for range 2 {
		_, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{}, natsrpc.WithCallTimeout(30*time.Millisecond))
		if natsrpc.CodeOf(err) != natsrpc.CodeDeadlineExceeded {
			t.Fatalf("call to a stuck service: %v; want deadline_exceeded", err)
		}
	}
	_, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{}, natsrpc.WithCallTimeout(30*time.Millisecond))
	wantOpenError(t, err, breaker.StateOpen)
}

// TestFailureRatio: with the ratio rule, the breaker opens once the share
// of failures reaches the ratio over at least the minimum of calls.
func TestFailureRatio(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	env.Serve(t, &contribtest.Handler{
		GenerateFunc: func(_ context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			if req.GetOwnerId() == "fail" {
				return nil, natsrpc.NewError(natsrpc.CodeUnavailable, errors.New("backend down"))
			}
			return &natsrpctestv1.GenerateResponse{}, nil
		},
	})
	b := newBreaker(t, breaker.WithConsecutiveFailures(0), breaker.WithFailureRatio(0.5, 4), breaker.WithWindow(time.Minute))
	c := env.NewClient(natsrpc.WithInterceptors(b))
	// Failed/ended after each call: 1/1, 1/2, 2/3 (over the ratio, under
	// the minimum), 2/4, 2/5, 2/6, 3/7 (under the ratio), then 4/8.
	for i, player := range []string{"fail", "ok", "fail", "ok", "ok", "ok", "fail", "fail"} {
		if s := b.State(""); s != breaker.StateClosed {
			t.Fatalf("before call %d: state %v; want closed", i, s)
		}
		_, _ = c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{OwnerId: player})
	}
	if s := b.State(""); s != breaker.StateOpen {
		t.Errorf("after 4 failures in 8 calls: state %v; want open", s)
	}
}

// TestPerProcedure: each method has its own state.
func TestPerProcedure(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	b := newBreaker(t, breaker.WithPerProcedure(), breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Minute))
	c := env.NewClient(natsrpc.WithInterceptors(b), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	ctx := context.Background()
	for range 2 {
		_, _ = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	}
	var reached atomic.Int32
	env.Serve(t, counting(&reached))
	_, err := c.Generate(ctx, &natsrpctestv1.GenerateRequest{})
	if oe := wantOpenError(t, err, breaker.StateOpen); oe.Procedure != generateProcedure {
		t.Errorf("open error's procedure %q; want %q", oe.Procedure, generateProcedure)
	}
	if !strings.Contains(err.Error(), `circuit breaker "items" for "`+generateProcedure+`" is open`) {
		t.Errorf("message %q does not name the procedure", err)
	}
	if _, err := c.Get(ctx, &natsrpctestv1.GetRequest{}); err != nil {
		t.Errorf("Get, whose state is closed: %v", err)
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("%d calls reached the service; want only Get", n)
	}
	if s := b.State("/natsrpctest.v1.TestService/Get"); s != breaker.StateClosed {
		t.Errorf("Get state %v; want closed", s)
	}
}

// TestHandlerSide: on a service, a breaker lets everything through.
func TestHandlerSide(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	var reached atomic.Int32
	b := newBreaker(t, breaker.WithConsecutiveFailures(1))
	env.Serve(t, &contribtest.Handler{
		GenerateFunc: func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			reached.Add(1)
			return nil, natsrpc.NewError(natsrpc.CodeUnavailable, errors.New("down"))
		},
	}, natsrpc.WithInterceptors(b))
	c := env.NewClient()
	for range 3 {
		_, _ = c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{})
	}
	if n := reached.Load(); n != 3 {
		t.Errorf("%d calls reached the handler; want 3", n)
	}
}

func TestNewInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []breaker.Option
		want string
	}{
		{"", nil, "breaker: name is empty"},
		{"b", []breaker.Option{breaker.WithConsecutiveFailures(0)}, `breaker "b": no way to open: consecutive failures are 0 and no failure ratio is set`},
		{"b", []breaker.Option{breaker.WithFailureRatio(1.5, 10)}, `breaker "b": failure ratio 1.5 is not in (0, 1]`},
		{"b", []breaker.Option{breaker.WithFailureRatio(0.5, 0)}, `breaker "b": failure ratio needs a minimum of at least 1 request`},
		{"b", []breaker.Option{breaker.WithOpenTimeout(0)}, `breaker "b": open timeout 0s must be positive`},
		{"b", []breaker.Option{breaker.WithHalfOpenProbes(0)}, `breaker "b": half-open probes must be at least 1`},
		{"b", []breaker.Option{breaker.WithWindow(time.Millisecond)}, `breaker "b": window 1ms is shorter than 10ms`},
		{"b", []breaker.Option{breaker.WithFailureCodes()}, `breaker "b": no failure codes`},
		{"b", []breaker.Option{breaker.WithFailureCodes(0)}, `breaker "b": failure code ok is not an error code`},
	} {
		_, err := breaker.New(tc.name, tc.opts...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): %v; want %q", tc.name, err, tc.want)
		}
	}
}
