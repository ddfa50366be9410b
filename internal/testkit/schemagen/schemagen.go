// Package schemagen generates random protobuf schemas and mutates them:
// a small schema model, a printer to .proto text, a generator and a
// mutator. The breaking checker's soundness test decodes random messages
// across WIRE-compatible (previous, current) pairs; the CLI's differential
// tests run buf and natsrpc on generated pairs. It is test support: it
// lives in the test-support module, with protocompile.
package schemagen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// File is a generated .proto file.
type File = gFile

// New returns a generator drawing from r. prefix makes the package names
// of its schemas unique; seq numbers the pairs of a run, so that some
// mutations spread their choices evenly instead of leaving them to chance.
func New(r *rand.Rand, prefix string, seq int) *Gen {
	return &Gen{r: r, prefix: prefix, seq: seq}
}

// Prefix returns the generator's prefix.
func (g *Gen) Prefix() string { return g.prefix }

// ForceOption makes the next file-option mutation change the file option
// name (one of [FileOptionNames]), so that every FILE_SAME_* rule is
// exercised.
func (g *Gen) ForceOption(name string) { g.forceOption = name }

// Schema generates a schema.
func (g *Gen) Schema() []*File { return g.schema() }

// Mutate applies up to n random mutations to a copy of files and returns
// it with the names of the mutations applied.
func (g *Gen) Mutate(files []*File, n int) ([]*File, []string) { return g.mutate(files, n) }

// Render prints files as .proto sources by path.
func Render(files []*File) map[string]string { return render(files) }

// FileOptionNames lists the file options the mutator changes.
func FileOptionNames() []string {
	names := make([]string, len(fileOptionChoices))
	for i, c := range fileOptionChoices {
		names[i] = c.name
	}
	return names
}

// Dump prints sources by path, for failure messages.
func Dump(files map[string]string) string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "--- %s\n%s", n, files[n])
	}
	return b.String()
}

// Compile compiles sources by path with protocompile, with source info,
// and returns the files in path order.
func Compile(srcs map[string]string) ([]protoreflect.FileDescriptor, error) {
	var names []string
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(p string) (io.ReadCloser, error) {
				s, ok := srcs[p]
				if !ok {
					return nil, os.ErrNotExist
				}
				return io.NopCloser(strings.NewReader(s)), nil
			},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		return nil, err
	}
	out := make([]protoreflect.FileDescriptor, len(files))
	for i, f := range files {
		out[i] = f
	}
	return out, nil
}
