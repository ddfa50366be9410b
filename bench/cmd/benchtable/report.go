package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/payload"
	"github.com/natsrpc/natsrpc/bench/internal/transport"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianOf[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	return median(v)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "?"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "?"
}

func printHeader(w io.Writer, cfg *config) {
	mode := "full"
	if cfg.quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	fmt.Fprintf(w, "## Benchmarks\n\n")
	fmt.Fprintf(w, "Produced by `make bench` (`cd bench && go run ./cmd/benchtable`), %s mode, on %s.\n\n", mode, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "- Machine: %s, %d cores (GOMAXPROCS %d), %s/%s, %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(w, "- Libraries: nats.go %s, nats-server %s, psrpc %s, gRPC-Go %s, connect-go %s, protobuf-go %s\n",
		depVersion("github.com/nats-io/nats.go"), depVersion("github.com/nats-io/nats-server/v2"), depVersion("github.com/livekit/psrpc"),
		depVersion("google.golang.org/grpc"), depVersion("connectrpc.com/connect"), depVersion("google.golang.org/protobuf"))
	if cfg.sections["unary"] {
		fmt.Fprintf(w, "- Method: every unary case runs once per round, all cases in turn (the rows of one call and concurrency back to back, "+
			"in an order that rotates), %d rounds of %s (after %s of warm-up) in one process; "+
			"figures are medians over the rounds, ratios are medians of the ratios within each round. "+
			"Client and server share the machine's cores; everything is on loopback without TLS.\n", cfg.rounds, cfg.duration, cfg.warmup)
	}
	fmt.Fprintf(w, "- Load average when the run started: %s (other work on the machine shows up as noise: compare ratios, not absolute figures)\n\n", loadAvg())
}

func fmtDur(d float64) string {
	t := time.Duration(d)
	switch {
	case t >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(t)/1e6)
	case t >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(t)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(t)/1e3)
	}
}

func fmtInt(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ratios are f(a's round)/f(b's round), round by round.
func ratios(a, b *unaryCase, f func(harness.Result) float64) []float64 {
	n := min(len(a.results), len(b.results))
	rs := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if d := f(b.results[i]); d > 0 {
			rs = append(rs, f(a.results[i])/d)
		}
	}
	return rs
}

// ratioOf is the median over rounds of f(a's round)/f(b's round).
func ratioOf(a, b *unaryCase, f func(harness.Result) float64) float64 {
	return median(ratios(a, b, f))
}

// quartiles returns the first and third quartiles of xs.
func quartiles(xs []float64) (q1, q3 float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/4], s[(3*(len(s)-1)+3)/4]
}

// fmtRatio is "1.04x (0.97-1.10)": the median and the interquartile range
// of the per-round ratios.
func fmtRatio(rs []float64) string {
	q1, q3 := quartiles(rs)
	return fmt.Sprintf("%.2fx (%.2f–%.2f)", median(rs), q1, q3)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

var shortName = map[string]string{
	"natsrpc": "natsrpc", "rawnats": "raw nats.go", "psrpc": "psrpc", "grpc": "gRPC-Go", "connect": "connect-go", "httpjson": "HTTP+JSON",
	"httpprotojson": "the HTTP service directly",
	"gatewaybase":   "baseline gateway",
}

func rps(r harness.Result) float64 { return r.RPS }
func p50(r harness.Result) float64 { return float64(r.P50) }

func printUnary(w io.Writer, cfg *config, res *unaryResult) {
	find := func(key, call string, callers int) *unaryCase {
		for _, c := range res.cases {
			if c.tr.Key == key && c.call.Name == call && c.callers == callers {
				return c
			}
		}
		return nil
	}
	fmt.Fprintf(w, "### Unary round trip\n\n")
	fmt.Fprintf(w, "One call = the caller marshals the request, sends it, the handler unmarshals it, computes the answer, marshals "+
		"the response, the caller unmarshals and checks it. Closed loop: each caller sends its next call when the answer arrives. "+
		"*vs raw* divides by the raw nats.go row (throughput: higher is better; p50: lower is better). "+
		"CPU µs/call is the CPU time (user + system, all cores) of this process (caller and handler) per call, "+
		"plus that of the nats-server process for the NATS rows, plus (in bold) that of the gateway process for the gateway row "+
		"and of the bridge process for the bridge row. "+
		"allocs/call counts this process too. "+
		"Wire bytes are counted on the TCP connections: the caller's link, and all links (NATS carries each message "+
		"twice: caller to server, server to handler).\n\n")
	for _, call := range cfg.calls {
		req := call.Request()
		fmt.Fprintf(w, "#### %s.%s (request %s B, response %s B in protobuf)\n\n", call.Service, call.Name,
			fmtInt(float64(proto.Size(req))), fmtInt(float64(proto.Size(call.Handle(req)))))
		fmt.Fprintf(w, "| row | callers | p50 | p99 | calls/s | throughput vs raw | p50 vs raw | CPU µs/call | allocs/call | wire B/call (caller link) | wire B/call (all links) |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, callers := range cfg.callers {
			base := find(transport.Baseline, call.Name, callers)
			for _, tr := range cfg.transports {
				c := find(tr.Key, call.Name, callers)
				if c == nil {
					continue
				}
				vsRPS, vsP50 := "–", "–"
				if base != nil && base != c {
					vsRPS = fmt.Sprintf("%.2fx", ratioOf(c, base, rps))
					vsP50 = fmt.Sprintf("%.2fx", ratioOf(c, base, p50))
				} else if base == c {
					vsRPS, vsP50 = "1 (baseline)", "1 (baseline)"
				}
				cpu := fmt.Sprintf("%.0f", medianOf(c.results, func(r harness.Result) float64 { return float64(r.CPUPerCall) / 1e3 }))
				if c.target.ServerCPU != nil {
					cpu += fmt.Sprintf(" + %.0f", medianOf(c.results, func(r harness.Result) float64 { return float64(r.ServerCPUPerCall) / 1e3 }))
				}
				if c.target.ProxyCPU != nil {
					cpu += fmt.Sprintf(" + **%.0f**", medianOf(c.results, func(r harness.Result) float64 { return float64(r.ProxyCPUPerCall) / 1e3 }))
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n",
					tr.Name, callers,
					fmtDur(medianOf(c.results, p50)),
					fmtDur(medianOf(c.results, func(r harness.Result) float64 { return float64(r.P99) })),
					fmtInt(medianOf(c.results, rps)), vsRPS, vsP50, cpu,
					medianOf(c.results, func(r harness.Result) float64 { return r.AllocsPerCall }),
					fmtInt(medianOf(c.results, func(r harness.Result) float64 { return r.CallerWirePerCall })),
					fmtInt(medianOf(c.results, func(r harness.Result) float64 { return r.AllWirePerCall })))
			}
		}
		fmt.Fprintln(w)
	}
	// The criterion, spelled out.
	fmt.Fprintf(w, "natsrpc's throughput divided by each other row's: median of the per-round ratios (interquartile range):\n\n")
	for _, call := range cfg.calls {
		for _, callers := range cfg.callers {
			n := find("natsrpc", call.Name, callers)
			if n == nil {
				continue
			}
			var parts []string
			for _, other := range []string{"rawnats", "psrpc", "grpc", "connect", "httpjson"} {
				if o := find(other, call.Name, callers); o != nil {
					target := ""
					if other == "psrpc" {
						target = ", target >= 1.0x: " + meets(median(ratios(n, o, rps)) >= 1.0)
					}
					parts = append(parts, fmt.Sprintf("%s %s%s", fmtRatio(ratios(n, o, rps)), shortName[other], target))
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(w, "- %s, %d callers: %s\n", call.Name, callers, strings.Join(parts, "; "))
			}
		}
	}
	fmt.Fprintln(w)
	printGateway(w, cfg, find)
	printBridge(w, cfg, find)
}

// printBridge compares the bridge row with calling its HTTP service
// directly, and gives the bridge process's CPU per call.
func printBridge(w io.Writer, cfg *config, find func(key, call string, callers int) *unaryCase) {
	var lines []string
	for _, call := range cfg.calls {
		for _, callers := range cfg.callers {
			b := find("bridge", call.Name, callers)
			if b == nil {
				continue
			}
			parts := []string{fmt.Sprintf("bridge process %.0f µs CPU/call",
				medianOf(b.results, func(r harness.Result) float64 { return float64(r.ProxyCPUPerCall) / 1e3 }))}
			if o := find("httpprotojson", call.Name, callers); o != nil {
				parts = append(parts, fmt.Sprintf("throughput %s the HTTP service directly", fmtRatio(ratios(b, o, rps))),
					fmt.Sprintf("p50 %s", fmtRatio(ratios(b, o, p50))))
			}
			lines = append(lines, fmt.Sprintf("- %s, %d callers: %s", call.Name, callers, strings.Join(parts, "; ")))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "The bridge row: the generated natsrpc client calls, over NATS, `natsrpc bridge` in a process of its own, which calls "+
		"the HTTP service of the row above it (net/http, protojson with proto field names, POST /<service>/<method>) over HTTP/1.1 keep-alive; "+
		"the caller, the bridge, nats-server and the HTTP service share the machine's cores. Bridge row divided by the direct row, "+
		"median of the per-round ratios (interquartile range), and the bridge process's CPU per call:\n\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

// printGateway spells out the gateway's targets: at most 60 µs of CPU in
// the gateway process per call, and at 64 callers at least 0.6x the
// throughput of the direct net/http+JSON row.
func printGateway(w io.Writer, cfg *config, find func(key, call string, callers int) *unaryCase) {
	var lines []string
	for _, key := range []string{"gateway", "gatewaybase"} {
		for _, call := range cfg.calls {
			for _, callers := range cfg.callers {
				g := find(key, call.Name, callers)
				if g == nil {
					continue
				}
				parts := []string{fmt.Sprintf("gateway process %.0f µs CPU/call (target ≤ 60)",
					medianOf(g.results, func(r harness.Result) float64 { return float64(r.ProxyCPUPerCall) / 1e3 }))}
				others := []string{"httpjson", "natsrpc"}
				if key == "gateway" {
					others = append(others, "gatewaybase")
				}
				for _, other := range others {
					if o := find(other, call.Name, callers); o != nil {
						target := ""
						if other == "httpjson" && callers == 64 {
							target = " (target ≥ 0.6x)"
						}
						parts = append(parts, fmt.Sprintf("%s %s%s", fmtRatio(ratios(g, o, rps)), shortName[other], target))
					}
				}
				row := ""
				if key == "gatewaybase" {
					row = " (baseline binary)"
				}
				lines = append(lines, fmt.Sprintf("- %s, %d callers%s: %s", call.Name, callers, row, strings.Join(parts, "; ")))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "The gateway row: `natsrpc gateway` in a process of its own (HTTP/1.1 keep-alive, Connect JSON, protojson on the caller's side) "+
		"in front of the natsrpc row's generated handler; the caller, the gateway, nats-server and the handler share the machine's cores. "+
		"Gateway throughput divided by the other row's, median of the per-round ratios (interquartile range), and the gateway process's CPU per call:\n\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

func printPayload(w io.Writer) error {
	sizes, err := payload.Measure()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### Payload size\n\n")
	fmt.Fprintf(w, "A realistic request and response of every RPC of every service (bench/internal/payload: values shaped by field "+
		"names, three elements per list and map; the two benchmark calls use their fixtures), encoded three ways: binary protobuf; "+
		"protojson (canonical proto3 JSON, compact); encoding/json on the same generated Go structs. Sizes are sums over the "+
		"service's messages; the ratio is JSON bytes / protobuf bytes. The unary table above also has the hand-written "+
		"JSON structs of the HTTP row on the wire.\n\n")
	fmt.Fprintf(w, "The natsrpc+S2 column is what natsrpc sends with `WithCompression(%d)` on both sides (wire.md §15): responses (unary, "+
		"and streams' server-to-client frames) and events of at least %d protobuf bytes go compressed with S2, counting the %d bytes "+
		"of their Nats-Rpc-Encoding header, when that is smaller; requests go as protobuf (the runtime never compresses them).\n\n",
		payload.CompressThreshold, payload.CompressThreshold, payload.CompressHeader)
	fmt.Fprintf(w, "| service | messages | protobuf B | protojson B | protojson / protobuf | encoding/json B | encoding/json / protobuf | natsrpc+S2 B | encoding/json / natsrpc+S2 |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range payload.ByService(sizes) {
		name := r.Service
		if name == "all 22 services" {
			name = "**" + name + "**"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.2fx | %s | %.2fx | %s | %.2fx |\n", name, r.Messages,
			fmtInt(float64(r.Proto)), fmtInt(float64(r.ProtoJSON)), float64(r.ProtoJSON)/float64(r.Proto),
			fmtInt(float64(r.StdJSON)), float64(r.StdJSON)/float64(r.Proto),
			fmtInt(float64(r.Compressed)), float64(r.StdJSON)/float64(r.Compressed))
	}
	pj := medianOf(sizes, func(s payload.Size) float64 { return float64(s.ProtoJSON) / float64(s.Proto) })
	sj := medianOf(sizes, func(s payload.Size) float64 { return float64(s.StdJSON) / float64(s.Proto) })
	fmt.Fprintf(w, "\nMedian per-message ratio over the %d messages: protojson %.2fx, encoding/json %.2fx.\n\n", len(sizes), pj, sj)
	// The issue-17 target: >= 3x smaller than the plain JSON the services
	// send today, for messages over the threshold, where compression
	// applies (responses and events).
	var big []payload.Size
	for _, s := range sizes {
		if s.Compressible && s.Proto >= payload.CompressThreshold {
			big = append(big, s)
		}
	}
	if len(big) == 0 {
		fmt.Fprintf(w, "No response or event reaches %d protobuf bytes: the compression target has nothing to measure.\n\n", payload.CompressThreshold)
		return nil
	}
	bsj := medianOf(big, func(s payload.Size) float64 { return float64(s.StdJSON) / float64(s.Compressed) })
	bpj := medianOf(big, func(s payload.Size) float64 { return float64(s.ProtoJSON) / float64(s.Compressed) })
	bpb := medianOf(big, func(s payload.Size) float64 { return float64(s.StdJSON) / float64(s.Proto) })
	fmt.Fprintf(w, "Over the threshold (%d responses and events of at least %d protobuf bytes, of %d services): median per-message "+
		"encoding/json / natsrpc+S2 **%.2fx** (protojson / natsrpc+S2 %.2fx; encoding/json / protobuf without compression %.2fx); "+
		"target >= 3x: %s.",
		len(big), payload.CompressThreshold, countServices(big), bsj, bpj, bpb, meets(bsj >= 3))
	// payload.Fill's text fields are slices of one paragraph, so a message
	// with several of them repeats text that S2 finds: the same messages
	// with words drawn at random from the paragraph are the harder case.
	wsizes, err := payload.MeasureWords()
	if err != nil {
		return err
	}
	var wbig []payload.Size
	for _, s := range wsizes {
		if s.Compressible && s.Proto >= payload.CompressThreshold {
			wbig = append(wbig, s)
		}
	}
	if len(wbig) > 0 {
		wsj := medianOf(wbig, func(s payload.Size) float64 { return float64(s.StdJSON) / float64(s.Compressed) })
		fmt.Fprintf(w, " The fill's text fields are slices of one paragraph, so text repeats across the fields of a message; "+
			"with words drawn at random from it instead (%d messages over the threshold) the median is **%.2fx** (%s): "+
			"how real prompts and lore compress depends on how much they repeat.", len(wbig), wsj, meets(wsj >= 3))
	}
	fmt.Fprintf(w, "\n\n")
	return nil
}

func countServices(sizes []payload.Size) int {
	seen := map[string]bool{}
	for _, s := range sizes {
		seen[s.Service] = true
	}
	return len(seen)
}

func procMedian(ts []procTime) (wall, cpu float64) {
	return medianOf(ts, func(t procTime) float64 { return float64(t.wall) }),
		medianOf(ts, func(t procTime) float64 { return float64(t.cpu) })
}

func procRatio(a, b []procTime) float64 {
	n := min(len(a), len(b))
	rs := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if b[i].wall > 0 {
			rs = append(rs, float64(a[i].wall)/float64(b[i].wall))
		}
	}
	return median(rs)
}

func printCodegen(w io.Writer, r *codegenResult) {
	fmt.Fprintf(w, "### Code generation\n\n")
	fmt.Fprintf(w, "Whole processes, prebuilt binaries (no `go run` start-up), alternated, %d runs each after a warm-up run. "+
		"Input: proto/ (%d files to generate, a %s B CodeGeneratorRequest captured once from buf). Output goes to a temporary directory.\n\n",
		len(r.pluginAlone), r.files, fmtInt(float64(r.requestBytes)))
	fmt.Fprintf(w, "| command | wall (median) | CPU user+sys (median) | wall vs plugin alone |\n|---|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		ts   []procTime
	}{
		{"`protoc-gen-natsrpc < request`", r.pluginAlone},
		{"`buf generate` with protoc-gen-natsrpc only", r.bufGenerate},
		{"`buf generate` with protoc-gen-go and protoc-gen-natsrpc", r.bufGenerateTwice},
		{"`protoc-gen-connect-go < request` (the peer)", r.connectAlone},
	} {
		wall, cpu := procMedian(row.ts)
		fmt.Fprintf(w, "| %s | %s | %s | %.1fx |\n", row.name, fmtDur(wall), fmtDur(cpu), procRatio(row.ts, r.pluginAlone))
	}
	vs := procRatio(r.pluginAlone, r.connectAlone)
	fmt.Fprintf(w, "\n- protoc-gen-natsrpc / protoc-gen-connect-go on the same request, wall: %.2fx (median of the per-run ratios); target <= 1.0x: %s\n", vs, meets(vs <= 1.0))
	fmt.Fprintln(w)
}

func printBreaking(w io.Writer, r *breakingResult) {
	fmt.Fprintf(w, "### Breaking-change check\n\n")
	n := 0
	if len(r.pairs) > 0 {
		n = len(r.pairs[0].buf)
	}
	fmt.Fprintf(w, "Whole processes, prebuilt binaries, alternated, %d runs each after a warm-up run: `<tool> breaking current --against previous`, "+
		"each side a module with a buf.yaml using the FILE rules. *speed-up* is buf's wall time divided by natsrpc's, the median of "+
		"the per-run ratios (target: at least 6x).\n\n", n)
	fmt.Fprintf(w, "| pair | command | wall (median) | CPU user+sys (median) | speed-up over buf |\n|---|---|---:|---:|---:|\n")
	for _, p := range r.pairs {
		wall, cpu := procMedian(p.buf)
		fmt.Fprintf(w, "| %s | `buf breaking` | %s | %s | 1 (baseline) |\n", p.name, fmtDur(wall), fmtDur(cpu))
		if p.natsrpc != nil {
			wall, cpu = procMedian(p.natsrpc)
			speed := 1 / procRatio(p.natsrpc, p.buf)
			fmt.Fprintf(w, "| %s | `natsrpc breaking` | %s | %s | %.1fx (target >= 6x: %s) |\n", p.name, fmtDur(wall), fmtDur(cpu), speed, meets(speed >= 6))
		} else {
			fmt.Fprintf(w, "| %s | `natsrpc breaking` | not measured: cmd/natsrpc has no `breaking` command yet | | |\n", p.name)
		}
	}
	fmt.Fprintln(w)
	for _, p := range r.pairs {
		if p.natsrpc == nil {
			continue
		}
		same := "identical output"
		if !p.sameOutput {
			same = "**outputs differ**"
		}
		fmt.Fprintf(w, "- %s (%s): both exit %d; buf prints %d violations, natsrpc %d (%s).\n", p.name, p.changes, p.code, p.bufViolations, p.natsrpcViolations, same)
	}
	fmt.Fprintln(w)
}

// meets words whether a row reached its target, for the readings after
// each table.
func meets(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}
