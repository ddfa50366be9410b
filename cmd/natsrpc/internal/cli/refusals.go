package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/registry/client"
)

// NATS reports a publish or a subscription its permissions refuse as an
// asynchronous error on the connection ("Permissions Violation for
// Publish to ..."); the request itself is dropped, so without more a
// call would wait for its whole timeout. The connections Globals makes
// record those errors, and RefusalInterceptor ends the calls they concern
// at once with natsrpc.CodePermissionDenied and a message that names the
// missing right.

// PermissionError is a publish or a subscription NATS refused.
type PermissionError struct {
	// Op is "publish" or "subscribe".
	Op string
	// Subject is the refused subject.
	Subject string
}

// Error names the refused operation and, for the registry's subjects, the
// right it needs.
func (e *PermissionError) Error() string {
	if right := client.RightOf(e.Subject); right != "" && e.Op == "publish" {
		return fmt.Sprintf("this NATS user lacks the registry's %s right (NATS refused the publish to %q); ask for it, e.g. `natsrpc perms %s`", right, e.Subject, client.PermsCommandOf(e.Subject))
	}
	if e.Op == "subscribe" {
		return fmt.Sprintf("NATS refused this user the subscription to %q; its permissions must allow subscribing to its reply inbox (give --inbox-prefix, and allow PREFIX.> in its subscribe permissions)", e.Subject)
	}
	return fmt.Sprintf("NATS refused this user the publish to %q; a client of a service needs the permissions `natsrpc perms client --service SERVICE` prints", e.Subject)
}

var violationRE = regexp.MustCompile(`Permissions Violation for (Publish to|Subscription to|Publish with Reply of) "([^"]*)"`)

// parseViolation reads a permission violation error.
func parseViolation(err error) *PermissionError {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return nil
	}
	m := violationRE.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	op := "publish"
	if strings.HasPrefix(m[1], "Subscription") {
		op = "subscribe"
	}
	return &PermissionError{Op: op, Subject: m[2]}
}

// refusals follows one connection's permission violations and the calls
// in flight that they may concern.
type refusals struct {
	mu    sync.Mutex
	calls map[*call]struct{}
}

type call struct {
	subject string
	cancel  context.CancelCauseFunc
}

var (
	watchersMu sync.Mutex
	watchers   = map[*nats.Conn]*refusals{}
)

// watchRefusals wraps o's error and close handlers so that permission
// violations reach the connection's watcher (and the handlers given).
func watchRefusals(o *nats.Options) *refusals {
	r := &refusals{calls: map[*call]struct{}{}}
	prevErr := o.AsyncErrorCB
	o.AsyncErrorCB = func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if pe := parseViolation(err); pe != nil {
			r.refused(pe)
		}
		if prevErr != nil {
			prevErr(nc, sub, err)
		}
	}
	prevClosed := o.ClosedCB
	o.ClosedCB = func(nc *nats.Conn) {
		watchersMu.Lock()
		delete(watchers, nc)
		watchersMu.Unlock()
		if prevClosed != nil {
			prevClosed(nc)
		}
	}
	return r
}

func (r *refusals) attach(nc *nats.Conn) {
	watchersMu.Lock()
	defer watchersMu.Unlock()
	if !nc.IsClosed() {
		watchers[nc] = r
	}
}

// refused ends the calls a violation concerns: those publishing on the
// refused subject, or every call when a subscription was refused (the
// reply inbox, which every call needs).
func (r *refusals) refused(pe *PermissionError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.calls {
		if pe.Op == "subscribe" || c.subject == pe.Subject {
			c.cancel(pe)
		}
	}
}

func (r *refusals) start(ctx context.Context, subject string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &call{subject: subject, cancel: cancel}
	r.mu.Lock()
	r.calls[c] = struct{}{}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.calls, c)
		r.mu.Unlock()
		cancel(nil)
	}
}

// RefusalInterceptor returns a client interceptor that ends a call at once
// with natsrpc.CodePermissionDenied when NATS refuses its publish (or the
// connection's reply subscription), instead of letting it wait for its
// timeout. nc must come from [Globals.Connect]; for other connections the
// interceptor does nothing.
func RefusalInterceptor(nc *nats.Conn) natsrpc.Interceptor {
	return refusalInterceptor{nc: nc}
}

type refusalInterceptor struct{ nc *nats.Conn }

func (i refusalInterceptor) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		watchersMu.Lock()
		r := watchers[i.nc]
		watchersMu.Unlock()
		if !ok || r == nil {
			return next(ctx, req)
		}
		callCtx, done := r.start(ctx, ci.Spec().Subject)
		defer done()
		res, err := next(callCtx, req)
		if err != nil {
			var pe *PermissionError
			if errors.As(context.Cause(callCtx), &pe) {
				return nil, natsrpc.NewError(natsrpc.CodePermissionDenied, pe)
			}
		}
		return res, err
	}
}

func (i refusalInterceptor) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return next
}

func (i refusalInterceptor) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return next
}
