package flight

import (
	"context"
	"errors"
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
