package layout

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRuntimeStaysLean checks that the runtime, which every service
// imports, pulls in none of the contrib packages' dependencies (nor
// nats-server or buf): only protobuf, nats.go and the standard library.
func TestRuntimeStaysLean(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-e", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/natsrpc/natsrpc").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/natsrpc/natsrpc",
		"google.golang.org/protobuf",
		"github.com/nats-io/nats.go",
		// nats.go's own dependencies.
		"github.com/nats-io/nkeys",
		"github.com/nats-io/nuid",
		"github.com/klauspost/compress",
		"golang.org/x/crypto",
		"golang.org/x/sys",
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/natsrpc/natsrpc/contrib") || !allowedPackage(pkg, allowed) {
			t.Errorf("the runtime imports %s", pkg)
		}
	}
}

func allowedPackage(pkg string, allowed []string) bool {
	for _, a := range allowed {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}
