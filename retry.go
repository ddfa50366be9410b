package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// RetryPolicy says how a client retries idempotent methods (see
// [WithRetry]). Zero fields take the defaults named on each field, so
// RetryPolicy{} is the default policy.
//
// Retries wait with exponential backoff and jitter, never past the call's
// deadline, and draw on a retry budget per client method: a token bucket
// that earns BudgetRatio of a token per call and spends one per retry
// (holding at most 10 tokens), plus BudgetMinPerSecond retries per second
// that are always allowed. When a service is down the budget caps retries at
// about BudgetRatio of the traffic, so clients do not multiply the load of a
// struggling service.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first one included.
	// Defaults to 3; 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the base wait before the first retry; each further
	// retry doubles it. Defaults to 25 ms. The actual wait is drawn
	// uniformly between half the base and the base.
	InitialBackoff time.Duration
	// MaxBackoff caps the base wait. Defaults to 1 s.
	MaxBackoff time.Duration
	// BudgetRatio is the share of calls that may be retried once the
	// bucket is empty. Defaults to 0.1 (10%).
	BudgetRatio float64
	// BudgetMinPerSecond is how many retries per second are allowed
	// whatever the ratio, so that a client with little traffic can still
	// retry. Defaults to 10.
	BudgetMinPerSecond int
}

const (
	defaultMaxAttempts    = 3
	defaultInitialBackoff = 25 * time.Millisecond
	defaultMaxBackoff     = time.Second
	defaultBudgetRatio    = 0.1
	defaultBudgetFloor    = 10
	// budgetCapacity is the bucket size in tokens.
	budgetCapacity = 10
	milliToken     = 1000
)

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Errorf("retry policy: max attempts %d must not be negative", p.MaxAttempts)
	case p.InitialBackoff < 0:
		return fmt.Errorf("retry policy: initial backoff %s must not be negative", p.InitialBackoff)
	case p.MaxBackoff < 0:
		return fmt.Errorf("retry policy: max backoff %s must not be negative", p.MaxBackoff)
	case p.BudgetRatio < 0 || p.BudgetRatio > 1:
		return fmt.Errorf("retry policy: budget ratio %g must be between 0 and 1", p.BudgetRatio)
	case p.BudgetMinPerSecond < 0:
		return fmt.Errorf("retry policy: budget minimum %d must not be negative", p.BudgetMinPerSecond)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = defaultInitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = defaultMaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.BudgetRatio == 0 {
		p.BudgetRatio = defaultBudgetRatio
	}
	if p.BudgetMinPerSecond == 0 {
		p.BudgetMinPerSecond = defaultBudgetFloor
	}
	return p
}

// retrier retries one client method. It exists only for idempotent methods
// with retries enabled, so other clients pay nothing.
type retrier struct {
	policy RetryPolicy
	budget retryBudget
}

func newRetrier(p RetryPolicy) *retrier {
	p = p.withDefaults()
	if p.MaxAttempts <= 1 {
		return nil
	}
	r := &retrier{policy: p}
	r.budget.ratio = int64(p.BudgetRatio * milliToken)
	r.budget.floor = int64(p.BudgetMinPerSecond)
	r.budget.tokens.Store(budgetCapacity * milliToken)
	return r
}

// backoff returns the wait before retry number n (1 for the first retry).
func (r *retrier) backoff(n int) time.Duration {
	base := r.policy.InitialBackoff
	for i := 1; i < n && base < r.policy.MaxBackoff; i++ {
		base *= 2
	}
	base = min(base, r.policy.MaxBackoff)
	half := base / 2
	return half + rand.N(base-half+1)
}

// wait sleeps for the backoff of retry n unless the context ends first or
// the call's deadline would pass before the wait is over (a retry would be
// doomed).
func (r *retrier) wait(ctx context.Context, deadline time.Time, n int) bool {
	d := r.backoff(n)
	if time.Until(deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryable reports whether a failed attempt may be retried: a server's
// unavailable or resource exhausted, no responders, or a connection that
// dropped and may come back. Locally made resource exhausted errors (an
// oversized request) would fail again and are not retried.
func retryable(e *Error) bool {
	switch e.code {
	case CodeUnavailable:
		return e.wire || errors.Is(e, nats.ErrNoResponders) || errors.Is(e, nats.ErrDisconnected) || errors.Is(e, nats.ErrReconnectBufExceeded)
	case CodeResourceExhausted:
		return e.wire
	}
	return false
}

// retryBudget is a lock-free token bucket counted in thousandths of a token.
// Calls deposit ratio; retries withdraw one token, or failing that one of
// floor retries allowed per wall-clock second. A full bucket makes deposit a
// single atomic load, so healthy traffic does not contend on it.
type retryBudget struct {
	tokens      atomic.Int64
	ratio       int64
	floor       int64
	floorSecond atomic.Int64
	floorUsed   atomic.Int64
}

func (b *retryBudget) deposit() {
	const capacity = budgetCapacity * milliToken
	for {
		t := b.tokens.Load()
		if t >= capacity {
			return
		}
		if b.tokens.CompareAndSwap(t, min(t+b.ratio, capacity)) {
			return
		}
	}
}

func (b *retryBudget) withdraw(now time.Time) bool {
	for {
		t := b.tokens.Load()
		if t < milliToken {
			break
		}
		if b.tokens.CompareAndSwap(t, t-milliToken) {
			return true
		}
	}
	sec := now.Unix()
	if w := b.floorSecond.Load(); w != sec && b.floorSecond.CompareAndSwap(w, sec) {
		b.floorUsed.Store(0)
	}
	return b.floorUsed.Add(1) <= b.floor
}
