package httprule

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

const goodFile = `type: google.api.Service
config_version: 3
name: gaming.example.com
http:
  rules:
  - selector: natsrpctest.v1.TestService.Get
    get: /v1/owners/{owner_id}/items/{id}
    additional_bindings:
    - get: /v1/items/{id}
  - selector: natsrpctest.v1.TestService.Generate
    post: /v1/owners/{owner_id}/items
    body: "*"
    responseBody: item
  - selector: natsrpctest.v1.TestService.Notify
    custom: {kind: HEAD, path: "/v1/notify/{id=items/*}:ping"}
`

func TestParse(t *testing.T) {
	rules, err := Parse([]byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []*annotations.HttpRule{
		{Selector: "natsrpctest.v1.TestService.Get", Pattern: &annotations.HttpRule_Get{Get: "/v1/owners/{owner_id}/items/{id}"},
			AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/items/{id}"}}}},
		{Selector: "natsrpctest.v1.TestService.Generate", Pattern: &annotations.HttpRule_Post{Post: "/v1/owners/{owner_id}/items"}, Body: "*", ResponseBody: "item"},
		{Selector: "natsrpctest.v1.TestService.Notify", Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "HEAD", Path: "/v1/notify/{id=items/*}:ping"}}},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules; want %d", len(rules), len(want))
	}
	for i := range want {
		if !proto.Equal(rules[i], want[i]) {
			t.Errorf("rule %d = %v; want %v", i, rules[i], want[i])
		}
	}
	svc := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	for _, r := range rules[:2] {
		name := r.GetSelector()[strings.LastIndex(r.GetSelector(), ".")+1:]
		if err := Check(r, svc.Methods().ByName(protoNameOf(name))); err != nil {
			t.Errorf("Check(%s): %v", r.GetSelector(), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"", "the file is empty"},
		{"http: {rules: []}\nextra: 1\n", `2: unknown key "extra"`},
		{"http:\n  rules:\n  - get: /v1/x\n", "3: the rule has no selector"},
		{"http:\n  rules:\n  - selector: a.B.C\n", "3: the rule has no pattern"},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    post: /y\n", "more than one pattern"},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: /v1/{id\n", `get "/v1/{id": at 7: variable opened at 4 is not closed`},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: v1/x\n", "starts with \"/\""},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    body: \"*\"\n", "a GET rule has no body"},
		{"http:\n  rules:\n  - selector: a..C\n    get: /x\n", `selector "a..C"`},
		{"http:\n  rules:\n  - selector: a.B*\n    get: /x\n", "whole name components"},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    additional_bindings:\n    - selector: a.B.D\n      get: /y\n", "6: an additional binding has no selector"},
		{"http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    bogus: 1\n", `5: unknown key "bogus" in a rule`},
		{"http:\n  rules:\n  - selector: a.B.C\n    response_body: x\n    responseBody: y\n    get: /x\n", `key "responseBody" is given twice`},
		{"type: google.api.Other\nhttp: {rules: []}\n", "type is \"google.api.Other\""},
		{"http: [1]\n", "http must be a mapping"},
		{"http:\n  rules: 3\n", "http needs rules"},
		{"a: b\n---\nc: d\n", "a second YAML document"},
		{"http: {rules: [{selector: a.B.C, get: \"/x/**/y\"}]}", "must be the last segment"},
		{"http: {rules: [{selector: a.B.C, custom: {kind: head, path: /x}}]}", "custom kind \"head\""},
		{"\t: x", "not valid YAML"},
	} {
		_, err := Parse([]byte(tc.file))
		var e *Error
		if err == nil || !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want an *Error containing %q", tc.file, err, tc.want)
		}
	}
}

func TestTemplates(t *testing.T) {
	for _, s := range []string{"/v1/items", "/v1/{id}", "/v1/{name=shelves/*/books/*}", "/v1/{a.b.c}:cancel", "/*/**", "/v1/%7Eme", "/v1/{path=**}"} {
		tp, err := ParseTemplate(s)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", s, err)
			continue
		}
		if tp.String() != s {
			t.Errorf("ParseTemplate(%q).String() = %q", s, tp.String())
		}
	}
	for _, s := range []string{"", "/", "v1", "/v1/", "//x", "/{a}/{a}", "/{a={b}}", "/{1a}", "/**/x", "/x:", "/x y", "/{a=**}/x", "/%zz", "/x}"} {
		if _, err := ParseTemplate(s); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", s)
		}
	}
}

func TestCheck(t *testing.T) {
	get := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService").Methods().ByName("Get")
	for _, tc := range []struct {
		rule *annotations.HttpRule
		want string
	}{
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{nope}"}}, `has no field "nope"`},
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{meta}"}}, "is a message"},
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{meta.labels}"}}, "is repeated"},
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{id.x}"}}, "is not a message"},
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/x"}, Body: "nope"}, `body "nope"`},
		{&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/x"}, ResponseBody: "nope"}, `response_body "nope"`},
	} {
		if err := Check(tc.rule, get); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%v) = %v; want %q", tc.rule, err, tc.want)
		}
	}
	if err := Check(&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{meta.request_id}/{id}"}}, get); err != nil {
		t.Errorf("nested field: %v", err)
	}
	if !Matches("natsrpctest.v1.*", get.FullName()) || Matches("natsrpctest.v2.*", get.FullName()) || !Matches("*", get.FullName()) {
		t.Error("Matches")
	}
}

func protoNameOf(s string) protoreflect.Name { return protoreflect.Name(s) }

const extensionFile = `type: google.api.Service
config_version: 3
http:
  rules:
  - selector: natsrpctest.v1.TestService.Get
    get: /v1/items/{id}
natsrpc:
  bridge:
  - selector: natsrpctest.v1.*
    status:
      404: failed_precondition
      410: not_found
  - selector: natsrpctest.v1.TestService.Get
    status: {404: not_found, 503: resource_exhausted}
  shadow:
  - selector: natsrpctest.v1.TestService.*
    rate: 0.25
  - selector: natsrpctest.v1.TestService.Get
    rate: 1
    ignore: [item.summary, item.level]
    unordered: [item.tags]
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(extensionFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 1 || len(c.Bridge) != 2 || len(c.Shadow) != 2 {
		t.Fatalf("config %+v", c)
	}
	// Per status, the most specific selector wins.
	got := c.StatusOverrides("natsrpctest.v1.TestService.Get")
	want := map[int]natsrpc.Code{404: natsrpc.CodeNotFound, 410: natsrpc.CodeNotFound, 503: natsrpc.CodeResourceExhausted}
	if !maps.Equal(got, want) {
		t.Errorf("Get's overrides %v; want %v", got, want)
	}
	if got := c.StatusOverrides("natsrpctest.v1.TestService.Generate"); !maps.Equal(got, map[int]natsrpc.Code{404: natsrpc.CodeFailedPrecondition, 410: natsrpc.CodeNotFound}) {
		t.Errorf("Generate's overrides %v", got)
	}
	if got := c.StatusOverrides("other.v1.S.M"); got != nil {
		t.Errorf("unmatched method's overrides %v", got)
	}
	if s := c.ShadowFor("natsrpctest.v1.TestService.Get"); s == nil || s.Rate != 1 || !slices.Equal(s.Ignore, []string{"item.summary", "item.level"}) || !slices.Equal(s.Unordered, []string{"item.tags"}) {
		t.Errorf("Get's shadow %+v", s)
	}
	if s := c.ShadowFor("natsrpctest.v1.TestService.Generate"); s == nil || s.Rate != 0.25 || s.Line != 16 {
		t.Errorf("Generate's shadow %+v", s)
	}
	// The gateway's Parse reads the same file, rules only.
	rules, err := Parse([]byte(extensionFile))
	if err != nil || len(rules) != 1 {
		t.Fatalf("Parse: %v, %v", rules, err)
	}
	// A file of natsrpc settings alone.
	c, err = ParseConfig([]byte("natsrpc:\n  shadow:\n  - {selector: a.B.C, rate: 0}\n"))
	if err != nil || len(c.Rules) != 0 || len(c.Shadow) != 1 {
		t.Fatalf("natsrpc alone: %+v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	head := "http: {rules: []}\nnatsrpc:\n"
	for _, tc := range []struct{ ext, want string }{
		{"  bogus: []\n", `3: unknown key "bogus" under natsrpc: only bridge and shadow`},
		{"  bridge: {a: b}\n", "natsrpc.bridge must be a list"},
		{"  bridge:\n  - status: {404: not_found}\n", "4: the natsrpc.bridge entry has no selector"},
		{"  bridge:\n  - selector: a.B.C\n", "the natsrpc.bridge entry has no status overrides"},
		{"  bridge:\n  - selector: a.B.C\n    status: {200: not_found}\n", `status "200": override an HTTP error status, 400 to 599`},
		{"  bridge:\n  - selector: a.B.C\n    status: {0404: not_found}\n", `status "0404"`},
		{"  bridge:\n  - selector: a.B.C\n    status: {404: NOT_FOUND}\n", `status 404: "NOT_FOUND" is not a natsrpc error code: use one of canceled, unknown,`},
		{"  bridge:\n  - selector: a.B.C\n    status: {404: ok}\n", `"ok" is not a natsrpc error code`},
		{"  bridge:\n  - selector: a.B.C\n    status: {404: code_99}\n", `"code_99" is not a natsrpc error code`},
		{"  bridge:\n  - selector: a.B.C\n    status: {404: not_found, 404: aborted}\n", `key "404" is given twice`},
		{"  bridge:\n  - selector: a.B.C\n    status: {404: not_found}\n  - selector: a.B.C\n    status: {409: aborted}\n", `6: selector "a.B.C" already has an entry in natsrpc.bridge (line 4): merge them`},
		{"  bridge:\n  - selector: a.B*\n    status: {404: not_found}\n", "whole name components"},
		{"  bridge:\n  - selector: a.B.C\n    codes: {404: not_found}\n", `unknown key "codes" in a natsrpc.bridge entry`},
		{"  shadow:\n  - selector: a.B.C\n", "the natsrpc.shadow entry has no rate"},
		{"  shadow:\n  - selector: a.B.C\n    rate: 1.5\n", `rate "1.5": the share of calls mirrored, a number from 0 to 1`},
		{"  shadow:\n  - selector: a.B.C\n    rate: .nan\n", `rate ".nan"`},
		{"  shadow:\n  - selector: a.B.C\n    rate: 1\n    ignore: quest\n", "ignore must be a list of field paths"},
		{"  shadow:\n  - selector: a.B.C\n    rate: 1\n    ignore: [quest..id]\n", `ignore "quest..id": a path is field names joined by dots`},
		{"  shadow:\n  - selector: a.B.C\n    rate: 1\n    unordered: [a, a]\n", `unordered "a" is listed twice`},
		{"  shadow:\n  - selector: a.B.C\n    rate: 1\n    sample: 2\n", `unknown key "sample" in a natsrpc.shadow entry`},
		{"  shadow: [3]\n", "an entry of natsrpc.shadow must be a mapping"},
		{"  - 1\n", "natsrpc must be a mapping"},
	} {
		_, err := ParseConfig([]byte(head + tc.ext))
		var e *Error
		if err == nil || !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v; want an *Error containing %q", tc.ext, err, tc.want)
		}
		// The gateway refuses the file too.
		if _, err := Parse([]byte(head + tc.ext)); err == nil {
			t.Errorf("Parse(%q) accepted it", tc.ext)
		}
	}
}
