package store_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

func TestModuleNames(t *testing.T) {
	t.Parallel()
	valid := []string{"gaming", "a", "quest-system", "npc_behavior2", strings.Repeat("a", 64)}
	for _, name := range valid {
		if err := store.ValidateModuleName(name); err != nil {
			t.Errorf("ValidateModuleName(%q) = %v; want nil", name, err)
		}
	}
	invalid := []string{"", "Gaming", "gaming.quest", "gaming.*", "a>", "a b", "$SYS", "1abc", "-a", "_a", "gäming", "a/b", "a\x00", "a\n", strings.Repeat("a", 65)}
	for _, name := range invalid {
		err := store.ValidateModuleName(name)
		if store.KindOf(err) != store.KindInvalidArgument || !strings.Contains(err.Error(), "lowercase letters") {
			t.Errorf("ValidateModuleName(%q) = %v; want an invalid-argument error that says what is allowed", name, err)
		}
	}
}

// TestNamesReportCharactersNotBytes: a refused non-ASCII character is
// named as the character the user typed, not as the first byte of its
// UTF-8 encoding ('Ã' for 'ü'); a byte that is not UTF-8 is named in hex.
func TestNamesReportCharactersNotBytes(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, want string }{
		{"ünï", `module name "ünï" contains 'ü'`},
		{"gäming", `contains 'ä'`},
		{"a\u00e9b", `contains 'é'`},
		{"q\U0001F3AEx", `contains '🎮'`},
		{"a\xffb", `contains the byte 0xFF (not UTF-8)`},
	}
	for _, c := range cases {
		err := store.ValidateModuleName(c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateModuleName(%q) = %v; want it to say %s", c.name, err, c.want)
		}
		if err != nil && strings.ContainsAny(err.Error(), "Ãð") {
			t.Errorf("ValidateModuleName(%q) = %v: reports a byte as a character", c.name, err)
		}
	}
}

func TestHostileInputIsRefusedClearly(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js, store.WithMaxSetSize(4<<20), store.WithMaxFiles(50))
	ctx := registrytest.Ctx(t, 2*time.Minute)
	good := testschema.ShopSet(t, shopV1, testschema.CommonV1)
	shopOnly := []string{"acme/shop/v1/shop.proto"}
	edit := func(f func(set *descriptorpb.FileDescriptorSet)) *descriptorpb.FileDescriptorSet {
		set := proto.CloneOf(good)
		f(set)
		return set
	}
	file := func(set *descriptorpb.FileDescriptorSet, name string) *descriptorpb.FileDescriptorProto {
		for _, f := range set.File {
			if f.GetName() == name {
				return f
			}
		}
		t.Fatalf("no file %q", name)
		return nil
	}
	addUnknown := func(m proto.Message, num protowire.Number) {
		b := protowire.AppendTag(nil, num, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		m.ProtoReflect().SetUnknown(append(m.ProtoReflect().GetUnknown(), b...))
	}
	garbage, err := r.Upload(ctx, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	big, err := r.Upload(ctx, make([]byte, 5<<20))
	if err != nil {
		t.Fatal(err)
	}
	badSubject := `syntax = "proto3";
package acme.bad.v1;
import "natsrpc/v1/options.proto";
message Req {}
service BadService {
  option (natsrpc.v1.service) = {subject: "acme..bad"};
  rpc Do(Req) returns (Req);
}
`
	twice := `syntax = "proto3";
package acme.twice.v1;
import "natsrpc/v1/options.proto";
message Req {}
service AService {
  option (natsrpc.v1.service) = {subject: "same"};
  rpc Do(Req) returns (Req);
}
service BService {
  option (natsrpc.v1.service) = {subject: "same"};
  rpc Do(Req) returns (Req);
}
`
	tests := []struct {
		name string
		req  store.PushRequest
		kind store.Kind
		want []string
	}{
		{"invalid module name", store.PushRequest{Module: "gaming.>", Files: good}, store.KindInvalidArgument, []string{`"gaming.>"`, "NATS subject token"}},
		{"no files", store.PushRequest{Module: "x"}, store.KindInvalidArgument, []string{"no files"}},
		{"files and upload", store.PushRequest{Module: "x", Files: good, Upload: garbage}, store.KindInvalidArgument, []string{"send one"}},
		{"malformed bytes", store.PushRequest{Module: "x", Upload: garbage}, store.KindInvalidArgument, []string{"not a serialized google.protobuf.FileDescriptorSet"}},
		{"too large", store.PushRequest{Module: "x", Upload: big}, store.KindInvalidArgument, []string{"5242880 bytes", "at most 4194304"}},
		{"unknown upload", store.PushRequest{Module: "x", Upload: "t-nope"}, store.KindNotFound, []string{`"t-nope"`, "upload the descriptor set again"}},
		{"empty set", store.PushRequest{Module: "x", Files: &descriptorpb.FileDescriptorSet{}}, store.KindInvalidArgument, []string{"no files"}},
		{"missing import", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			s.File = []*descriptorpb.FileDescriptorProto{file(s, "acme/shop/v1/shop.proto")}
		})}, store.KindInvalidArgument, []string{`imports "acme/common/v1/common.proto"`, "--include_imports"}},
		{"unknown field in a file", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			addUnknown(file(s, "acme/shop/v1/shop.proto"), 99)
		})}, store.KindInvalidArgument, []string{"unknown fields (numbers [99])", "FileDescriptorProto"}},
		{"unknown field in a message", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			addUnknown(file(s, "acme/shop/v1/shop.proto").MessageType[0], 77)
		})}, store.KindInvalidArgument, []string{"numbers [77]", "google.protobuf.DescriptorProto"}},
		{"path escaping the root", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			file(s, "acme/shop/v1/shop.proto").Name = proto.String("../evil.proto")
		})}, store.KindInvalidArgument, []string{`"../evil.proto"`}},
		{"path with a space", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			file(s, "acme/shop/v1/shop.proto").Name = proto.String("a b.proto")
		})}, store.KindInvalidArgument, []string{`"a b.proto"`, "letters, digits"}},
		{"duplicate file", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			s.File = append(s.File, proto.CloneOf(s.File[0]))
		})}, store.KindInvalidArgument, []string{"twice"}},
		{"unresolvable type", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			file(s, "acme/shop/v1/shop.proto").MessageType[0].Field[1].TypeName = proto.String(".acme.nope.v1.Gone")
		})}, store.KindInvalidArgument, []string{"descriptor set is invalid", "acme.nope.v1.Gone"}},
		{"no package", store.PushRequest{Module: "x", Files: testschema.Compile(t, map[string]string{"nopkg.proto": "syntax = \"proto3\";\nmessage A {}\n"}, "nopkg.proto")}, store.KindInvalidArgument, []string{`"nopkg.proto" declares no package`}},
		{"own built-in file", store.PushRequest{Module: "x", Files: good, OwnFiles: []string{"google/protobuf/timestamp.proto"}}, store.KindInvalidArgument, []string{"built into the registry"}},
		{"own file not in set", store.PushRequest{Module: "x", Files: good, OwnFiles: []string{"acme/elsewhere.proto"}}, store.KindInvalidArgument, []string{`"acme/elsewhere.proto" is not in the descriptor set`}},
		{"only imports", store.PushRequest{Module: "x", Files: testschema.Compile(t, nil, "google/protobuf/empty.proto")}, store.KindInvalidArgument, []string{"no files of the module's own"}},
		{"subject that breaks NATS", store.PushRequest{Module: "x", Files: testschema.Compile(t, map[string]string{"acme/bad/v1/bad.proto": badSubject}, "acme/bad/v1/bad.proto")}, store.KindInvalidArgument, []string{"(natsrpc.v1.service).subject", `"acme..bad"`}},
		{"two methods on one subject", store.PushRequest{Module: "x", Files: testschema.Compile(t, map[string]string{"acme/twice/v1/twice.proto": twice}, "acme/twice/v1/twice.proto")}, store.KindInvalidArgument, []string{`"same.Do"`}},
		// A subject or package this long became a KV key longer than the
		// NATS server's protocol line, and the server closed the registry's
		// connection on commit (FuzzPushContent checks every key's length).
		{"subject too long for NATS", store.PushRequest{Module: "x", Files: testschema.Compile(t, map[string]string{"acme/bad/v1/bad.proto": strings.Replace(badSubject, "acme..bad", strings.Repeat("\u00e9", 800), 1)}, "acme/bad/v1/bad.proto")}, store.KindInvalidArgument, []string{"(natsrpc.v1.service).subject", "at most 1024 bytes"}},
		{"package too long for NATS", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			s.File = append(s.File, &descriptorpb.FileDescriptorProto{Name: proto.String("acme/long.proto"), Package: proto.String("a" + strings.Repeat("b", 5000))})
		}), OwnFiles: []string{"acme/long.proto"}}, store.KindInvalidArgument, []string{`"acme/long.proto" declares a package of 5001 bytes`}},
		{"too many files", store.PushRequest{Module: "x", Files: edit(func(s *descriptorpb.FileDescriptorSet) {
			for i := range 60 {
				s.File = append(s.File, &descriptorpb.FileDescriptorProto{Name: proto.String("f" + strings.Repeat("x", i) + ".proto"), Package: proto.String("p")})
			}
		})}, store.KindInvalidArgument, []string{"at most 50"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := r.Push(ctx, test.req)
			wantKind(t, err, test.kind, test.want...)
		})
	}

	// Custom options are unknown fields of options messages: accepted.
	withOption := edit(func(s *descriptorpb.FileDescriptorSet) {
		m := file(s, "acme/shop/v1/shop.proto").MessageType[0]
		if m.Options == nil {
			m.Options = &descriptorpb.MessageOptions{}
		}
		addUnknown(m.Options, 50123)
	})
	// The registry still serves after all that.
	pushCommon(t, r, testschema.CommonV1)
	if _, err := r.Push(ctx, store.PushRequest{Module: "shop", Files: withOption, OwnFiles: shopOnly}); err != nil {
		t.Fatalf("valid push after hostile ones: %v", err)
	}
	if _, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.shop.v1.Item"}); err != nil {
		t.Errorf("lookup after hostile pushes: %v", err)
	}
}
