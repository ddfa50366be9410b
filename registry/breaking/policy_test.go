package breaking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/testkit/schemagen"
)

func compileImage(t *testing.T, src string) Image {
	t.Helper()
	files, err := schemagen.Compile(map[string]string{"m.proto": src})
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	return ImageFromDescriptors([]protoreflect.FileDescriptor(files))
}

func policyRules(t *testing.T, vs []PolicyViolation) []string {
	t.Helper()
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s@%d %s", v.Direction, v.Against, v.RuleID))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestPolicyDirections(t *testing.T) {
	t.Parallel()
	const v1 = `syntax = "proto3";
package game.v1;
message Item {
  string id = 1;
  string name = 2;
  int32 count = 3;
}
`
	tests := []struct {
		name      string
		cur       string
		policy    Policy
		wantRules []string
	}{
		{"add field is fine backward", strings.Replace(v1, "int32 count = 3;", "int32 count = 3;\n  string note = 4;", 1), Policy{Categories: []string{"WIRE"}}, nil},
		{"add field is fine forward", strings.Replace(v1, "int32 count = 3;", "int32 count = 3;\n  string note = 4;", 1), Policy{Categories: []string{"WIRE"}, Direction: DirectionForward}, nil},
		{"add field is fine full", strings.Replace(v1, "int32 count = 3;", "int32 count = 3;\n  string note = 4;", 1), Policy{Categories: []string{"WIRE_JSON"}, Direction: DirectionFull}, nil},
		{"delete field breaks backward", strings.Replace(v1, "  string name = 2;\n", "", 1), Policy{Categories: []string{"WIRE"}}, []string{"backward@0 FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"}},
		{"delete field is fine forward", strings.Replace(v1, "  string name = 2;\n", "", 1), Policy{Categories: []string{"WIRE"}, Direction: DirectionForward}, nil},
		{"string to bytes is fine backward", strings.Replace(v1, "string name = 2;", "bytes name = 2;", 1), Policy{Categories: []string{"WIRE"}}, nil},
		{"string to bytes breaks forward", strings.Replace(v1, "string name = 2;", "bytes name = 2;", 1), Policy{Categories: []string{"WIRE"}, Direction: DirectionForward}, []string{"forward@0 FIELD_WIRE_COMPATIBLE_TYPE"}},
		{"string to bytes breaks full", strings.Replace(v1, "string name = 2;", "bytes name = 2;", 1), Policy{Categories: []string{"WIRE"}, Direction: DirectionFull}, []string{"forward@0 FIELD_WIRE_COMPATIBLE_TYPE"}},
		{"int32 to int64 is fine under WIRE", strings.Replace(v1, "int32 count", "int64 count", 1), Policy{Categories: []string{"WIRE"}, Direction: DirectionFull}, nil},
		{"int32 to int64 breaks WIRE_JSON", strings.Replace(v1, "int32 count", "int64 count", 1), Policy{Direction: DirectionFull}, []string{"backward@0 FIELD_WIRE_JSON_COMPATIBLE_TYPE", "forward@0 FIELD_WIRE_JSON_COMPATIBLE_TYPE"}},
		{"rename breaks WIRE_JSON both ways", strings.Replace(v1, "string name = 2;", "string title = 2;", 1), Policy{Direction: DirectionFull}, []string{"backward@0 FIELD_SAME_JSON_NAME", "backward@0 FIELD_SAME_NAME", "forward@0 FIELD_SAME_JSON_NAME", "forward@0 FIELD_SAME_NAME"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			vs, err := CheckPolicy(context.Background(), test.policy, []Image{compileImage(t, v1)}, compileImage(t, test.cur))
			if err != nil {
				t.Fatal(err)
			}
			if got := policyRules(t, vs); !slices.Equal(got, test.wantRules) {
				t.Errorf("got %v, want %v", got, test.wantRules)
			}
		})
	}
}

func TestPolicyTransitive(t *testing.T) {
	t.Parallel()
	v1 := compileImage(t, "syntax = \"proto3\";\npackage game.v1;\nmessage Item {\n  string id = 1;\n  string name = 2;\n}\n")
	v2 := compileImage(t, "syntax = \"proto3\";\npackage game.v1;\nmessage Item {\n  reserved 2;\n  string id = 1;\n}\n")
	v3 := compileImage(t, "syntax = \"proto3\";\npackage game.v1;\nmessage Item {\n  string id = 1;\n  int32 name = 2;\n}\n")
	p := Policy{Categories: []string{"WIRE"}}
	vs, err := CheckPolicy(context.Background(), p, []Image{v1, v2}, v3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := policyRules(t, vs), []string{"backward@1 RESERVED_MESSAGE_NO_DELETE"}; !slices.Equal(got, want) {
		t.Errorf("latest only: got %v, want %v", got, want)
	}
	p.Transitive = true
	vs, err = CheckPolicy(context.Background(), p, []Image{v1, v2}, v3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := policyRules(t, vs), []string{"backward@0 FIELD_WIRE_COMPATIBLE_TYPE", "backward@1 RESERVED_MESSAGE_NO_DELETE"}; !slices.Equal(got, want) {
		t.Errorf("transitive: got %v, want %v", got, want)
	}
	if vs, err := CheckPolicy(context.Background(), p, nil, v3); err != nil || len(vs) != 0 {
		t.Errorf("empty history: %v, %v", vs, err)
	}
}

func TestPolicyRules(t *testing.T) {
	t.Parallel()
	rs, err := DefaultPolicy().Rules()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rs.Backward, RuleIDsInCategory(VersionV2, CategoryWireJSON)) {
		t.Errorf("default backward rules = %v", rs.Backward)
	}
	if len(rs.Forward) != 0 || len(rs.NATSRPC) != 4 {
		t.Errorf("default policy: forward %v, natsrpc %v", rs.Forward, rs.NATSRPC)
	}
	full, err := Policy{Direction: DirectionFull}.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range full.Forward {
		if strings.Contains(id, "NO_DELETE") {
			t.Errorf("forward rules include deletion rule %s", id)
		}
	}
	if _, err := (Policy{Categories: []string{"NOPE"}}).Rules(); err == nil {
		t.Error("unknown category: want an error")
	}
	if d, err := ParseDirection("FULL"); err != nil || d != DirectionFull || d.String() != "full" {
		t.Errorf("ParseDirection(FULL) = %v, %v", d, err)
	}
	if _, err := ParseDirection("sideways"); err == nil {
		t.Error("ParseDirection(sideways): want an error")
	}
}
