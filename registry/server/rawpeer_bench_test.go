package server_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The registry's lookup against its floor: a raw nats.go request/reply on
// the same nats-server whose reply has the same size as the registry's
// answer (the encoded ResolveSymbolResponse, captured once). The raw
// responder answers from memory in its subscription callback; the raw
// caller takes the bytes (rawpeer) or also decodes them as the
// ResolveSymbolResponse the registry client decodes (rawpeer+decode). The
// registry row is the generated client through registry/client: a real
// lookup, answered from the server's caches, that resolves "latest" with
// one read of the module head (read-your-writes).

var benchSymbolReq = &registryv1.ResolveSymbolRequest{Symbol: "gaming.quest_system.v1.Quest", ExcludeSourceInfo: true}

// rawPeer starts the raw responder and returns a call, and the reply size.
func rawPeer(b *testing.B, env *registrytest.Env, decode bool) (func(context.Context) error, int) {
	b.Helper()
	res, set, err := env.Client.ResolveSymbol(registrytest.Ctx(b, time.Minute), benchSymbolReq)
	if err != nil {
		b.Fatal(err)
	}
	res.Content = &registryv1.ResolveSymbolResponse_FileDescriptorSet{FileDescriptorSet: set}
	reply, err := proto.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	server, client := natstest.Connect(b, env.Server), natstest.Connect(b, env.Server)
	const subject = "bench.rawpeer.resolve"
	sub, err := server.QueueSubscribe(subject, "q", func(m *nats.Msg) { _ = m.Respond(reply) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := server.Flush(); err != nil {
		b.Fatal(err)
	}
	req, _ := proto.Marshal(benchSymbolReq)
	return func(ctx context.Context) error {
		m, err := client.RequestWithContext(ctx, subject, req)
		if err != nil {
			return err
		}
		if decode {
			return proto.Unmarshal(m.Data, &registryv1.ResolveSymbolResponse{})
		}
		return nil
	}, len(reply)
}

func registryCall(env *registrytest.Env) func(context.Context) error {
	return func(ctx context.Context) error {
		_, _, err := env.Client.ResolveSymbol(ctx, benchSymbolReq)
		return err
	}
}

// BenchmarkResolveVsRaw reports, besides each row's time, the registry's
// latency and throughput as multiples of the raw request/reply's, measured
// in alternating blocks so that both see the same load: p50 at one caller
// (p50-vs-raw, target <= 1.5) and calls per second at 16 callers
// (rps-vs-raw, target >= 0.7), against the raw caller that takes the
// bytes, and the same against the one that decodes them too.
func BenchmarkResolveVsRaw(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := registrytest.Ctx(b, 10*time.Minute)
	reg := registryCall(env)
	raw, size := rawPeer(b, env, false)
	rawDecode, _ := rawPeer(b, env, true)
	if err := reg(ctx); err != nil { // warm the server's caches
		b.Fatal(err)
	}
	b.Logf("reply: %d bytes", size)
	b.Run("p50", func(b *testing.B) {
		var regT, rawT, decT []time.Duration
		for i := 0; i < b.N; i++ {
			for _, r := range []struct {
				call func(context.Context) error
				out  *[]time.Duration
			}{{reg, &regT}, {raw, &rawT}, {rawDecode, &decT}} {
				start := time.Now()
				if err := r.call(ctx); err != nil {
					b.Fatal(err)
				}
				*r.out = append(*r.out, time.Since(start))
			}
		}
		b.ReportMetric(float64(medianDur(regT).Microseconds()), "registry-p50-µs")
		b.ReportMetric(float64(medianDur(rawT).Microseconds()), "raw-p50-µs")
		b.ReportMetric(float64(medianDur(regT))/float64(medianDur(rawT)), "p50-vs-raw")
		b.ReportMetric(float64(medianDur(regT))/float64(medianDur(decT)), "p50-vs-raw+decode")
	})
	b.Run("callers=16", func(b *testing.B) {
		const block = 200
		var regR, rawR, decR []float64
		for done := 0; done < b.N; done += 3 * block {
			regR = append(regR, rate(b, reg, block))
			rawR = append(rawR, rate(b, raw, block))
			decR = append(decR, rate(b, rawDecode, block))
		}
		b.ReportMetric(medianF(regR), "registry-calls/s")
		b.ReportMetric(medianF(rawR), "raw-calls/s")
		b.ReportMetric(ratioMedian(regR, rawR), "rps-vs-raw")
		b.ReportMetric(ratioMedian(regR, decR), "rps-vs-raw+decode")
	})
}

// rate makes n calls from 16 goroutines and returns calls per second.
func rate(b *testing.B, call func(context.Context) error, n int) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := call(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func medianDur(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianF(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratioMedian is the median of a[i]/b[i], block by block.
func ratioMedian(a, b []float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, a[i]/b[i])
	}
	return medianF(rs)
}
