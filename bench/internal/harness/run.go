// Package harness runs bounded load against a Target and measures it:
// per-call latencies (sorted, for p50 and p99), calls per second,
// allocations per call and bytes on the wire per call.
package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one way of making the benchmarked call: a transport with its
// server already running and its client connected.
type Target struct {
	// Name is the row name, e.g. "natsrpc" or "gRPC-Go".
	Name string
	// Call makes one call with the fixture request and checks the answer.
	// It is called from many goroutines at once.
	Call func(ctx context.Context) error
	// CallerWire counts the bytes on the caller's own links.
	CallerWire *Counter
	// AllWire counts the bytes on every link of the call path; for NATS
	// that is the caller's link and the handler's link to the server,
	// which carries every request and response a second time. Nil when
	// the caller's link is the only one.
	AllWire *Counter
	// ServerCPU, when set, returns the CPU time used so far by a server
	// that runs in another process (nats-server).
	ServerCPU func() time.Duration
	// ProxyCPU, when set, returns the CPU time used so far by a proxy in
	// the call path that runs in a process of its own (the gateway).
	ProxyCPU func() time.Duration
	// Close stops the server and closes the clients.
	Close func()
}

// Options bound one measurement.
type Options struct {
	// Callers is the number of goroutines calling in a closed loop.
	Callers int
	// Duration bounds the measured time.
	Duration time.Duration
	// MaxCalls bounds the number of measured calls.
	MaxCalls int
	// Warmup runs before measuring, with the same callers, so that
	// connections are open and pools are filled.
	Warmup time.Duration
}

// Result is one measurement.
type Result struct {
	Calls    int
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	// P50 and P99 are per-call latencies.
	P50, P99 time.Duration
	// RPS is completed calls per second.
	RPS float64
	// AllocsPerCall and AllocBytesPerCall count heap allocations of this
	// whole process (caller and handler, both in it) per call.
	AllocsPerCall, AllocBytesPerCall float64
	// CallerWirePerCall and AllWirePerCall are bytes on the wire per call.
	CallerWirePerCall, AllWirePerCall float64
	// CPUPerCall is the CPU time of this process (caller and handler) per
	// call; ServerCPUPerCall that of the nats-server process, if any.
	CPUPerCall, ServerCPUPerCall time.Duration
	// ProxyCPUPerCall is that of the proxy process (the gateway), if any.
	ProxyCPUPerCall time.Duration
}

// ErrTooManyErrors stops a measurement whose calls fail.
var ErrTooManyErrors = errors.New("calls failed")

// Run measures t under o. It fails if any call fails: a benchmark that
// counts errors as fast calls measures nothing.
func Run(ctx context.Context, t *Target, o Options) (Result, error) {
	if o.Callers < 1 {
		o.Callers = 1
	}
	if o.MaxCalls < 1 {
		o.MaxCalls = 1 << 20
	}
	if o.Warmup > 0 {
		if _, err := loop(ctx, t, o.Callers, o.Warmup, 1<<20, nil); err != nil {
			return Result{}, fmt.Errorf("%s warm-up: %w", t.Name, err)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cw0, aw0 := t.CallerWire.Bytes(), allWire(t)
	cpu0, scpu0, pcpu0 := ProcessCPU(), serverCPU(t), proxyCPU(t)
	lat := make([]time.Duration, o.MaxCalls)
	r, err := loop(ctx, t, o.Callers, o.Duration, o.MaxCalls, lat)
	cpu1, scpu1, pcpu1 := ProcessCPU(), serverCPU(t), proxyCPU(t)
	runtime.ReadMemStats(&after)
	if err != nil {
		return r, fmt.Errorf("%s: %w", t.Name, err)
	}
	all := lat[:r.Calls]
	slices.Sort(all)
	if n := len(all); n > 0 {
		r.P50 = all[n/2]
		r.P99 = all[min(n-1, n*99/100)]
		calls := float64(n)
		r.RPS = calls / r.Elapsed.Seconds()
		r.AllocsPerCall = float64(after.Mallocs-before.Mallocs) / calls
		r.AllocBytesPerCall = float64(after.TotalAlloc-before.TotalAlloc) / calls
		r.CallerWirePerCall = float64(t.CallerWire.Bytes()-cw0) / calls
		r.AllWirePerCall = float64(allWire(t)-aw0) / calls
		r.CPUPerCall = (cpu1 - cpu0) / time.Duration(n)
		r.ServerCPUPerCall = (scpu1 - scpu0) / time.Duration(n)
		r.ProxyCPUPerCall = (pcpu1 - pcpu0) / time.Duration(n)
	}
	return r, nil
}

func serverCPU(t *Target) time.Duration {
	if t.ServerCPU == nil {
		return 0
	}
	return t.ServerCPU()
}

func proxyCPU(t *Target) time.Duration {
	if t.ProxyCPU == nil {
		return 0
	}
	return t.ProxyCPU()
}

func allWire(t *Target) uint64 {
	if t.AllWire == nil {
		return t.CallerWire.Bytes()
	}
	return t.AllWire.Bytes()
}

// loop runs callers goroutines that call t in a closed loop until d has
// passed or maxCalls calls have started, and records each call's latency
// in lat, preallocated with room for maxCalls (nil records nothing).
func loop(ctx context.Context, t *Target, callers int, d time.Duration, maxCalls int, lat []time.Duration) (Result, error) {
	var (
		remaining = int64(maxCalls)
		done      atomic.Int64
		errs      atomic.Int64
		firstErr  atomic.Pointer[error]
		wg        sync.WaitGroup
		start     = make(chan struct{})
		deadline  time.Time
	)
	// The loop's context bounds every call, so that a hung call cannot
	// hang the benchmark. Calls get no context of their own: its
	// allocations would be counted against every transport.
	ctx, cancel := context.WithTimeout(ctx, d+10*time.Second)
	defer cancel()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for atomic.AddInt64(&remaining, -1) >= 0 {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				if err := t.Call(ctx); err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(&err)
					}
					return
				}
				el := time.Since(t0)
				if i := done.Add(1) - 1; lat != nil {
					lat[i] = el
				}
			}
		}()
	}
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	wg.Wait()
	r := Result{Elapsed: time.Since(t0), Errors: int(errs.Load()), Calls: int(done.Load())}
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
		return r, fmt.Errorf("%w: %d, first: %v", ErrTooManyErrors, r.Errors, *p)
	}
	return r, nil
}
