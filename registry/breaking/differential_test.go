package breaking

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
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
			got, err := runOurs(t, dir, cur, prev, "json", InputOptions{})
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
