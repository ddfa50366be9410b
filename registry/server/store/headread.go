package store

import (
	"context"
	"sync"
)

// headReads coalesces the reads of modules' heads that resolving "latest"
// makes, without weakening read-your-writes: a caller never takes the
// answer of a read that was sent before it arrived (that read could miss a
// push acknowledged just before the caller's request), only of one sent
// after. While a read of a module's head is in flight, the callers that
// arrive wait for it to finish and then share one new read; so under load
// a module's head is read at most about twice per round trip to the stream
// leader, however many lookups arrive, and a caller waits at most two
// reads. What read-your-writes costs a lookup of "latest" is then one
// JetStream read (STREAM.MSG.GET on the leader) when alone, and a share of
// one under load.
type headReads struct {
	mu      sync.Mutex
	modules map[string]*headFlight
}

// headFlight is one module's reads: cur is in flight, next gathers the
// callers that arrived after cur was sent.
type headFlight struct {
	cur, next *headCall
}

type headCall struct {
	done chan struct{}
	h    *headRecord
	err  error
}

// read returns module's head as of a read sent after the call began.
func (hr *headReads) read(ctx context.Context, module string, readHead func(context.Context, string) (*headRecord, error)) (*headRecord, error) {
	hr.mu.Lock()
	if hr.modules == nil {
		hr.modules = map[string]*headFlight{}
	}
	f := hr.modules[module]
	if f == nil {
		f = &headFlight{}
		hr.modules[module] = f
	}
	var c *headCall
	start := false
	switch {
	case f.cur == nil:
		c = &headCall{done: make(chan struct{})}
		f.cur, start = c, true
	case f.next == nil:
		c = &headCall{done: make(chan struct{})}
		f.next = c
	default:
		c = f.next
	}
	hr.mu.Unlock()
	if start {
		// The read outlives this caller's context: others may be waiting
		// for it. Each store operation has its own timeout (WithOpTimeout).
		hr.run(context.WithoutCancel(ctx), module, f, c, readHead)
	}
	select {
	case <-c.done:
		return c.h, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run performs c, the flight's current read, then starts the next one if
// callers gathered for it.
func (hr *headReads) run(ctx context.Context, module string, f *headFlight, c *headCall, readHead func(context.Context, string) (*headRecord, error)) {
	c.h, c.err = readHead(ctx, module)
	close(c.done)
	hr.mu.Lock()
	next := f.next
	f.cur, f.next = next, nil
	if next == nil {
		delete(hr.modules, module)
	}
	hr.mu.Unlock()
	if next != nil {
		go hr.run(ctx, module, f, next, readHead)
	}
}
