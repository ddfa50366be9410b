package layout

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// consumerImports are what a service imports from natsrpc at run time:
// the runtime, generated code (the studio's quest system), the registry's
// API client and the runtime descriptor lookup.
var consumerImports = []string{
	root,
	root + "/proto/gaming/quest_system/v1/questsystemv1natsrpc",
	root + "/registry/client",
	root + "/registry/lookup",
}

// referenceImports are nats.go (with JetStream and micro, which the
// runtime uses) and protobuf-go: a service's module graph may hold what
// importing these alone brings, and nothing else.
var referenceImports = []string{
	"github.com/nats-io/nats.go",
	"github.com/nats-io/nats.go/jetstream",
	"github.com/nats-io/nats.go/micro",
	"google.golang.org/protobuf/proto",
}

// TestConsumerGraph builds, in a temporary directory, a module that
// imports what a service imports from natsrpc (with a replace directive to
// this checkout), runs go mod tidy and go list -m all, and requires its
// module graph to be exactly that of a module importing nats.go and
// protobuf-go alone (at the versions go.mod requires), plus natsrpc
// itself. Any other module (nats-server, OpenTelemetry, Prometheus,
// gobreaker, cobra, pflag, protocompile, yaml, buf, gRPC, connect, or one
// of natsrpc's own tooling or test modules) fails it. go mod tidy also
// loads the tests of the packages the service imports, so a test of the
// runtime that needs nats-server fails it too.
func TestConsumerGraph(t *testing.T) {
	repo := repoRoot(t)
	versions := map[string]string{}
	for _, line := range strings.Split(string(goCmd(t, repo, nil, "list", "-m", "-f", "{{.Path}} {{.Version}}", "github.com/nats-io/nats.go", "google.golang.org/protobuf")), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			versions[path] = version
		}
	}
	ref := graph(t, "example.com/reference", referenceImports,
		"require (\n\tgithub.com/nats-io/nats.go "+versions["github.com/nats-io/nats.go"]+"\n\tgoogle.golang.org/protobuf "+versions["google.golang.org/protobuf"]+"\n)\n")
	got := graph(t, "example.com/service", consumerImports,
		"require "+root+" v0.0.0-00010101000000-000000000000\n\nreplace "+root+" => "+repo+"\n")

	want := append(slices.Clone(ref), root)
	var extra []string
	for _, m := range got {
		if !slices.Contains(want, m) {
			extra = append(extra, m)
		}
	}
	if len(extra) > 0 {
		t.Errorf("a service importing %s has %d modules in its graph that nats.go and protobuf-go do not bring:\n\t%s\nits graph: %v\nnats.go and protobuf-go alone: %v\n(a lean package, or a test of one, imports a heavy module: see README, \"Modules\")",
			strings.Join(consumerImports, ", "), len(extra), strings.Join(extra, "\n\t"), got, ref)
	}
	if !slices.Contains(got, root) || !slices.Contains(got, "github.com/nats-io/nats.go") {
		t.Errorf("the service's graph %v lacks natsrpc or nats.go: the test proves nothing", got)
	}
	t.Logf("a service's module graph: %d modules besides its own: %v", len(got), got)
}

// graph writes a module that imports imports, tidies it and returns the
// paths of `go list -m all` but its own.
func graph(t *testing.T, module string, imports []string, requires string) []string {
	t.Helper()
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, imp := range imports {
		src.WriteString("\t_ \"" + imp + "\"\n")
	}
	src.WriteString(")\n\nfunc main() {}\n")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.26.0\n\n"+requires), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd(t, dir, []string{"GOFLAGS=-mod=mod"}, "mod", "tidy")
	var mods []string
	for _, m := range strings.Fields(string(goCmd(t, dir, nil, "list", "-m", "-f", "{{.Path}}", "all"))) {
		if m != module {
			mods = append(mods, m)
		}
	}
	return mods
}
