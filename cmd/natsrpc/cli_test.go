package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	runtime "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// jsonDoc decodes stdout as exactly one JSON document into v, refusing
// fields v does not have (the documented names are the interface).
func jsonDoc(t *testing.T, r result, v any) {
	t.Helper()
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("stdout is not one JSON document on one line:\n%s", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the documented JSON document (%v):\n%s", err, r.stdout)
	}
}

// TestFormatJSON runs every command that takes --format with json and
// decodes the one document each prints.
func TestFormatJSON(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	json := []string{"--format", "json"}

	var push regctl.PushDoc
	r := natsrpc(t, append(append(s, "push", dir, "--module", "common"), json...)...)
	r.want(t, 0, "", "")
	jsonDoc(t, r, &push)
	if push.Module != "common" || push.Outcome != "created" || push.Version != 1 || !strings.HasPrefix(push.Digest, "sha256:") || push.OwnFiles != 1 || push.Violations == nil || len(push.Violations) != 0 || push.DryRun {
		t.Errorf("push: %+v", push)
	}
	r = natsrpc(t, append(append(s, "push", dir, "--module", "common"), json...)...)
	jsonDoc(t, r, &push)
	if push.Outcome != "unchanged" || push.Version != 1 {
		t.Errorf("re-push: %+v", push)
	}
	writeModule(t, dir, testschema.CommonBroken)
	r = natsrpc(t, append(append(s, "push", dir, "--module", "common", "--dry-run"), json...)...)
	r.want(t, cli.ExitRefused, "", `dry run: push of module "common" would be refused`)
	jsonDoc(t, r, &push)
	if push.Outcome != "refused" || !push.DryRun || push.Version != 0 || len(push.Violations) == 0 || push.Violations[0].Type != "FIELD_NO_DELETE" || push.Violations[0].Path != filepath.Join(dir, "acme/common/v1/common.proto") || push.Violations[0].StartLine == 0 {
		t.Errorf("refused push: %+v", push)
	}
	natsrpc(t, append(append(s, "push", dir, "--module", "common", "--error-format", "github-actions"), json...)...).
		want(t, 1, "", "give --format json or --error-format, not both")
	writeModule(t, dir, "syntax = \"proto3\";\npackage acme.common.v1;\nmessage Money { strin currency = 1; }\n")
	r = natsrpc(t, append(append(s, "push", dir, "--module", "common"), json...)...)
	r.want(t, 1, "", "does not compile")
	jsonDoc(t, r, &push)
	if push.Outcome != "compile_error" || len(push.Violations) == 0 || push.Violations[0].Type != "COMPILE" {
		t.Errorf("push that does not compile: %+v", push)
	}

	var mods regctl.ModulesDoc
	r = natsrpc(t, append(append(s, "ls"), json...)...)
	jsonDoc(t, r, &mods)
	if len(mods.Modules) != 1 || mods.Modules[0].Name != "common" || mods.Modules[0].LatestVersion != 1 || mods.Modules[0].UpdateTime == "" {
		t.Errorf("ls: %+v", mods)
	}
	var versions regctl.VersionsDoc
	r = natsrpc(t, append(append(s, "ls", "common"), json...)...)
	jsonDoc(t, r, &versions)
	if versions.Module != "common" || len(versions.Versions) != 1 || versions.Versions[0].Files[0] != "acme/common/v1/common.proto" || versions.Versions[0].RevertOf == nil {
		t.Errorf("ls common: %+v", versions)
	}
	var desc regctl.DescriptionDoc
	r = natsrpc(t, append(append(s, "describe", "acme.common.v1.Money"), json...)...)
	jsonDoc(t, r, &desc)
	if desc.Symbol != "acme.common.v1.Money" || desc.Kind != "message" || desc.Module != "common" || desc.Version != 1 || desc.File != "acme/common/v1/common.proto" || !strings.HasPrefix(desc.Definition, "// Money is an amount in a currency.\nmessage Money {\n") {
		t.Errorf("describe: %+v", desc)
	}
	var pol regctl.PolicyDoc
	r = natsrpc(t, append(append(s, "policy", "common", "--direction", "full"), json...)...)
	jsonDoc(t, r, &pol)
	if pol.Module != "common" || pol.Default || pol.Direction != "full" || strings.Join(pol.Categories, ",") != "FILE,NATSRPC" || pol.Transitive {
		t.Errorf("policy: %+v", pol)
	}

	// Text stays the default, and other formats are refused before
	// anything happens.
	natsrpc(t, append(s, "ls")...).want(t, 0, "MODULE  LATEST", "")
	for _, args := range [][]string{{"ls"}, {"describe", "a.B"}, {"push", dir, "--module", "common"}, {"policy", "common"}} {
		natsrpc(t, append(append(s, args...), "--format", "yaml")...).want(t, 1, "", `--format "yaml": use text or json`)
	}
}

// TestErrorStyle: the CLI's errors are one line that says what to do, with
// no internal code names, and a wrong number of arguments says what to
// run rather than cobra's "accepts 1 arg(s), received 0".
func TestErrorStyle(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	codes := regexp.MustCompile(`\b(not_found|invalid_argument|failed_precondition|unavailable|internal|aborted|deadline_exceeded|unknown):`)
	for _, args := range [][]string{
		{"describe", "acme.common.v1.Nope"},
		{"ls", "nope"},
		{"get", "nope", "-o", filepath.Join(t.TempDir(), "x.binpb")},
		{"describe", "a.B", "--module", "nope", "--version", "3"},
	} {
		r := natsrpc(t, append(s, args...)...)
		r.want(t, 1, "", "natsrpc: ")
		if m := codes.FindString(r.stderr); m != "" {
			t.Errorf("natsrpc %s: the error shows the code name %q:\n%s", strings.Join(args, " "), m, r.stderr)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "a", "b"}, "ls takes at most one module name: natsrpc ls [<module>]"},
		{[]string{"describe"}, "describe takes one fully-qualified symbol: natsrpc describe <symbol>"},
		{[]string{"get"}, "get takes one module, or module@version: natsrpc get <module>[@<version>] -o <file>"},
		{[]string{"policy"}, "policy takes one module name: natsrpc policy <module>"},
		{[]string{"push"}, "push takes one input (a directory, a .proto file, an image or a git reference): natsrpc push <input> --module <name>"},
		{[]string{"breaking", "a", "b"}, "breaking takes at most one input: natsrpc breaking [<input>]"},
		{[]string{"registry", "serve", "x"}, "serve takes no arguments"},
	} {
		r := natsrpc(t, append(s, c.args...)...)
		r.want(t, 1, "", c.want)
		if strings.Contains(r.stderr, "arg(s)") {
			t.Errorf("natsrpc %s: cobra's message: %s", strings.Join(c.args, " "), r.stderr)
		}
	}
}

// TestVersionAndCompletion: --version names the CLI's, the runtime's and
// the plugin's versions; completion prints each shell's script.
func TestVersionAndCompletion(t *testing.T) {
	t.Parallel()
	r := natsrpc(t, "--version")
	r.want(t, 0, "natsrpc "+runtime.Version+"\n", "")
	for _, want := range []string{"runtime:            github.com/natsrpc/natsrpc " + runtime.Version, "protoc-gen-natsrpc: " + runtime.Version, "built with:         go1."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--version does not show %q:\n%s", want, r.stdout)
		}
	}
	for shell, want := range map[string]string{"bash": "__start_natsrpc", "zsh": "#compdef natsrpc", "fish": "complete -c natsrpc"} {
		natsrpc(t, "completion", shell).want(t, 0, want, "")
	}
}

// TestGetRefusesMissingDirectory: -o into a directory that does not exist
// is refused before anything is fetched, and the directory is not created.
func TestGetRefusesMissingDirectory(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@1", "")
	missing := filepath.Join(t.TempDir(), "nonexistent", "dir")
	natsrpc(t, append(s, "get", "common", "-o", filepath.Join(missing, "x.binpb"))...).
		want(t, 1, "", `directory "`+missing+`" does not exist`)
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("get created %s (%v)", missing, err)
	}
	file := filepath.Join(dir, "buf.yaml")
	natsrpc(t, append(s, "get", "common", "-o", filepath.Join(file, "x.binpb"))...).want(t, 1, "", "is not a directory")
	out := filepath.Join(t.TempDir(), "x.binpb")
	natsrpc(t, append(s, "get", "common", "-o", out)...).want(t, 0, "wrote common@1", "")
}

// TestLsHasNoTrailingWhitespace: ls's tables end their lines with their
// last cell, also when the last column (NOTE) is empty.
func TestLsHasNoTrailingWhitespace(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@1", "")
	writeModule(t, dir, testschema.CommonV2)
	natsrpc(t, append(s, "push", dir, "--module", "common")...).want(t, 0, "common@2", "")
	for _, args := range [][]string{{"ls"}, {"ls", "common"}} {
		r := natsrpc(t, append(s, args...)...)
		r.want(t, 0, "sha256:", "")
		for i, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
			if strings.TrimRight(line, " \t") != line {
				t.Errorf("natsrpc %s: line %d has trailing whitespace: %q", strings.Join(args, " "), i+1, line)
			}
		}
	}
}

// TestDocsCallThePinnedBuf: the commands the README and docs/ show run
// buf as the repository pins it (go tool -modfile=tools/go.mod buf), never
// a bare `buf` a newcomer may not have.
func TestDocsCallThePinnedBuf(t *testing.T) {
	t.Parallel()
	root := testschema.RepoRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`(^|&&|;|\|)\s*(\$ )?buf\s`)
	for _, p := range append(docs, filepath.Join(root, "README.md")) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inCode := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode
				continue
			}
			if inCode && bare.MatchString(line) {
				t.Errorf("%s:%d calls a bare buf: %s", filepath.Base(p), i+1, line)
			}
		}
	}
}
