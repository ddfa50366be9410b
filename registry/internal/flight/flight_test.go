package flight

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDoSharesOneCall checks that concurrent callers of one key share one
// call and its result, and that other keys run on their own.
func TestDoSharesOneCall(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_, _ = g.Do(context.Background(), "k", func() (int, error) {
			runs.Add(1)
			close(started)
			<-release
			return 7, nil
		})
	}()
	<-started
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := g.Do(context.Background(), "k", func() (int, error) {
				runs.Add(1)
				return -1, nil
			})
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		}()
	}
	// Another key does not wait for "k".
	if v, err := g.Do(context.Background(), "other", func() (int, error) { return 3, nil }); v != 3 || err != nil {
		t.Errorf("other key: %d, %v", v, err)
	}
	time.Sleep(20 * time.Millisecond) // let the waiters join
	close(release)
	wg.Wait()
	for i, v := range results {
		// A waiter that arrived after the call ended runs its own (-1);
		// with the call held open for 20 ms, all of them joined it.
		if v != 7 {
			t.Errorf("caller %d got %d, want the shared 7", i, v)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("fn ran %d times for one key, want 1", n)
	}
}

// TestDoWaiterContext checks that a waiter gives up when its context ends
// while the call it waits for goes on.
func TestDoWaiterContext(t *testing.T) {
	var g Group[string]
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := g.Do(context.Background(), "k", func() (string, error) {
			close(started)
			<-release
			return "", errors.New("boom")
		})
		done <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Do(ctx, "k", func() (string, error) { return "ran", nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled waiter: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err == nil || err.Error() != "boom" {
		t.Errorf("first caller: %v, want its own error", err)
	}
}

// TestDoPanic checks that a loader that panics hands its waiters an error,
// not the zero value with a nil error, that the panic goes on in the first
// caller, and that the key is free again afterwards.
func TestDoPanic(t *testing.T) {
	var g Group[*int]
	release := make(chan struct{})
	started := make(chan struct{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_, _ = g.Do(context.Background(), "k", func() (*int, error) {
			close(started)
			<-release
			panic("loader bug")
		})
	}()
	<-started
	type result struct {
		v   *int
		err error
	}
	waiters := make(chan result, 4)
	for range cap(waiters) {
		go func() {
			v, err := g.Do(context.Background(), "k", func() (*int, error) {
				t.Error("a waiter ran its own call while the first one was running")
				return nil, nil
			})
			waiters <- result{v, err}
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the waiters join
	close(release)
	if r := <-recovered; r != "loader bug" {
		t.Errorf("first caller recovered %v; want the loader's panic", r)
	}
	for range cap(waiters) {
		r := <-waiters
		if r.err == nil || !strings.Contains(r.err.Error(), `"k" panicked: loader bug`) {
			t.Errorf("waiter got %v, %v; want an error naming the key and the panic", r.v, r.err)
		}
		if r.v != nil {
			t.Errorf("waiter got value %v with the error; want nil", r.v)
		}
	}
	n := 1
	if v, err := g.Do(context.Background(), "k", func() (*int, error) { return &n, nil }); err != nil || v != &n {
		t.Errorf("after the panic: %v, %v; want a fresh call's result", v, err)
	}
}

// TestDoGoexit checks that a loader that calls runtime.Goexit (as
// t.Fatal does) hands its waiters an error too.
func TestDoGoexit(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	started := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_, _ = g.Do(context.Background(), "k", func() (int, error) {
			close(started)
			<-release
			runtime.Goexit()
			return 0, nil
		})
	}()
	<-started
	errc := make(chan error, 1)
	go func() {
		_, err := g.Do(context.Background(), "k", func() (int, error) { return 1, nil })
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter join
	close(release)
	<-exited
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "did not return") {
		t.Errorf("waiter got %v; want an error saying the call did not return", err)
	}
}
