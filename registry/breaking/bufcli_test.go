package breaking

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/internal/testkit/buftest"
)

// Tests against the real buf CLI, pinned in tools/go.mod (package
// buftest builds it once). They are skipped in -short mode.

// bufRule is one line of `buf config ls-breaking-rules --format json`.
type bufRule struct {
	ID           string   `json:"id"`
	Categories   []string `json:"categories"`
	Default      bool     `json:"default"`
	Purpose      string   `json:"purpose"`
	Plugin       string   `json:"plugin"`
	Deprecated   bool     `json:"deprecated"`
	Replacements []string `json:"replacements"`
}

// TestRuleTableMatchesBuf compares the rule table, for each configuration
// version, with the pinned buf's own list (deprecated rules included):
// the same IDs (the order of the list is not part of the contract), and
// for each its categories, whether it is a default, its purpose, whether
// it is deprecated and its replacements.
func TestRuleTableMatchesBuf(t *testing.T) {
	bin := buftest.Binary(t)
	dir := t.TempDir() // no buf.yaml: --version decides
	for _, v := range []Version{VersionV1Beta1, VersionV1, VersionV2} {
		t.Run(string(v), func(t *testing.T) {
			cmd := exec.Command(bin, "config", "ls-breaking-rules", "--format", "json", "--include-deprecated", "--version", string(v))
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("buf config ls-breaking-rules: %v", err)
			}
			var want []bufRule
			dec := json.NewDecoder(bytes.NewReader(out))
			for dec.More() {
				var r bufRule
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("decode buf's list: %v", err)
				}
				if r.Plugin != "" {
					continue // rules of check plugins; natsrpc runs none
				}
				want = append(want, r)
			}
			if len(want) < 40 {
				t.Fatalf("buf listed %d rules; the list format changed?", len(want))
			}
			ours := map[string]Rule{}
			var ourIDs []string
			for _, r := range Rules(v) {
				ours[r.ID] = r
				ourIDs = append(ourIDs, r.ID)
			}
			var wantIDs []string
			for _, w := range want {
				wantIDs = append(wantIDs, w.ID)
				r, ok := ours[w.ID]
				if !ok {
					t.Errorf("%s: buf has %s, natsrpc does not", v, w.ID)
					continue
				}
				if !slices.Equal(r.Categories, w.Categories) {
					t.Errorf("%s %s: categories %v, buf %v", v, w.ID, r.Categories, w.Categories)
				}
				if r.Default != w.Default {
					t.Errorf("%s %s: default %v, buf %v", v, w.ID, r.Default, w.Default)
				}
				if r.Purpose != w.Purpose {
					t.Errorf("%s %s: purpose %q, buf %q", v, w.ID, r.Purpose, w.Purpose)
				}
				if r.Deprecated != w.Deprecated {
					t.Errorf("%s %s: deprecated %v, buf %v", v, w.ID, r.Deprecated, w.Deprecated)
				}
				if !slices.Equal(r.ReplacementIDs, w.Replacements) && (len(r.ReplacementIDs) > 0 || len(w.Replacements) > 0) {
					t.Errorf("%s %s: replacements %v, buf %v", v, w.ID, r.ReplacementIDs, w.Replacements)
				}
			}
			for _, id := range ourIDs {
				if !slices.Contains(wantIDs, id) {
					t.Errorf("%s: natsrpc has %s, buf does not", v, id)
				}
			}
		})
	}
}

// goTypeName matches the Go type in yaml's "cannot unmarshal X into T",
// which names buf's types in buf's messages and ours in ours.
var goTypeName = regexp.MustCompile(`into \S+`)

// TestParseBufYAMLMatchesBuf gives buf (`buf build`) and ParseBufYAML /
// ParseBufWorkYAML the same broken configuration files and requires the
// same message: buf prints "Failure: decode <file>: <message>"; ours is
// <message>, Go type names aside.
func TestParseBufYAMLMatchesBuf(t *testing.T) {
	bin := buftest.Binary(t)
	for _, c := range []struct{ file, data string }{
		{"buf.yaml", "breaking:\n  use: [FILE]\n"},
		{"buf.yaml", ""},
		{"buf.yaml", "version: v9\n"},
		{"buf.yaml", "version: [\n"},
		{"buf.yaml", "version: v2\nfoo: 1\n"},
		{"buf.yaml", "version: v1\nbreaking:\n  usee: [FILE]\n"},
		{"buf.yaml", "version: v1beta1\nbuild:\n  roots: [.]\n  nope: 1\n"},
		{"buf.yaml", "version: v2\nlint:\n  foo: 1\n"},
		{"buf.yaml", "version: v1\nlint:\n  disallow_comment_ignores: true\n"},
		{"buf.yaml", "version: v2\nlint:\n  allow_comment_ignores: true\n"},
		{"buf.yaml", "version: v2\nmodules:\n  - path: a\n    nope: 1\n"},
		{"buf.yaml", "version: v2\nmodules: 3\n"},
		{"buf.yaml", "version: v2\nbreaking:\n  use: FILE\n"},
		{"buf.yaml", "version: v2\nbreaking:\n  ignore_unstable_packages: maybe\n"},
		{"buf.yaml", "version: v1\nbuild:\n  roots: [a]\n"},
		{"buf.yaml", "version: v1\nmodules:\n  - path: a\n"},
		{"buf.yaml", "version: v2\nbuild:\n  excludes: [a]\n"},
		{"buf.yaml", "version: v2\nname: buf.build/a/b\nmodules:\n  - path: a\n"},
		{"buf.yaml", "version: v2\nmodules:\n  - path: ../x\n"},
		{"buf.yaml", "version: v2\nmodules:\n  - path: /abs\n"},
		{"buf.yaml", "version: v2\nbreaking:\n  ignore: [../x]\n"},
		{"buf.yaml", "version: v1\nbreaking:\n  ignore: [/x]\n"},
		{"buf.yaml", "version: v2\nmodules:\n  - path: a\n    breaking:\n      ignore: [b/x]\n"},
		{"buf.yaml", `{"version":"v2","breaking":{"use":"FILE"}}`},
		{"buf.work.yaml", "directories: [a]\n"},
		{"buf.work.yaml", "version: v2\ndirectories: [a]\n"},
		{"buf.work.yaml", "version: v1\n"},
		{"buf.work.yaml", "version: v1\ndirectories: [a]\nfoo: 1\n"},
		{"buf.work.yaml", "version: v1\ndirectories: a\n"},
	} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a", "a.proto"), []byte("syntax = \"proto3\";\npackage a;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "build", "-o", os.DevNull)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		prefix := "Failure: decode " + c.file + ": "
		if err == nil || !strings.HasPrefix(string(out), prefix) {
			t.Errorf("%s %q: buf build = %v %q; the case must be one buf refuses when it decodes the file", c.file, c.data, err, out)
			continue
		}
		want := strings.TrimSuffix(strings.TrimPrefix(string(out), prefix), "\n")
		if c.file == "buf.yaml" {
			_, err = ParseBufYAML([]byte(c.data))
		} else {
			_, err = ParseBufWorkYAML([]byte(c.data))
		}
		if err == nil {
			t.Errorf("%s %q: natsrpc accepts it; buf says %q", c.file, c.data, want)
			continue
		}
		if got := err.Error(); goTypeName.ReplaceAllString(got, "into T") != goTypeName.ReplaceAllString(want, "into T") {
			t.Errorf("%s %q:\n natsrpc: %s\n buf:     %s", c.file, c.data, got, want)
		}
	}
}
