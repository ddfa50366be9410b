// Package breaker is a client-side circuit breaker for natsrpc, built on
// [github.com/sony/gobreaker/v2]. When calls to a service keep failing with
// [natsrpc.CodeUnavailable] (no instance listens, the connection is down)
// or [natsrpc.CodeDeadlineExceeded] (instances are stuck), the breaker
// opens and fails the next calls at once, without sending anything, so that
// callers stop stacking up requests and timeouts on a service that cannot
// answer, and the service gets room to recover:
//
//	questBreaker, err := breaker.New("quest-system")
//	if err != nil {
//		return err
//	}
//	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc,
//		natsrpc.WithInterceptors(questBreaker))
//
// # States
//
// A breaker starts closed: calls go through and their outcomes are
// counted. It opens when the failures reach a threshold: 5 consecutive
// failures by default ([WithConsecutiveFailures]), and optionally a share
// of the calls in a sliding window once enough calls were made
// ([WithFailureRatio], [WithWindow]). While open, calls fail at once with
// [natsrpc.CodeUnavailable] and an error that names the breaker and says
// when it will let a call through again (errors.Is(err, [ErrOpen]) reports
// them). After [WithOpenTimeout] (5 s by default) it is half-open: one
// probe call goes through ([WithHalfOpenProbes]) while the others still
// fail fast. A successful probe closes the breaker; a failed one opens it
// again for another timeout.
//
// # What counts
//
// Only the codes of [WithFailureCodes] are failures: by default unavailable
// and deadline_exceeded, which say the service could not answer (a service
// may also answer unavailable itself). Any other answer from a service is a
// success, whatever its code: a not_found or an invalid_argument proves the
// service is there. Errors that say nothing about the service are ignored:
// canceled (the caller gave up) and errors the client made up without
// sending (an invalid request, a request over max_payload).
//
// Outcomes are those of logical calls: the breaker is an interceptor, and
// the client retries idempotent methods below interceptors, so a call that
// failed three attempts with no responders counts as one failure, and a
// call that succeeded on its second attempt as one success.
//
// # Streams
//
// A breaker guards the opening of streams (server, client and
// bidirectional streaming) like a unary call: while it is open, the
// stream's first Send, CloseRequest or Receive fails at once with the
// breaker's [natsrpc.CodeUnavailable] error, and so does every later one,
// without contacting the service. Otherwise the first of them to return
// is the open's outcome, counted as a call's: an open that failed with
// unavailable (no instance listens, the instance did not answer in time)
// or deadline_exceeded is a failure; a stream the service accepted, or
// refused with another code (say resource_exhausted when it serves too
// many streams), is a success. What happens later on an open stream does
// not count: a stream may last hours, and a service that vanished meanwhile
// shows up at the next open. For a server stream the first call is the
// Send of the request, which returns once the service has accepted the
// stream; a bidirectional stream whose client receives before it sends
// tells its outcome with its first message. A stream closed before its
// first call returned counts for nothing.
//
// # Scope
//
// A Breaker guards the clients it is given to as one: one client (all the
// methods of a generated client share its state, since the service behind
// them fails as a whole), or several clients of the same service. With
// [WithPerProcedure] it keeps one state per method instead, for services
// whose methods fail independently (a method backed by an LLM provider next
// to methods backed by a database). Give clients of different services
// different Breakers. On a service (handler side) a Breaker does nothing.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
)

// State is the state of a breaker.
type State int

const (
	// StateClosed lets calls through and counts their outcomes.
	StateClosed State = iota
	// StateHalfOpen lets a few probe calls through and fails the others.
	StateHalfOpen
	// StateOpen fails every call at once.
	StateOpen
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half-open"
	case StateOpen:
		return "open"
	}
	return fmt.Sprintf("state_%d", int(s))
}

func stateOf(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	case gobreaker.StateOpen:
		return StateOpen
	}
	return StateClosed
}

// ErrOpen is what errors.Is finds in the error of a call that a breaker
// refused; errors.As finds an [*OpenError] with the details.
var ErrOpen = errors.New("circuit breaker is open")

// OpenError says why a breaker refused a call. Calls get it wrapped in an
// [*natsrpc.Error] with [natsrpc.CodeUnavailable].
type OpenError struct {
	// Breaker is the breaker's name.
	Breaker string
	// Procedure is the method whose state refused the call, with
	// [WithPerProcedure]; empty otherwise.
	Procedure string
	// State is StateOpen, or StateHalfOpen when the probe calls are in
	// flight.
	State State
	// RetryAt is when an open breaker lets a probe through; zero when half
	// open.
	RetryAt time.Time
}

// Error says which breaker refused the call, and until when it will.
func (e *OpenError) Error() string {
	name := fmt.Sprintf("circuit breaker %q", e.Breaker)
	if e.Procedure != "" {
		name += fmt.Sprintf(" for %q", e.Procedure)
	}
	if e.State == StateHalfOpen {
		return name + " is half-open and its probe calls are in flight; failing fast until they succeed"
	}
	wait := max(time.Until(e.RetryAt), 0).Round(time.Millisecond)
	return fmt.Sprintf("%s is open; failing fast until %s (in %s)", name, e.RetryAt.UTC().Format(time.RFC3339Nano), wait)
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool {
	return target == ErrOpen
}

// StateChange describes a breaker's change of state, for [WithStateChange].
type StateChange struct {
	// Breaker is the breaker's name.
	Breaker string
	// Procedure is the method whose state changed, with
	// [WithPerProcedure]; empty otherwise.
	Procedure string
	// From and To are the old and the new state.
	From, To State
}

// Breaker is a circuit breaker for natsrpc clients, a [natsrpc.Interceptor]
// to pass to [natsrpc.WithInterceptors]. Build it with [New]; it is safe
// for concurrent use.
type Breaker struct {
	name         string
	cfg          config
	perProcedure bool
	client       *circuit
	procedures   sync.Map // procedure -> *circuit, with WithPerProcedure
}

var _ natsrpc.Interceptor = (*Breaker)(nil)

// New returns a breaker named name (in its errors and state changes),
// configured by opts. It fails when name is empty or an option is invalid.
func New(name string, opts ...Option) (*Breaker, error) {
	if name == "" {
		return nil, errors.New("breaker: name is empty")
	}
	cfg := config{
		consecutiveFailures: 5,
		window:              10 * time.Second,
		openTimeout:         5 * time.Second,
		halfOpenProbes:      1,
	}
	cfg.failureCodes[natsrpc.CodeUnavailable] = true
	cfg.failureCodes[natsrpc.CodeDeadlineExceeded] = true
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("breaker %q: %w", name, err)
	}
	b := &Breaker{name: name, cfg: cfg, perProcedure: cfg.perProcedure}
	if !b.perProcedure {
		b.client = b.newCircuit("")
	}
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string {
	return b.name
}

// State returns the breaker's state, or with [WithPerProcedure] the state of
// procedure ("/<package>.<Service>/<Method>", as in [natsrpc.Spec]); it
// ignores procedure otherwise. An open breaker whose timeout has passed
// reports half-open.
func (b *Breaker) State(procedure string) State {
	c := b.circuit(procedure)
	s := stateOf(c.cb.State())
	c.flush()
	return s
}

// WrapUnary guards unary client calls; handler calls pass through.
func (b *Breaker) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		if !ok {
			return next(ctx, req)
		}
		spec := ci.Spec()
		if !spec.IsClient {
			return next(ctx, req)
		}
		c := b.circuit(spec.Procedure)
		done, err := c.cb.Allow()
		c.flush()
		if err != nil {
			return nil, natsrpc.NewError(natsrpc.CodeUnavailable, c.openError(err))
		}
		finished := false
		defer func() {
			if !finished {
				// A panic below: release the probe slot it may hold.
				done(errExcluded)
				c.flush()
			}
		}()
		res, err := next(ctx, req)
		finished = true
		done(b.outcome(err))
		c.flush()
		return res, err
	}
}

// WrapStreamingClient guards the opening of streams: see the package
// documentation on streams.
func (b *Breaker) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return func(ctx context.Context, spec natsrpc.Spec) natsrpc.StreamingClientConn {
		conn := next(ctx, spec)
		if conn == nil {
			return nil
		}
		return &guardedStream{StreamingClientConn: conn, b: b, c: b.circuit(spec.Procedure)}
	}
}

// guardedStream is a client stream whose open goes through the breaker:
// the first Send, CloseRequest or Receive asks the breaker, and the first
// of them to return reports the open's outcome. CloseResponse passes
// through: a stream closed before any call asks nothing of the breaker.
type guardedStream struct {
	natsrpc.StreamingClientConn
	b *Breaker
	c *circuit

	admitOnce sync.Once
	refused   error       // the breaker's refusal, when it was open
	done      func(error) // the breaker's callback for the outcome
	reported  atomic.Bool
}

// admit asks the breaker once, before the stream opens; it returns the
// refusal of an open breaker.
func (s *guardedStream) admit() error {
	s.admitOnce.Do(func() {
		done, err := s.c.cb.Allow()
		s.c.flush()
		if err != nil {
			s.refused = natsrpc.NewError(natsrpc.CodeUnavailable, s.c.openError(err))
			return
		}
		s.done = done
	})
	return s.refused
}

// report gives the breaker the open's outcome, once: err is what the first
// call to return returned (io.EOF, the service ending the stream, proves
// it was there). A stream closed while that call waits makes it return
// canceled, which counts for nothing and frees a probe slot.
func (s *guardedStream) report(err error) {
	if s.done == nil || !s.reported.CompareAndSwap(false, true) {
		return
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	s.done(s.b.outcome(err))
	s.c.flush()
}

func (s *guardedStream) Send(msg proto.Message) error {
	if err := s.admit(); err != nil {
		return err
	}
	err := s.StreamingClientConn.Send(msg)
	s.report(err)
	return err
}

func (s *guardedStream) CloseRequest() error {
	if err := s.admit(); err != nil {
		return err
	}
	err := s.StreamingClientConn.CloseRequest()
	s.report(err)
	return err
}

func (s *guardedStream) Receive(msg proto.Message) error {
	if err := s.admit(); err != nil {
		return err
	}
	err := s.StreamingClientConn.Receive(msg)
	s.report(err)
	return err
}

// WrapStreamingHandler returns next unchanged: breakers guard clients only.
func (b *Breaker) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return next
}

// Outcomes as gobreaker sees them: nil is a success.
var (
	errFailure  = errors.New("failure")
	errExcluded = errors.New("excluded")
)

// outcome classifies a call's error for the breaker.
func (b *Breaker) outcome(err error) error {
	if err == nil {
		return nil
	}
	code := natsrpc.CodeOf(err)
	switch {
	case int(code) < len(b.cfg.failureCodes) && b.cfg.failureCodes[code]:
		return errFailure
	case code == natsrpc.CodeCanceled:
		return errExcluded // the caller gave up
	case natsrpc.IsWireError(err):
		return nil // the service answered
	default:
		return errExcluded // made up by the client before or without sending
	}
}

func (b *Breaker) circuit(procedure string) *circuit {
	if !b.perProcedure {
		return b.client
	}
	if c, ok := b.procedures.Load(procedure); ok {
		return c.(*circuit)
	}
	c, _ := b.procedures.LoadOrStore(procedure, b.newCircuit(procedure))
	return c.(*circuit)
}

// circuit is one state machine: the breaker's, or one procedure's.
type circuit struct {
	breaker   *Breaker
	procedure string
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	// retryAt is when the open state ends, in Unix nanoseconds.
	retryAt atomic.Int64

	// Changes are queued under gobreaker's lock and delivered by flush
	// outside it, so that a callback may call State without deadlocking.
	mu         sync.Mutex
	pending    []StateChange
	delivering atomic.Bool
}

func (b *Breaker) newCircuit(procedure string) *circuit {
	c := &circuit{breaker: b, procedure: procedure}
	cfg := &b.cfg
	var interval, bucket time.Duration
	if cfg.failureRatio > 0 {
		// A sliding window in ten buckets. gobreaker files an outcome
		// under the bucket of the call's start, and drops it if that has
		// left the window: hence no window for the consecutive rule alone,
		// so that long calls count too.
		interval, bucket = cfg.window, cfg.window/10
	}
	c.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         b.name,
		MaxRequests:  cfg.halfOpenProbes,
		Interval:     interval,
		BucketPeriod: bucket,
		Timeout:      cfg.openTimeout,
		ReadyToTrip:  cfg.readyToTrip,
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return err == errExcluded },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				c.retryAt.Store(time.Now().Add(cfg.openTimeout).UnixNano())
			}
			if cfg.onStateChange == nil {
				return
			}
			c.mu.Lock()
			c.pending = append(c.pending, StateChange{Breaker: b.name, Procedure: procedure, From: stateOf(from), To: stateOf(to)})
			c.mu.Unlock()
		},
	})
	return c
}

// flush delivers queued state changes, in order, one at a time; a
// goroutine that finds another delivering leaves its changes to it.
func (c *circuit) flush() {
	fn := c.breaker.cfg.onStateChange
	if fn == nil {
		return
	}
	for {
		c.mu.Lock()
		if len(c.pending) == 0 || !c.delivering.CompareAndSwap(false, true) {
			c.mu.Unlock()
			return
		}
		changes := c.pending
		c.pending = nil
		c.mu.Unlock()
		for _, change := range changes {
			fn(change)
		}
		c.delivering.Store(false)
	}
}

func (c *circuit) openError(err error) *OpenError {
	e := &OpenError{Breaker: c.breaker.name, Procedure: c.procedure, State: StateOpen}
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		e.State = StateHalfOpen
	} else {
		e.RetryAt = time.Unix(0, c.retryAt.Load())
	}
	return e
}
