package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

func push(t *testing.T, c *client.Client, module string, set *descriptorpb.FileDescriptorSet, own ...string) *registryv1.PushResponse {
	t.Helper()
	res, err := c.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{
		Module:   module,
		Source:   &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set},
		OwnFiles: own,
	})
	if err != nil {
		t.Fatalf("push %s: %v", module, err)
	}
	return res
}

func wantCode(t *testing.T, err error, code natsrpc.Code, substr string) {
	t.Helper()
	if natsrpc.CodeOf(err) != code {
		t.Fatalf("error = %v; want code %s", err, code)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

func TestPushAndLookupsThroughTheAPI(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	c := env.Client
	ctx := registrytest.Ctx(t, 2*time.Minute)

	// First push creates version 1.
	res := push(t, c, "common", testschema.CommonSet(t, testschema.CommonV1))
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_CREATED || !res.GetCreated() || res.GetVersion().GetVersion() != 1 {
		t.Fatalf("first push = %v; want created version 1", res)
	}
	v1digest := res.GetVersion().GetDigest()
	if !strings.HasPrefix(v1digest, "sha256:") || res.GetVersion().GetCreateTime() == nil {
		t.Fatalf("version 1 = %v; want a digest and a create time", res.GetVersion())
	}

	// The same files again create nothing.
	res = push(t, c, "common", testschema.CommonSet(t, testschema.CommonV1))
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_UNCHANGED || res.GetCreated() || res.GetVersion().GetVersion() != 1 || res.GetVersion().GetDigest() != v1digest {
		t.Fatalf("identical push = %v; want unchanged version 1", res)
	}

	// A breaking change is refused, nothing is stored.
	res = push(t, c, "common", testschema.CommonSet(t, testschema.CommonBroken))
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_REFUSED || res.GetVersion() != nil || len(res.GetViolations()) == 0 {
		t.Fatalf("breaking push = %v; want refused with violations", res)
	}
	if v := res.GetViolations()[0]; v.GetRule() != "FIELD_NO_DELETE" || v.GetFile() != "acme/common/v1/common.proto" || v.GetStartLine() == 0 || v.GetAgainstVersion() != 1 {
		t.Errorf("violation = %v; want FIELD_NO_DELETE in common.proto with a position, against version 1", v)
	}
	versions, err := c.ListVersions(ctx, "common")
	if err != nil || len(versions) != 1 {
		t.Fatalf("versions after refused push = %v, %v; want only version 1", versions, err)
	}

	// A dry run of a compatible change says what would happen and stores nothing.
	dry, err := c.Push(ctx, &registryv1.PushRequest{
		Module: "common", DryRun: true,
		Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: testschema.CommonSet(t, testschema.CommonV2)},
	})
	if err != nil || dry.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_CREATED || dry.GetCreated() || !dry.GetDryRun() || dry.GetVersion().GetVersion() != 2 {
		t.Fatalf("dry run = %v, %v; want would-create version 2", dry, err)
	}

	// A compatible change is accepted.
	res = push(t, c, "common", testschema.CommonSet(t, testschema.CommonV2))
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_CREATED || res.GetVersion().GetVersion() != 2 {
		t.Fatalf("compatible push = %v; want created version 2", res)
	}

	// A module importing it.
	res = push(t, c, "shop", testschema.ShopSet(t, testschema.ShopV1, testschema.CommonV2), "acme/shop/v1/shop.proto")
	if res.GetVersion().GetVersion() != 1 {
		t.Fatalf("shop push = %v", res)
	}
	deps := map[string]*registryv1.Dependency{}
	for _, d := range res.GetVersion().GetDependencies() {
		deps[d.GetFile()] = d
	}
	if d := deps["acme/common/v1/common.proto"]; d.GetModule() != "common" || d.GetVersion() != 2 {
		t.Errorf("shop's dependency on common = %v; want common@2", d)
	}
	if d := deps["google/protobuf/any.proto"]; !d.GetBuiltin() {
		t.Errorf("shop's dependency on any.proto = %v; want built in", d)
	}

	mods, err := c.ListModules(ctx)
	if err != nil || len(mods) != 2 || mods[0].GetName() != "common" || mods[0].GetLatestVersion() != 2 || mods[1].GetName() != "shop" {
		t.Fatalf("modules = %v, %v; want common@2 and shop@1", mods, err)
	}

	// Symbol lookups: message, method, field, package; built-in types.
	for _, tc := range []struct {
		symbol, module, file string
		kind                 registryv1.SymbolKind
	}{
		{"acme.shop.v1.Item", "shop", "acme/shop/v1/shop.proto", registryv1.SymbolKind_SYMBOL_KIND_MESSAGE},
		{"acme.shop.v1.ShopService.Buy", "shop", "acme/shop/v1/shop.proto", registryv1.SymbolKind_SYMBOL_KIND_METHOD},
		{"acme.common.v1.Money.nanos", "common", "acme/common/v1/common.proto", registryv1.SymbolKind_SYMBOL_KIND_FIELD},
		{"acme.common.v1", "common", "acme/common/v1/common.proto", registryv1.SymbolKind_SYMBOL_KIND_PACKAGE},
		{"google.protobuf.Any", "", "google/protobuf/any.proto", registryv1.SymbolKind_SYMBOL_KIND_MESSAGE},
	} {
		res, set, err := c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: tc.symbol})
		if err != nil {
			t.Fatalf("resolve %s: %v", tc.symbol, err)
		}
		if res.GetModule() != tc.module || res.GetFile() != tc.file || res.GetKind() != tc.kind {
			t.Errorf("resolve %s = %s %s %s; want %s %s %s", tc.symbol, res.GetModule(), res.GetFile(), res.GetKind(), tc.module, tc.file, tc.kind)
		}
		if n := len(set.GetFile()); n == 0 || set.GetFile()[n-1].GetName() != tc.file {
			t.Errorf("resolve %s: files %v; want %s last", tc.symbol, names(set), tc.file)
		}
	}
	_, _, err = c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: "acme.shop.v1.Nope"})
	wantCode(t, err, natsrpc.CodeNotFound, "acme.shop.v1.Nope")

	// A symbol in an older version.
	_, _, err = c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: "acme.common.v1.Money.nanos", Module: "common", Version: 1})
	wantCode(t, err, natsrpc.CodeNotFound, "common@1")

	// File lookups.
	fres, set, err := c.ResolveFile(ctx, &registryv1.ResolveFileRequest{File: "acme/shop/v1/shop.proto"})
	if err != nil || fres.GetModule() != "shop" || fres.GetVersion() != 1 || len(set.GetFile()) != 6 || set.GetFile()[5].GetName() != "acme/shop/v1/shop.proto" {
		t.Fatalf("resolve file = %s@%d %v, %v; want shop@1, shop.proto last after its 5 transitive imports", fres.GetModule(), fres.GetVersion(), names(set), err)
	}
	if set.GetFile()[5].GetSourceCodeInfo() == nil {
		t.Error("resolve file: no source info; want it by default")
	}
	_, set, err = c.ResolveFile(ctx, &registryv1.ResolveFileRequest{File: "acme/shop/v1/shop.proto", ExcludeSourceInfo: true})
	if err != nil || set.GetFile()[5].GetSourceCodeInfo() != nil {
		t.Errorf("resolve file without source info: %v; still has source info", err)
	}

	// Subject lookups, with and without a deployment prefix.
	for _, subject := range []string{"acme.shop.v1.ShopService.Buy", "staging.eu.acme.shop.v1.ShopService.Buy"} {
		sres, set, err := c.ResolveSubject(ctx, &registryv1.ResolveSubjectRequest{Subject: subject, IncludeFiles: true})
		if err != nil {
			t.Fatalf("resolve subject %s: %v", subject, err)
		}
		if sres.GetService() != "acme.shop.v1.ShopService" || sres.GetMethod() != "Buy" || sres.GetKind() != registryv1.MethodKind_METHOD_KIND_UNARY ||
			sres.GetRequestType() != "acme.shop.v1.BuyRequest" || sres.GetQueueGroup() != "q" || sres.GetModule() != "shop" || len(set.GetFile()) == 0 {
			t.Errorf("resolve subject %s = %v", subject, sres)
		}
	}
	_, _, err = c.ResolveSubject(ctx, &registryv1.ResolveSubjectRequest{Subject: "acme.shop.v1.ShopService.Sell"})
	wantCode(t, err, natsrpc.CodeNotFound, "acme.shop.v1.ShopService.Sell")

	// Whole versions and trimmed ones.
	mv, set, err := c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "common", Version: 1})
	if err != nil || mv.GetVersion() != 1 || mv.GetDigest() != v1digest || len(set.GetFile()) != 1 {
		t.Fatalf("get common@1 = %d %s %v, %v", mv.GetVersion(), mv.GetDigest(), names(set), err)
	}
	_, set, err = c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "shop", Symbols: []string{"acme.shop.v1.Item"}})
	if err != nil || len(set.GetFile()) != 2 {
		t.Fatalf("get shop trimmed to Item = %v, %v; want shop.proto and common.proto", names(set), err)
	}
	_, _, err = c.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "common", Version: 9})
	wantCode(t, err, natsrpc.CodeNotFound, "no version 9")

	// Policies.
	pol, err := c.API().GetPolicy(ctx, &registryv1.GetPolicyRequest{Module: "common"})
	if err != nil || !pol.GetIsDefault() || strings.Join(pol.GetPolicy().GetCategories(), ",") != "FILE,NATSRPC" {
		t.Fatalf("default policy = %v, %v", pol, err)
	}
	set2, err := c.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: "common", Policy: &registryv1.Policy{
		Categories: []string{"wire", "natsrpc"}, Direction: registryv1.Direction_DIRECTION_FULL, Transitive: true,
	}})
	if err != nil || strings.Join(set2.GetPolicy().GetCategories(), ",") != "WIRE,NATSRPC" || set2.GetPolicy().GetDirection() != registryv1.Direction_DIRECTION_FULL {
		t.Fatalf("set policy = %v, %v", set2, err)
	}
	_, err = c.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: "common", Policy: &registryv1.Policy{Categories: []string{"NOPE"}}})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "NOPE")

	// What the registry knows of a module: pushed, announced (a policy
	// before the first push), or unknown with the closest known names.
	status := func(module string) *registryv1.GetPolicyResponse {
		t.Helper()
		res, err := c.API().GetPolicy(ctx, &registryv1.GetPolicyRequest{Module: module})
		if err != nil {
			t.Fatalf("get policy of %s: %v", module, err)
		}
		return res
	}
	if res := status("common"); res.GetModuleStatus() != registryv1.ModuleStatus_MODULE_STATUS_PUSHED || len(res.GetSimilarModules()) != 0 {
		t.Errorf("common: %v", res)
	}
	if res := status("comon"); res.GetModuleStatus() != registryv1.ModuleStatus_MODULE_STATUS_UNKNOWN || strings.Join(res.GetSimilarModules(), ",") != "common,shop" || !res.GetIsDefault() {
		t.Errorf("comon: %v; want unknown, similar to common and shop", res)
	}
	if _, err := c.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: "comon", Policy: &registryv1.Policy{Categories: []string{"FILE"}}}); err != nil {
		t.Fatal(err)
	}
	if res := status("comon"); res.GetModuleStatus() != registryv1.ModuleStatus_MODULE_STATUS_ANNOUNCED || res.GetIsDefault() {
		t.Errorf("comon after SetPolicy: %v; want announced", res)
	}
}

func names(set *descriptorpb.FileDescriptorSet) []string {
	var out []string
	for _, f := range set.GetFile() {
		out = append(out, f.GetName())
	}
	return out
}

func TestOwnershipConflictThroughTheAPI(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	// Another module declaring the same package (its own copy of common).
	res := push(t, env.Client, "thief", testschema.CommonSet(t, testschema.CommonV2))
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_REFUSED {
		t.Fatalf("push of another module's package = %v; want refused", res)
	}
	rules := map[string]bool{}
	for _, v := range res.GetViolations() {
		rules[v.GetRule()] = true
	}
	if !rules[store.RulePackageOwned] || !rules[store.RuleFileOwned] {
		t.Errorf("violations = %v; want %s and %s", res.GetViolations(), store.RulePackageOwned, store.RuleFileOwned)
	}
	if _, err := env.Client.ListVersions(registrytest.Ctx(t, time.Minute), "thief"); natsrpc.CodeOf(err) != natsrpc.CodeNotFound {
		t.Errorf("versions of the refused module: %v; want not found", err)
	}
}

func TestJSONClientsGetTheSetDecoded(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	api := registryv1natsrpc.NewRegistryServiceClient(env.Conn, natsrpc.WithJSON())
	res, err := api.GetModuleVersion(registrytest.Ctx(t, time.Minute), &registryv1.GetModuleVersionRequest{Module: "common"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetFileDescriptorSet().GetFile(); len(got) != 1 || got[0].GetName() != "acme/common/v1/common.proto" {
		t.Fatalf("JSON reply files = %v; want common.proto", names(res.GetFileDescriptorSet()))
	}
}

// TestLargeDescriptorSet pushes and fetches a set larger than the 1 MB
// NATS message limit: both ways through the Object Store.
func TestLargeDescriptorSet(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	ctx := registrytest.Ctx(t, 2*time.Minute)
	src := bigProto(1800)
	set := testschema.Compile(t, map[string]string{"big/v1/big.proto": src}, "big/v1/big.proto")
	size := proto.Size(set)
	if size <= 1<<20 {
		t.Fatalf("test set is %d bytes; want more than 1 MB", size)
	}
	if err := env.Conn.Publish("x", make([]byte, size)); err == nil {
		t.Fatal("a set this large fits in one NATS message; the test proves nothing")
	}
	res := push(t, env.Client, "big", set)
	if res.GetOutcome() != registryv1.PushOutcome_PUSH_OUTCOME_CREATED {
		t.Fatalf("push = %v", res)
	}
	// Fetched through the API: the reply names an object.
	raw, err := env.Client.API().GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if raw.GetObject() == nil || raw.GetObject().GetSize() <= 1<<20 {
		t.Fatalf("reply content = %v; want an object over 1 MB", raw.GetObject())
	}
	_, got, err := env.Client.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetFile()[0], set.GetFile()[0]) {
		t.Fatal("fetched file differs from the pushed one")
	}
	// A smaller inline limit moves smaller sets to the Object Store too.
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	small, err := env.Client.API().GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: "common", MaxInlineBytes: 10})
	if err != nil || small.GetObject() == nil {
		t.Fatalf("get with max_inline_bytes 10 = %v, %v; want an object", small.GetObject(), err)
	}
}

func bigProto(messages int) string {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n\npackage big.v1;\n\n")
	for i := range messages {
		fmt.Fprintf(&b, "// Message%d is message number %d, with a comment long enough to make the\n// source info of this file weigh something: lorem ipsum dolor sit amet.\nmessage Message%d {\n", i, i, i)
		for f := 1; f <= 6; f++ {
			fmt.Fprintf(&b, "  // field_%d is a field of message %d, documented at length.\n  string field_%d = %d;\n", f, i, f, f)
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// TestHostileInput sends what a broken or malicious client could: the
// registry answers each with a clear error and keeps serving.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	ctx := registrytest.Ctx(t, 2*time.Minute)
	api := env.Client.API()
	good := testschema.CommonSet(t, testschema.CommonV1)

	// Bytes that are no protobuf at all, straight onto the subject.
	msg, err := env.Conn.RequestWithContext(ctx, registryv1natsrpc.RegistryServicePushSubject, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	if err != nil {
		t.Fatal(err)
	}
	if code := msg.Header.Get("Nats-Rpc-Code"); code != "invalid_argument" {
		t.Errorf("garbage request: code %q (%s); want invalid_argument", code, msg.Header.Get("Nats-Service-Error"))
	}

	missing := proto.CloneOf(good)
	missing.File[0].Dependency = append(missing.File[0].Dependency, "acme/other/v1/other.proto")
	badPath := proto.CloneOf(good)
	badPath.File[0].Name = proto.String("../../etc/passwd.proto")
	unknown := proto.CloneOf(good)
	unknown.File[0].ProtoReflect().SetUnknown([]byte{0xa0, 0x1f, 0x01}) // field 500, varint 1
	dup := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{good.File[0], good.File[0]}}
	for _, tc := range []struct {
		name   string
		module string
		set    *descriptorpb.FileDescriptorSet
		want   string
	}{
		{"missing import", "common", missing, "acme/other/v1/other.proto"},
		{"empty set", "common", &descriptorpb.FileDescriptorSet{}, "no files"},
		{"path escaping", "common", badPath, "not a clean relative path"},
		{"unknown fields", "common", unknown, "unknown fields"},
		{"duplicate file", "common", dup, "twice"},
		{"subject wildcard in module name", "gaming.>", good, "module name"},
		{"dots in module name", "a.b", good, "module name"},
		{"upper case module name", "Gaming", good, "module name"},
		{"empty module name", "", good, "module name is empty"},
		{"long module name", strings.Repeat("a", 200), good, "module name"},
	} {
		_, err := api.Push(ctx, &registryv1.PushRequest{Module: tc.module, Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: tc.set}})
		if natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v; want invalid_argument mentioning %q", tc.name, err, tc.want)
		}
	}
	// A push without any files.
	_, err = api.Push(ctx, &registryv1.PushRequest{Module: "common"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "no files")
	// Uploads that are not there or not descriptor sets, or elsewhere.
	_, err = api.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_Upload{Upload: &registryv1.ObjectRef{Name: "nope"}}})
	wantCode(t, err, natsrpc.CodeNotFound, "nope")
	_, err = api.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_Upload{Upload: &registryv1.ObjectRef{Bucket: "elsewhere", Name: "x"}}})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "elsewhere")
	ref, err := env.Client.Upload(ctx, []byte("this is not a descriptor set"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_Upload{Upload: ref}})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "FileDescriptorSet")
	// A huge set: larger than a NATS message, sent inline anyway.
	_, err = api.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: testschema.Compile(t, map[string]string{"big/v1/big.proto": bigProto(1800)}, "big/v1/big.proto")}})
	if err == nil || !strings.Contains(err.Error(), "max_payload") {
		t.Errorf("inline set over max_payload: %v; want a max_payload error", err)
	}
	// Lookups with names that break subjects or KV keys.
	_, err = api.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: "acme.>"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "symbol")
	_, err = api.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: "a..b"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "empty name part")
	_, err = api.ResolveFile(ctx, &registryv1.ResolveFileRequest{File: "a/../../b.proto"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "clean relative path")
	_, err = api.ResolveSubject(ctx, &registryv1.ResolveSubjectRequest{Subject: "acme.*.Buy"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "wildcard")
	_, err = api.ListVersions(ctx, &registryv1.ListVersionsRequest{Module: "$KV"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "module name")
	_, err = api.ListVersions(ctx, &registryv1.ListVersionsRequest{Module: "common", PageToken: "garbage"})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "page token")

	// Still serving.
	if res := push(t, env.Client, "common", good); res.GetVersion().GetVersion() != 1 {
		t.Fatalf("push after hostile input = %v; want version 1", res)
	}

	// A set over the registry's size limit (64 KiB here, 64 MiB by default).
	small := registrytest.StartNATS(t)
	registrytest.ServeRegistry(t, small, []store.Option{store.WithMaxSetSize(64 << 10)})
	sc := client.New(natstest.Connect(t, small))
	_, err = sc.Push(ctx, &registryv1.PushRequest{Module: "big", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: testschema.Compile(t, map[string]string{"big/v1/big.proto": bigProto(150)}, "big/v1/big.proto")}})
	wantCode(t, err, natsrpc.CodeInvalidArgument, "at most 65536")
}

// TestTwoInstancesOneJetStream runs two registry servers on one JetStream:
// requests spread over both, pushes through either stay dense, and when
// one stops the other serves alone.
func TestTwoInstancesOneJetStream(t *testing.T) {
	t.Parallel()
	srv := registrytest.StartNATS(t)
	_, a := registrytest.Serve(t, srv)
	_, b := registrytest.Serve(t, srv)
	nc := natstest.Connect(t, srv)
	c := client.New(nc)
	ctx := registrytest.Ctx(t, 2*time.Minute)

	events := subscribeEvents(t, nc)

	// Concurrent pushes of one module through both instances.
	srcs := make([]string, 8)
	for i := range srcs {
		var fields strings.Builder
		for f := 0; f <= i; f++ {
			fmt.Fprintf(&fields, "  string f%d = %d;\n", f, f+1)
		}
		srcs[i] = "syntax = \"proto3\";\npackage race.v1;\nmessage M {\n" + fields.String() + "}\n"
	}
	var wg sync.WaitGroup
	results := make([]*registryv1.PushResponse, len(srcs))
	for i, src := range srcs {
		set := testschema.Compile(t, map[string]string{"race/v1/race.proto": src}, "race/v1/race.proto")
		wg.Go(func() {
			res, err := c.Push(ctx, &registryv1.PushRequest{Module: "race", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}})
			if err != nil {
				t.Errorf("push %d: %v", i, err)
				return
			}
			results[i] = res
		})
	}
	wg.Wait()
	created := 0
	for i, res := range results {
		switch res.GetOutcome() {
		case registryv1.PushOutcome_PUSH_OUTCOME_CREATED:
			created++
		case registryv1.PushOutcome_PUSH_OUTCOME_REFUSED:
			// A push that lost the race to a later one deletes a field: refused.
		default:
			t.Errorf("push %d = %v", i, res)
		}
	}
	versions, err := c.ListVersions(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != created {
		t.Fatalf("%d versions stored; %d pushes reported created", len(versions), created)
	}
	for i, v := range versions {
		if v.GetVersion() != uint64(i+1) {
			t.Fatalf("versions = %v; want dense 1..%d", versions, created)
		}
	}

	// Each created version was announced exactly once, by the instance
	// that committed it (both instances watch; the other stays quiet).
	waitFor(t, func() bool { return events.count("race") >= created })
	time.Sleep(500 * time.Millisecond) // longer than the relay's fallback delay
	for v := 1; v <= created; v++ {
		if n := events.countVersion("race", uint64(v)); n != 1 {
			t.Errorf("race@%d announced %d times; want once", v, n)
		}
	}

	// Both instances answered requests.
	for i := 0; i < 40; i++ {
		if _, err := c.API().ListModules(ctx, &registryv1.ListModulesRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	stopCtx := registrytest.Ctx(t, 10*time.Second)
	if err := a.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	// The survivor serves every method alone.
	for i := 0; i < 10; i++ {
		if _, _, err := c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: "race.v1.M"}); err != nil {
			t.Fatalf("lookup with one instance stopped: %v", err)
		}
	}
	_ = b
}

// TestRelayAnnouncesPushesItDidNotCommit: a version committed without
// going through a server (here, the Go API; in production, a server that
// died before announcing) is announced by the servers' fallback, once.
func TestRelayAnnouncesPushesItDidNotCommit(t *testing.T) {
	t.Parallel()
	srv := registrytest.StartNATS(t)
	reg, _ := registrytest.Serve(t, srv)
	registrytest.Serve(t, srv)
	nc := natstest.Connect(t, srv)
	events := subscribeEvents(t, nc)
	ctx := registrytest.Ctx(t, time.Minute)
	if _, err := reg.Push(ctx, store.PushRequest{Module: "common", Files: testschema.CommonSet(t, testschema.CommonV1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return events.countVersion("common", 1) >= 1 })
	time.Sleep(400 * time.Millisecond)
	if n := events.countVersion("common", 1); n > 2 {
		t.Errorf("common@1 announced %d times by two servers; want once, twice at worst", n)
	}
	ev := events.last("common")
	if ev.GetDigest() == "" || len(ev.GetFiles()) != 1 || ev.GetCreateTime() == nil {
		t.Errorf("event = %v; want the full version description", ev)
	}

	// A server that starts later announces the heads it finds; subscribers
	// that already know them ignore the repeat.
	before := events.countVersion("common", 1)
	registrytest.Serve(t, srv)
	waitFor(t, func() bool { return events.countVersion("common", 1) > before })
}

type eventLog struct {
	mu     sync.Mutex
	events []*registryv1.ModuleVersion
}

func subscribeEvents(t *testing.T, nc *nats.Conn) *eventLog {
	t.Helper()
	l := &eventLog{}
	sub, err := nc.Subscribe(registryv1natsrpc.RegistryEventsServiceVersionCreatedSubject, func(m *nats.Msg) {
		var ev registryv1.VersionCreatedRequest
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("bad event: %v", err)
			return
		}
		l.mu.Lock()
		l.events = append(l.events, ev.GetVersion())
		l.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *eventLog) count(module string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[uint64]bool{}
	for _, e := range l.events {
		if e.GetModule() == module {
			seen[e.GetVersion()] = true
		}
	}
	return len(seen)
}

func (l *eventLog) countVersion(module string, v uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.GetModule() == module && e.GetVersion() == v {
			n++
		}
	}
	return n
}

func (l *eventLog) last(module string) *registryv1.ModuleVersion {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if l.events[i].GetModule() == module {
			return l.events[i]
		}
	}
	return nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPolicyDirections: deleting a field breaks backward compatibility
// (new readers lose data old writers send) but not forward (old readers
// skip what is missing); full refuses it. A changed field type breaks
// every direction.
func TestPolicyDirections(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	ctx := registrytest.Ctx(t, time.Minute)
	retyped := strings.Replace(testschema.CommonV1, "int64 units = 2;", "string units = 2;", 1)
	for _, tc := range []struct {
		direction registryv1.Direction
		src       string
		refused   bool
	}{
		{registryv1.Direction_DIRECTION_BACKWARD, testschema.CommonBroken, true},
		{registryv1.Direction_DIRECTION_FORWARD, testschema.CommonBroken, false},
		{registryv1.Direction_DIRECTION_FULL, testschema.CommonBroken, true},
		{registryv1.Direction_DIRECTION_FORWARD, retyped, true},
	} {
		module := strings.ToLower(strings.TrimPrefix(tc.direction.String(), "DIRECTION_")) + fmt.Sprint(len(tc.src))
		if _, err := env.Client.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: module, Policy: &registryv1.Policy{Categories: []string{"WIRE_JSON"}, Direction: tc.direction}}); err != nil {
			t.Fatal(err)
		}
		pkg := strings.ReplaceAll(module, "_", "")
		v1 := strings.Replace(testschema.CommonV1, "acme.common.v1", "acme."+pkg+".v1", 1)
		v2 := strings.Replace(tc.src, "acme.common.v1", "acme."+pkg+".v1", 1)
		path := "acme/" + pkg + "/v1/x.proto"
		push(t, env.Client, module, testschema.Compile(t, map[string]string{path: v1}, path))
		res := push(t, env.Client, module, testschema.Compile(t, map[string]string{path: v2}, path))
		if refused := res.GetOutcome() == registryv1.PushOutcome_PUSH_OUTCOME_REFUSED; refused != tc.refused {
			t.Errorf("%s: refused = %v (%v); want %v", tc.direction, refused, res.GetViolations(), tc.refused)
		}
	}
}

// TestFindFileDigestThroughTheAPI: the digest a version records for an
// imported file (Dependency.digest) finds the owner's versions with that
// file; a malformed digest is invalid_argument.
func TestFindFileDigestThroughTheAPI(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	c := env.Client
	ctx := registrytest.Ctx(t, time.Minute)
	push(t, c, "common", testschema.CommonSet(t, testschema.CommonV1))
	res, err := c.Push(ctx, &registryv1.PushRequest{
		Module:   "shop",
		Source:   &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: testschema.ShopSet(t, testschema.ShopV1, testschema.CommonV1)},
		OwnFiles: []string{"acme/shop/v1/shop.proto"},
	})
	if err != nil || !res.GetCreated() {
		t.Fatalf("push shop: %v, %v", res, err)
	}
	var digest string
	for _, d := range res.GetVersion().GetDependencies() {
		if d.GetFile() == "acme/common/v1/common.proto" {
			digest = d.GetDigest()
		}
	}
	matches, err := c.FindFileDigest(ctx, digest)
	if err != nil || len(matches) != 1 {
		t.Fatalf("FindFileDigest(%q) = %v, %v; want one match", digest, matches, err)
	}
	m := matches[0]
	if m.GetModule() != "common" || m.GetFile() != "acme/common/v1/common.proto" || m.GetLatestVersion() != 1 ||
		len(m.GetRanges()) != 1 || m.GetRanges()[0].GetFirst() != 1 || m.GetRanges()[0].GetLast() != 1 {
		t.Errorf("match = %v; want common.proto of common@1", m)
	}
	if _, err := c.FindFileDigest(ctx, "sha256:nope"); natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument || !strings.Contains(err.Error(), "64 lowercase hex digits") {
		t.Errorf("malformed digest: %v; want invalid_argument saying what a digest is", err)
	}
}
