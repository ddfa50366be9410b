// Command benchtable runs natsrpc's benchmark suite and prints the
// markdown tables of the README: unary round trips over natsrpc, raw
// nats.go, psrpc, gRPC-Go, connect-go and net/http+JSON; tiny messages
// against raw nats.go; server streaming against raw nats.go
// publish/subscribe and psrpc; durable events against raw JetStream;
// registry lookups against a raw request/reply; payload sizes of all 22
// services, with compression; codegen time against protoc-gen-connect-go;
// breaking-check time against buf.
//
// Every unary case runs once per round, all cases in turn (the rows of
// one call and concurrency back to back), for several rounds in one
// process; each figure is the median over the rounds, and each ratio is the
// median of the ratios computed within a round, so that the machine's
// noise (two shared cores) hits both sides of a ratio alike.
//
//	cd bench && go run ./cmd/benchtable                  # full: about 3 minutes
//	cd bench && BENCH_QUICK=1 go run ./cmd/benchtable    # quick: under a minute
//
// Flags select sections, rows and concurrency, and profile the run
// (-cpuprofile, -memprofile), e.g.
//
//	go run ./cmd/benchtable -sections unary -transports natsrpc -calls Decide -callers 64 -cpuprofile cpu.out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/transport"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchtable: "+format+"\n", args...)
}

type config struct {
	quick      bool
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	maxCalls   int
	sections   map[string]bool
	transports []transport.Transport
	calls      []*workload.Call
	callers    []int
	inProcNATS bool
	repo       string
	procRounds int
	out        string
	cpuprofile string
	memprofile string
	baseline   string
}

func main() {
	harness.RunNATSChildIfAsked()
	runCapturePluginIfAsked()
	if err := run(os.Args[1:], os.Stdout); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flag := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	var (
		cfg        config
		sections   = flag.String("sections", "unary,tiny,stream,durable,registry,payload,codegen,breaking", "sections to run, comma-separated")
		transports = flag.String("transports", "", "rows to run, comma-separated keys (natsrpc,rawnats,psrpc,grpc,connect,httpjson,gateway,httpprotojson,bridge); default all")
		calls      = flag.String("calls", "", "calls to run, comma-separated (Decide,GenerateQuest); default all")
		callers    = flag.String("callers", "1,64", "concurrent callers, comma-separated")
		natsMode   = flag.String("nats", "process", "where nats-server runs: process (separate, as in production) or inprocess")
	)
	flag.BoolVar(&cfg.quick, "quick", os.Getenv("BENCH_QUICK") != "", "quick mode (also BENCH_QUICK=1): fewer, shorter rounds")
	flag.IntVar(&cfg.rounds, "rounds", 0, "rounds of the unary cases (default 12, quick 5)")
	flag.DurationVar(&cfg.duration, "duration", 0, "measured time per case and round (default 400ms, quick 150ms)")
	flag.DurationVar(&cfg.warmup, "warmup", 0, "warm-up per case and round (default 100ms, quick 50ms)")
	flag.IntVar(&cfg.maxCalls, "max-calls", 500_000, "bound on the calls of one case in one round")
	flag.IntVar(&cfg.procRounds, "proc-rounds", 0, "rounds of the process benchmarks (default 9, quick 5)")
	flag.StringVar(&cfg.repo, "repo", "", "the natsrpc repository (for proto/, the plugin, tools/go.mod); default: found above the current directory")
	flag.StringVar(&cfg.out, "o", "", "also write the markdown to this file")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the unary section to this file")
	flag.StringVar(&cfg.memprofile, "memprofile", "", "write an allocation profile of the unary section to this file")
	flag.StringVar(&cfg.baseline, "gateway-baseline", "", "a natsrpc binary built from another commit, run as a second gateway process for the gatewaybase row (before and after in the same rounds)")
	if err := flag.Parse(args); err != nil {
		return err
	}

	cfg.rounds = orDefault(cfg.rounds, cfg.quick, 12, 5)
	cfg.duration = orDefault(cfg.duration, cfg.quick, 400*time.Millisecond, 150*time.Millisecond)
	cfg.warmup = orDefault(cfg.warmup, cfg.quick, 100*time.Millisecond, 50*time.Millisecond)
	cfg.procRounds = orDefault(cfg.procRounds, cfg.quick, 9, 5)
	if cfg.repo == "" {
		repo, err := findRepo()
		if err != nil {
			return err
		}
		cfg.repo = repo
	}
	cfg.sections = map[string]bool{}
	for _, s := range split(*sections) {
		cfg.sections[s] = true
	}
	cfg.inProcNATS = *natsMode == "inprocess"
	if *natsMode != "process" && *natsMode != "inprocess" {
		return fmt.Errorf("-nats %q: want process or inprocess", *natsMode)
	}
	for _, k := range split(*transports) {
		t, ok := transport.ByKey(k)
		if !ok {
			return fmt.Errorf("unknown transport %q", k)
		}
		cfg.transports = append(cfg.transports, t)
	}
	if len(cfg.transports) == 0 {
		cfg.transports = transport.All
	}
	for _, name := range split(*calls) {
		i := slices.IndexFunc(workload.Calls, func(c *workload.Call) bool { return c.Name == name })
		if i < 0 {
			return fmt.Errorf("unknown call %q", name)
		}
		cfg.calls = append(cfg.calls, workload.Calls[i])
	}
	if len(cfg.calls) == 0 {
		cfg.calls = workload.Calls
	}
	for _, s := range split(*callers) {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			return fmt.Errorf("-callers: %q is not a positive number", s)
		}
		cfg.callers = append(cfg.callers, n)
	}

	out := stdout
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
			return err
		}
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = io.MultiWriter(stdout, f)
	}
	start := time.Now()
	printHeader(out, &cfg)

	if cfg.sections["unary"] {
		res, err := benchUnary(&cfg)
		if err != nil {
			return err
		}
		printUnary(out, &cfg, res)
	}
	if cfg.sections["tiny"] {
		logf("tiny: go test -bench BenchmarkUnary ./internal/runtimetest")
		res, err := benchTiny(cfg.repo, cfg.quick)
		if err != nil {
			return err
		}
		printTiny(out, res)
	}
	if cfg.sections["stream"] {
		res, err := benchStream(&cfg)
		if err != nil {
			return err
		}
		printStream(out, &cfg, res)
	}
	if cfg.sections["durable"] {
		res, err := benchDurable(&cfg)
		if err != nil {
			return err
		}
		printDurable(out, &cfg, res)
	}
	if cfg.sections["registry"] {
		logf("registry: go test -bench BenchmarkResolveVsRaw ./registry/server")
		res, err := benchRegistry(cfg.repo, cfg.quick)
		if err != nil {
			return err
		}
		printRegistry(out, res)
	}
	if cfg.sections["payload"] {
		if err := printPayload(out); err != nil {
			return err
		}
	}
	if cfg.sections["codegen"] || cfg.sections["breaking"] {
		dir, err := os.MkdirTemp("", "natsrpc-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		t, err := buildTools(cfg.repo, dir, cfg.sections["breaking"])
		if err != nil {
			return err
		}
		if cfg.sections["codegen"] {
			logf("codegen: %d alternated rounds", cfg.procRounds)
			r, err := benchCodegen(cfg.repo, t, cfg.procRounds)
			if err != nil {
				return err
			}
			printCodegen(out, r)
		}
		if cfg.sections["breaking"] {
			logf("breaking: %d alternated rounds", cfg.procRounds)
			r, err := benchBreaking(cfg.repo, t, cfg.procRounds)
			if err != nil {
				return err
			}
			printBreaking(out, r)
		}
	}
	fmt.Fprintf(out, "Load average when the run ended: %s; total run time %s.\n", loadAvg(), time.Since(start).Round(time.Second))
	logf("done in %s", time.Since(start).Round(time.Second))
	return nil
}

// findRepo returns the closest directory above the current one whose go.mod
// is the natsrpc module's.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/natsrpc/natsrpc\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no github.com/natsrpc/natsrpc go.mod above the current directory: pass -repo")
		}
		dir = parent
	}
}

func orDefault[T comparable](v T, quick bool, full, q T) T {
	var zero T
	if v != zero {
		return v
	}
	if quick {
		return q
	}
	return full
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// unaryCase is one cell of the unary benchmark: a row, a call and a
// concurrency level, measured once per round.
type unaryCase struct {
	tr      transport.Transport
	call    *workload.Call
	callers int
	target  *harness.Target
	results []harness.Result
}

type unaryResult struct {
	cases []*unaryCase
}

func benchUnary(cfg *config) (*unaryResult, error) {
	env := transport.Env{}
	needNATS := slices.ContainsFunc(cfg.transports, func(t transport.Transport) bool { return t.NATS })
	if needNATS {
		n, err := harness.StartNATS(cfg.inProcNATS)
		if err != nil {
			return nil, err
		}
		defer n.Stop()
		env.NATSURL, env.NATSCPU = n.URL, n.CPU
	}
	if slices.ContainsFunc(cfg.transports, func(t transport.Transport) bool { return t.Gateway || t.Bridge }) {
		dir, err := os.MkdirTemp("", "natsrpc-bench-gateway-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		bin, err := buildNatsrpc(cfg.repo, dir)
		if err != nil {
			return nil, err
		}
		env.NatsrpcBin, env.Dir = bin, dir
	}
	if slices.ContainsFunc(cfg.transports, func(t transport.Transport) bool { return t.Gateway }) {
		g, err := transport.StartGateway(env.NatsrpcBin, env.NATSURL, env.Dir)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := g.Stop(); err != nil {
				logf("gateway: %v", err)
			}
		}()
		env.GatewayURL, env.GatewayCPU = g.URL, g.CPU
		logf("unary: gateway process serving on %s", g.URL)
	}
	if slices.ContainsFunc(cfg.transports, func(t transport.Transport) bool { return t.Key == "gatewaybase" }) {
		if cfg.baseline == "" {
			return nil, errors.New("the gatewaybase row needs -gateway-baseline BIN (a natsrpc binary built from another commit)")
		}
		dir, err := os.MkdirTemp("", "natsrpc-bench-gatewaybase-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		g, err := transport.StartGateway(cfg.baseline, env.NATSURL, dir)
		if err != nil {
			return nil, fmt.Errorf("baseline gateway: %w", err)
		}
		defer func() {
			if err := g.Stop(); err != nil {
				logf("baseline gateway: %v", err)
			}
		}()
		env.BaselineURL, env.BaselineCPU = g.URL, g.CPU
		logf("unary: baseline gateway process (%s) serving on %s", cfg.baseline, g.URL)
	}
	res := &unaryResult{}
	targets := map[string]*harness.Target{}
	defer func() {
		for _, t := range targets {
			t.Close()
		}
	}()
	for _, call := range cfg.calls {
		for _, tr := range cfg.transports {
			t, err := tr.New(env, call)
			if err != nil {
				return nil, err
			}
			targets[tr.Key+"/"+call.Name] = t
			for _, c := range cfg.callers {
				res.cases = append(res.cases, &unaryCase{tr: tr, call: call, callers: c, target: t})
			}
		}
	}
	logf("unary: %d cases x %d rounds, %s each (+%s warm-up); nats-server %s",
		len(res.cases), cfg.rounds, cfg.duration, cfg.warmup, map[bool]string{true: "in process", false: "in its own process"}[cfg.inProcNATS])

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if cfg.memprofile != "" {
		runtime.MemProfileRate = 4096
	}
	// Cases that are compared with each other (same call, same number of
	// callers) run back to back, so that a ratio compares measurements a
	// few seconds apart; the order of the groups and of the rows within a
	// group rotates every round, so that no case always follows the same
	// neighbour.
	var groups [][]*unaryCase
	for _, call := range cfg.calls {
		for _, callers := range cfg.callers {
			var g []*unaryCase
			for _, c := range res.cases {
				if c.call == call && c.callers == callers {
					g = append(g, c)
				}
			}
			groups = append(groups, g)
		}
	}
	ctx := context.Background()
	for r := 0; r < cfg.rounds; r++ {
		for gi := range groups {
			g := groups[(gi+r)%len(groups)]
			for ci := range g {
				c := g[(ci+r)%len(g)]
				m, err := harness.Run(ctx, c.target, harness.Options{
					Callers: c.callers, Duration: cfg.duration, MaxCalls: cfg.maxCalls, Warmup: cfg.warmup,
				})
				if err != nil {
					return nil, fmt.Errorf("%s %s callers=%d: %w", c.call.Name, c.tr.Key, c.callers, err)
				}
				c.results = append(c.results, m)
			}
		}
		logf("unary: round %d/%d done", r+1, cfg.rounds)
	}
	if cfg.memprofile != "" {
		f, err := os.Create(cfg.memprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return nil, err
		}
	}
	return res, nil
}
