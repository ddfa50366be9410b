package main

import (
	"strings"
	"testing"
)

// TestParameters runs the simple case with each supported parameter and
// checks where the code goes and what its package clause and imports say.
func TestParameters(t *testing.T) {
	t.Parallel()
	simple := goldenCases[0]
	golden := simple.goldenFiles(t)["quest/v1/questv1natsrpc/quest.natsrpc.go"]
	if golden == "" {
		t.Fatal("missing golden file for the simple case")
	}
	const pbImport = `v1 "` + goldenImportPrefix + `/simple/gen/quest/v1"`
	tests := []struct {
		name  string
		param string
		// wantName is the generated file's name.
		wantName string
		// wantGolden: the content is the committed golden file's.
		wantGolden bool
		// wantContains are lines the content must have otherwise.
		wantContains []string
	}{
		{
			name:       "default is paths=import",
			param:      "",
			wantName:   goldenImportPrefix + "/simple/gen/quest/v1/questv1natsrpc/quest.natsrpc.go",
			wantGolden: true,
		},
		{
			name:       "paths=import",
			param:      "paths=import",
			wantName:   goldenImportPrefix + "/simple/gen/quest/v1/questv1natsrpc/quest.natsrpc.go",
			wantGolden: true,
		},
		{
			name:       "paths=source_relative",
			param:      "paths=source_relative",
			wantName:   "quest/v1/questv1natsrpc/quest.natsrpc.go",
			wantGolden: true,
		},
		{
			name:       "module",
			param:      "module=" + goldenImportPrefix + "/simple",
			wantName:   "gen/quest/v1/questv1natsrpc/quest.natsrpc.go",
			wantGolden: true,
		},
		{
			name:       "package_suffix=natsrpc is the default",
			param:      "paths=source_relative,package_suffix=natsrpc",
			wantName:   "quest/v1/questv1natsrpc/quest.natsrpc.go",
			wantGolden: true,
		},
		{
			name:         "package_suffix=rpc",
			param:        "paths=source_relative,package_suffix=rpc",
			wantName:     "quest/v1/questv1rpc/quest.natsrpc.go",
			wantContains: []string{"package questv1rpc", pbImport},
		},
		{
			name:     "empty package_suffix generates into the .pb.go's package",
			param:    "paths=source_relative,package_suffix",
			wantName: "quest/v1/quest.natsrpc.go",
			wantContains: []string{
				"package questv1",
				"methods := File_quest_v1_quest_proto.Services().ByName(\"QuestService\").Methods()",
				"GetQuest(context.Context, *GetQuestRequest, ...natsrpc.CallOption) (*Quest, error)",
			},
		},
		{
			name:     "package_suffix= (empty value)",
			param:    "package_suffix=,paths=source_relative",
			wantName: "quest/v1/quest.natsrpc.go",
		},
		{
			name:     "M mapping with a package name",
			param:    "Mquest/v1/quest.proto=example.com/mapped/questpb;questapi",
			wantName: "example.com/mapped/questpb/questapinatsrpc/quest.natsrpc.go",
			wantContains: []string{
				"package questapinatsrpc",
				`questpb "example.com/mapped/questpb"`,
				"methods := questpb.File_quest_v1_quest_proto.Services()",
			},
		},
		{
			name:     "M mapping without a package name, with module",
			param:    "Mquest/v1/quest.proto=example.com/mapped/questpb,module=example.com/mapped",
			wantName: "questpb/questv1natsrpc/quest.natsrpc.go",
			wantContains: []string{
				// go_package still names the package questv1.
				"package questv1natsrpc",
				`questpb "example.com/mapped/questpb"`,
			},
		},
		{
			name:     "annotate_code",
			param:    "paths=source_relative,annotate_code",
			wantName: "quest/v1/questv1natsrpc/quest.natsrpc.go",
			// The annotations go to a .meta file; the code is unchanged.
			wantGolden: true,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			req := testRequest(t, simple.dir(), test.param, simple.protoFiles(t)...)
			files := testGenerateOK(t, req)
			content, ok := files[test.wantName]
			if !ok {
				t.Fatalf("generated %v; want %s", keys(files), test.wantName)
			}
			wantFiles := 1
			if strings.Contains(test.param, "annotate_code") {
				wantFiles = 2
				if _, ok := files[test.wantName+".meta"]; !ok {
					t.Errorf("annotate_code: no %s.meta in %v", test.wantName, keys(files))
				}
			}
			if len(files) != wantFiles {
				t.Errorf("generated %v; want %d files", keys(files), wantFiles)
			}
			if test.wantGolden && content != golden {
				t.Errorf("content differs from the golden file:\n%s", firstDiff(content, golden))
			}
			for _, want := range test.wantContains {
				if !strings.Contains(content, want) {
					t.Errorf("content lacks %q:\n%s", want, content)
				}
			}
		})
	}
}

// TestParameterErrors checks that bad parameters come back as errors in
// the response, naming the parameter.
func TestParameterErrors(t *testing.T) {
	t.Parallel()
	simple := goldenCases[0]
	tests := []struct {
		param string
		want  string
	}{
		{
			param: "package_suffix=1x",
			want:  `parameter package_suffix="1x": the suffix must be a Go identifier (letters, digits and "_", not starting with a digit, not a keyword); leave it empty to generate into the .pb.go's package`,
		},
		{
			param: "package_suffix=type",
			want:  `parameter package_suffix="type": the suffix must be a Go identifier (letters, digits and "_", not starting with a digit, not a keyword); leave it empty to generate into the .pb.go's package`,
		},
		{
			param: "paths=source_relative,package_suffix=nats-rpc",
			want:  `parameter package_suffix="nats-rpc": the suffix must be a Go identifier (letters, digits and "_", not starting with a digit, not a keyword); leave it empty to generate into the .pb.go's package`,
		},
		{
			param: "paths=source_relative,suffix=rpc",
			want:  `unknown parameter "suffix": protoc-gen-natsrpc accepts package_suffix=<identifier>, paths=import|source_relative, module=<prefix>, M<file>=<go import path> and annotate_code`,
		},
		{
			param: "plugins=grpc",
			want:  `unknown parameter "plugins": protoc-gen-natsrpc accepts package_suffix=<identifier>, paths=import|source_relative, module=<prefix>, M<file>=<go import path> and annotate_code`,
		},
		{
			param: "paths=relative",
			want:  `unknown path type "relative": want "import" or "source_relative"`,
		},
		{
			param: "paths=source_relative,module=github.com/natsrpc",
			want:  `cannot use module= with paths=source_relative`,
		},
		{
			param: "module=example.com/elsewhere",
			want:  goldenImportPrefix + `/simple/gen/quest/v1/questv1natsrpc/quest.natsrpc.go: generated file does not match prefix "example.com/elsewhere"`,
		},
		{
			// Found by FuzzRun: the code named package "000natsrpc" and did
			// not parse.
			param: "Mquest/v1/quest.proto=example.com/quest/v1;000",
			want:  `quest/v1/quest.proto: the Go package name "000" (from go_package "` + goldenImportPrefix + `/simple/gen/quest/v1;questv1" or an M parameter) is not a Go identifier; give a valid name after the ";" in go_package`,
		},
		{
			param: "annotate_code=maybe",
			want:  `bad value for parameter "annotate_code": want "true" or "false"`,
		},
		{
			param: "Mquest/v1/quest.proto=questpb",
			want: `invalid Go import path "questpb" for "quest/v1/quest.proto"

The import path must contain at least one period ('.') or forward slash ('/') character.

See https://protobuf.dev/reference/go/go-generated#package for more information.
`,
		},
	}
	for _, test := range tests {
		t.Run(test.param, func(t *testing.T) {
			t.Parallel()
			req := testRequest(t, simple.dir(), test.param, simple.protoFiles(t)...)
			resp := testGenerate(t, req)
			if got := resp.GetError(); got != test.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, test.want)
			}
			if len(resp.GetFile()) != 0 {
				t.Errorf("generated %d files with an error; want none", len(resp.GetFile()))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
