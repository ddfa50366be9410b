package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHeadReadsNeverServeAnOlderRead checks the read-your-writes rule of
// coalesced head reads: callers that arrive while a read is in flight
// share the next read, never the one already sent (which could miss a
// push acknowledged just before they asked), and share it: three callers
// arriving during one read cost one more read, not three.
func TestHeadReadsNeverServeAnOlderRead(t *testing.T) {
	var hr headReads
	var reads atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	readHead := func(context.Context, string) (*headRecord, error) {
		n := reads.Add(1)
		started <- struct{}{}
		<-release
		return &headRecord{Version: uint64(n)}, nil
	}
	ctx := context.Background()
	first := make(chan uint64, 1)
	go func() {
		h, err := hr.read(ctx, "m", readHead)
		if err != nil {
			t.Error(err)
		}
		first <- h.Version
	}()
	<-started // read 1 is in flight
	var wg sync.WaitGroup
	got := make(chan uint64, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := hr.read(ctx, "m", readHead)
			if err != nil {
				t.Error(err)
				return
			}
			got <- h.Version
		}()
	}
	// Let the three join before read 1 ends.
	deadline := time.Now().Add(5 * time.Second)
	for {
		hr.mu.Lock()
		f := hr.modules["m"]
		joined := f != nil && f.next != nil
		hr.mu.Unlock()
		if joined || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	release <- struct{}{} // read 1 answers version 1
	if v := <-first; v != 1 {
		t.Fatalf("first caller got version %d; want 1", v)
	}
	select {
	case <-started: // read 2, for the three
		release <- struct{}{}
	case <-time.After(5 * time.Second):
		t.Error("no second read within 5s for the callers that arrived during the first")
		close(release) // let whatever waits finish
	}
	wg.Wait()
	close(got)
	for v := range got {
		if v != 2 {
			t.Errorf("a caller that arrived during read 1 got version %d; want 2 (a read sent after it arrived)", v)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads for four callers; want 2", n)
	}
	hr.mu.Lock()
	defer hr.mu.Unlock()
	if len(hr.modules) != 0 {
		t.Errorf("%d flights left after every read ended; want none", len(hr.modules))
	}
}
