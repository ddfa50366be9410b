package descset_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
	"github.com/natsrpc/natsrpc/internal/descset"
)

// FuzzCanonicalOptions feeds arbitrary bytes as the unknown fields (custom
// options) of a file's options, as a client may send them: canonicalization
// sorts them by field number, keeps every byte, and is idempotent; what it
// refuses it refuses with an *Error that says why.
//
//	go test ./internal/descset -run '^$' -fuzz '^FuzzCanonicalOptions$'
func FuzzCanonicalOptions(f *testing.F) {
	f.Add([]byte{0x10, 0x01, 0x08, 0x02})
	f.Add([]byte{0x80})
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c})
	f.Add([]byte{0xe2, 0xa6, 0x2a, 0x03, 0x0a, 0x01, 'a', 0x08, 0x01})
	f.Fuzz(func(t *testing.T, raw []byte) {
		fd := &descriptorpb.FileDescriptorProto{Name: proto.String("a.proto"), Package: proto.String("a"), Options: &descriptorpb.FileOptions{}}
		fd.Options.ProtoReflect().SetUnknown(raw)
		_, _, err := descset.Canonicalize(fd)
		if err != nil {
			var de *descset.Error
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("refused with %T %v; want a *descset.Error with a message", err, err)
			}
			return
		}
		sorted := fd.Options.ProtoReflect().GetUnknown()
		if len(sorted) != len(raw) {
			t.Fatalf("canonicalization changed %d bytes into %d", len(raw), len(sorted))
		}
		nums := descset.UnknownNumbers(sorted)
		var order []int
		for u := []byte(sorted); len(u) > 0; {
			num, _, n := protowire.ConsumeField(u)
			order = append(order, int(num))
			u = u[n:]
		}
		if !slices.IsSorted(order) || len(nums) > len(order) {
			t.Fatalf("fields not sorted: %v", order)
		}
		before := slices.Clone(sorted)
		if _, _, err := descset.Canonicalize(fd); err != nil || !bytes.Equal(fd.Options.ProtoReflect().GetUnknown(), before) {
			t.Fatalf("canonicalization is not idempotent: %v", err)
		}
	})
}

// FuzzPrune trims a mutated schema, canonicalized and linked as the
// registry loads a stored version, to symbols, as GetModuleVersion does
// for a request's symbols: unknown symbols are an *UnknownSymbolError, and
// every trimmed set links, holds each file once, and defines its symbols.
//
//	go test ./internal/descset -run '^$' -fuzz '^FuzzPrune$'
func FuzzPrune(f *testing.F) {
	f.Add([]byte{}, "fuzz.svc.v1.Quest")
	f.Add([]byte{}, "fuzz.common.v1")
	f.Add([]byte{}, "fuzz.svc.v1.Req,fuzz.legacy.v1.tag,fuzz.common.v1.Money.Nested.Kind")
	f.Add([]byte{}, ".fuzz.svc.v1.Quest.Get,fuzz.common.v1.Color.COLOR_RED,fuzz.common.v1.label")
	f.Add([]byte{}, "google.protobuf.Empty,natsrpc.v1.method")
	f.Add([]byte{2, 0, 0, 9, 1, 0}, "fuzz.svc.v1.Admin,nope")
	f.Add([]byte{14, 2, 3}, "fuzz.svc.v1.Res")
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte, symbols string) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		// Round-trip through the wire, as a stored version is read, so
		// that custom options are unknown fields.
		data, err := descset.Marshal(set)
		if err != nil {
			return
		}
		if set, err = descset.Unmarshal(data); err != nil {
			return
		}
		byPath := map[string]*descriptorpb.FileDescriptorProto{}
		for _, fd := range set.GetFile() {
			if _, _, err := descset.Canonicalize(fd); err != nil {
				return
			}
			byPath[fd.GetName()] = fd
		}
		if len(byPath) != len(set.GetFile()) {
			return
		}
		set = &descriptorpb.FileDescriptorSet{File: descset.Sort(byPath)}
		linked, err := protodesc.NewFiles(set)
		if err != nil {
			return
		}
		before, err := descset.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		syms := strings.Split(symbols, ",")
		out, err := descset.Prune(set, linked, syms)
		if after, _ := descset.Marshal(set); !bytes.Equal(before, after) {
			t.Fatalf("Prune modified its input")
		}
		if err != nil {
			var u *descset.UnknownSymbolError
			if !errors.As(err, &u) || err.Error() == "" {
				t.Fatalf("Prune(%q) = %v; want an *UnknownSymbolError", syms, err)
			}
			return
		}
		files, err := protodesc.NewFiles(out)
		if err != nil {
			t.Fatalf("pruned set does not link: %v", err)
		}
		seen := map[string]bool{}
		for _, fd := range out.GetFile() {
			if seen[fd.GetName()] || byPath[fd.GetName()] == nil {
				t.Fatalf("pruned set has %q twice or from nowhere", fd.GetName())
			}
			seen[fd.GetName()] = true
		}
		for _, s := range syms {
			s = strings.TrimPrefix(s, ".")
			if _, err := files.FindDescriptorByName(protoreflect.FullName(s)); err == nil {
				continue
			}
			if files.NumFilesByPackage(protoreflect.FullName(s)) == 0 {
				t.Fatalf("pruned set lacks %q", s)
			}
		}
	})
}
