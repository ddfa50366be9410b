// Package flight runs one call per key at a time: concurrent callers of
// the same key wait for it and share its result. It is a small
// singleflight whose waiters each honour their own context.
package flight

import (
	"context"
	"fmt"
	"sync"
)

// Group deduplicates calls by key. The zero value is ready to use.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do runs fn unless a call for key is running, in which case it waits for
// that call's result, or for ctx to end. fn runs on the first caller's
// goroutine, with whatever context it captured.
//
// If fn panics, the panic goes on in the first caller, and the callers
// waiting for it get an error that says so: never the zero value with a
// nil error, which they would take for a result.
func (g *Group[T]) Do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call[T]{}
	}
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	c := &call[T]{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()
	returned := false
	defer func() {
		if returned {
			g.finish(key, c)
			return
		}
		// fn panicked or called runtime.Goexit. Deferred calls run before
		// the stack unwinds, so recovering and panicking again keeps the
		// original traceback.
		r := recover()
		if r != nil {
			c.err = fmt.Errorf("flight: the call for key %q panicked: %v", key, r)
		} else {
			c.err = fmt.Errorf("flight: the call for key %q did not return (runtime.Goexit)", key)
		}
		g.finish(key, c)
		if r != nil {
			panic(r)
		}
	}()
	c.val, c.err = fn()
	returned = true
	return c.val, c.err
}

// finish forgets the call and releases its waiters.
func (g *Group[T]) finish(key string, c *call[T]) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
	close(c.done)
}
