package bufdiff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
)

// knownCorpusDifferences are the corpus cases natsrpc cannot match, with
// the reason. The test still runs them and checks that natsrpc fails the
// way the reason says.
var knownCorpusDifferences = map[string]string{
	// protocompile v0.14.1 (the module's pinned compiler) supports editions
	// up to 2023; buf v1.75.0's compiler accepts edition 2026. natsrpc
	// reports a COMPILE error instead of the FILE_SAME_CC_ENABLE_ARENAS
	// finding.
	"breaking_file_same_cc_enable_arenas_edition_2026": "edition 2026",
}

// skippedCorpusCases need buf check plugins or policies, which natsrpc
// does not run.
func skippedCorpusCase(name string) bool {
	return name == "breaking_custom_plugins" || strings.HasPrefix(name, "breaking_policy_")
}

// TestDifferentialBufCorpus runs buf and natsrpc on every case of buf's own
// breaking test corpus (current vs previous, with each case's buf.yaml) and
// requires identical JSON output and exit codes.
func TestDifferentialBufCorpus(t *testing.T) {
	testBuf(t)
	src := bufCorpusDir(t)
	dir := t.TempDir()
	copyTree(t, src, dir)
	ents, err := os.ReadDir(filepath.Join(dir, "current"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, e := range ents {
		if e.IsDir() && !skippedCorpusCase(e.Name()) {
			cases = append(cases, e.Name())
		}
	}
	if len(cases) < 50 {
		t.Fatalf("only %d corpus cases found", len(cases))
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	matched := 0
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cur, prev := filepath.Join("current", c), filepath.Join("previous", c)
			want, _, code := runBuf(t, dir, cur, "--against", prev, "--error-format", "json")
			got, err := runOurs(t, dir, cur, prev, "json", input.BreakingOptions{})
			mu.Lock()
			defer mu.Unlock()
			if reason, ok := knownCorpusDifferences[c]; ok {
				if err == nil || !strings.Contains(got, "COMPILE") {
					t.Errorf("%s: expected natsrpc to fail to compile (%s), got %v", c, reason, err)
				}
				t.Logf("%s: known difference (%s)", c, reason)
				return
			}
			if err != nil {
				t.Errorf("%s: natsrpc failed: %v", c, err)
				return
			}
			if code != 0 && code != 100 {
				t.Errorf("%s: buf exited with %d", c, code)
			}
			if (code == 100) != (got != "") {
				t.Errorf("%s: buf exit code %d but natsrpc output %q", c, code, got)
			}
			if want != got {
				t.Errorf("%s: output differs from buf:\n%s", c, diffLines(want, got))
				return
			}
			matched++
			for _, id := range ruleIDsOf(want) {
				seen[id] = true
			}
		}()
	}
	wg.Wait()
	t.Logf("buf corpus: %d/%d cases identical, %d rule IDs seen", matched, len(cases), len(seen))
	recordCoverage(seen)
}

// ruleIDsOf extracts the "type" values of JSON output lines.
func ruleIDsOf(out string) []string {
	var ids []string
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, `"type":"`)
		if i < 0 {
			continue
		}
		rest := l[i+len(`"type":"`):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			ids = append(ids, rest[:j])
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

var (
	coverageMu sync.Mutex
	coverage   = map[string]bool{}
)

func recordCoverage(ids map[string]bool) {
	coverageMu.Lock()
	defer coverageMu.Unlock()
	for id := range ids {
		coverage[id] = true
	}
}

// corpusPathRun is one narrowing of a corpus case.
type corpusPathRun struct {
	paths, excludes []string
}

// corpusPathRuns picks the narrowings a corpus case is run with: the
// first current file's top directory (or the file) as --path and as
// --exclude-path, the last file as --path when it is in a directory, and,
// when the previous side
// had a file or directory the current one lacks, that together with the
// first as --path (buf reports its deletion; the rest stays out).
func corpusPathRuns(tb testing.TB, cur, prev string) []corpusPathRun {
	tb.Helper()
	list := func(dir string) []string {
		var out []string
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".proto") {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	top := func(p string) string { return strings.Split(p, "/")[0] }
	curFiles, prevFiles := list(cur), list(prev)
	if len(curFiles) == 0 {
		return nil
	}
	first := top(curFiles[0])
	runs := []corpusPathRun{
		{paths: []string{first}},
		{excludes: []string{first}},
	}
	if last := curFiles[len(curFiles)-1]; strings.Contains(last, "/") {
		runs = append(runs, corpusPathRun{paths: []string{last}})
	}
	curTops := map[string]bool{}
	for _, f := range curFiles {
		curTops[top(f)] = true
	}
	for _, f := range prevFiles {
		if !curTops[top(f)] {
			runs = append(runs, corpusPathRun{paths: []string{first, top(f)}})
			break
		}
	}
	return runs
}

// TestDifferentialBufCorpusPaths runs buf and natsrpc on every case of
// buf's corpus narrowed with --path and --exclude-path: from the current
// case's directory, against the previous case committed to git, so that
// one path names the same place on both sides (buf resolves a path against
// the working directory for a directory input and against the subdir for
// a git input, and narrows both sides with it). It requires the same JSON
// output and exit code, errors included (exit 1: a path that selects no
// file on one side).
func TestDifferentialBufCorpusPaths(t *testing.T) {
	testBuf(t)
	src := bufCorpusDir(t)
	dir := t.TempDir()
	copyTree(t, filepath.Join(src, "current"), filepath.Join(dir, "current"))
	copyTree(t, filepath.Join(src, "previous"), filepath.Join(dir, "repo"))
	gitCommitAll(t, filepath.Join(dir, "repo"))
	ents, err := os.ReadDir(filepath.Join(dir, "current"))
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		name string
		run  corpusPathRun
	}
	var jobs []job
	for _, e := range ents {
		c := e.Name()
		if !e.IsDir() || skippedCorpusCase(c) || knownCorpusDifferences[c] != "" {
			continue
		}
		for _, r := range corpusPathRuns(t, filepath.Join(dir, "current", c), filepath.Join(dir, "repo", c)) {
			jobs = append(jobs, job{c, r})
		}
	}
	if len(jobs) < 120 {
		t.Fatalf("only %d narrowed corpus runs", len(jobs))
	}
	var mu sync.Mutex
	codes := map[int]int{}
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			caseDir := filepath.Join(dir, "current", j.name)
			against := "../../repo/.git#branch=main,subdir=" + j.name
			args := append([]string{".", "--against", against, "--error-format", "json"}, pathArgs(j.run.paths, j.run.excludes)...)
			want, stderr, code := runBuf(t, caseDir, args...)
			got, err := runOursPaths(t, caseDir, ".", against, "json", input.BreakingOptions{}, j.run.paths, j.run.excludes)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			label := fmt.Sprintf("%s %v", j.name, pathArgs(j.run.paths, j.run.excludes))
			var ce *input.CompileError
			switch {
			case code == 1:
				if err == nil || errors.As(err, &ce) {
					t.Errorf("%s: buf refused the paths (%s) but natsrpc did not (err %v, output %q)", label, strings.TrimSpace(stderr), err, got)
				}
				return
			case code != 0 && code != 100:
				t.Errorf("%s: buf exited with %d: %s", label, code, stderr)
				return
			case err != nil:
				t.Errorf("%s: buf exited with %d but natsrpc failed: %v", label, code, err)
				return
			}
			if want != got {
				t.Errorf("%s: output differs from buf:\n%s", label, diffLines(want, got))
			}
		}()
	}
	wg.Wait()
	t.Logf("buf corpus narrowed: %d runs, buf exit codes %v", len(jobs), codes)
	if codes[100] == 0 || codes[0] == 0 || codes[1] == 0 {
		t.Errorf("the narrowed runs should include clean, breaking and refused ones; got exit codes %v", codes)
	}
}
