package input

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// writeTree writes files (slash paths relative to dir) and returns dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func paths(files []*File) []string {
	var out []string
	for _, f := range files {
		s := f.Path + " -> " + f.ExternalPath
		if f.Import {
			s += " (import)"
		}
		out = append(out, s)
	}
	return out
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Ref
		wantErr string
	}{
		{in: "proto", want: Ref{Path: "proto", Format: FormatDir}},
		{in: "a/b.proto", want: Ref{Path: "a/b.proto", Format: FormatProtoFile}},
		{in: "image.binpb", want: Ref{Path: "image.binpb", Format: FormatBinpb}},
		{in: "image.bin", want: Ref{Path: "image.bin", Format: FormatBinpb}},
		{in: "image.json", want: Ref{Path: "image.json", Format: FormatJSON}},
		{in: "image.txtpb", want: Ref{Path: "image.txtpb", Format: FormatTxtpb}},
		{in: "x#format=binpb", want: Ref{Path: "x", Format: FormatBinpb}},
		{in: ".git#branch=main,subdir=proto", want: Ref{Path: ".git", Format: FormatGit, Branch: "main", Subdir: "proto"}},
		{in: "repo.git#tag=v1.0.0", want: Ref{Path: "repo.git", Format: FormatGit, Tag: "v1.0.0"}},
		{in: "repo#format=git,commit=abc,depth=1", want: Ref{Path: "repo", Format: FormatGit, Tag: "abc"}},
		{in: "", wantErr: "input is empty"},
		{in: "#branch=main", wantErr: "starts with"},
		{in: "x#", wantErr: "ends with"},
		{in: "x#a#b", wantErr: "more than one"},
		{in: "x#branch", wantErr: "key=value"},
		{in: ".git#branch=a,branch=b", wantErr: "given twice"},
		{in: ".git#branch=a,tag=b", wantErr: "only one of"},
		{in: "x#format=zip", wantErr: "unknown format"},
		{in: "dir#branch=main", wantErr: "apply to git inputs only"},
		{in: ".git#subdir=../x", wantErr: "inside the repository"},
		{in: ".git#subdir=a /", wantErr: "ends with white space"}, // found by FuzzParseRef
		{in: "x#color=red", wantErr: "unknown option"},
	}
	for _, test := range tests {
		got, err := ParseRef(test.in)
		if test.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Errorf("ParseRef(%q) error = %v, want %q", test.in, err, test.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRef(%q): %v", test.in, err)
			continue
		}
		test.want.Raw = test.in
		if got != test.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", test.in, got, test.want)
		}
	}
}

const (
	aProto = "syntax = \"proto3\";\npackage a.v1;\nimport \"google/protobuf/timestamp.proto\";\nmessage A { google.protobuf.Timestamp at = 1; }\n"
	bProto = "syntax = \"proto3\";\npackage b.v1;\nimport \"a/v1/a.proto\";\nmessage B { a.v1.A a = 1; }\n"
)

func TestLoadDirectoryWithoutConfig(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": aProto, "b/v1/b.proto": bProto, "README.md": "x"})
	in, err := Load(context.Background(), ".", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if in.Config != nil || len(in.Modules) != 1 {
		t.Fatalf("config %v, %d modules", in.Config, len(in.Modules))
	}
	got := paths(in.Modules[0].Files)
	want := []string{"a/v1/a.proto -> a/v1/a.proto", "b/v1/b.proto -> b/v1/b.proto", "google/protobuf/timestamp.proto -> google/protobuf/timestamp.proto (import)"}
	if !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if len(in.Modules[0].Files[0].Proto.GetSourceCodeInfo().GetLocation()) == 0 {
		t.Error("no source code info")
	}
	if n := len(in.Modules[0].TargetFiles()); n != 2 {
		t.Errorf("%d target files", n)
	}
	// Relative and absolute inputs give relative and absolute paths.
	abs, err := Load(context.Background(), filepath.Join(dir, "a"), Options{WorkDir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := abs.Modules[0].Files[0].ExternalPath; got != filepath.ToSlash(filepath.Join(dir, "a", "v1", "a.proto")) {
		t.Errorf("absolute external path = %q", got)
	}
	rel, err := Load(context.Background(), "./a/", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := rel.Modules[0].Files[0].ExternalPath; got != "a/v1/a.proto" {
		t.Errorf("relative external path = %q", got)
	}
}

func TestLoadV2Workspace(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"buf.yaml":            "version: v2\nmodules:\n  - path: mods/a\n  - path: mods/b\n    excludes: [mods/b/skip]\nbreaking:\n  use: [WIRE]\n",
		"mods/a/a/v1/a.proto": aProto,
		"mods/b/b/v1/b.proto": bProto,
		"mods/b/skip/x.proto": "this does not compile",
	})
	in, err := Load(context.Background(), ".", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if in.Config == nil || in.Config.Version != "v2" || len(in.Modules) != 2 {
		t.Fatalf("config %+v, %d modules", in.Config, len(in.Modules))
	}
	if got, want := paths(in.Modules[1].Files), []string{
		"b/v1/b.proto -> mods/b/b/v1/b.proto",
		"a/v1/a.proto -> mods/a/a/v1/a.proto (import)",
		"google/protobuf/timestamp.proto -> google/protobuf/timestamp.proto (import)",
	}; !slices.Equal(got, want) {
		t.Errorf("module b files = %v, want %v", got, want)
	}
	if in.Modules[1].Dir != "mods/b" || in.Modules[1].Config != in.Config {
		t.Errorf("module b = %+v", in.Modules[1])
	}
	merged := paths(in.Files())
	if !slices.Contains(merged, "a/v1/a.proto -> mods/a/a/v1/a.proto") {
		t.Errorf("merged files mark a.proto as an import: %v", merged)
	}
	if n := len(in.FileDescriptorSet().File); n != 3 {
		t.Errorf("%d files in the merged set", n)
	}
	// A module as the input: only it is a target; the workspace still
	// provides imports.
	one, err := Load(context.Background(), "mods/b", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Modules) != 1 || one.Modules[0].Dir != "mods/b" {
		t.Fatalf("modules = %+v", one.Modules)
	}
	// Inside a module: refused like buf does.
	if _, err := Load(context.Background(), "mods/b/b", Options{WorkDir: dir}); err == nil || !strings.Contains(err.Error(), "is inside module") {
		t.Errorf("input inside a module: %v", err)
	}
	// A single file inside a module is fine.
	pf, err := Load(context.Background(), "mods/b/b/v1/b.proto", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pf.Modules[0].TargetFiles()); got != 1 {
		t.Errorf("protofile targets = %d", got)
	}
	// --path and --exclude-path, as buf targets modules: a path inside a
	// module narrows it and leaves out the modules no path is inside; a
	// path naming a module is refused; an exclude that only contains
	// modules does nothing.
	narrowed, err := Load(context.Background(), ".", Options{WorkDir: dir, Paths: []string{"mods/b/b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(narrowed.Modules) != 1 || narrowed.Modules[0].Dir != "mods/b" {
		t.Errorf("--path mods/b/b: %d modules", len(narrowed.Modules))
	}
	if _, err := Load(context.Background(), ".", Options{WorkDir: dir, Paths: []string{"mods/b"}}); err == nil || !strings.Contains(err.Error(), `names module "mods/b"`) {
		t.Errorf("--path naming a module: %v", err)
	}
	if _, err := Load(context.Background(), ".", Options{WorkDir: dir, Paths: []string{"mods"}}); err == nil || !strings.Contains(err.Error(), "no .proto files matching") {
		t.Errorf("--path containing the modules: %v", err)
	}
	if all, err := Load(context.Background(), ".", Options{WorkDir: dir, ExcludePaths: []string{"mods"}}); err != nil || len(all.Modules) != 2 {
		t.Errorf("--exclude-path containing the modules: %v", err)
	}
	if _, err := Load(context.Background(), ".", Options{WorkDir: dir, ExcludePaths: []string{"mods/a/a", "mods/b/b"}}); err == nil || !strings.Contains(err.Error(), "no .proto files matching") {
		t.Errorf("excluding everything: %v", err)
	}
}

func TestLoadV1Layouts(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"beta/buf.yaml":         "version: v1beta1\nbuild:\n  roots: [src]\n  excludes: [src/gen]\n",
		"beta/src/a/v1/a.proto": aProto,
		"beta/src/gen/x.proto":  "broken",
		"work/buf.work.yaml":    "version: v1\ndirectories: [one, two]\n",
		"work/one/buf.yaml":     "version: v1\nbreaking:\n  use: [WIRE]\n",
		"work/one/a/v1/a.proto": aProto,
		"work/two/b/v1/b.proto": bProto,
		"bad/buf.yaml":          "version: v1\nbuild:\n  roots: [x]\n",
		"noversion/buf.yaml":    "breaking:\n  use: [FILE]\n",
		"noversion/x.proto":     "syntax = \"proto3\";\n",
		"both/buf.yaml":         "version: v1\n",
		"both/buf.work.yaml":    "version: v1\ndirectories: [x]\n",
	})
	beta, err := Load(context.Background(), "beta", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(beta.Modules[0].TargetFiles()); !slices.Equal(got, []string{"a/v1/a.proto -> beta/src/a/v1/a.proto"}) {
		t.Errorf("v1beta1 roots: %v", got)
	}
	if beta.Config == nil || beta.Config.Version != "v1beta1" {
		t.Errorf("config = %+v", beta.Config)
	}
	work, err := Load(context.Background(), "work", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(work.Modules) != 2 || work.Modules[0].Config == nil || work.Modules[1].Config != nil {
		t.Fatalf("buf.work.yaml modules = %+v", work.Modules)
	}
	if got := paths(work.Modules[1].Files); !slices.Contains(got, "a/v1/a.proto -> work/one/a/v1/a.proto (import)") {
		t.Errorf("cross-module import: %v", got)
	}
	for _, bad := range []struct{ input, want string }{
		{"bad", "build.roots cannot be set on version v1: [x]"},
		{"noversion", `"version" is not set. Please add "version: v2"`},
		{"both", "has both a buf.work.yaml and a buf.yaml"},
		{"nothere", "does not exist"},
		{"work/one/buf.yaml", "is a file"},
	} {
		if _, err := Load(context.Background(), bad.input, Options{WorkDir: dir}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Load(%q) = %v, want %q", bad.input, err, bad.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"syntax/x.proto":   "syntax = \"proto3\";\nmessage M { int32 a = 1 }\n",
		"missing/x.proto":  "syntax = \"proto3\";\nimport \"nowhere.proto\";\n",
		"cycle/a.proto":    "syntax = \"proto3\";\nimport \"b.proto\";\n",
		"cycle/b.proto":    "syntax = \"proto3\";\nimport \"a.proto\";\n",
		"dup/a.proto":      "syntax = \"proto3\";\nmessage M {}\n",
		"dup/b.proto":      "syntax = \"proto3\";\nmessage M {}\n",
		"empty/README.txt": "no protos",
	})
	for _, test := range []struct{ input, want string }{
		{"syntax", "syntax error"},
		{"missing", `could not resolve path "nowhere.proto"`},
		{"cycle", "cycle found in imports"},
		{"dup", "already defined"},
	} {
		_, err := Load(context.Background(), test.input, Options{WorkDir: dir})
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("Load(%q) = %v, want a CompileError", test.input, err)
			continue
		}
		e := ce.Errors[0]
		if !strings.Contains(e.Message, test.want) || e.StartLine == 0 || e.EndColumn <= e.StartColumn && e.EndLine == e.StartLine || !strings.HasPrefix(e.ExternalPath, test.input+"/") {
			t.Errorf("Load(%q): first error %+v, want %q with a position", test.input, e, test.want)
		}
		if !strings.Contains(ce.Error(), test.want) {
			t.Errorf("Error() = %q", ce.Error())
		}
	}
	if _, err := Load(context.Background(), "empty", Options{WorkDir: dir}); err == nil || !strings.Contains(err.Error(), "has no .proto files") {
		t.Errorf("empty input: %v", err)
	}
}

func compiledSet(t *testing.T) (*descriptorpb.FileDescriptorSet, string) {
	t.Helper()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": aProto, "b/v1/b.proto": bProto})
	in, err := Load(context.Background(), ".", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return in.FileDescriptorSet(), dir
}

func TestLoadImages(t *testing.T) {
	t.Parallel()
	set, dir := compiledSet(t)
	// A buf image marks imports with field 8042 (buf_extension.is_import).
	image := proto.Clone(set).(*descriptorpb.FileDescriptorSet)
	for _, f := range image.File {
		if strings.HasPrefix(f.GetName(), "google/") {
			ext := protowire.AppendTag(nil, 1, protowire.VarintType)
			ext = protowire.AppendVarint(ext, 1)
			u := protowire.AppendTag(nil, bufExtensionField, protowire.BytesType)
			u = protowire.AppendBytes(u, ext)
			f.ProtoReflect().SetUnknown(u)
		}
	}
	bin, err := proto.Marshal(image)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := newImageMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(bin, msg); err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"bufExtension"`) {
		t.Fatalf("JSON image has no bufExtension: %.200s", js)
	}
	txt, err := prototext.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"image.binpb": bin, "image.json": js, "image.txtpb": txt, "garbage.binpb": []byte("\xff\xff"), "empty.binpb": nil} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"image.binpb", "image.json", "image.txtpb"} {
		in, err := Load(context.Background(), name, Options{WorkDir: dir})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := paths(in.Modules[0].Files)
		want := []string{"a/v1/a.proto -> a/v1/a.proto", "b/v1/b.proto -> b/v1/b.proto", "google/protobuf/timestamp.proto -> google/protobuf/timestamp.proto (import)"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: files %v, want %v", name, got, want)
		}
		if len(in.Modules[0].Files[0].Proto.ProtoReflect().GetUnknown()) != 0 {
			t.Errorf("%s: buf_extension left in the descriptor", name)
		}
	}
	// A plain FileDescriptorSet has no imports marked.
	plain, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	files, err := DecodeImage(plain, FormatBinpb)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Import {
			t.Errorf("%s marked as import", f.Path)
		}
	}
	broken := proto.Clone(set).(*descriptorpb.FileDescriptorSet)
	broken.File = broken.File[1:] // drop a dependency
	brokenData, _ := proto.Marshal(broken)
	dup := proto.Clone(set).(*descriptorpb.FileDescriptorSet)
	dup.File = append(dup.File, dup.File[0])
	dupData, _ := proto.Marshal(dup)
	// Found by the registry's FuzzMarshalImage: descriptor.proto is proto2,
	// so a name that is no UTF-8 decodes without complaint.
	notText := proto.Clone(set).(*descriptorpb.FileDescriptorSet)
	imported := map[string]bool{}
	for _, f := range notText.File {
		for _, d := range f.GetDependency() {
			imported[d] = true
		}
	}
	for _, f := range notText.File {
		if !imported[f.GetName()] { // renaming it leaves the set linkable
			f.Name = proto.String("\xff\xfe")
			break
		}
	}
	notTextData, _ := proto.Marshal(notText)
	for _, bad := range []struct {
		data []byte
		want string
	}{
		{[]byte("\xff\xff"), "not a binary FileDescriptorSet"},
		{nil, "holds no files"},
		{brokenData, "do not link"},
		{dupData, "appears twice"},
		{notTextData, `has a name that is not valid UTF-8 ("\xff\xfe")`},
	} {
		if _, err := DecodeImage(bad.data, FormatBinpb); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("DecodeImage: %v, want %q", err, bad.want)
		}
	}
	if _, err := DecodeImage([]byte("{"), FormatJSON); err == nil {
		t.Error("bad JSON: no error")
	}
	if _, err := Load(context.Background(), "nothere.binpb", Options{WorkDir: dir}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing image: %v", err)
	}
}

func TestLoadGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := writeTree(t, map[string]string{
		"buf.yaml":           "version: v2\nmodules:\n  - path: proto\n",
		"proto/a/v1/a.proto": aProto,
		"proto/b/v1/b.proto": bProto,
		"docs/other.proto":   "not compiled: outside the module",
	})
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "one")
	git("tag", "v1")
	git("checkout", "-q", "-b", "feature")
	if err := os.Remove(filepath.Join(dir, "proto", "b", "v1", "b.proto")); err != nil {
		t.Fatal(err)
	}
	git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-am", "two")
	for _, test := range []struct {
		ref   string
		files []string
	}{
		{".git#branch=main,subdir=proto", []string{"a/v1/a.proto -> proto/a/v1/a.proto", "b/v1/b.proto -> proto/b/v1/b.proto"}},
		{".git#tag=v1", []string{"a/v1/a.proto -> proto/a/v1/a.proto", "b/v1/b.proto -> proto/b/v1/b.proto"}},
		{".git", []string{"a/v1/a.proto -> proto/a/v1/a.proto"}},
		{".git#branch=feature,subdir=proto", []string{"a/v1/a.proto -> proto/a/v1/a.proto"}},
		{".#format=git,ref=HEAD~1", []string{"a/v1/a.proto -> proto/a/v1/a.proto", "b/v1/b.proto -> proto/b/v1/b.proto"}},
	} {
		in, err := Load(context.Background(), test.ref, Options{WorkDir: dir})
		if err != nil {
			t.Errorf("%s: %v", test.ref, err)
			continue
		}
		if got := paths(in.Modules[0].TargetFiles()); !slices.Equal(got, test.files) {
			t.Errorf("%s: files %v, want %v", test.ref, got, test.files)
		}
		if in.Config == nil || in.Config.Version != "v2" {
			t.Errorf("%s: config %+v", test.ref, in.Config)
		}
	}
	// In a linked worktree .git is a "gitdir:" file, which git (and buf)
	// take for the directory.
	git("worktree", "add", "-q", filepath.Join(dir, "wt"), "main")
	if in, err := Load(context.Background(), "wt/.git#branch=feature,subdir=proto", Options{WorkDir: dir}); err != nil {
		t.Errorf("worktree: %v", err)
	} else if got := paths(in.Modules[0].TargetFiles()); !slices.Equal(got, []string{"a/v1/a.proto -> proto/a/v1/a.proto"}) {
		t.Errorf("worktree: files %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain.git"), []byte("not a gitdir file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ ref, want string }{
		{"plain.git#branch=main", "is not a directory"},
		{".git#branch=nope", `"nope" is not a branch, tag or commit`},
		{".git#branch=main,subdir=missing", "subdir"},
		{"nothere/.git#branch=main", "does not exist"},
		{"proto/a/.git#branch=main", "does not exist"},
	} {
		if _, err := Load(context.Background(), bad.ref, Options{WorkDir: dir}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Load(%q) = %v, want %q", bad.ref, err, bad.want)
		}
	}
	notRepo := t.TempDir()
	if err := os.Mkdir(filepath.Join(notRepo, "x.git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), "x.git", Options{WorkDir: notRepo}); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("not a repository: %v", err)
	}
}
