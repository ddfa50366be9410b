// Package bench is natsrpc's benchmark suite; README.md says what each
// benchmark measures and how to run it. `go run ./cmd/benchtable` (what
// `make bench` calls) runs the cases alternated and prints the README
// table; the Go benchmarks here are for one case at a time and for
// profiling, e.g.
//
//	NATSRPC_BENCH_NATS=process go test -run '^$' -bench 'Unary/Decide/natsrpc/callers=64' \
//	    -benchtime 20000x -cpuprofile cpu.out -memprofile mem.out
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/transport"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

func TestMain(m *testing.M) {
	harness.RunNATSChildIfAsked()
	os.Exit(m.Run())
}

// startEnv starts the NATS server the NATS rows share: in this process by
// default, as a separate process with NATSRPC_BENCH_NATS=process (then
// allocation counts and profiles show the client and the handler only).
func startEnv(tb testing.TB) transport.Env {
	tb.Helper()
	n, err := harness.StartNATS(os.Getenv("NATSRPC_BENCH_NATS") != "process")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Stop)
	env := transport.Env{NATSURL: n.URL, NATSCPU: n.CPU}
	if testing.Short() {
		return env // the gateway row needs the natsrpc command built
	}
	dir := tb.TempDir()
	bin := filepath.Join(dir, "natsrpc")
	// Built in its own module (cmd/natsrpc), so that it builds in the
	// workspace and with GOWORK=off alike.
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../cmd/natsrpc"
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build natsrpc: %v\n%s", err, out)
	}
	g, err := transport.StartGateway(bin, n.URL, dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := g.Stop(); err != nil {
			tb.Error(err)
		}
	})
	env.GatewayURL, env.GatewayCPU = g.URL, g.CPU
	env.NatsrpcBin, env.Dir = bin, dir
	return env
}

// skipGateway skips the rows that run the natsrpc command (gateway,
// bridge) when it was not built (-short).
func skipGateway(tb testing.TB, env transport.Env, tr transport.Transport) {
	tb.Helper()
	if (tr.Gateway && env.GatewayURL == "") || (tr.Bridge && env.NatsrpcBin == "") {
		tb.Skip("the gateway and bridge rows build and run the natsrpc command: not with -short")
	}
}

// Callers are the concurrency levels of the unary benchmark.
var callers = []int{1, 64}

// TestUnary makes a few calls on every row, sequentially and concurrently,
// and checks every answer: the smoke test of the whole suite.
func TestUnary(t *testing.T) {
	env := startEnv(t)
	for _, call := range workload.Calls {
		for _, tr := range transport.All {
			t.Run(call.Name+"/"+tr.Key, func(t *testing.T) {
				skipGateway(t, env, tr)
				target, err := tr.New(env, call)
				if err != nil {
					t.Fatal(err)
				}
				defer target.Close()
				for _, c := range []int{1, 8} {
					r, err := harness.Run(context.Background(), target, harness.Options{
						Callers: c, Duration: 5 * time.Second, MaxCalls: 40,
					})
					if err != nil {
						t.Fatal(err)
					}
					if r.Calls != 40 {
						t.Fatalf("%d callers: %d calls; want 40", c, r.Calls)
					}
					if r.CallerWirePerCall <= 0 {
						t.Fatalf("%d callers: no bytes counted on the wire", c)
					}
				}
			})
		}
	}
}

// BenchmarkUnary measures one round trip per op for every call, row and
// concurrency level. Besides ns/op (wall time per call: divide 1e9 by it for
// calls per second) and allocs/op (the whole process: caller and handler,
// plus the NATS server when it runs in process), it reports p50 and p99
// latency and the bytes on the caller's link per call.
func BenchmarkUnary(b *testing.B) {
	env := startEnv(b)
	for _, call := range workload.Calls {
		for _, tr := range transport.All {
			for _, c := range callers {
				b.Run(fmt.Sprintf("%s/%s/callers=%d", call.Name, tr.Key, c), func(b *testing.B) {
					skipGateway(b, env, tr)
					target, err := tr.New(env, call)
					if err != nil {
						b.Fatal(err)
					}
					defer target.Close()
					ctx := context.Background()
					if _, err := harness.Run(ctx, target, harness.Options{Callers: c, Duration: 50 * time.Millisecond, MaxCalls: 64 * c}); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					r, err := harness.Run(ctx, target, harness.Options{Callers: c, Duration: time.Hour, MaxCalls: b.N})
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(r.P50.Nanoseconds()), "p50-ns")
					b.ReportMetric(float64(r.P99.Nanoseconds()), "p99-ns")
					b.ReportMetric(r.RPS, "calls/s")
					b.ReportMetric(r.CallerWirePerCall, "wireB/op")
				})
			}
		}
	}
}
