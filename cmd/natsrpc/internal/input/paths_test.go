package input

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// imageFiles returns files as an image holds them: name, imports, and
// whether the file is an import of the image.
func imageFiles(specs ...string) []*File {
	var out []*File
	for _, s := range specs {
		name, rest, _ := strings.Cut(s, ":")
		imp := strings.HasSuffix(name, "!")
		name = strings.TrimSuffix(name, "!")
		fd := &descriptorpb.FileDescriptorProto{Name: proto.String(name)}
		if rest != "" {
			fd.Dependency = strings.Split(rest, ",")
		}
		out = append(out, &File{Path: name, ExternalPath: name, Import: imp, Proto: fd})
	}
	return out
}

func describeFiles(files []*File) []string {
	var out []string
	for _, f := range files {
		s := f.Path
		if f.Import {
			s += " (import)"
		}
		out = append(out, s)
	}
	return out
}

// TestFilterImageFiles pins buf's image narrowing (bufimage's
// ImageWithOnlyPathsAllowNotExist, which buf breaking applies to image
// inputs on both sides); TestPathsMatchBuf in the breaking command
// compares the same cases with the real buf.
func TestFilterImageFiles(t *testing.T) {
	t.Parallel()
	files := imageFiles(
		"a/a.proto:c/c.proto",
		"a/sub/s.proto",
		"b/b.proto:google/protobuf/timestamp.proto",
		"c/c.proto",
		"google/protobuf/timestamp.proto!",
	)
	cases := []struct {
		paths, excludes []string
		want            []string // nil: an error
		err             string
	}{
		{paths: []string{"a"}, want: []string{"a/a.proto", "a/sub/s.proto", "c/c.proto (import)"}},
		{paths: []string{"./a/"}, want: []string{"a/a.proto", "a/sub/s.proto", "c/c.proto (import)"}},
		{paths: []string{"b/b.proto"}, want: []string{"b/b.proto", "google/protobuf/timestamp.proto (import)"}},
		// A file path selects the file even when the image imports it.
		{paths: []string{"google/protobuf/timestamp.proto"}, want: []string{"google/protobuf/timestamp.proto"}},
		// Directories match imports too.
		{paths: []string{"google"}, want: []string{"google/protobuf/timestamp.proto"}},
		{excludes: []string{"a", "b"}, want: []string{"c/c.proto"}},
		// Only excludes: imports are never targets.
		{excludes: []string{"google"}, want: []string{"a/a.proto", "a/sub/s.proto", "b/b.proto", "c/c.proto", "google/protobuf/timestamp.proto (import)"}},
		{paths: []string{"a"}, excludes: []string{"a/sub"}, want: []string{"a/a.proto", "c/c.proto (import)"}},
		// An exclude outside the --path directory does not apply.
		{paths: []string{"a/sub"}, excludes: []string{"a"}, want: []string{"a/sub/s.proto"}},
		{paths: []string{"a/a.proto"}, excludes: []string{"a"}, want: []string{"a/a.proto", "c/c.proto (import)"}},
		{paths: []string{"a", "nothere"}, want: []string{"a/a.proto", "a/sub/s.proto", "c/c.proto (import)"}},
		{paths: []string{"nothere"}, err: "without files"},
		{excludes: []string{"a", "b", "c"}, err: "without files"},
		{paths: []string{"a"}, excludes: []string{"a"}, err: "both --path and --exclude-path"},
		{paths: []string{"."}, err: `"." is not valid`},
		{paths: []string{"/a"}, err: "must be a relative path"},
		{paths: []string{"../a"}, err: "climbs out"},
		{excludes: []string{"../a"}, err: "climbs out"},
		{paths: []string{"a", "a/"}, err: "given twice"},
	}
	for _, c := range cases {
		got, err := filterImageFiles(files, c.paths, c.excludes)
		name := strings.Join(append(append([]string{}, c.paths...), append([]string{"-"}, c.excludes...)...), " ")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one containing %q", name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := describeFiles(got); !slices.Equal(d, c.want) {
			t.Errorf("%s: %v, want %v", name, d, c.want)
		}
	}
}

// TestSelectAgainst narrows files from elsewhere (a registry version) with
// the paths of a directory input: a file is selected when it would have
// been a target of the input, deleted files included.
func TestSelectAgainst(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"proto/buf.yaml":        "version: v2\n",
		"proto/a/v1/a.proto":    aProto,
		"proto/b/v1/b.proto":    bProto,
		"proto/keep/k.proto":    "syntax = \"proto3\";\npackage k;\n",
		"proto/keep/in/i.proto": "syntax = \"proto3\";\npackage k.in;\n",
	})
	against := imageFiles(
		"a/v1/a.proto:google/protobuf/timestamp.proto",
		"b/v1/b.proto:a/v1/a.proto",
		"gone/g.proto",
		"keep/k.proto",
		"keep/in/i.proto",
		"google/protobuf/timestamp.proto!",
	)
	cases := []struct {
		wd              string
		paths, excludes []string
		want            []string
		err             string
	}{
		{wd: "proto", want: describeFiles(against)},
		{wd: "proto", paths: []string{"b"}, want: []string{"b/v1/b.proto", "a/v1/a.proto (import)", "google/protobuf/timestamp.proto (import)"}},
		{wd: ".", paths: []string{"proto/b"}, want: []string{"b/v1/b.proto", "a/v1/a.proto (import)", "google/protobuf/timestamp.proto (import)"}},
		{wd: "proto", paths: []string{"a", "gone"}, want: []string{"a/v1/a.proto", "gone/g.proto", "google/protobuf/timestamp.proto (import)"}},
		{wd: "proto", excludes: []string{"a", "b", "keep/in"}, want: []string{"gone/g.proto", "keep/k.proto"}},
		{wd: "proto", paths: []string{"keep"}, excludes: []string{"keep/in"}, want: []string{"keep/k.proto"}},
	}
	for _, c := range cases {
		ref := "proto"
		if c.wd == "proto" {
			ref = "."
		}
		in, err := Load(context.Background(), ref, Options{WorkDir: filepath.Join(dir, c.wd), Paths: c.paths, ExcludePaths: c.excludes})
		if err != nil {
			t.Fatalf("%v %v: %v", c.paths, c.excludes, err)
		}
		got, err := in.SelectAgainst(against)
		if err != nil {
			t.Errorf("%v %v: %v", c.paths, c.excludes, err)
			continue
		}
		if d := describeFiles(got); !slices.Equal(d, c.want) {
			t.Errorf("%v %v: %v, want %v", c.paths, c.excludes, d, c.want)
		}
	}

	// A --path that selects nothing of the against side is refused, as for
	// any against input.
	in, err := Load(context.Background(), ".", Options{WorkDir: filepath.Join(dir, "proto"), Paths: []string{"keep"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.SelectAgainst(imageFiles("a/v1/a.proto")); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Errorf("nothing selected: %v", err)
	}

	// An image input narrows with import paths, as buf narrows images.
	img := filepath.Join(dir, "img.binpb")
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{Name: proto.String("keep/k.proto"), Syntax: proto.String("proto3"), Package: proto.String("k")}}}
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	imgIn, err := Load(context.Background(), img, Options{Paths: []string{"keep"}, ExcludePaths: []string{"keep/in"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := imgIn.SelectAgainst(against)
	if err != nil {
		t.Fatal(err)
	}
	if d := describeFiles(got); !slices.Equal(d, []string{"keep/k.proto"}) {
		t.Errorf("image input: %v", d)
	}
}
