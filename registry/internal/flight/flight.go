// Package flight runs one call per key at a time: concurrent callers of
// the same key wait for it and share its result. It is a small
// singleflight whose waiters each honour their own context.
package flight

import (
	"context"
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
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn()
	return c.val, c.err
}
