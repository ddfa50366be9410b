package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/natsrpc/natsrpc"
)

// VersionText is what `natsrpc --version` prints: the CLI's version, the
// versions of the runtime and of protoc-gen-natsrpc it was built with (the
// plugin takes its version from the runtime's Version constant, so
// generated code and runtime never drift apart) and how it was built.
func VersionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "natsrpc %s\n", natsrpc.Version)
	fmt.Fprintf(&b, "  runtime:            github.com/natsrpc/natsrpc %s\n", natsrpc.Version)
	fmt.Fprintf(&b, "  protoc-gen-natsrpc: %s\n", natsrpc.Version)
	build := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			build += ", module version " + v
		}
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			build += ", commit " + rev[:min(12, len(rev))]
			if modified == "true" {
				build += " (with uncommitted changes)"
			}
		}
	}
	fmt.Fprintf(&b, "  built with:         %s\n", build)
	return b.String()
}
