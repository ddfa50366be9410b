package perms

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDeriveErrors: a role without what it needs, or an unknown one, is
// refused with what to give.
func TestDeriveErrors(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Role: "pusher"}, "needs --module"},
		{Request{Role: "policy-admin", Module: "Bad.Name"}, "not a module name"},
		{Request{Role: "service"}, "needs --service"},
		{Request{Role: "client"}, "needs --service"},
		{Request{Role: "root"}, `unknown role "root"`},
	} {
		if _, err := Derive(tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.req, err, tc.want)
		}
	}
}

// TestOutputs: the JSON is one permissions object with sorted lists, the
// same for the same input; every role denies announcing versions but the
// registry; a subject prefix applies to the registry's subjects.
func TestOutputs(t *testing.T) {
	p, err := Derive(Request{Role: "pusher", Module: "quest", SubjectPrefix: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.JSON()
	p2, _ := Derive(Request{Role: "pusher", Module: "quest", SubjectPrefix: "staging"})
	b, _ := p2.JSON()
	if string(a) != string(b) {
		t.Errorf("two runs differ:\n%s\n%s", a, b)
	}
	var obj map[string]map[string][]string
	if err := json.Unmarshal(a, &obj); err != nil {
		t.Fatalf("not one JSON object of lists: %v\n%s", err, a)
	}
	if got := obj["publish"]["allow"]; !strings.Contains(strings.Join(got, " "), "staging.natsrpc.registry.v1.push.*.quest") {
		t.Errorf("publish allow %q", got)
	}
	if got := obj["publish"]["deny"]; len(got) != 1 || got[0] != "staging.natsrpc.registry.v1.RegistryEventsService.VersionCreated" {
		t.Errorf("publish deny %q", got)
	}
	reg, _ := Derive(Request{Role: "registry"})
	if strings.Contains(strings.Join(reg.Publish.Deny, " "), "VersionCreated") || !strings.Contains(reg.Conf(), `"natsrpc.registry.v1.RegistryEventsService.VersionCreated"`) {
		t.Errorf("the registry must announce versions:\n%s", reg.Conf())
	}
}
