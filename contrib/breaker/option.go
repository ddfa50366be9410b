package breaker

import (
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/natsrpc/natsrpc"
)

// Option configures a [Breaker].
type Option interface {
	apply(*config)
}

type config struct {
	consecutiveFailures uint32
	failureRatio        float64
	minRequests         uint32
	window              time.Duration
	openTimeout         time.Duration
	halfOpenProbes      uint32
	failureCodes        [17]bool // by code, up to CodeUnauthenticated
	perProcedure        bool
	onStateChange       func(StateChange)
	err                 error
}

func (c *config) fail(err error) {
	c.err = errors.Join(c.err, err)
}

func (c *config) validate() error {
	if c.err != nil {
		return c.err
	}
	if c.consecutiveFailures == 0 && c.failureRatio == 0 {
		return errors.New("no way to open: consecutive failures are 0 and no failure ratio is set")
	}
	return nil
}

// readyToTrip says whether the counts of the closed state open the breaker.
func (c *config) readyToTrip(counts gobreaker.Counts) bool {
	if c.consecutiveFailures > 0 && counts.ConsecutiveFailures >= c.consecutiveFailures {
		return true
	}
	if c.failureRatio > 0 {
		// Calls that ended, excluded ones aside; Requests would count
		// those still in flight too.
		ended := counts.TotalSuccesses + counts.TotalFailures
		return ended >= c.minRequests && float64(counts.TotalFailures) >= c.failureRatio*float64(ended)
	}
	return false
}

// WithConsecutiveFailures opens the breaker after n failures in a row (5
// by default). 0 turns this rule off, leaving [WithFailureRatio].
func WithConsecutiveFailures(n uint32) Option {
	return consecutiveOption(n)
}

type consecutiveOption uint32

func (o consecutiveOption) apply(c *config) {
	c.consecutiveFailures = uint32(o)
}

// WithFailureRatio also opens the breaker when at least ratio (0 < ratio
// <= 1) of the calls that ended within the sliding window ([WithWindow])
// failed, once at least minRequests calls ended in it; the minimum keeps a
// quiet client from opening on one failure out of two. Off by default.
func WithFailureRatio(ratio float64, minRequests uint32) Option {
	return &ratioOption{ratio: ratio, minRequests: minRequests}
}

type ratioOption struct {
	ratio       float64
	minRequests uint32
}

func (o *ratioOption) apply(c *config) {
	if !(o.ratio > 0 && o.ratio <= 1) {
		c.fail(fmt.Errorf("failure ratio %v is not in (0, 1]", o.ratio))
		return
	}
	if o.minRequests == 0 {
		c.fail(errors.New("failure ratio needs a minimum of at least 1 request"))
		return
	}
	c.failureRatio, c.minRequests = o.ratio, o.minRequests
}

// WithWindow sets the sliding window over which the closed state counts
// outcomes for [WithFailureRatio]: the last d, in ten steps (10 s by
// default). A call is counted in the step it started in, and not at all if
// it ends after that step has left the window: make the window longer than
// the client's longest timeout. (The consecutive-failures rule has no
// window.)
func WithWindow(d time.Duration) Option {
	return windowOption(d)
}

type windowOption time.Duration

func (o windowOption) apply(c *config) {
	if o < 10*windowOption(time.Millisecond) {
		c.fail(fmt.Errorf("window %s is shorter than 10ms", time.Duration(o)))
		return
	}
	c.window = time.Duration(o)
}

// WithOpenTimeout sets how long the breaker stays open before it lets a
// probe call through (5 s by default).
func WithOpenTimeout(d time.Duration) Option {
	return openTimeoutOption(d)
}

type openTimeoutOption time.Duration

func (o openTimeoutOption) apply(c *config) {
	if o <= 0 {
		c.fail(fmt.Errorf("open timeout %s must be positive", time.Duration(o)))
		return
	}
	c.openTimeout = time.Duration(o)
}

// WithHalfOpenProbes sets how many calls a half-open breaker lets through
// at once (1 by default); that many successes in a row close it.
func WithHalfOpenProbes(n uint32) Option {
	return probesOption(n)
}

type probesOption uint32

func (o probesOption) apply(c *config) {
	if o == 0 {
		c.fail(errors.New("half-open probes must be at least 1"))
		return
	}
	c.halfOpenProbes = uint32(o)
}

// WithFailureCodes sets the codes that count as failures, replacing the
// default [natsrpc.CodeUnavailable] and [natsrpc.CodeDeadlineExceeded].
// Add [natsrpc.CodeResourceExhausted] to back off from overloaded
// services too. Any other code from a service counts as a success.
func WithFailureCodes(codes ...natsrpc.Code) Option {
	return failureCodesOption(codes)
}

type failureCodesOption []natsrpc.Code

func (o failureCodesOption) apply(c *config) {
	if len(o) == 0 {
		c.fail(errors.New("no failure codes"))
		return
	}
	var set [17]bool
	for _, code := range o {
		if code == 0 || int(code) >= len(set) {
			c.fail(fmt.Errorf("failure code %v is not an error code", code))
			return
		}
		set[code] = true
	}
	c.failureCodes = set
}

// WithPerProcedure keeps one state per method instead of one for the whole
// breaker: a method that fails opens only its own state. See the package
// documentation on scope.
func WithPerProcedure() Option {
	return perProcedureOption{}
}

type perProcedureOption struct{}

func (perProcedureOption) apply(c *config) {
	c.perProcedure = true
}

// WithStateChange calls fn after every change of state, in order and one
// at a time for each state (the breaker's, or each procedure's), on the
// goroutine of a call that went through the breaker. fn may call
// [Breaker.State]; it should be quick, as that call waits for it.
//
// The open state becomes half-open when a call or [Breaker.State] finds its
// timeout passed, so that change is reported then, not at the moment the
// timeout passes.
func WithStateChange(fn func(StateChange)) Option {
	return stateChangeOption(fn)
}

type stateChangeOption func(StateChange)

func (o stateChangeOption) apply(c *config) {
	c.onStateChange = o
}
