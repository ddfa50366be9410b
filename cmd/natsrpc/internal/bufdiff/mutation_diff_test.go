package bufdiff

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/internal/testkit/schemagen"
	"github.com/natsrpc/natsrpc/registry/breaking"
)

// genPair is one generated (previous, current) schema pair with the
// breaking configuration of its module.
type genPair struct {
	id        string
	prev, cur map[string]string
	muts      []string
	config    string // the module's breaking section, YAML flow style
	v1        bool
}

// pairCount is the number of generated pairs: 500 by default, more with
// NATSRPC_BREAKING_PAIRS (make test-breaking-long sets 20000).
func pairCount() int {
	if s := os.Getenv("NATSRPC_BREAKING_PAIRS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 500
}

var v2Configs = []string{
	"use: [FILE, PACKAGE, WIRE_JSON, WIRE, CSR]",
	"use: [FILE, PACKAGE, WIRE_JSON, WIRE, CSR]",
	"use: [FILE, PACKAGE, WIRE_JSON, WIRE, CSR]",
	"use: [FILE]",
	"use: [PACKAGE]",
	"use: [WIRE_JSON]",
	"use: [WIRE]",
	"use: [CSR]",
	"use: [FILE, PACKAGE], except: [FIELD_NO_DELETE, FILE_SAME_GO_PACKAGE]",
	"use: [WIRE_JSON, PACKAGE], ignore_unstable_packages: true",
	"use: [FILE, WIRE], ignore: [%[1]s/%[1]s/f0.proto]",
	"use: [FILE, WIRE_JSON], ignore_only: {FIELD_SAME_TYPE: [%[1]s/%[1]s/f1.proto], WIRE: [%[1]s/%[1]s/f0.proto]}",
	"except: [FILE_NO_DELETE]",
}

var v1Configs = []string{
	"use: [FILE, PACKAGE, WIRE_JSON, WIRE]",
	"use: [FILE, PACKAGE, WIRE_JSON, WIRE]",
	"use: [FILE]",
	"use: [PACKAGE]",
	"use: [WIRE_JSON]",
	"use: [WIRE]",
	"use: [FIELD_SAME_LABEL, FIELD_SAME_CTYPE, FILE_SAME_JAVA_STRING_CHECK_UTF8, FILE_SAME_PHP_GENERIC_SERVICES, MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT, FIELD_SAME_TYPE]",
	"use: [PACKAGE], ignore_unstable_packages: true",
	"use: [FILE], ignore: [%[1]s/f0.proto], ignore_only: {FIELD_SAME_NAME: [%[1]s]}",
}

// generatePairs generates n valid pairs; every pair compiles on both sides.
func generatePairs(tb testing.TB, seed uint64, n int, v1 bool) []genPair {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var pairs []genPair
	skipped := 0
	for len(pairs) < n {
		id := fmt.Sprintf("p%03d", len(pairs))
		g := schemagen.New(r, id, int(seed)*1000+len(pairs))
		// The first pairs of the first batch each change one file option,
		// so that every FILE_SAME_* rule is hit whatever the random draws.
		forced := seed == 1 && len(pairs) < len(schemagen.FileOptionNames()) && !strings.HasPrefix(schemagen.FileOptionNames()[len(pairs)], "features.")
		if forced {
			g.ForceOption(schemagen.FileOptionNames()[len(pairs)])
		}
		base := g.Schema()
		cur, muts := g.Mutate(base, 1+r.IntN(4))
		p := genPair{id: id, prev: schemagen.Render(base), cur: schemagen.Render(cur), muts: muts, v1: v1}
		if !compiles(p.prev) || !compiles(p.cur) {
			skipped++
			skippedPairs.Add(1)
			if skipped > 20*n {
				tb.Fatalf("too many generated pairs do not compile")
			}
			continue
		}
		cfgs := v2Configs
		if v1 {
			cfgs = v1Configs
		}
		p.config = cfgs[r.IntN(len(cfgs))]
		if forced {
			p.config = cfgs[0]
		}
		if strings.Contains(p.config, "%") {
			p.config = fmt.Sprintf(p.config, id)
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// compiles reports whether a set of sources compiles with protocompile.
func compiles(srcs map[string]string) bool {
	_, err := schemagen.Compile(srcs)
	return err == nil
}

// writeBatch writes pairs as one workspace per side: a v2 buf.yaml with
// one module per pair, or a buf.work.yaml with one v1 module per pair.
func writeBatch(tb testing.TB, dir string, pairs []genPair, v1 bool) {
	tb.Helper()
	for _, side := range []string{"cur", "prev"} {
		root := filepath.Join(dir, side)
		var cfg strings.Builder
		if v1 {
			cfg.WriteString("version: v1\ndirectories:\n")
		} else {
			cfg.WriteString("version: v2\nmodules:\n")
		}
		for _, p := range pairs {
			files := p.cur
			if side == "prev" {
				files = p.prev
			}
			for name, src := range files {
				path := filepath.Join(root, p.id, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					tb.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
					tb.Fatal(err)
				}
			}
			if v1 {
				fmt.Fprintf(&cfg, "  - %s\n", p.id)
				mod := fmt.Sprintf("version: v1\nbreaking: {%s}\n", p.config)
				if err := os.WriteFile(filepath.Join(root, p.id, "buf.yaml"), []byte(mod), 0o644); err != nil {
					tb.Fatal(err)
				}
			} else {
				fmt.Fprintf(&cfg, "  - path: %s\n    breaking: {%s}\n", p.id, p.config)
			}
		}
		name := "buf.yaml"
		if v1 {
			name = "buf.work.yaml"
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(cfg.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

var skippedPairs atomic.Int64

var pairIDRE = regexp.MustCompile(`p\d{3,}`)

// byPair groups output lines by the pair they mention.
func byPair(out string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		id := pairIDRE.FindString(l)
		m[id] = append(m[id], l)
	}
	return m
}

// TestDifferentialMutations runs buf and natsrpc on generated schema pairs
// (add, remove, renumber, retype, rename, move into oneofs, change labels,
// options, packages, syntax, files), in workspaces of many modules so that
// buf runs once per batch, and requires identical output. Together with
// the corpus test it must hit every rule of the FILE, PACKAGE, WIRE_JSON,
// WIRE and CSR categories.
func TestDifferentialMutations(t *testing.T) {
	testBuf(t)
	total := pairCount()
	const batchSize = 25
	type batch struct {
		dir   string
		pairs []genPair
		v1    bool
	}
	var batches []batch
	var genTime time.Duration
	defer func() { t.Logf("generation took %v", genTime) }()
	for i, seed := 0, uint64(1); i < total; i, seed = i+batchSize, seed+1 {
		n := min(batchSize, total-i)
		v1 := seed%5 == 0
		start := time.Now()
		b := batch{dir: t.TempDir(), pairs: generatePairs(t, seed, n, v1), v1: v1}
		writeBatch(t, b.dir, b.pairs, b.v1)
		gitCommitAll(t, filepath.Join(b.dir, "prev"))
		genTime += time.Since(start)
		batches = append(batches, b)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	mutSeen := map[string]int{}
	matchedPairs, pairs, lines, wktLines := 0, 0, 0, 0
	var narrowedRuns, narrowedLines atomic.Int64
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := time.Now()
			want, stderr, code := runBuf(t, b.dir, "cur", "--against", "prev", "--error-format", "json")
			bufTime := time.Since(s)
			s = time.Now()
			got, err := runOurs(t, b.dir, "cur", "prev", "json", input.BreakingOptions{})
			t.Logf("batch of %d: buf %v, natsrpc %v", len(b.pairs), bufTime, time.Since(s))
			for _, r := range batchPathRuns(b.pairs) {
				narrowedRuns.Add(1)
				narrowedLines.Add(int64(checkNarrowedBatch(t, b.dir, b.pairs, r)))
			}
			mu.Lock()
			defer mu.Unlock()
			pairs += len(b.pairs)
			if code != 0 && code != 100 {
				t.Errorf("batch %s: buf exited with %d: %s", b.dir, code, stderr)
				return
			}
			if err != nil {
				t.Errorf("batch %s: natsrpc failed: %v", b.dir, err)
				return
			}
			want, got, wkt := dropWKTVersionLines(want, got)
			wktLines += wkt
			wantBy, gotBy := byPair(want), byPair(got)
			for _, p := range b.pairs {
				if slices.Equal(wantBy[p.id], gotBy[p.id]) {
					matchedPairs++
					for _, m := range p.muts {
						mutSeen[m]++
					}
					continue
				}
				t.Errorf("pair %s (mutations %v, config {%s}) differs:\n%s\nprevious:\n%s\ncurrent:\n%s", p.id, p.muts, p.config,
					diffLines(strings.Join(wantBy[p.id], "\n"), strings.Join(gotBy[p.id], "\n")), schemagen.Dump(p.prev), schemagen.Dump(p.cur))
			}
			if want != got && !t.Failed() {
				t.Errorf("batch %s: outputs differ outside any pair:\n%s", b.dir, diffLines(want, got))
			}
			lines += strings.Count(want, "\n")
			for _, id := range ruleIDsOf(want) {
				seen[id] = true
			}
		}()
	}
	wg.Wait()
	t.Logf("known difference: %d findings about well-known-type elements that exist only in buf's newer copy of descriptor.proto", wktLines)
	t.Logf("narrowed with --path and --exclude-path: %d runs compared, %d findings", narrowedRuns.Load(), narrowedLines.Load())
	if narrowedLines.Load() == 0 && total >= 500 {
		t.Errorf("the narrowed runs found nothing; they should see breaking changes inside the paths")
	}
	t.Logf("mutations: %d/%d pairs identical in %d batches (%d generated pairs did not compile and were regenerated), %d findings, %d rule IDs seen", matchedPairs, pairs, len(batches), skippedPairs.Load(), lines, len(seen))
	var muts []string
	for m, n := range mutSeen {
		muts = append(muts, fmt.Sprintf("%s=%d", m, n))
	}
	sort.Strings(muts)
	t.Logf("mutations applied: %s", strings.Join(muts, " "))
	recordCoverage(seen)
	var missing []string
	for _, cat := range []string{breaking.CategoryFile, breaking.CategoryPackage, breaking.CategoryWireJSON, breaking.CategoryWire, breaking.CategoryCSR} {
		for _, id := range breaking.RuleIDsInCategory(breaking.VersionV2, cat) {
			if !seen[id] && !slices.Contains(missing, id) {
				missing = append(missing, id)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 && total >= 500 {
		t.Errorf("rules never hit by %d generated pairs: %v", total, missing)
	}
}

// batchPathRuns returns the narrowings a batch is also checked with: one
// with --path (the files directory of every other pair, one file of
// another, and an --exclude-path for a file inside a narrowed directory)
// and one with only --exclude-path (whole directories and single files).
// The files named exist on both sides, so that both sides keep the same
// modules.
func batchPathRuns(pairs []genPair) []corpusPathRun {
	both := func(p genPair) []string {
		var out []string
		for name := range p.prev {
			if _, ok := p.cur[name]; ok {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	var withPaths, onlyExcludes corpusPathRun
	for i, p := range pairs {
		files := both(p)
		dir := p.id + "/" + p.id
		switch i % 4 {
		case 0:
			withPaths.paths = append(withPaths.paths, dir)
			if len(files) > 1 {
				withPaths.excludes = append(withPaths.excludes, p.id+"/"+files[len(files)-1])
			}
		case 1:
			if len(files) > 0 {
				withPaths.paths = append(withPaths.paths, p.id+"/"+files[0])
			}
		case 2:
			withPaths.paths = append(withPaths.paths, dir)
		}
		switch i % 3 {
		case 0:
			onlyExcludes.excludes = append(onlyExcludes.excludes, dir)
		case 1:
			// Neither side may lose all its files, or the sides would
			// differ in modules (which buf refuses).
			if len(files) > 0 && len(p.cur) > 1 && len(p.prev) > 1 {
				onlyExcludes.excludes = append(onlyExcludes.excludes, p.id+"/"+files[0])
			}
		}
	}
	return []corpusPathRun{withPaths, onlyExcludes}
}

// checkNarrowedBatch runs buf and natsrpc on a batch narrowed by r, from
// the current workspace against the previous one committed to git, and
// requires the same findings for every pair. It returns the number of
// findings.
func checkNarrowedBatch(t *testing.T, dir string, pairs []genPair, r corpusPathRun) int {
	t.Helper()
	cur := filepath.Join(dir, "cur")
	const against = "../prev/.git#branch=main"
	args := append([]string{".", "--against", against, "--error-format", "json"}, pathArgs(r.paths, r.excludes)...)
	want, stderr, code := runBuf(t, cur, args...)
	got, err := runOursPaths(t, cur, ".", against, "json", input.BreakingOptions{}, r.paths, r.excludes)
	label := fmt.Sprintf("batch %s narrowed with %v", dir, pathArgs(r.paths, r.excludes))
	var ce *input.CompileError
	if code == 1 && (err == nil || errors.As(err, &ce)) {
		t.Errorf("%s: buf refused (%s) but natsrpc did not (err %v)", label, strings.TrimSpace(stderr), err)
		return 0
	}
	if code != 0 && code != 100 {
		t.Errorf("%s: buf exited with %d: %s", label, code, stderr)
		return 0
	}
	if err != nil {
		t.Errorf("%s: natsrpc failed: %v", label, err)
		return 0
	}
	want, got, _ = dropWKTVersionLines(want, got)
	wantBy, gotBy := byPair(want), byPair(got)
	for _, p := range pairs {
		if !slices.Equal(wantBy[p.id], gotBy[p.id]) {
			t.Errorf("%s: pair %s (mutations %v, config {%s}) differs:\n%s", label, p.id, p.muts, p.config,
				diffLines(strings.Join(wantBy[p.id], "\n"), strings.Join(gotBy[p.id], "\n")))
		}
	}
	if want != got && !t.Failed() {
		t.Errorf("%s: outputs differ outside any pair:\n%s", label, diffLines(want, got))
	}
	return strings.Count(want, "\n")
}

var wktPackageLine = regexp.MustCompile(`was deleted from package \\"google\.protobuf\\"`)

// dropWKTVersionLines removes, from the lines only one side has, those that
// list elements of the google.protobuf package: buf's well-known types are
// protobuf 36.2's (plus buf's own declarations) and natsrpc's are those of
// the protobuf-go module, so when a schema stops importing one of them the
// PACKAGE_*_NO_DELETE findings name different element sets. It returns the
// outputs without those lines and how many it removed.
func dropWKTVersionLines(want, got string) (string, string, int) {
	ws, gs := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		ws[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		gs[l] = true
	}
	n := 0
	filter := func(out string, other map[string]bool) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if !other[l] && wktPackageLine.MatchString(l) {
				n++
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	return filter(want, gs), filter(got, ws), n
}

// TestDifferentialRuleCoverage requires that the differential tests hit
// every rule ID of buf's FILE, PACKAGE, WIRE_JSON, WIRE and CSR categories.
// It runs after them (Go runs tests in source order within a package; the
// file name sorts after differential_test.go and mutation_diff_test.go).
func TestDifferentialRuleCoverage(t *testing.T) {
	testBuf(t)
	coverageMu.Lock()
	defer coverageMu.Unlock()
	if len(coverage) == 0 {
		// Run alone (-run), there is nothing to check; in a whole run an
		// empty record means the differential tests did not record it.
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
			t.Skip("run together with TestDifferentialBufCorpus and TestDifferentialMutations")
		}
		t.Fatal("no rule coverage recorded: TestDifferentialBufCorpus and TestDifferentialMutations must run before this test (source order, no -shuffle)")
	}
	want := map[string]bool{}
	for _, cat := range []string{breaking.CategoryFile, breaking.CategoryPackage, breaking.CategoryWireJSON, breaking.CategoryWire, breaking.CategoryCSR} {
		for _, id := range breaking.RuleIDsInCategory(breaking.VersionV2, cat) {
			want[id] = true
		}
	}
	var missing []string
	for id := range want {
		if !coverage[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules never hit by the differential tests: %v", missing)
	}
	t.Logf("rule coverage: %d/%d rule IDs of FILE, PACKAGE, WIRE_JSON, WIRE and CSR hit", len(want)-len(missing), len(want))
}
