package breaking

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestResolveRuleIDs(t *testing.T) {
	t.Parallel()
	fileV1 := RuleIDsInCategory(VersionV1, CategoryFile)
	tests := []struct {
		name    string
		cfg     Config
		want    []string // exact set, when set
		has     []string
		hasNot  []string
		wantErr string
	}{
		{name: "default v1 is FILE", cfg: DefaultConfig(), want: fileV1},
		{name: "default v2 is FILE", cfg: Config{}, want: RuleIDsInCategory(VersionV2, CategoryFile)},
		{name: "deprecated label", cfg: Config{Version: VersionV1, Use: []string{"FIELD_SAME_LABEL"}}, want: []string{"FIELD_SAME_CARDINALITY", "FIELD_WIRE_COMPATIBLE_CARDINALITY", "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY"}},
		{name: "deprecated ctype", cfg: Config{Version: VersionV1, Use: []string{"FIELD_SAME_CTYPE", "FILE_SAME_JAVA_STRING_CHECK_UTF8"}}, want: []string{"FIELD_SAME_CPP_STRING_TYPE", "FIELD_SAME_JAVA_UTF8_VALIDATION"}},
		{name: "deprecated without replacement", cfg: Config{Version: VersionV1, Use: []string{"MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT", "FILE_SAME_PHP_GENERIC_SERVICES"}}, wantErr: "selects no breaking rules"},
		{name: "v2 drops v1 deprecations", cfg: Config{Use: []string{"FIELD_SAME_LABEL"}}, wantErr: `"FIELD_SAME_LABEL" is not a known rule or category ID`},
		{name: "unknown", cfg: Config{Use: []string{"NOPE"}}, wantErr: `"NOPE" is not a known rule or category ID`},
		{name: "except all", cfg: Config{Use: []string{"WIRE"}, Except: []string{"WIRE"}}, wantErr: "selects no breaking rules"},
		{name: "except category", cfg: Config{Use: []string{"FILE"}, Except: []string{"WIRE_JSON"}}, hasNot: []string{"FIELD_SAME_NAME", "FILE_SAME_PACKAGE"}, has: []string{"FILE_SAME_GO_PACKAGE"}},
		{name: "v1beta1 FILE_SAME_PACKAGE is FILE only", cfg: Config{Version: VersionV1Beta1, Use: []string{"PACKAGE"}}, hasNot: []string{"FILE_SAME_PACKAGE"}},
		{name: "csr", cfg: Config{Use: []string{"CSR"}}, has: []string{"FILE_NO_DELETE", "FIELD_WIRE_JSON_COMPATIBLE_TYPE"}, hasNot: []string{"SERVICE_NO_DELETE", "RPC_NO_DELETE"}},
		{name: "natsrpc off", cfg: Config{Use: []string{"WIRE"}}, hasNot: []string{RuleNATSRPCSubjectNoChange}},
		{name: "natsrpc on", cfg: Config{Use: []string{"WIRE"}, NATSRPC: true}, has: []string{RuleNATSRPCSubjectNoChange, RuleNATSRPCSubjectNoDelete, "FIELD_WIRE_COMPATIBLE_TYPE"}},
		{name: "natsrpc except", cfg: Config{Use: []string{"WIRE"}, NATSRPC: true, Except: []string{RuleNATSRPCQueueGroupNoChange}}, hasNot: []string{RuleNATSRPCQueueGroupNoChange}, has: []string{RuleNATSRPCKindNoChange}},
		{name: "bad ignore", cfg: Config{Ignore: []string{"../x"}}, wantErr: "outside the context directory"},
		{name: "dot ignore", cfg: Config{Ignore: []string{"."}}, wantErr: `cannot specify "." as an ignore path`},
		{name: "unknown version", cfg: Config{Version: "v3"}, wantErr: "unknown buf.yaml version"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveRuleIDs(test.cfg)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("error = %v, want %q", err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if test.want != nil && !slices.Equal(got, test.want) {
				t.Errorf("got %v\nwant %v", got, test.want)
			}
			for _, id := range test.has {
				if !slices.Contains(got, id) {
					t.Errorf("missing %s", id)
				}
			}
			for _, id := range test.hasNot {
				if slices.Contains(got, id) {
					t.Errorf("unexpected %s", id)
				}
			}
		})
	}
}

func TestRuleTable(t *testing.T) {
	t.Parallel()
	counts := map[Version]int{}
	for _, v := range []Version{VersionV1Beta1, VersionV1, VersionV2} {
		for _, r := range Rules(v) {
			if !r.Deprecated {
				counts[v]++
			}
			if !r.Deprecated {
				if _, ok := ruleFuncs[r.ID]; !ok {
					t.Errorf("%s (%s) has no implementation", r.ID, v)
				}
			}
		}
	}
	// buf v1.75.0: 65 v2 rules, one deprecated.
	if counts[VersionV2] != 64 {
		t.Errorf("v2 has %d active rules, want 64", counts[VersionV2])
	}
	for _, c := range []struct {
		cat  string
		want int
	}{{CategoryFile, 51}, {CategoryPackage, 51}, {CategoryWireJSON, 22}, {CategoryWire, 15}, {CategoryCSR, 32}} {
		if n := len(RuleIDsInCategory(VersionV2, c.cat)); n != c.want {
			t.Errorf("v2 %s has %d rules, want %d", c.cat, n, c.want)
		}
	}
	if n := len(NATSRPCRules()); n != 4 {
		t.Errorf("%d NATSRPC rules", n)
	}
}

func TestParseBufYAML(t *testing.T) {
	t.Parallel()
	v2 := `version: v2
modules:
  - path: proto
  - path: other
    breaking:
      use: [WIRE]
      ignore: [other/x]
breaking:
  use: [WIRE_JSON]
  ignore: [proto/a, other/b, elsewhere]
  ignore_only:
    FIELD_SAME_NAME: [proto/c/c.proto]
  ignore_unstable_packages: true
lint:
  use: [STANDARD]
  rpc_allow_google_protobuf_empty_responses: true
`
	b, err := ParseBufYAML([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	proto, err := b.ConfigForModule("proto")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(proto.Use, []string{"WIRE_JSON"}) || !slices.Equal(proto.Ignore, []string{"a"}) ||
		!slices.Equal(proto.IgnoreOnly["FIELD_SAME_NAME"], []string{"c/c.proto"}) || !proto.IgnoreUnstablePackages {
		t.Errorf("proto module config = %+v", proto)
	}
	other, err := b.ConfigForModule("other")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(other.Use, []string{"WIRE"}) || !slices.Equal(other.Ignore, []string{"x"}) || other.IgnoreUnstablePackages {
		t.Errorf("other module config = %+v", other)
	}
	disabled, err := ParseBufYAML([]byte("version: v2\nmodules:\n  - path: proto\nbreaking:\n  ignore: [proto]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := disabled.ConfigForModule("proto"); !c.Disabled {
		t.Errorf("ignoring the module directory should disable the check: %+v", c)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"breaking:\n  use: [FILE]\n", `"version" is not set. Please add "version: v2"`},
		{"version: v9\n", `unknown file version: "v9"`},
		{"version: v1\nbreaking:\n  usee: [FILE]\n", "field usee not found"},
		{"version: v2\nmodules:\n  - path: p\n    breaking:\n      ignore: [q/x]\n", "not contained within module directory"},
		{"version: v1\nbreaking: [", "yaml: "},
	} {
		_, err := ParseBufYAML([]byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseBufYAML(%q) = %v, want an error with %q", bad.yaml, err, bad.want)
		}
		if _, ok := errors.AsType[*ConfigError](err); !ok {
			t.Errorf("ParseBufYAML(%q) = %T; want a *ConfigError", bad.yaml, err)
		}
	}
	// Unknown rule IDs are reported when a check is configured, not when
	// the file is read, as buf builds such a module and refuses to check it.
	bogus, err := ParseBufYAML([]byte("version: v2\nbreaking:\n  use: [BOGUS]\n"))
	if err != nil {
		t.Fatalf("ParseBufYAML with an unknown rule: %v; buf reads such a file", err)
	}
	if _, err := bogus.ConfigForModule("."); err == nil || !strings.Contains(err.Error(), "BOGUS") {
		t.Errorf("ConfigForModule with an unknown rule = %v; want an error naming it", err)
	}
	v1, err := ParseBufYAML([]byte(`{"version":"v1","breaking":{"use":["PACKAGE"],"except":["PACKAGE_NO_DELETE"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := v1.ConfigForModule("anything"); c.Version != VersionV1 || !slices.Equal(c.Except, []string{"PACKAGE_NO_DELETE"}) {
		t.Errorf("JSON v1 config = %+v", c)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	w := Warnings(Config{Version: VersionV1, Use: []string{"FIELD_SAME_LABEL"}}, "")
	if len(w) != 1 || !strings.Contains(w[0], "It has been replaced by rules FIELD_SAME_CARDINALITY, FIELD_WIRE_COMPATIBLE_CARDINALITY, FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY.") {
		t.Errorf("warnings = %q", w)
	}
}

// TestHostileDescriptorSets feeds broken descriptor sets to the checker:
// it must return an error, never panic.
func TestHostileDescriptorSets(t *testing.T) {
	t.Parallel()
	good := fuzzBase(t)
	tests := []struct {
		name    string
		mutate  func(*descriptorpb.FileDescriptorSet)
		wantErr string
	}{
		{"missing import", func(s *descriptorpb.FileDescriptorSet) {
			s.File[0].Dependency = append(s.File[0].Dependency, "nowhere.proto")
		}, "nowhere.proto"},
		{"import cycle", func(s *descriptorpb.FileDescriptorSet) {
			s.File[0].Dependency = append(s.File[0].Dependency, s.File[0].GetName())
		}, ""},
		{"duplicate file", func(s *descriptorpb.FileDescriptorSet) {
			s.File = append(s.File, proto.Clone(s.File[0]).(*descriptorpb.FileDescriptorProto))
		}, "appears twice"},
		{"nil file", func(s *descriptorpb.FileDescriptorSet) { s.File = append(s.File, nil) }, "is nil"},
		{"unnamed file", func(s *descriptorpb.FileDescriptorSet) { s.File[0].Name = nil }, "has no name"},
		{"unresolvable type", func(s *descriptorpb.FileDescriptorSet) {
			for _, f := range s.File {
				for _, m := range f.MessageType {
					for _, fl := range m.Field {
						if fl.TypeName != nil {
							fl.TypeName = proto.String(".does.not.Exist")
							return
						}
					}
				}
			}
		}, "Exist"},
		{"bad oneof index", func(s *descriptorpb.FileDescriptorSet) {
			for _, f := range s.File {
				for _, m := range f.MessageType {
					if len(m.Field) > 0 {
						m.Field[0].OneofIndex = proto.Int32(99)
						return
					}
				}
			}
		}, ""},
		{"unknown syntax", func(s *descriptorpb.FileDescriptorSet) { s.File[0].Syntax = proto.String("proto4") }, "proto4"},
		{"bad span", func(s *descriptorpb.FileDescriptorSet) {
			for _, f := range s.File {
				for _, l := range f.GetSourceCodeInfo().GetLocation() {
					l.Span = []int32{1}
				}
			}
		}, ""},
		{"empty", func(s *descriptorpb.FileDescriptorSet) { s.File = nil }, ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			bad := cloneSet(good)
			test.mutate(bad)
			cfg := Config{Use: []string{"FILE", "PACKAGE", "WIRE_JSON", "WIRE"}, NATSRPC: true}
			for _, pair := range [][2]*descriptorpb.FileDescriptorSet{{good, bad}, {bad, good}} {
				_, err := Check(context.Background(), pair[0], pair[1], cfg)
				if test.name == "empty" {
					continue // an empty side is valid: every file was deleted or added
				}
				if err == nil {
					t.Errorf("no error for %s", test.name)
				} else if test.wantErr != "" && !strings.Contains(err.Error(), test.wantErr) {
					t.Errorf("error %q does not mention %q", err, test.wantErr)
				}
			}
		})
	}
}
