package input

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descfuzz"
)

// Fuzz targets for everything the input loader parses: input references,
// images in their three encodings (with buf's image markers), buf.yaml and
// buf.work.yaml files and the sources they lay out. Seeds live in
// testdata/fuzz/<target>/.
//
//	go test ./cmd/natsrpc/internal/input -run '^$' -fuzz '^FuzzDecodeImage$'

// formatRef writes ref back as a reference string.
func formatRef(ref Ref) string {
	opts := []string{"format=" + string(ref.Format)}
	for _, kv := range [][2]string{{"branch", ref.Branch}, {"tag", ref.Tag}, {"ref", ref.GitRef}, {"subdir", ref.Subdir}} {
		if kv[1] != "" {
			opts = append(opts, kv[0]+"="+kv[1])
		}
	}
	return ref.Path + "#" + strings.Join(opts, ",")
}

// FuzzParseRef checks that whatever ParseRef accepts is consistent (one
// known format, git options only for git inputs, a subdir inside the
// repository) and survives being written back and parsed again.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"proto", "a/b.proto", "image.binpb", "x#format=binpb", ".git#branch=main,subdir=proto", "repo.git#tag=v1.0.0",
		".git#commit=abc123,depth=1", "x#format=git,ref=refs/pull/1/head,subdir=./a/../b", ".git#subdir=../x", ".git#subdir=/abs",
		"#branch=main", "x#", "a#b#c", "x#format=bogus", ".git#branch=a,branch=b", ".git#branch=a,tag=b", "x#branch=main",
		"  spaced.git # branch = main , subdir = p ", "x#=", "x#k", ".git#subdir=.", "x#format=bin", "\x00#format=dir",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseRef(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseRef(%q): empty error", s)
			}
			return
		}
		if ref.Raw != s || ref.Path == "" || ref.Path != strings.TrimSpace(ref.Path) {
			t.Fatalf("ParseRef(%q) = %+v", s, ref)
		}
		switch ref.Format {
		case FormatDir, FormatProtoFile, FormatBinpb, FormatJSON, FormatTxtpb, FormatGit:
		default:
			t.Fatalf("ParseRef(%q): format %q", s, ref.Format)
		}
		n := 0
		for _, v := range []string{ref.Branch, ref.Tag, ref.GitRef} {
			if v != "" {
				n++
			}
		}
		if n > 1 || (ref.Format != FormatGit && (n > 0 || ref.Subdir != "")) {
			t.Fatalf("ParseRef(%q) = %+v: git options out of place", s, ref)
		}
		if sub := ref.Subdir; sub != "" && (path.Clean(sub) != sub || sub == "." || sub == ".." || strings.HasPrefix(sub, "../") || strings.HasPrefix(sub, "/")) {
			t.Fatalf("ParseRef(%q): subdir %q is not a clean relative path", s, sub)
		}
		back := formatRef(ref)
		again, err := ParseRef(back)
		if err != nil {
			t.Fatalf("ParseRef(%q) = %+v, written back as %q: %v", s, ref, back, err)
		}
		again.Raw = ref.Raw
		if again != ref {
			t.Fatalf("ParseRef(%q) = %+v; written back as %q it parses as %+v", s, ref, back, again)
		}
	})
}

// imageOf encodes files as a binary buf image: imports carry the buf
// image extension with is_import set.
func imageOf(tb testing.TB, files []*File) []byte {
	tb.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range files {
		fd := proto.CloneOf(f.Proto)
		if f.Import {
			ext := protowire.AppendTag(nil, 1, protowire.VarintType)
			ext = protowire.AppendVarint(ext, 1)
			raw := protowire.AppendTag(nil, bufExtensionField, protowire.BytesType)
			raw = protowire.AppendBytes(raw, ext)
			fd.ProtoReflect().SetUnknown(append(fd.ProtoReflect().GetUnknown(), raw...))
		}
		set.File = append(set.File, fd)
	}
	b, err := proto.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkImage checks what DecodeImage promises of the files it returns.
func checkImage(t *testing.T, files []*File) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("no files and no error")
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	for i, f := range files {
		if f.Proto == nil || f.Path == "" || f.Path != f.Proto.GetName() || seen[f.Path] || !utf8.ValidString(f.Path) {
			t.Fatalf("file %d: %q (seen: %v)", i, f.Path, seen[f.Path])
		}
		seen[f.Path] = true
		if i > 0 {
			prev := files[i-1]
			if prev.Import && !f.Import || prev.Import == f.Import && prev.Path >= f.Path {
				t.Fatalf("files out of order: %q (import %v) before %q (import %v)", prev.Path, prev.Import, f.Path, f.Import)
			}
		}
		for b := f.Proto.ProtoReflect().GetUnknown(); len(b) > 0; {
			num, _, n := protowire.ConsumeField(b)
			if n < 0 {
				break
			}
			if num == bufExtensionField {
				t.Fatalf("%s keeps buf's image extension", f.Path)
			}
			b = b[n:]
		}
		set.File = append(set.File, f.Proto)
	}
	if _, err := protodesc.NewFiles(set); err != nil {
		t.Fatalf("decoded files do not link: %v", err)
	}
}

var imageFormats = []Format{FormatBinpb, FormatJSON, FormatTxtpb, "bogus"}

// FuzzDecodeImage feeds arbitrary bytes to the image decoder in each
// format: it must fail with an error or return linked, unique, sorted
// files without buf's marker, which survive being written as an image and
// read again.
func FuzzDecodeImage(f *testing.F) {
	f.Add([]byte{}, byte(0))
	f.Add([]byte("{}"), byte(1))
	f.Add([]byte(`{"file":[{"name":"a.proto","package":"a","bufExtension":{"isImport":false}}]}`), byte(1))
	f.Add([]byte(`file: {name: "a.proto" package: "a" buf_extension: {is_import: true}}`), byte(2))
	f.Add([]byte{0x0a, 0x09, 0x0a, 0x07, 'a', '.', 'p', 'r', 'o', 't', 'o'}, byte(0))
	marked := func(ext []byte) []byte {
		fd := protowire.AppendTag(nil, 1, protowire.BytesType)
		fd = protowire.AppendString(fd, "a.proto")
		fd = protowire.AppendTag(fd, bufExtensionField, protowire.BytesType)
		fd = protowire.AppendBytes(fd, ext)
		set := protowire.AppendTag(nil, 1, protowire.BytesType)
		return protowire.AppendBytes(set, fd)
	}
	f.Add(marked([]byte{0x08, 0x01}), byte(0))       // is_import: true
	f.Add(marked([]byte{0x08, 0x80}), byte(0))       // truncated is_import
	f.Add(marked([]byte{0x12, 0x05, 0x0a}), byte(0)) // module_info: length beyond the end
	f.Fuzz(func(t *testing.T, data []byte, format byte) {
		fmtName := imageFormats[int(format)%len(imageFormats)]
		files, err := DecodeImage(data, fmtName)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkImage(t, files)
		again, err := DecodeImage(imageOf(t, files), FormatBinpb)
		if err != nil {
			t.Fatalf("decoded files written as an image do not decode: %v", err)
		}
		if !slices.EqualFunc(files, again, func(a, b *File) bool {
			return a.Path == b.Path && a.Import == b.Import && proto.Equal(a.Proto, b.Proto)
		}) {
			t.Fatalf("files changed after a round trip:\n%v\n%v", paths(files), paths(again))
		}
	})
}

// FuzzDecodeImageMutated writes structurally mutated copies of a valid
// schema (a descfuzz program: broken references, duplicate or renamed
// files, buf markers, garbage unknown fields) as a binary image and
// decodes them.
func FuzzDecodeImageMutated(f *testing.F) {
	for _, seed := range [][]byte{{}, {38, 0, 0, 38, 1, 3}, {11, 0, 0}, {35, 2, 60}, {25, 1, 0}, {37, 0, 5}, {14, 3, 2}} {
		f.Add(seed)
	}
	base, err := descfuzz.Base()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		set := proto.CloneOf(base)
		descfuzz.Mutate(set, program)
		data, err := proto.Marshal(set)
		if err != nil {
			return
		}
		files, err := DecodeImage(data, FormatBinpb)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkImage(t, files)
	})
}

// The workspace target lays out these sources; the fuzzer writes the
// configuration files and one source.
var fuzzWorkspaceSources = map[string]string{
	"proto/b/v1/b.proto": "syntax = \"proto3\";\npackage b.v1;\nmessage B { string s = 1; }\n",
	"other/c/v1/c.proto": "syntax = \"proto3\";\npackage c.v1;\nimport \"a/v1/a.proto\";\nmessage C { a.v1.A a = 1; }\n",
	"x.proto":            "syntax = \"proto3\";\npackage x;\nmessage X {}\n",
}

var fuzzInputDirs = []string{".", "proto", "other", "proto/a", "missing"}

// FuzzLoadWorkspace loads a tree with fuzzed buf.yaml (at the root and in
// proto/), buf.work.yaml and one fuzzed .proto source, from one of several
// input directories: any configuration and source must load or fail with
// an error (a *CompileError naming positions for sources); what loads has
// modules with unique, sorted, linked files.
func FuzzLoadWorkspace(f *testing.F) {
	src := "syntax = \"proto3\";\npackage a.v1;\nimport \"b/v1/b.proto\";\nmessage A { b.v1.B b = 1; }\n"
	f.Add("", "", "", src, byte(0))
	f.Add("version: v2\nmodules:\n  - path: proto\n  - path: other\n", "", "", src, byte(1))
	f.Add("", "version: v1\ndirectories:\n  - proto\n  - other\n", "version: v1\n", src, byte(2|4|8))
	f.Add("", "", "version: v1beta1\nbuild:\n  roots: [.]\n  excludes: [b]\n", src, byte(4|8))
	f.Add("version: v2\nmodules:\n  - path: proto\n    excludes: [proto/b]\n    includes: [proto/a]\n", "", "", src, byte(1|24))
	f.Add("version: v2\nmodules:\n  - path: ../x\n", "", "", src, byte(1))
	f.Add("version: [", "", "", src, byte(1))
	f.Add("", "", "", "syntax = \"proto3\";\npackage a.v1;\nmessage A { int32 x = 1; int32 y = 1; }\n", byte(8))
	f.Add("", "", "", "syntax = \"proto4\"", byte(8|32))
	f.Fuzz(func(t *testing.T, bufYAML, workYAML, subYAML, source string, layout byte) {
		files := map[string][]byte{"proto/a/v1/a.proto": []byte(source)}
		for p, s := range fuzzWorkspaceSources {
			files[p] = []byte(s)
		}
		if layout&1 != 0 {
			files["buf.yaml"] = []byte(bufYAML)
		}
		if layout&2 != 0 {
			files["buf.work.yaml"] = []byte(workYAML)
		}
		if layout&4 != 0 {
			files["proto/buf.yaml"] = []byte(subYAML)
		}
		inputDir := fuzzInputDirs[int(layout>>3)%len(fuzzInputDirs)]
		ref := Ref{Raw: "fuzz", Path: inputDir, Format: FormatDir}
		l := &loader{
			tree: newMapTree(files),
			ref:  ref,
			opts: Options{WorkDir: "/"},
			display: func(wsRoot string, isWorkspace bool) string {
				if isWorkspace {
					return wsRoot
				}
				return inputDir
			},
			configName: "fuzz",
		}
		if layout&0x40 != 0 && inputDir == "proto" {
			l.onlyFile = "a/v1/a.proto"
		}
		in, err := l.load(context.Background(), inputDir)
		if err != nil {
			var ce *CompileError
			if errors.As(err, &ce) {
				if len(ce.Errors) == 0 {
					t.Fatal("a compile error without errors")
				}
				for _, fe := range ce.Errors {
					if fe.Path == "" || fe.ExternalPath == "" || fe.Message == "" || fe.StartLine < 0 || fe.StartColumn < 0 {
						t.Fatalf("incomplete compile error %+v", fe)
					}
				}
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(in.Modules) == 0 {
			t.Fatal("no modules and no error")
		}
		if c := in.Config; c != nil && c.Version != "v1beta1" && c.Version != "v1" && c.Version != "v2" {
			t.Fatalf("config version %q", c.Version)
		}
		for _, m := range in.Modules {
			if len(m.TargetFiles()) == 0 {
				t.Fatalf("module %q has no targets", m.Dir)
			}
			for _, f := range m.Files {
				if f.Descriptor == nil || f.Descriptor.Path() != f.Path {
					t.Fatalf("module %q: file %q without its descriptor", m.Dir, f.Path)
				}
			}
			checkImage(t, m.Files)
		}
	})
}
