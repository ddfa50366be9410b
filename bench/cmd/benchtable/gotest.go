package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The sections that live in other modules' Go benchmarks (the runtime's
// tiny-message unary benchmark, the registry's lookup against its raw
// peer) run them with go test as a child process and read their metrics:
// each benchmark computes its own ratios from alternating blocks, so a
// ratio is always measured within one run.

// goBench runs go test -bench in dir (a module root, GOWORK=off) and
// returns, per benchmark name (without the -GOMAXPROCS suffix), one map of
// metric unit to value per run (-count).
func goBench(dir string, args ...string) (map[string][]map[string]float64, error) {
	cmd := exec.Command("go", append([]string{"test", "-run", "^$"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test %s in %s: %w\n%s", strings.Join(args, " "), dir, err, lastLines(out.String(), 20))
	}
	return parseBench(&out), nil
}

func parseBench(r io.Reader) map[string][]map[string]float64 {
	res := map[string][]map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
		res[name] = append(res[name], m)
	}
	return res
}

// metric returns the values of unit over the runs of benchmark name.
func metric(runs map[string][]map[string]float64, name, unit string) []float64 {
	var out []float64
	for _, m := range runs[name] {
		if v, ok := m[unit]; ok {
			out = append(out, v)
		}
	}
	return out
}

// tinyResult is the tiny-message unary section.
type tinyResult struct {
	runs  map[string][]map[string]float64
	count int
}

// benchTiny runs the root module's BenchmarkUnary (internal/runtimetest):
// a ~60-byte request and response, nats-server in the same process, 64
// callers; natsrpc's generated-style client and handler against raw
// nats.go, and raw nats.go plus the one header natsrpc's contract sends.
func benchTiny(repo string, quick bool) (*tinyResult, error) {
	count, n := 5, "40000x"
	if quick {
		count, n = 3, "15000x"
	}
	runs, err := goBench(repo, "-modfile=go_test.mod", "-bench", "^BenchmarkUnary$/^(raw|raw\\+header|natsrpc|ratio|ratio-raw\\+header)$",
		"-benchtime", n, "-count", strconv.Itoa(count), "./internal/runtimetest")
	if err != nil {
		return nil, err
	}
	return &tinyResult{runs: runs, count: count}, nil
}

func printTiny(w io.Writer, r *tinyResult) {
	fmt.Fprintf(w, "### Unary, tiny messages\n\n")
	fmt.Fprintf(w, "The runtime's own cost, where it is most visible: `GetItem` of the library's test service (a 16-byte request, "+
		"a 60-byte response), nats-server in the same process, 64 callers (`go test -bench BenchmarkUnary ./internal/runtimetest`, "+
		"%d runs). The ratio is measured in alternating blocks of 2,000 calls within each run; CPU and allocations per call are "+
		"the whole process's (caller, handler and nats-server). *raw + header* is raw nats.go with the one header natsrpc's "+
		"contract puts on every request (`Nats-Rpc-Timeout`).\n\n", r.count)
	fmt.Fprintf(w, "| row | ns/call | CPU ns/call | allocs/call |\n|---|---:|---:|---:|\n")
	for _, row := range []struct{ name, key string }{{"natsrpc", "natsrpc"}, {"raw nats.go", "raw"}, {"raw nats.go + Nats-Rpc-Timeout header", "raw+header"}} {
		b := "BenchmarkUnary/" + row.key
		fmt.Fprintf(w, "| %s | %s | %s | %.0f |\n", row.name, fmtInt(median(metric(r.runs, b, "ns/op"))),
			fmtInt(median(metric(r.runs, b, "cpu-ns/op"))), median(metric(r.runs, b, "allocs/op")))
	}
	ratio := median(metric(r.runs, "BenchmarkUnary/ratio", "natsrpc/raw"))
	ratioHdr := median(metric(r.runs, "BenchmarkUnary/ratio-raw+header", "natsrpc/raw+header"))
	cpu := median(metric(r.runs, "BenchmarkUnary/natsrpc", "cpu-ns/op")) - median(metric(r.runs, "BenchmarkUnary/raw", "cpu-ns/op"))
	allocs := median(metric(r.runs, "BenchmarkUnary/natsrpc", "allocs/op")) - median(metric(r.runs, "BenchmarkUnary/raw", "allocs/op"))
	fmt.Fprintf(w, "\n- natsrpc / raw nats.go throughput: %.2fx (runs: %s); target >= 0.95x: %s\n", ratio, fmtList(metric(r.runs, "BenchmarkUnary/ratio", "natsrpc/raw")), meets(ratio >= 0.95))
	fmt.Fprintf(w, "- natsrpc over raw nats.go per call: %+.1f µs of CPU, %+.0f allocations; targets <= 1.5 µs: %s, <= 2 allocations: %s\n",
		cpu/1e3, allocs, meets(cpu <= 1500), meets(allocs <= 2))
	fmt.Fprintf(w, "- natsrpc / (raw nats.go + the timeout header) throughput: %.2fx (runs: %s)\n\n", ratioHdr, fmtList(metric(r.runs, "BenchmarkUnary/ratio-raw+header", "natsrpc/raw+header")))
}

func fmtList(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(s, ", ")
}

// registryResult is the registry section.
type registryResult struct {
	runs  map[string][]map[string]float64
	count int
}

// benchRegistry runs registry/server's BenchmarkResolveVsRaw: an uncached
// symbol lookup through the registry's API (in-process nats-server with
// JetStream) against a raw nats.go request/reply whose reply has the same
// size.
func benchRegistry(repo string, quick bool) (*registryResult, error) {
	count, n := 5, "1500x"
	if quick {
		count, n = 3, "600x"
	}
	runs, err := goBench(filepath.Join(repo, "registry", "server"), "-bench", "^BenchmarkResolveVsRaw$", "-benchtime", n, "-count", strconv.Itoa(count), ".")
	if err != nil {
		return nil, err
	}
	return &registryResult{runs: runs, count: count}, nil
}

func printRegistry(w io.Writer, r *registryResult) {
	p, c := "BenchmarkResolveVsRaw/p50", "BenchmarkResolveVsRaw/callers=16"
	fmt.Fprintf(w, "### Registry lookups\n\n")
	fmt.Fprintf(w, "An uncached symbol lookup over NATS: `ResolveSymbol(gaming.quest_system.v1.Quest)` through the registry client "+
		"(the defining file and its imports, 23 KB, decoded as a FileDescriptorSet), answered by the registry from its caches "+
		"with one read of the module head for \"latest\" (read-your-writes), in-process nats-server with JetStream; against a "+
		"raw nats.go request/reply whose reply has the same size, answered from memory, taken as bytes (*raw*) or also decoded "+
		"as the same response (*raw + decode*). `go test -bench BenchmarkResolveVsRaw ./registry/server`, %d runs; every "+
		"ratio is measured within a run (alternating calls for p50, alternating blocks of 200 calls at 16 callers).\n\n", r.count)
	fmt.Fprintf(w, "| figure | registry | raw | registry / raw | registry / (raw + decode) | target |\n|---|---:|---:|---:|---:|---|\n")
	p50 := median(metric(r.runs, p, "p50-vs-raw"))
	rps := median(metric(r.runs, c, "rps-vs-raw"))
	fmt.Fprintf(w, "| p50, 1 caller | %.0f µs | %.0f µs | %.2fx | %.2fx | <= 1.5x: %s |\n",
		median(metric(r.runs, p, "registry-p50-µs")), median(metric(r.runs, p, "raw-p50-µs")), p50, median(metric(r.runs, p, "p50-vs-raw+decode")), meets(p50 <= 1.5))
	fmt.Fprintf(w, "| calls/s, 16 callers | %s | %s | %.2fx | %.2fx | >= 0.7x: %s |\n\n",
		fmtInt(median(metric(r.runs, c, "registry-calls/s"))), fmtInt(median(metric(r.runs, c, "raw-calls/s"))), rps, median(metric(r.runs, c, "rps-vs-raw+decode")), meets(rps >= 0.7))
}
