package bufdiff

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/registry/breaking"
)

// BenchmarkBreakingCLI times `natsrpc breaking` and `buf breaking` as
// whole processes on the same pair: the repository's proto/ tree against a
// copy with a few breaking changes. The two run alternately in the same
// benchmark, b.N times each, and the benchmark reports both medians and
// their ratio:
//
//	go test ./cmd/natsrpc/internal/bufdiff -run '^$' -bench BreakingCLI -benchtime 30x
func BenchmarkBreakingCLI(b *testing.B) {
	root := repoRoot(b)
	bufBin := testBuf(b)
	dir := b.TempDir()
	natsrpcBin := filepath.Join(dir, "natsrpc")
	// Built in its own module's directory, which works in workspace mode
	// and with GOWORK=off alike.
	build := exec.Command("go", "build", "-o", natsrpcBin, ".")
	build.Dir = filepath.Join(root, "cmd", "natsrpc")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/natsrpc: %v\n%s", err, out)
	}
	changed := preparePair(b, root, dir)
	args := []string{"breaking", "cur", "--against", "prev", "--error-format", "json"}
	run := func(bin string) (string, time.Duration) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 100) {
			b.Fatalf("%s: %v", bin, err)
		}
		return out.String(), d
	}
	want, _ := run(bufBin)
	got, _ := run(natsrpcBin)
	if want != got {
		b.Fatalf("outputs differ:\n%s", diffLines(want, got))
	}
	var ours, theirs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			_, d := run(natsrpcBin)
			ours = append(ours, d)
			_, d = run(bufBin)
			theirs = append(theirs, d)
		} else {
			_, d := run(bufBin)
			theirs = append(theirs, d)
			_, d = run(natsrpcBin)
			ours = append(ours, d)
		}
	}
	b.StopTimer()
	mo, mt := median(ours), median(theirs)
	b.ReportMetric(float64(mo.Milliseconds()), "natsrpc-ms")
	b.ReportMetric(float64(mt.Milliseconds()), "buf-ms")
	b.ReportMetric(float64(mt)/float64(mo), "speedup")
	b.Logf("%d files changed, %d findings; %d runs each: natsrpc median %v, buf median %v, buf/natsrpc = %.2fx",
		changed, strings.Count(want, "\n"), len(ours), mo.Round(time.Millisecond), mt.Round(time.Millisecond), float64(mt)/float64(mo))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

var (
	scalarFieldLine = regexp.MustCompile(`\n  (string|int32|int64|bool|double|float|uint32) \w+ = \d+;[^\n]*`)
)

// preparePair copies the root buf.yaml and its modules' .proto files (the
// modules the buf.yaml lists) into dir/prev and dir/cur, then
// in cur deletes a field and widens an int32 in six files. It returns the
// number of files changed.
func preparePair(b *testing.B, root, dir string) int {
	b.Helper()
	cfg, err := os.ReadFile(filepath.Join(root, "buf.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	bufYAML, err := breaking.ParseBufYAML(cfg)
	if err != nil {
		b.Fatalf("buf.yaml: %v", err)
	}
	if len(bufYAML.Modules) == 0 {
		b.Fatal("the root buf.yaml lists no modules")
	}
	var files []string
	// Every module of the root buf.yaml, which the copies keep.
	for _, m := range bufYAML.Modules {
		module := filepath.FromSlash(m.Path)
		err := filepath.WalkDir(filepath.Join(root, module), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".proto") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(files)
	changed := 0
	for _, side := range []string{"prev", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, side), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, side, "buf.yaml"), cfg, 0o644); err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			rel, _ := filepath.Rel(root, f)
			src := string(data)
			if side == "cur" && changed < 6 && strings.Contains(rel, "gaming") {
				before := src
				if loc := scalarFieldLine.FindStringIndex(src); loc != nil {
					src = src[:loc[0]] + src[loc[1]:]
				}
				src = strings.Replace(src, " int32 ", " int64 ", 1)
				if src != before {
					changed++
				}
			}
			target := filepath.Join(dir, side, rel)
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(target, []byte(src), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return changed
}
