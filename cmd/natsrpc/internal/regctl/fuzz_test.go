package regctl

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/internal/descfuzz"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// Fuzz targets for what the CLI's registry commands parse (MODULE[@VERSION]
// references, --use and --direction values) and for the describe printer
// and the image writer on hostile descriptors. Seeds live in
// testdata/fuzz/<target>/.
//
//	go test ./cmd/natsrpc/internal/regctl -run '^$' -fuzz '^FuzzDescribe$'

// FuzzParseModuleRef checks that what ParseModuleRef accepts names a valid
// module and survives being written back and parsed again.
func FuzzParseModuleRef(f *testing.F) {
	for _, s := range []string{"gaming", "gaming@3", "gaming@latest", "gaming@0", "gaming@", "@3", "gaming@3@4", "gaming@+3", "gaming@03",
		"gaming@18446744073709551615", "gaming@18446744073709551616", "Gaming", "gaming@-1", "gaming@ 3", "gaming@LATEST"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseModuleRef(s)
		if err != nil {
			if !strings.Contains(err.Error(), "module name") && !strings.Contains(err.Error(), "version") {
				t.Fatalf("ParseModuleRef(%q) = %v; want an error that names the problem", s, err)
			}
			return
		}
		if store.ValidateModuleName(ref.Module) != nil || !strings.HasPrefix(s, ref.Module) {
			t.Fatalf("ParseModuleRef(%q) = %+v", s, ref)
		}
		again, err := ParseModuleRef(ref.String())
		if err != nil || again != ref {
			t.Fatalf("ParseModuleRef(%q) = %+v, written as %q parses as %+v, %v", s, ref, ref.String(), again, err)
		}
	})
}

// FuzzPolicyFlags checks the --use and --direction values of `natsrpc
// policy`: categories come out trimmed and without commas, and the
// directions the CLI accepts are the registry's.
func FuzzPolicyFlags(f *testing.F) {
	f.Add("FILE,NATSRPC", "full", false)
	f.Add(" wire_json , ,WIRE", "Backward", true)
	f.Add("", "", false)
	f.Add(",,,", "sideways", false)
	f.Fuzz(func(t *testing.T, use, direction string, transitive bool) {
		cats := parseCategories(strings.Split(use, "\n"))
		for _, c := range cats {
			if c == "" || c != strings.TrimSpace(c) || strings.Contains(c, ",") {
				t.Fatalf("parseCategories(%q) = %q", use, cats)
			}
		}
		p := store.Policy{Categories: cats, Transitive: transitive}
		if d, err := store.ParseDirection(direction); err == nil {
			p.Direction = d
		} else if !strings.Contains(err.Error(), "backward, forward or full") {
			t.Fatalf("ParseDirection(%q) = %v", direction, err)
		}
		n, err := p.Normalize()
		if err != nil {
			return
		}
		out := FormatPolicy("m", &registryv1.Policy{Categories: n.Categories, Direction: registryv1.Direction(n.Direction), Transitive: n.Transitive}, false)
		if !strings.HasPrefix(out, "module m:\n") {
			t.Fatalf("FormatPolicy = %q", out)
		}
	})
}

// allDescriptors lists every descriptor of files: files' messages,
// fields, oneofs, enums, values, extensions, services and methods.
func allDescriptors(files *protoregistry.Files) []protoreflect.Descriptor {
	var out []protoreflect.Descriptor
	var message func(m protoreflect.MessageDescriptor)
	enum := func(e protoreflect.EnumDescriptor) {
		out = append(out, e)
		for i := 0; i < e.Values().Len(); i++ {
			out = append(out, e.Values().Get(i))
		}
	}
	message = func(m protoreflect.MessageDescriptor) {
		out = append(out, m)
		for i := 0; i < m.Fields().Len(); i++ {
			out = append(out, m.Fields().Get(i))
		}
		for i := 0; i < m.Oneofs().Len(); i++ {
			out = append(out, m.Oneofs().Get(i))
		}
		for i := 0; i < m.Extensions().Len(); i++ {
			out = append(out, m.Extensions().Get(i))
		}
		for i := 0; i < m.Enums().Len(); i++ {
			enum(m.Enums().Get(i))
		}
		for i := 0; i < m.Messages().Len(); i++ {
			message(m.Messages().Get(i))
		}
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Messages().Len(); i++ {
			message(fd.Messages().Get(i))
		}
		for i := 0; i < fd.Enums().Len(); i++ {
			enum(fd.Enums().Get(i))
		}
		for i := 0; i < fd.Extensions().Len(); i++ {
			out = append(out, fd.Extensions().Get(i))
		}
		for i := 0; i < fd.Services().Len(); i++ {
			s := fd.Services().Get(i)
			out = append(out, s)
			for j := 0; j < s.Methods().Len(); j++ {
				out = append(out, s.Methods().Get(j))
			}
		}
		return true
	})
	return out
}

// FuzzDescribe prints every element and package of mutated schemas (as a
// registry could return them: odd names, options, malformed custom option
// bytes, scrambled comments and source info) in .proto syntax: it must
// never panic, and print one header line's worth of text per element.
func FuzzDescribe(f *testing.F) {
	for _, seed := range [][]byte{{}, {29, 0, 1, 30, 1, 2}, {32, 2, 7, 32, 1, 0x81}, {18, 20, 0x38, 18, 21, 0x3d}, {17, 5, 1, 17, 6, 2}, {20, 3, 4, 21, 3, 9}, {16, 2, 8}} {
		f.Add(seed)
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		files, err := protodesc.NewFiles(set)
		if err != nil {
			return // Describe refuses sets that do not link
		}
		for _, d := range allDescriptors(files) {
			p := &printer{types: dynamicpb.NewTypes(files)}
			p.linef("%s is %s:", d.FullName(), article(kindName(d)))
			p.descriptor(d)
			if !strings.Contains(p.b.String(), "\n") {
				t.Fatalf("%s printed as %q", d.FullName(), p.b.String())
			}
		}
		pkgs := map[protoreflect.FullName]bool{}
		files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			pkgs[fd.Package()] = true
			return true
		})
		for pkg := range pkgs {
			p := &printer{types: dynamicpb.NewTypes(files)}
			p.pkg(files, pkg)
		}
	})
}

// FuzzMarshalImage writes mutated module versions as buf images, as
// `natsrpc get` does: the set given is never modified, and when the image
// decodes, exactly the files that are not the module's own are imports.
func FuzzMarshalImage(f *testing.F) {
	for _, seed := range [][]byte{{}, {38, 0, 1}, {38, 3, 0}, {37, 1, 4}, {35, 1, 60}} {
		f.Add(seed, byte(1))
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte, ownSel byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		var own []string
		for i, p := range descfuzz.Targets {
			if ownSel&(1<<i) != 0 {
				own = append(own, p)
			}
		}
		before, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
		if err != nil {
			return
		}
		// What the registry returns was decoded from the wire: no
		// malformed unknown fields.
		set.Reset()
		if err := proto.Unmarshal(before, set); err != nil {
			return
		}
		if before, err = (proto.MarshalOptions{Deterministic: true}).Marshal(set); err != nil {
			t.Fatal(err)
		}
		data, err := MarshalImage(set, own)
		if err != nil {
			return
		}
		after, _ := proto.MarshalOptions{Deterministic: true}.Marshal(set)
		if !bytes.Equal(before, after) {
			t.Fatal("MarshalImage modified the set")
		}
		files, err := input.DecodeImage(data, input.FormatBinpb)
		if err != nil {
			return
		}
		isOwn := map[string]bool{}
		for _, p := range own {
			isOwn[p] = true
		}
		for _, fl := range files {
			// A file that carried its own marker keeps it: an image's
			// marker says import when any says so.
			if !fl.Import && !isOwn[fl.Path] {
				t.Fatalf("%s is not an import, nor one of the module's files %q", fl.Path, own)
			}
			if !utf8.ValidString(fl.Path) {
				t.Fatalf("file %q", fl.Path)
			}
		}
	})
}
