package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

func TestOwnershipConflicts(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)
	if _, err := pushShop(t, r, shopV1, testschema.CommonV1); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		path  string
		src   string
		rule  string
		words []string
	}{
		{
			name:  "package owned by another module",
			path:  "other/money.proto",
			src:   "syntax = \"proto3\";\npackage acme.common.v1;\nmessage Coin {\n  int64 value = 1;\n}\n",
			rule:  store.RulePackageOwned,
			words: []string{`"acme.common.v1"`, `module "common"`},
		},
		{
			name:  "file path owned by another module",
			path:  "acme/common/v1/common.proto",
			src:   "syntax = \"proto3\";\npackage acme.fork.v1;\nmessage Money {\n  string currency = 1;\n}\n",
			rule:  store.RuleFileOwned,
			words: []string{`"acme/common/v1/common.proto"`, `module "common"`},
		},
		{
			name: "subject another module listens on",
			path: "acme/copy/v1/copy.proto",
			src: `syntax = "proto3";
package acme.copy.v1;
import "natsrpc/v1/options.proto";
message Req {}
message Res {}
service CopyService {
  option (natsrpc.v1.service) = {subject: "acme.shop.v1.ShopService"};
  rpc Buy(Req) returns (Res);
}
`,
			rule:  store.RuleSubjectTaken,
			words: []string{`"acme.shop.v1.ShopService.Buy"`, `module "shop"`},
		},
		{
			name:  "built-in package",
			path:  "mine/descriptor.proto",
			src:   "syntax = \"proto3\";\npackage google.protobuf;\nmessage Mine {\n  string a = 1;\n}\n",
			rule:  store.RulePackageOwned,
			words: []string{"built into the registry"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			set := testschema.Compile(t, map[string]string{test.path: test.src}, test.path)
			_, err := r.Push(ctx, store.PushRequest{Module: "intruder", Files: set, OwnFiles: []string{test.path}})
			re := wantKind(t, err, store.KindFailedPrecondition)
			var v *store.Violation
			for i := range re.Violations {
				if re.Violations[i].Rule == test.rule {
					v = &re.Violations[i]
				}
			}
			if v == nil {
				t.Fatalf("violations = %+v; want %s", re.Violations, test.rule)
			}
			for _, w := range test.words {
				if !strings.Contains(v.Message, w) {
					t.Errorf("message %q does not contain %q", v.Message, w)
				}
			}
			if v.File != test.path {
				t.Errorf("violation file = %q; want %q", v.File, test.path)
			}
			if _, _, err := r.ListVersions(ctx, "intruder", store.ListOptions{}); !store.IsNotFound(err) {
				t.Errorf("intruder has versions after a refused push: %v", err)
			}
		})
	}

	// A package a module stops declaring is released and can be claimed.
	moved := "syntax = \"proto3\";\npackage acme.moved.v1;\nmessage Money {\n  string currency = 1;\n}\n"
	if _, err := r.SetPolicy(ctx, "common", store.Policy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Push(ctx, store.PushRequest{Module: "common", Files: testschema.Compile(t, map[string]string{"acme/moved/v1/moved.proto": moved}, "acme/moved/v1/moved.proto")}); err != nil {
		t.Fatalf("move common: %v", err)
	}
	claim := "syntax = \"proto3\";\npackage acme.common.v1;\nmessage Coin {\n  int64 value = 1;\n}\n"
	res, err := r.Push(ctx, store.PushRequest{Module: "newowner", Files: testschema.Compile(t, map[string]string{"acme/common/v1/common.proto": claim}, "acme/common/v1/common.proto")})
	if err != nil || !res.Created {
		t.Fatalf("claim released package and path: %+v, %v", res, err)
	}
	sym, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.common.v1.Coin"})
	if err != nil || sym.Module != "newowner" {
		t.Errorf("resolve after move = %+v, %v; want newowner", sym, err)
	}
}

func TestDependenciesMustMatchTheirOwner(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)

	// A modified copy of common's file is refused.
	forked := strings.Replace(testschema.CommonV1, "int64 units = 2;", "int64 units = 2;\n  // cents are hundredths.\n  int32 cents = 3;", 1)
	_, err := pushShop(t, r, shopV1, forked)
	re := wantKind(t, err, store.KindFailedPrecondition)
	if !hasRule(re.Violations, store.RuleDependencyMismatch) {
		t.Fatalf("violations = %+v; want %s", re.Violations, store.RuleDependencyMismatch)
	}
	for _, v := range re.Violations {
		if v.Rule == store.RuleDependencyMismatch {
			if v.File != "acme/shop/v1/shop.proto" || v.StartLine == 0 || !strings.Contains(v.Message, `module "common"`) || !strings.Contains(v.Message, "common@1") {
				t.Errorf("violation = %+v; want it at the import in shop.proto naming common@1", v)
			}
		}
	}

	// A copy that differs only in comments (source info) matches.
	recommented := strings.Replace(testschema.CommonV1, "// units are whole units.", "// units: whole units.", 1)
	res, err := pushShop(t, r, shopV1, recommented)
	if err != nil {
		t.Fatalf("push with re-commented import: %v", err)
	}
	if d := depOf(res.Version, "acme/common/v1/common.proto"); d.Module != "common" || d.Version != 1 {
		t.Errorf("dependency = %+v; want common@1", d)
	}

	// common moves on; shop may import either version, each recorded.
	pushCommon(t, r, testschema.CommonV2)
	res, err = pushShop(t, r, shopV1, testschema.CommonV2)
	if err != nil {
		t.Fatalf("push against common v2: %v", err)
	}
	if d := depOf(res.Version, "acme/common/v1/common.proto"); d.Module != "common" || d.Version != 2 || !res.Created {
		t.Errorf("push = %+v; want a new version depending on common@2", res)
	}

	// An imported file that declares another module's package under a
	// path that module does not have is refused.
	stray := map[string]string{
		"acme/stray/v1/stray.proto": "syntax = \"proto3\";\npackage acme.stray.v1;\nimport \"vendored/money.proto\";\nmessage S {\n  acme.common.v1.Money m = 1;\n}\n",
		"vendored/money.proto":      testschema.CommonV1,
	}
	_, err = r.Push(ctx, store.PushRequest{Module: "stray", Files: testschema.Compile(t, stray, "acme/stray/v1/stray.proto"), OwnFiles: []string{"acme/stray/v1/stray.proto"}})
	re = wantKind(t, err, store.KindFailedPrecondition)
	if !hasRule(re.Violations, store.RuleDependencyMismatch) || !strings.Contains(re.Violations[0].Message, `"vendored/money.proto"`) {
		t.Errorf("violations = %+v; want the vendored copy refused", re.Violations)
	}

	// Files nobody owns are recorded by digest.
	free := map[string]string{
		"acme/free/v1/free.proto": "syntax = \"proto3\";\npackage acme.free.v1;\nimport \"third/party.proto\";\nmessage F {\n  third.P p = 1;\n}\n",
		"third/party.proto":       "syntax = \"proto3\";\npackage third;\nmessage P {}\n",
	}
	res2, err := r.Push(ctx, store.PushRequest{Module: "free", Files: testschema.Compile(t, free, "acme/free/v1/free.proto"), OwnFiles: []string{"acme/free/v1/free.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := depOf(res2.Version, "third/party.proto"); d.Module != "" || !strings.HasPrefix(d.Digest, "sha256:") || d.Builtin {
		t.Errorf("unowned dependency = %+v", d)
	}
}

func depOf(v store.VersionInfo, file string) store.Dependency {
	for _, d := range v.Dependencies {
		if d.File == file {
			return d
		}
	}
	return store.Dependency{}
}
