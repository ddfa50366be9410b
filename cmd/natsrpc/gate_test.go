package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

const gateSvc = `syntax = "proto3";

package acme.svc.v1;

import "natsrpc/v1/options.proto";

service Svc {
  option (natsrpc.v1.service) = {version: "1.0.0"};
  rpc Do(Req) returns (Res);
  rpc Undo(Req) returns (Res);
}

message Req {
  string id = 1;
  int32 n = 2;
}

message Res {
  string note = 1;
}
`

const gateOther = `syntax = "proto3";

package acme.other.v1;

message Other {
  string id = 1;
}
`

// writeGateModule writes the svc module (a buf.yaml whose breaking rules
// are buf's FILE category, and the natsrpc options it imports) with
// svc.proto as given and, unless other is empty, a second package.
func writeGateModule(t *testing.T, dir, svc, other string) {
	t.Helper()
	writeGateFiles(t, dir, map[string]string{"acme/svc/v1/svc.proto": svc, "acme/other/v1/oth.proto": other})
}

// writeGateFiles replaces dir with a module of the given files (empty
// ones left out), a buf.yaml and the natsrpc options.
func writeGateFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	options, err := os.ReadFile(filepath.Join(testschema.RepoRoot(t), "proto", "natsrpc", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	files["buf.yaml"] = "version: v2\nbreaking:\n  use: [FILE]\n"
	files["natsrpc/v1/options.proto"] = string(options)
	for name, content := range files {
		if content == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGateMatchesPushDryRun is issue 11's bug 3: against the registry,
// `natsrpc breaking` gives the verdict `natsrpc push --dry-run` gives
// (the module's policy: categories, direction, transitivity), line for
// line in every format; --buf-rules gives the buf.yaml verdict, the same
// as against an image of the version.
func TestGateMatchesPushDryRun(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := filepath.Join(t.TempDir(), "proto")
	writeGateModule(t, dir, gateSvc, gateOther)
	natsrpc(t, append(s, "push", dir, "--module", "svc")...).want(t, 0, "svc@1", "")

	same := func(name string, code int, gate []string) string {
		t.Helper()
		var last string
		for _, format := range []string{"text", "json", "github-actions"} {
			push := natsrpc(t, append(s, "push", dir, "--module", "svc", "--dry-run", "--error-format", format)...)
			got := natsrpc(t, append(append(s, "breaking", dir, "--error-format", format), gate...)...)
			if got.code != code || push.code != code {
				t.Fatalf("%s (%s): breaking exit %d, push --dry-run exit %d; want %d\nbreaking: %s%s\npush: %s%s", name, format, got.code, push.code, code, got.stdout, got.stderr, push.stdout, push.stderr)
			}
			if code == cli.ExitRefused && got.stdout != push.stdout {
				t.Errorf("%s (%s): breaking printed\n%s\npush --dry-run printed\n%s", name, format, got.stdout, push.stdout)
			}
			if format == "text" {
				last = got.stdout
			}
		}
		return last
	}

	// The case: a queue group change, which buf's rules do not
	// see, and a deleted field. The default policy is FILE and NATSRPC.
	queueAndDelete := strings.Replace(strings.Replace(gateSvc, `{version: "1.0.0"}`, `{version: "1.0.0" queue_group: "workers"}`, 1), "  int32 n = 2;\n", "", 1)
	writeGateModule(t, dir, queueAndDelete, gateOther)
	out := same("default policy", cli.ExitRefused, []string{"--against-registry", "svc"})
	if strings.Count(out, `changed NATS queue group from "q" to "workers"`) != 2 || !strings.Contains(out, `Previously present field "2" with name "n"`) {
		t.Errorf("default policy: want two queue group changes and the deleted field:\n%s", out)
	}

	// --buf-rules: the buf.yaml's FILE rules, as against an image of the
	// version; the queue group is not a buf rule.
	img := filepath.Join(t.TempDir(), "svc.binpb")
	natsrpc(t, append(s, "get", "svc", "-o", img)...).want(t, 0, "wrote svc@1", "")
	bufRules := natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc", "--buf-rules")...)
	asImage := natsrpc(t, "breaking", dir, "--against", img)
	if bufRules.code != cli.ExitRefused || bufRules.stdout != asImage.stdout || strings.Contains(bufRules.stdout, "queue group") {
		t.Errorf("--buf-rules: exit %d\n%s\nagainst the image:\n%s", bufRules.code, bufRules.stdout, asImage.stdout)
	}

	// A policy the buf.yaml does not have: WIRE_JSON, full (forward
	// findings read from new to old).
	natsrpc(t, append(s, "policy", "svc", "--use", "WIRE_JSON", "--direction", "full")...).want(t, 0, "WIRE_JSON", "")
	renamed := strings.Replace(gateSvc, "string note = 1;", "string remark = 1;", 1)
	writeGateModule(t, dir, renamed, gateOther)
	if out := same("full WIRE_JSON", cli.ExitRefused, []string{"--against-registry", "svc"}); !strings.Contains(out, "forward: ") {
		t.Errorf("full WIRE_JSON: want forward findings:\n%s", out)
	}
	writeGateModule(t, dir, gateSvc, gateOther)
	same("unchanged", 0, []string{"--against-registry", "svc"})

	// Transitive: version 2 adds a field; deleting it again breaks
	// version 2 only, and only a transitive check of an edit that breaks
	// version 1 reports version 1.
	withExtra := strings.Replace(gateSvc, "string note = 1;", "string note = 1;\n  int64 extra = 2;", 1)
	writeGateModule(t, dir, withExtra, gateOther)
	natsrpc(t, append(s, "push", dir, "--module", "svc")...).want(t, 0, "svc@2", "")
	natsrpc(t, append(s, "policy", "svc", "--use", "WIRE", "--direction", "backward", "--transitive")...).want(t, 0, "transitive: true", "")
	retyped := strings.Replace(withExtra, "string id = 1;", "int64 id = 1;", 1)
	writeGateModule(t, dir, retyped, gateOther)
	if out := same("transitive", cli.ExitRefused, []string{"--against-registry", "svc"}); !strings.Contains(out, "(against version 1)") || !strings.Contains(out, "(against version 2)") {
		t.Errorf("transitive: want findings against versions 1 and 2:\n%s", out)
	}
	// Against MODULE@V: that version, with the same rules.
	writeGateModule(t, dir, gateSvc, gateOther)
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc@1")...).want(t, 0, "", "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc@2")...).want(t, cli.ExitRefused, "(against version 2)", "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc@3")...).want(t, 1, "", "no version 3")

	// --path narrows the registry's version too: a package deleted
	// outside the path is not reported (bug 2 against the registry).
	natsrpc(t, append(s, "policy", "svc", "--use", "FILE,NATSRPC", "--direction", "backward", "--transitive=false")...).want(t, 0, "FILE", "")
	writeGateModule(t, dir, withExtra, "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc")...).want(t, cli.ExitRefused, `Previously present file "acme/other/v1/oth.proto" was deleted`, "")
	narrowed := natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc", "--path", filepath.Join(dir, "acme/svc"))...)
	narrowed.want(t, 0, "", "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc", "--exclude-path", filepath.Join(dir, "acme/other"))...).want(t, 0, "", "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc", "--buf-rules", "--path", filepath.Join(dir, "acme/svc"))...).want(t, 0, "", "")

	// Flags that only make sense with buf.yaml rules.
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "svc", "--natsrpc-rules")...).want(t, 1, "", "--buf-rules")
	natsrpc(t, append(s, "breaking", dir, "--against", dir, "--buf-rules")...).want(t, 1, "", "--buf-rules applies to --against-registry")
}

// TestGateUnknownModule: a module the registry never heard of is an
// error naming the closest known modules, for the gate and for showing
// its policy; setting its policy announces it, after which the gate
// passes with a notice until the first push.
func TestGateUnknownModule(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	s := []string{"-s", env.Server.ClientURL()}
	dir := filepath.Join(t.TempDir(), "proto")
	writeGateModule(t, dir, gateSvc, "")
	natsrpc(t, append(s, "push", dir, "--module", "svc")...).want(t, 0, "svc@1", "")

	for _, args := range [][]string{
		{"breaking", dir, "--against-registry", "svd"},
		{"breaking", dir, "--against-registry", "svd", "--buf-rules"},
		{"breaking", dir, "--against-registry", "svd@1"},
		{"policy", "svd"},
	} {
		r := natsrpc(t, append(s, args...)...)
		r.want(t, 1, "", `module "svd" is unknown to the registry`)
		if !strings.Contains(r.stderr, `closest names: "svc"`) || !strings.Contains(r.stderr, "natsrpc policy svd --use") {
			t.Errorf("%v: %s", args, r.stderr)
		}
	}
	// Announcing the module: allowed before the first push.
	natsrpc(t, append(s, "policy", "fresh", "--use", "FILE,NATSRPC")...).want(t, 0, "module fresh:\n  categories: FILE, NATSRPC", "")
	natsrpc(t, append(s, "policy", "fresh")...).want(t, 0, "module fresh:\n", "")
	writeGateFiles(t, dir, map[string]string{"acme/fresh/v1/fresh.proto": strings.ReplaceAll(gateSvc, "acme.svc.v1", "acme.fresh.v1")})
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "fresh")...).want(t, 0, "", `notice: module "fresh" has a policy but no versions`)
	natsrpc(t, append(s, "push", dir, "--module", "fresh")...).want(t, 0, "fresh@1", "")
	natsrpc(t, append(s, "breaking", dir, "--against-registry", "fresh")...).want(t, 0, "", "")
}
