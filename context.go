package natsrpc

import (
	"context"
	"sync/atomic"
	"time"
)

// handlerContext is the context a handler runs with: the service's base
// context (canceled when Stop gives up), the request's deadline and the
// call's CallInfo, in one allocation.
//
// context.WithDeadline would arm a timer for every request, and most
// handlers never wait on their context. handlerContext reports its deadline
// at once and derives the real timer-backed context only when something
// calls Done (a downstream call, a select, a child context); Err and Value
// answer without it until then. Once derived, everything delegates to it,
// so child contexts attach to it directly (no propagation goroutine).
type handlerContext struct {
	base     context.Context
	deadline time.Time
	info     CallInfo
	derived  atomic.Pointer[derivedContext]
}

type derivedContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// releasedContext replaces the derived context of a handler that returned
// before anything waited on its context: it is already canceled, as a
// finished call's context should be.
var releasedContext = func() *derivedContext {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &derivedContext{ctx: ctx, cancel: cancel}
}()

func (c *handlerContext) derive() *derivedContext {
	if d := c.derived.Load(); d != nil {
		return d
	}
	ctx, cancel := context.WithDeadline(c.base, c.deadline)
	d := &derivedContext{ctx: ctx, cancel: cancel}
	if c.derived.CompareAndSwap(nil, d) {
		return d
	}
	cancel()
	return c.derived.Load()
}

// release ends the context when the handler has returned.
func (c *handlerContext) release() {
	if c.derived.CompareAndSwap(nil, releasedContext) {
		return
	}
	c.derived.Load().cancel()
}

func (c *handlerContext) Deadline() (time.Time, bool) {
	return c.deadline, true
}

func (c *handlerContext) Done() <-chan struct{} {
	return c.derive().ctx.Done()
}

func (c *handlerContext) Err() error {
	if d := c.derived.Load(); d != nil {
		return d.ctx.Err()
	}
	if err := c.base.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *handlerContext) Value(key any) any {
	if key == (callInfoKey{}) {
		return &c.info
	}
	if d := c.derived.Load(); d != nil && d != releasedContext {
		return d.ctx.Value(key)
	}
	return c.base.Value(key)
}

func (c *handlerContext) String() string {
	return "natsrpc.handlerContext(" + c.info.spec.Procedure + ")"
}
