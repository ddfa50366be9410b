package runtimetest

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// benchParallelism gives 64 concurrent callers: b.SetParallelism multiplies
// GOMAXPROCS.
func benchParallelism() int {
	p := 64 / runtimeProcs()
	return max(p, 1)
}

// BenchmarkUnary compares a natsrpc unary call with the same exchange in raw
// nats.go, both at 64 concurrent callers on one connection pair, with the
// same in-process nats-server. The raw row is the floor natsrpc is held to
// (at least 0.9x its throughput): a QueueSubscribe callback that decodes the
// request, encodes the response and Responds inline, against a caller that
// encodes, calls RequestWithContext and decodes. Neither handler does work
// of its own, so the difference is all transport. As in the bench/ suite,
// every call gets the run's context, which has a deadline: the raw caller
// needs no timer of its own and natsrpc propagates the deadline. Run with:
//
//	go test -run '^$' -bench BenchmarkUnary -count 6 .
//
// Besides ns/op it reports cpu-ns/op, the process's CPU time per call, which
// is steadier than wall time on a busy machine. The ratio sub-benchmark runs
// both in alternating blocks, so that both see the same background load,
// and reports natsrpc's throughput as a fraction of raw's (want >= 0.9).
func BenchmarkUnary(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		runUnaryBench(b, rawUnary(b))
	})
	b.Run("raw+header", func(b *testing.B) {
		runUnaryBench(b, rawHeaderUnary(b))
	})
	b.Run("natsrpc", func(b *testing.B) {
		runUnaryBench(b, natsrpcUnary(b))
	})
	b.Run("ratio-raw+header", func(b *testing.B) {
		raw, rpc := rawHeaderUnary(b), natsrpcUnary(b)
		const block = 2000
		var rawTimes, rpcTimes []time.Duration
		b.ResetTimer()
		for done := 0; done < b.N; done += 2 * block {
			rawTimes = append(rawTimes, timeCalls(b, raw, block))
			rpcTimes = append(rpcTimes, timeCalls(b, rpc, block))
		}
		b.ReportMetric(float64(median(rawTimes))/float64(median(rpcTimes)), "natsrpc/raw+header")
	})
	b.Run("ratio", func(b *testing.B) {
		raw, rpc := rawUnary(b), natsrpcUnary(b)
		const block = 2000
		var rawTimes, rpcTimes []time.Duration
		b.ResetTimer()
		for done := 0; done < b.N; done += 2 * block {
			rawTimes = append(rawTimes, timeCalls(b, raw, block))
			rpcTimes = append(rpcTimes, timeCalls(b, rpc, block))
		}
		b.ReportMetric(float64(median(rawTimes))/float64(median(rpcTimes)), "natsrpc/raw")
	})
}

var (
	benchReq     = &natsrpctestv1.GetRequest{OwnerId: "player-1", Id: "item-42"}
	benchResp, _ = echoGetItem(context.Background(), benchReq)
)

// rawUnary sets up the raw nats.go exchange and returns one call.
func rawUnary(b *testing.B) func(context.Context) error {
	_, client, server := testConns(b)
	sub, err := server.QueueSubscribe(getItemSubject, "q", func(m *nats.Msg) {
		in := &natsrpctestv1.GetRequest{}
		if err := proto.Unmarshal(m.Data, in); err != nil {
			return
		}
		out, err := proto.Marshal(benchResp)
		if err != nil {
			return
		}
		_ = m.Respond(out)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := server.Flush(); err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context) error {
		data, err := proto.Marshal(benchReq)
		if err != nil {
			return err
		}
		msg, err := client.RequestWithContext(ctx, getItemSubject, data)
		if err != nil {
			return err
		}
		return proto.Unmarshal(msg.Data, &natsrpctestv1.GetResponse{})
	}
}

// rawHeaderUnary is rawUnary plus the one header natsrpc's contract puts
// on every request (Nats-Rpc-Timeout, the caller's remaining time), which
// the handler reads: what that header alone costs nats.go to encode and
// decode.
func rawHeaderUnary(b *testing.B) func(context.Context) error {
	_, client, server := testConns(b)
	sub, err := server.QueueSubscribe(getItemSubject, "q", func(m *nats.Msg) {
		if m.Header.Get("Nats-Rpc-Timeout") == "" {
			return
		}
		in := &natsrpctestv1.GetRequest{}
		if err := proto.Unmarshal(m.Data, in); err != nil {
			return
		}
		out, err := proto.Marshal(benchResp)
		if err != nil {
			return
		}
		_ = m.Respond(out)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := server.Flush(); err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context) error {
		data, err := proto.Marshal(benchReq)
		if err != nil {
			return err
		}
		dl, _ := ctx.Deadline()
		msg := &nats.Msg{Subject: getItemSubject, Data: data, Header: nats.Header{
			"Nats-Rpc-Timeout": {strconv.FormatInt(time.Until(dl).Milliseconds()+1, 10)}}}
		res, err := client.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return err
		}
		return proto.Unmarshal(res.Data, &natsrpctestv1.GetResponse{})
	}
}

// natsrpcUnary sets up the natsrpc service and client and returns one call.
func natsrpcUnary(b *testing.B) func(context.Context) error {
	_, client, server := testConns(b)
	testService(b, server, []natsrpc.Handler{getItemHandler(
		func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			return benchResp, nil
		})})
	c := getItemClient(client)
	return func(ctx context.Context) error {
		_, err := c.CallUnary(ctx, benchReq)
		return err
	}
}

func runUnaryBench(b *testing.B, call func(context.Context) error) {
	b.ReportAllocs()
	b.SetParallelism(benchParallelism())
	b.ResetTimer()
	defer measureCPU(b)()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(ctx); err != nil {
				b.Error(err)
			}
		}
	})
}

// timeCalls makes n calls from 64 goroutines and returns the wall time.
func timeCalls(b *testing.B, call func(context.Context) error, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := call(ctx); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// cpuTime is the process's user and system CPU time so far. Reported per
// call next to ns/op, it stays meaningful on a busy machine where wall time
// varies with what else runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureCPU reports cpu-ns/op for the rest of b's run, and the write
// system calls per call (how well responses are batched).
func measureCPU(b *testing.B) func() {
	start, writes := cpuTime(), writeSyscalls()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		if writes >= 0 {
			b.ReportMetric(float64(writeSyscalls()-writes)/float64(b.N), "writes/op")
		}
	}
}

// writeSyscalls is the process's write system calls so far (Linux), or -1.
func writeSyscalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// BenchmarkShadow measures what WithShadow adds to the primary's calls:
// one caller calling Get in a loop on a primary that mirrors every call
// (rate 1) to a live candidate, against the same primary without
// shadowing, in the same process. The ratio sub-benchmark alternates
// blocks of calls between the two set-ups and reports the medians and
// 99th percentiles of the per-call latency, their ratios and the
// difference in microseconds (the latency shadowing adds). Run with:
//
//	go test -run '^$' -bench BenchmarkShadow -count 6 ./internal/runtimetest
func BenchmarkShadow(b *testing.B) {
	b.Run("off", func(b *testing.B) { runSequential(b, shadowBench(b, 0)) })
	b.Run("on", func(b *testing.B) { runSequential(b, shadowBench(b, 1)) })
	for _, rate := range []float64{1, 0.1} {
		b.Run("ratio/rate="+strconv.FormatFloat(rate, 'g', -1, 64), func(b *testing.B) { shadowRatio(b, rate) })
	}
}

// shadowRatio alternates blocks of calls without and with shadowing at
// rate.
func shadowRatio(b *testing.B, rate float64) {
	{
		off, on := shadowBench(b, 0), shadowBench(b, rate)
		const block = 500
		var offs, ons []time.Duration
		ctx := context.Background()
		b.ResetTimer()
		for done := 0; done < b.N; done += 2 * block {
			for i := 0; i < block; i++ {
				offs = append(offs, timeOne(b, ctx, off))
			}
			for i := 0; i < block; i++ {
				ons = append(ons, timeOne(b, ctx, on))
			}
		}
		slices.Sort(offs)
		slices.Sort(ons)
		q := func(s []time.Duration, f float64) time.Duration { return s[int(f*float64(len(s)-1))] }
		b.ReportMetric(float64(q(offs, 0.5).Nanoseconds())/1e3, "off-p50-µs")
		b.ReportMetric(float64(q(ons, 0.5).Nanoseconds())/1e3, "on-p50-µs")
		b.ReportMetric(float64(q(ons, 0.5)-q(offs, 0.5))/1e3, "added-p50-µs")
		b.ReportMetric(float64(q(ons, 0.99))/float64(q(offs, 0.99)), "on/off-p99")
		b.ReportMetric(float64(q(ons, 0.5))/float64(q(offs, 0.5)), "on/off-p50")
	}
}

// shadowBench starts a primary (mirroring Get to a candidate at rate, if
// any) and its candidate, and returns one call.
func shadowBench(b *testing.B, rate float64) func(context.Context) error {
	srv, client, server := testConns(b)
	var opts []natsrpc.HandlerOption
	if rate > 0 {
		opts = append(opts, natsrpc.WithShadow(natsrpc.ShadowPolicy{Prefix: "shadow", Rate: rate}))
	}
	respond := func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		return benchResp, nil
	}
	testService(b, server, []natsrpc.Handler{getItemHandler(respond)}, opts...)
	testService(b, natstest.Connect(b, srv), []natsrpc.Handler{getItemHandler(respond)}, natsrpc.WithSubjectPrefix("shadow"))
	c := getItemClient(client)
	return func(ctx context.Context) error {
		_, err := c.CallUnary(ctx, benchReq)
		return err
	}
}

func runSequential(b *testing.B, call func(context.Context) error) {
	b.ReportAllocs()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func timeOne(b *testing.B, ctx context.Context, call func(context.Context) error) time.Duration {
	start := time.Now()
	if err := call(ctx); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
