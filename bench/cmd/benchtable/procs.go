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
	connectAlone     []procTime // protoc-gen-connect-go on the same request
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
	// protoc-gen-connect-go, pinned in bench/go.mod, on the same request:
	// the peer whose time the plugin is held to (it too generates a file
	// per service file, with protogen).
	connectPlugin := filepath.Join(t.bin, "protoc-gen-connect-go")
	if err := goBuild(filepath.Join(repo, "bench"), connectPlugin, "connectrpc.com/connect/cmd/protoc-gen-connect-go"); err != nil {
		return nil, err
	}
	procs := []proc{
		{name: "buf generate (protoc-gen-natsrpc)", dir: repo, args: []string{t.buf, "generate", "proto", "--template", only, "-o", filepath.Join(dir, "buf")}},
		{name: "protoc-gen-natsrpc alone", dir: dir, args: []string{t.plugin}, stdin: reqFile},
		{name: "buf generate (protoc-gen-go + protoc-gen-natsrpc)", dir: repo, args: []string{t.buf, "generate", "proto", "--template", both, "-o", filepath.Join(dir, "both")}},
		{name: "protoc-gen-connect-go alone", dir: dir, args: []string{connectPlugin}, stdin: reqFile},
	}
	times, err := alternate(procs, rounds)
	if err != nil {
		return nil, err
	}
	return &codegenResult{
		files: len(req.GetFileToGenerate()), requestBytes: len(raw),
		bufGenerate: times[0], pluginAlone: times[1], bufGenerateTwice: times[2], connectAlone: times[3],
	}, nil
}

// breakingResult is the breaking-check section: one pair after another.
type breakingResult struct {
	pairs []*breakingPair
}

// breakingPair is one pair of inputs, timed with both tools.
type breakingPair struct {
	name    string
	changes string
	// code is the exit code both tools must give: 100 when the pair has
	// breaking changes, 0 when not.
	code    int
	buf     []procTime
	natsrpc []procTime // nil when not measured
	// bufViolations and natsrpcViolations count the lines each printed;
	// sameOutput says whether the outputs are identical.
	bufViolations, natsrpcViolations int
	sameOutput                       bool
}

// benchBreaking times `buf breaking` and, when it exists, `natsrpc
// breaking` on three pairs, each side a module with its own buf.yaml (the
// FILE rules), as in a service repository:
//
//   - proto/ against a copy broken in a few typical ways (exit 100);
//   - a one-file module: gaming/common/v1/common.proto against the same
//     file with a field renumbered and a field's type changed (exit 100);
//   - proto/ against proto/ at the repository's first commit, which held
//     two of today's files (exit 0: everything since was compatible).
func benchBreaking(repo string, t *tools, rounds int) (*breakingResult, error) {
	r := &breakingResult{}
	conf := []byte("version: v2\nbreaking:\n  use:\n    - FILE\n")
	prepare := func(name string, fill func(prev, cur string) (string, error)) (string, string, error) {
		dir := filepath.Join(t.dir, "breaking-"+name)
		prev, cur := filepath.Join(dir, "previous"), filepath.Join(dir, "current")
		changes, err := fill(prev, cur)
		if err != nil {
			return "", "", err
		}
		for _, d := range []string{prev, cur} {
			if err := os.WriteFile(filepath.Join(d, "buf.yaml"), conf, 0o644); err != nil {
				return "", "", err
			}
		}
		return dir, changes, nil
	}
	pairs := []struct {
		name string
		code int
		fill func(prev, cur string) (string, error)
	}{
		{"proto/ against a broken copy", 100, func(prev, cur string) (string, error) {
			for _, d := range []string{prev, cur} {
				if err := copyProtos(filepath.Join(repo, "proto"), d); err != nil {
					return "", err
				}
			}
			return breakCopy(cur)
		}},
		{"one file", 100, func(prev, cur string) (string, error) {
			const file = "gaming/common/v1/common.proto"
			b, err := os.ReadFile(filepath.Join(repo, "proto", file))
			if err != nil {
				return "", err
			}
			broken := bytes.Replace(bytes.Replace(b, []byte("string trace_id = 2;"), []byte("string trace_id = 12;"), 1),
				[]byte("string message = 2;"), []byte("bytes message = 2;"), 1)
			if bytes.Equal(broken, b) {
				return "", errors.New("breaking: the one-file edits no longer apply to " + file + "; update benchBreaking")
			}
			for d, content := range map[string][]byte{prev: b, cur: broken} {
				if err := os.MkdirAll(filepath.Join(d, filepath.Dir(file)), 0o755); err != nil {
					return "", err
				}
				if err := os.WriteFile(filepath.Join(d, file), content, 0o644); err != nil {
					return "", err
				}
			}
			return "gaming/common/v1/common.proto alone, with a field renumbered and a field's type changed", nil
		}},
		{"proto/ against its first commit", 0, func(prev, cur string) (string, error) {
			if err := copyProtos(filepath.Join(repo, "proto"), cur); err != nil {
				return "", err
			}
			first, err := firstProtoCommit(repo)
			if err != nil {
				return "", err
			}
			if err := gitExportProtos(repo, first, prev); err != nil {
				return "", err
			}
			return "proto/ against proto/ at commit " + first + ", the first that had it", nil
		}},
	}
	for _, p := range pairs {
		dir, changes, err := prepare(strings.ReplaceAll(strings.ReplaceAll(p.name, "/", ""), " ", "-"), p.fill)
		if err != nil {
			return nil, err
		}
		bp, err := benchBreakingPair(t, dir, p.code, rounds)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		bp.name, bp.changes = p.name, changes
		r.pairs = append(r.pairs, bp)
	}
	return r, nil
}

// firstProtoCommit is the first commit of repo that has proto/gaming.
func firstProtoCommit(repo string) (string, error) {
	cmd := exec.Command("git", "log", "--reverse", "--format=%h", "--", "proto/gaming")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git log: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", errors.New("breaking: no commit has proto/gaming (a shallow clone?)")
	}
	return f[0], nil
}

// gitExportProtos writes the .proto files of proto/ at commit into dst.
func gitExportProtos(repo, commit, dst string) error {
	cmd := exec.Command("git", "ls-tree", "-r", "--name-only", commit, "--", "proto")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-tree: %w", err)
	}
	for _, name := range strings.Fields(string(out)) {
		if filepath.Ext(name) != ".proto" {
			continue
		}
		show := exec.Command("git", "show", commit+":"+name)
		show.Dir = repo
		b, err := show.Output()
		if err != nil {
			return fmt.Errorf("git show %s:%s: %w", commit, name, err)
		}
		p := filepath.Join(dst, strings.TrimPrefix(name, "proto/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchBreakingPair times both tools on the pair in dir.
func benchBreakingPair(t *tools, dir string, code, rounds int) (*breakingPair, error) {
	procs := []proc{{
		name: "buf breaking", dir: dir, okCodes: []int{code},
		args: []string{t.buf, "breaking", "current", "--against", "previous"},
	}}
	if t.natsrpc != "" {
		procs = append(procs, proc{
			name: "natsrpc breaking", dir: dir, okCodes: []int{code},
			args: []string{t.natsrpc, "breaking", "current", "--against", "previous"},
		})
	}
	times, err := alternate(procs, rounds)
	if err != nil {
		return nil, err
	}
	r := &breakingPair{code: code, buf: times[0]}
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
