package layout

import (
	"slices"
	"strings"
	"testing"
)

// leanModules are the modules the lean module may depend on: itself,
// protobuf-go, nats.go and nats.go's own requirements.
var leanModules = []string{
	root,
	"google.golang.org/protobuf",
	"github.com/nats-io/nats.go",
	"github.com/nats-io/nkeys",
	"github.com/nats-io/nuid",
	"github.com/klauspost/compress",
	"golang.org/x/crypto",
	"golang.org/x/sys",
}

// serviceRoots are the packages a service imports; the generated code is
// every package under proto/.
var serviceRoots = []string{root, root + "/registry/client", root + "/registry/lookup"}

// TestLayering checks what may import what across the modules, from `go
// list -deps -test` of every module of go.work, each alone as its users
// build it:
//   - nothing outside cmd/natsrpc imports the CLI's packages;
//   - the registry library (registry/server, registry/breaking) does not
//     import the CLI's input loader;
//   - the lean module's packages import none of the tooling modules (and
//     nothing beyond nats.go and protobuf-go), and neither do the tests of
//     the packages a service imports (a service's go mod tidy loads them);
//   - the runtime does not import registry packages;
//   - contrib modules do not import each other.
func TestLayering(t *testing.T) {
	repo := repoRoot(t)
	cli := root + "/cmd/natsrpc"
	loader := cli + "/internal/input"
	checked := 0
	for _, dir := range workspaceModules(t, repo) {
		mod := modulePath(repo, dir)
		pkgs := listPackages(t, repo, dir)
		// The packages a service imports, and what they import, in the
		// lean module.
		service := map[string]bool{}
		if mod == root {
			for path, p := range pkgs {
				if p.ForTest != "" || p.module() != root || p.DepOnly {
					continue
				}
				if slices.Contains(serviceRoots, path) || strings.HasPrefix(path, root+"/proto/") {
					service[path] = true
					for _, d := range p.Deps {
						if q := pkgs[d]; q != nil && q.module() == root {
							service[d] = true
						}
					}
				}
			}
			if !service[root] || !service[root+"/registry/lookup"] || !service[root+"/internal/spec"] {
				t.Fatalf("the service's packages %v lack the runtime, lookup or internal/spec: the test proves nothing", service)
			}
		}
		for path, p := range pkgs {
			if p.module() != mod || p.Standard {
				continue
			}
			checked++
			under := p.ForTest
			if under == "" {
				under = path
			}
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, cli+"/") || imp == cli {
					if mod != cli {
						t.Errorf("%s (module %s) imports %s: only cmd/natsrpc may import the CLI's packages", path, mod, imp)
					}
				}
				if imp == loader && (strings.HasPrefix(mod, root+"/registry/")) {
					t.Errorf("%s imports the CLI's input loader %s: the registry library takes images and configurations", path, imp)
				}
				if q := pkgs[imp]; q != nil && strings.HasPrefix(mod, root+"/contrib/") && strings.HasPrefix(q.module(), root+"/contrib/") && q.module() != mod {
					t.Errorf("%s (module %s) imports %s (module %s): contrib modules do not import each other", path, mod, imp, q.module())
				}
			}
			if mod != root {
				continue
			}
			// The lean module: its packages, and the tests of the
			// service's packages, depend on lean modules only.
			isTest := strings.HasSuffix(path, ".test") || p.ForTest != ""
			if isTest && !service[under] {
				continue // a test of a package no service imports: go_test.mod
			}
			for _, d := range p.Deps {
				q := pkgs[d]
				if q == nil || q.Standard {
					continue
				}
				if !slices.Contains(leanModules, q.module()) {
					what := "a package of the lean module"
					if isTest {
						what = "a test of a package services import (their go mod tidy loads it)"
					}
					t.Errorf("%s, %s, depends on %s of module %s: the lean module needs nats.go and protobuf-go only; move it to a tooling module, or the test to a test-only package (as internal/runtimetest)", path, what, d, q.module())
					break
				}
			}
			if path == root {
				for _, d := range p.Deps {
					if strings.HasPrefix(d, root+"/registry/") {
						t.Errorf("the runtime imports %s: the runtime does not depend on the registry", d)
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked %d packages; go list found too few for the test to mean anything", checked)
	}
	t.Logf("checked the imports of %d packages", checked)
}
