package main

import (
	"os"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
)

func TestMain(m *testing.M) {
	harness.RunNATSChildIfAsked()
	runCapturePluginIfAsked()
	os.Exit(m.Run())
}

// TestRunUnaryAndPayload runs the runner in a tiny configuration and checks
// that it prints every row of the tables.
func TestRunUnaryAndPayload(t *testing.T) {
	var out strings.Builder
	args := []string{"-sections", "unary,payload", "-rounds", "2", "-duration", "20ms", "-warmup", "10ms", "-callers", "1,4"}
	wants := []string{
		"#### gaming.npc_behavior.v1.NPCBehaviorService.Decide", "#### gaming.quest_system.v1.QuestSystemService.GenerateQuest",
		"| natsrpc (generated client + handler) | 4 |", "| raw nats.go (floor) | 1 | ", "1 (baseline)",
		"| gRPC-Go", "| connect-go", "| net/http + encoding/json", "natsrpc's throughput divided by",
		"| **all 22 services** |",
	}
	if testing.Short() {
		// The gateway row builds and runs the natsrpc command.
		args = append(args, "-transports", "natsrpc,rawnats,grpc,connect,httpjson,httpprotojson")
		wants = append(wants, "| net/http + protojson (HTTP/1.1)")
	} else {
		wants = append(wants, "| gateway: HTTP/1.1 + JSON", "gateway process", "CPU/call (target ≤ 60)",
			"| bridge: natsrpc client → natsrpc bridge", "bridge process", "the HTTP service directly")
	}
	err := run(args, &out)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

// TestRunProcesses runs the codegen and breaking sections once; it builds
// buf, so -short skips it.
func TestRunProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds buf")
	}
	var out strings.Builder
	if err := run([]string{"-sections", "codegen,breaking", "-proc-rounds", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`protoc-gen-natsrpc < request`", "`buf generate` with protoc-gen-natsrpc only", "| `buf breaking` |", "| `natsrpc breaking` |",
		"`protoc-gen-connect-go < request`", "| one file |", "| proto/ against its first commit |", "both exit 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunStreams runs the stream and durable sections in quick mode with
// one round; it takes several seconds, so -short skips it.
func TestRunStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("several seconds")
	}
	var out strings.Builder
	if err := run([]string{"-sections", "stream,durable", "-quick", "-rounds", "1", "-nats", "inprocess"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| token (40 B) |", "| 1 KB chunk", "| publish, 16 publishers |", "| consume |", "raw JetStream (double ack)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestParseBench reads go test -bench output as the tiny and registry
// sections get it: names without the GOMAXPROCS suffix, one map of metrics
// per run, custom units included.
func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkUnary/raw-2         	   40000	     17070 ns/op	     16680 cpu-ns/op	         1.034 writes/op	    1547 B/op	      25 allocs/op
BenchmarkUnary/ratio-2       	   40000	     23784 ns/op	         0.9280 natsrpc/raw
BenchmarkUnary/ratio-2       	   40000	     17112 ns/op	         0.7943 natsrpc/raw
BenchmarkResolveVsRaw/p50-2  	    1000	   1647796 ns/op	         5.827 p50-vs-raw	        84.00 raw-p50-µs
PASS
`
	runs := parseBench(strings.NewReader(out))
	if got := metric(runs, "BenchmarkUnary/raw", "allocs/op"); len(got) != 1 || got[0] != 25 {
		t.Errorf("raw allocs/op = %v; want [25]", got)
	}
	if got := metric(runs, "BenchmarkUnary/ratio", "natsrpc/raw"); len(got) != 2 || got[0] != 0.928 || got[1] != 0.7943 {
		t.Errorf("ratio = %v; want [0.928 0.7943]", got)
	}
	if got := metric(runs, "BenchmarkResolveVsRaw/p50", "raw-p50-µs"); len(got) != 1 || got[0] != 84 {
		t.Errorf("raw-p50-µs = %v; want [84]", got)
	}
}
