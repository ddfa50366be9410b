package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// captureEnv, when set, makes this binary act as a protoc plugin that saves
// the CodeGeneratorRequest buf sends it to the file the variable names, so
// that the plugin alone can later be timed on exactly buf's input.
const captureEnv = "NATSRPC_BENCH_CAPTURE_REQUEST"

func runCapturePluginIfAsked() {
	path := os.Getenv(captureEnv)
	if path == "" {
		return
	}
	in, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = os.WriteFile(path, in, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := proto.Marshal(&pluginpb.CodeGeneratorResponse{
		SupportedFeatures: proto.Uint64(uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL | pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)),
		MinimumEdition:    proto.Int32(998),
		MaximumEdition:    proto.Int32(1001),
	})
	os.Stdout.Write(out)
	os.Exit(0)
}

// proc is one command to time as a whole process.
type proc struct {
	name  string
	dir   string
	args  []string
	stdin string // file fed to stdin, if any
	// okCodes are the exit codes that count as success (buf breaking
	// exits 100 when it finds breaking changes, which is the point).
	okCodes []int
}

// procTime is one run of a proc.
type procTime struct {
	wall, cpu time.Duration
}

func (p proc) run() (procTime, error) {
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Dir = p.dir
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if p.stdin != "" {
		f, err := os.Open(p.stdin)
		if err != nil {
			return procTime{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !contains(p.okCodes, ee.ExitCode()) {
			return procTime{}, fmt.Errorf("%s: %v: %s", p.name, err, lastLines(stderr.String(), 5))
		}
	} else if len(p.okCodes) > 0 && !contains(p.okCodes, 0) {
		return procTime{}, fmt.Errorf("%s: exited 0; expected exit code %v (did it find the breaking changes?)", p.name, p.okCodes)
	}
	st := cmd.ProcessState
	return procTime{wall: wall, cpu: st.UserTime() + st.SystemTime()}, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// alternate runs each proc once per round, in turn, after one untimed
// warm-up run each (page cache, buf's cache), and returns the times per
// proc.
func alternate(procs []proc, rounds int) ([][]procTime, error) {
	out := make([][]procTime, len(procs))
	for _, p := range procs {
		if _, err := p.run(); err != nil {
			return nil, err
		}
	}
	for r := 0; r < rounds; r++ {
		for i, p := range procs {
			t, err := p.run()
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], t)
		}
	}
	return out, nil
}

// tools are the binaries the process benchmarks run, built beforehand so
// that `go run`/`go tool` start-up is not timed. They live in the user's
// cache directory, where `go build -o` leaves them alone while they are up
// to date; dir is the run's temporary work directory.
type tools struct {
	dir     string
	bin     string
	buf     string
	plugin  string
	natsrpc string // empty when cmd/natsrpc has no breaking command
}

// goBuild runs go build in dir (the root of the module that builds it).
func goBuild(dir, out string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", out}, args...)...)
	cmd.Dir = dir
	// Run as a module of its own: -modfile (tools/go.mod) cannot be used
	// in workspace mode, and the CLI is built in its module's directory.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// buildNatsrpc builds the natsrpc command (for the gateway row) into the
// user's cache directory, or dir when there is none.
func buildNatsrpc(repo, dir string) (string, error) {
	bin := dir
	if cache, err := os.UserCacheDir(); err == nil {
		bin = filepath.Join(cache, "natsrpc-bench", "bin")
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(bin, "natsrpc")
	logf("building natsrpc (for the gateway row)...")
	return out, goBuild(filepath.Join(repo, "cmd", "natsrpc"), out, ".")
}

func buildTools(repo, dir string, wantNatsrpc bool) (*tools, error) {
	bin := filepath.Join(dir, "bin")
	if cache, err := os.UserCacheDir(); err == nil {
		bin = filepath.Join(cache, "natsrpc-bench", "bin")
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	t := &tools{dir: dir, bin: bin, buf: filepath.Join(bin, "buf"), plugin: filepath.Join(bin, "protoc-gen-natsrpc")}
	logf("building buf (tools/go.mod) and protoc-gen-natsrpc...")
	if err := goBuild(repo, t.buf, "-modfile=tools/go.mod", "github.com/bufbuild/buf/cmd/buf"); err != nil {
		return nil, err
	}
	if err := goBuild(repo, t.plugin, "./protoc-gen-natsrpc"); err != nil {
		return nil, err
	}
	if wantNatsrpc {
		natsrpc := filepath.Join(bin, "natsrpc")
		if err := goBuild(filepath.Join(repo, "cmd", "natsrpc"), natsrpc, "."); err != nil {
			return nil, err
		}
		help := exec.Command(natsrpc, "breaking", "--help")
		outp, err := help.CombinedOutput()
		if err == nil && !strings.Contains(string(outp), "unknown command") {
			t.natsrpc = natsrpc
		} else {
			logf("cmd/natsrpc has no breaking command yet: the breaking-check comparison is skipped")
		}
	}
	return t, nil
}

// codegenResult is the codegen section.
type codegenResult struct {
	files            int
	requestBytes     int
	bufGenerate      []procTime
	pluginAlone      []procTime
	bufGenerateTwice []procTime // buf with protoc-gen-go and the plugin
}

// benchCodegen times `buf generate` with only protoc-gen-natsrpc against
// the plugin alone fed the CodeGeneratorRequest buf sent it, both writing
// outside the work tree, alternated. The input is proto/, not the whole
// workspace, which also holds the library's test schema.
func benchCodegen(repo string, t *tools, rounds int) (*codegenResult, error) {
	dir := filepath.Join(t.dir, "codegen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	reqFile := filepath.Join(dir, "request.binpb")
	template := func(name string, plugins ...string) (string, error) {
		var b strings.Builder
		b.WriteString("version: v2\nplugins:\n")
		for _, p := range plugins {
			fmt.Fprintf(&b, "  - local: %q\n    out: out\n    opt: paths=source_relative\n    strategy: all\n", p)
		}
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, []byte(b.String()), 0o644)
	}
	capture, err := template("capture.gen.yaml", self)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(t.buf, "generate", "proto", "--template", capture, "-o", filepath.Join(dir, "capture"))
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), captureEnv+"="+reqFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("capture the CodeGeneratorRequest: %v: %s", err, out)
	}
	raw, err := os.ReadFile(reqFile)
	if err != nil {
		return nil, err
	}
	var req pluginpb.CodeGeneratorRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("captured request: %w", err)
	}
	only, err := template("natsrpc.gen.yaml", t.plugin)
	if err != nil {
		return nil, err
	}
	goPlugin := filepath.Join(t.bin, "protoc-gen-go")
	if err := goBuild(repo, goPlugin, "-modfile=tools/go.mod", "google.golang.org/protobuf/cmd/protoc-gen-go"); err != nil {
		return nil, err
	}
	both, err := template("both.gen.yaml", goPlugin, t.plugin)
	if err != nil {
		return nil, err
	}
	procs := []proc{
		{name: "buf generate (protoc-gen-natsrpc)", dir: repo, args: []string{t.buf, "generate", "proto", "--template", only, "-o", filepath.Join(dir, "buf")}},
		{name: "protoc-gen-natsrpc alone", dir: dir, args: []string{t.plugin}, stdin: reqFile},
		{name: "buf generate (protoc-gen-go + protoc-gen-natsrpc)", dir: repo, args: []string{t.buf, "generate", "proto", "--template", both, "-o", filepath.Join(dir, "both")}},
	}
	times, err := alternate(procs, rounds)
	if err != nil {
		return nil, err
	}
	return &codegenResult{
		files: len(req.GetFileToGenerate()), requestBytes: len(raw),
		bufGenerate: times[0], pluginAlone: times[1], bufGenerateTwice: times[2],
	}, nil
}

// breakingResult is the breaking-check section.
type breakingResult struct {
	changes string
	buf     []procTime
	natsrpc []procTime // nil when not measured
	// bufViolations and natsrpcViolations count the lines each printed;
	// sameOutput says whether the outputs are identical.
	bufViolations, natsrpcViolations int
	sameOutput                       bool
}

// benchBreaking copies proto/, breaks it in a few typical ways and times
// `buf breaking` and, when it exists, `natsrpc breaking` on the pair; both
// must exit 100 (breaking changes found).
func benchBreaking(repo string, t *tools, rounds int) (*breakingResult, error) {
	dir := filepath.Join(t.dir, "breaking")
	prev, cur := filepath.Join(dir, "previous"), filepath.Join(dir, "current")
	for _, d := range []string{prev, cur} {
		if err := copyProtos(filepath.Join(repo, "proto"), d); err != nil {
			return nil, err
		}
	}
	changes, err := breakCopy(cur)
	if err != nil {
		return nil, err
	}
	// Each side is a module with its own buf.yaml, as in a service
	// repository; both tools read the rules from it.
	conf := []byte("version: v2\nbreaking:\n  use:\n    - FILE\n")
	for _, d := range []string{prev, cur} {
		if err := os.WriteFile(filepath.Join(d, "buf.yaml"), conf, 0o644); err != nil {
			return nil, err
		}
	}
	procs := []proc{{
		name: "buf breaking", dir: dir, okCodes: []int{100},
		args: []string{t.buf, "breaking", "current", "--against", "previous"},
	}}
	if t.natsrpc != "" {
		procs = append(procs, proc{
			name: "natsrpc breaking", dir: dir, okCodes: []int{100},
			args: []string{t.natsrpc, "breaking", "current", "--against", "previous"},
		})
	}
	times, err := alternate(procs, rounds)
	if err != nil {
		return nil, err
	}
	r := &breakingResult{changes: changes, buf: times[0]}
	if len(times) > 1 {
		r.natsrpc = times[1]
		bufOut, err := procs[0].output()
		if err != nil {
			return nil, err
		}
		natsrpcOut, err := procs[1].output()
		if err != nil {
			return nil, err
		}
		r.bufViolations, r.natsrpcViolations = lines(bufOut), lines(natsrpcOut)
		r.sameOutput = bufOut == natsrpcOut
	}
	return r, nil
}

// output runs p once more and returns its standard output.
func (p proc) output() (string, error) {
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Dir = p.dir
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && contains(p.okCodes, ee.ExitCode())) {
		return "", fmt.Errorf("%s: %v", p.name, err)
	}
	return string(out), nil
}

func lines(s string) int {
	if s = strings.TrimSpace(s); s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

// copyProtos copies the .proto files under src to dst.
func copyProtos(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

// breakCopy makes three typical breaking changes in the copy at dir: a
// field renumbered, an RPC removed, a field's type changed.
func breakCopy(dir string) (string, error) {
	edits := []struct{ file, old, new, what string }{
		{"gaming/npc_behavior/v1/npc_behavior.proto", "int32 max_alternatives = 7;", "int32 max_alternatives = 8;", "a field renumbered"},
		{"gaming/quest_system/v1/quest_system.proto", "string reason = 4;", "int64 reason = 4;", "a field's type changed"},
		{"gaming/payment/v1/payment.proto", "string idempotency_key", "string idem_key", "a field renamed"},
	}
	var done []string
	for _, e := range edits {
		path := filepath.Join(dir, e.file)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if !bytes.Contains(b, []byte(e.old)) {
			continue // the schema moved on; the others still break it
		}
		if err := os.WriteFile(path, bytes.Replace(b, []byte(e.old), []byte(e.new), 1), 0o644); err != nil {
			return "", err
		}
		done = append(done, e.what)
	}
	if len(done) == 0 {
		return "", errors.New("breaking: none of the planned edits applies to proto/ any more; update breakCopy")
	}
	return strings.Join(done, ", "), nil
}
