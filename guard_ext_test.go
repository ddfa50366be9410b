package natsrpc_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStubsBeforeRenameStopAtGuard builds code that protoc-gen-natsrpc
// 0.2.0 generated, before 0.3.0 renamed the stream types, against today's
// runtime. It must not compile, and the compiler's first error must be the
// file's version guard, which 0.3.0 removed on purpose, so that a user with
// old stubs reads "undefined: natsrpc.IsAtLeastVersion0_2_0" first (and the
// comment above it: regenerate), not a type error about a stream type.
func TestStubsBeforeRenameStopAtGuard(t *testing.T) {
	t.Parallel()
	const (
		dir   = "testdata/stubs-0.2.0"
		file  = dir + "/test.natsrpc.go"
		guard = "const _ = natsrpc.IsAtLeastVersion0_2_0"
	)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture must be what it says: a 0.2.0 file that uses the old
	// stream names, or the test proves nothing.
	guardLine := 0
	for i, line := range strings.Split(string(src), "\n") {
		if line == guard {
			guardLine = i + 1
		}
	}
	if guardLine == 0 || !bytes.Contains(src, []byte("*natsrpc.ClientStream[")) || !bytes.Contains(src, []byte("*natsrpc.ServerStream[")) {
		t.Fatalf("%s is not a 0.2.0 stub with streams (%q and the old stream types)", file, guard)
	}

	cmd := exec.Command("go", "build", "./"+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("go build ./%s: %v; want it to fail to compile\n%s", dir, err, out)
	}
	// The output is "# <package>" and then one error per line, sorted by
	// position.
	var first string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			first = line
			break
		}
	}
	col := strings.Index(guard, "IsAtLeast") + 1 // the compiler points at the selector
	want := fmt.Sprintf("%s:%d:%d: undefined: natsrpc.IsAtLeastVersion0_2_0", file, guardLine, col)
	if first != want {
		t.Errorf("first compiler error:\n\t%s\nwant:\n\t%s\nfull output:\n%s", first, want, out)
	}
	// The type errors that follow name the old types: the guard is what
	// spares the user from starting with them.
	if !strings.Contains(string(out), "undefined: natsrpc.ClientStream") {
		t.Errorf("go build output does not mention the old stream types after the guard:\n%s", out)
	}
}
