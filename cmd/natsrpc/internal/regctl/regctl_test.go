package regctl

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

func TestParseModuleRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    ModuleRef
		wantErr string
	}{
		{"gaming", ModuleRef{Module: "gaming"}, ""},
		{"gaming@3", ModuleRef{Module: "gaming", Version: 3}, ""},
		{"gaming@latest", ModuleRef{Module: "gaming"}, ""},
		{"gaming@0", ModuleRef{}, "not a number from 1"},
		{"gaming@x", ModuleRef{}, "not a number from 1"},
		{"Gaming", ModuleRef{}, "module name"},
		{"", ModuleRef{}, "module name is empty"},
	} {
		got, err := ParseModuleRef(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseModuleRef(%q) error = %v; want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseModuleRef(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != strings.TrimSuffix(tc.in, "@latest") {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

const printerSrc = `syntax = "proto2";

package acme.print.v1;

import "natsrpc/v1/options.proto";

// Shape is drawn.
message Shape {
  option deprecated = true;

  // name names it.
  required string name = 1 [default = "square"];
  optional int32 sides = 2 [default = 4, json_name = "edgeCount"];
  repeated double angles = 3 [packed = true];
  map<string, Shape> children = 4;
  oneof fill {
    // color is a color.
    string color = 5;
    Pattern pattern = 6;
  }

  // Pattern is a pattern.
  message Pattern {
    optional bytes data = 1;
  }

  // Kind is a kind.
  enum Kind {
    KIND_UNSPECIFIED = 0;
    KIND_ROUND = 1 [deprecated = true];
    reserved 5 to 9;
    reserved "KIND_OLD";
  }

  extensions 100 to max;
  reserved 20, 30 to 40;
  reserved "old";
}

extend Shape {
  // label labels it.
  optional string label = 100;
}

// Painter paints.
service Painter {
  option (natsrpc.v1.service) = {version: "2.0.0"};

  // Paint paints one.
  rpc Paint(Shape) returns (Shape) {
    option idempotency_level = IDEMPOTENT;
  }
  // Watch streams.
  rpc Watch(stream Shape) returns (stream Shape);
}
`

func describeLocal(t *testing.T, name string) string {
	t.Helper()
	set := testschema.Compile(t, map[string]string{"acme/print/v1/print.proto": printerSrc}, "acme/print/v1/print.proto")
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	p := &printer{types: dynamicpb.NewTypes(files)}
	p.descriptor(d)
	return p.b.String()
}

func TestPrinter(t *testing.T) {
	t.Parallel()
	got := describeLocal(t, "acme.print.v1.Shape")
	for _, want := range []string{
		"// Shape is drawn.\nmessage Shape {\n  option deprecated = true;\n",
		"  // name names it.\n  required string name = 1 [default = \"square\"];\n",
		"  optional int32 sides = 2 [default = 4, json_name = \"edgeCount\"];\n",
		"  repeated double angles = 3 [packed = true];\n",
		"  map<string, .acme.print.v1.Shape> children = 4;\n",
		"  oneof fill {\n    // color is a color.\n    string color = 5;\n    .acme.print.v1.Shape.Pattern pattern = 6;\n  }\n",
		"  // Pattern is a pattern.\n  message Pattern {\n    optional bytes data = 1;\n  }\n",
		"    KIND_ROUND = 1 [deprecated = true];\n    reserved 5 to 9;\n    reserved \"KIND_OLD\";\n",
		"  extensions 100 to max;\n  reserved 20, 30 to 40;\n  reserved \"old\";\n}\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("message output lacks\n%s\ngot:\n%s", want, got)
		}
	}
	if got := describeLocal(t, "acme.print.v1.Painter"); !strings.Contains(got, "rpc Paint ( .acme.print.v1.Shape ) returns ( .acme.print.v1.Shape ) {\n    option idempotency_level = IDEMPOTENT;\n  }\n") ||
		!strings.Contains(got, "rpc Watch ( stream .acme.print.v1.Shape ) returns ( stream .acme.print.v1.Shape );") ||
		!strings.Contains(got, "option (natsrpc.v1.service) = {") {
		t.Errorf("service output:\n%s", got)
	}
	if got := describeLocal(t, "acme.print.v1.label"); got != "// label labels it.\nextend .acme.print.v1.Shape {\n  optional string label = 100;\n}\n" {
		t.Errorf("extension output:\n%s", got)
	}
	if got := describeLocal(t, "acme.print.v1.Shape.KIND_ROUND"); got != "KIND_ROUND = 1 [deprecated = true];\n" {
		t.Errorf("enum value output:\n%s", got)
	}
}

// TestMarshalImage: imports carry buf's is_import marker, own files none,
// and input reads the image back the same way.
func TestMarshalImage(t *testing.T) {
	t.Parallel()
	set := testschema.Compile(t, map[string]string{"acme/print/v1/print.proto": printerSrc}, "acme/print/v1/print.proto")
	data, err := MarshalImage(set, []string{"acme/print/v1/print.proto"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := input.DecodeImage(data, input.FormatBinpb)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if want := f.Path != "acme/print/v1/print.proto"; f.Import != want {
			t.Errorf("%s: import = %v; want %v", f.Path, f.Import, want)
		}
	}
	if len(set.GetFile()[0].ProtoReflect().GetUnknown()) != 0 {
		t.Error("MarshalImage modified its input")
	}
}
