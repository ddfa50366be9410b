package schema

import (
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// FuzzParseMethod: any string parses or fails with an error, never a
// panic; what parses is consistent: a name's parts are identifiers and
// print back to a reference that parses to the same parts, a subject is
// the input and a literal NATS subject. Seeds in testdata/fuzz.
func FuzzParseMethod(f *testing.F) {
	for _, s := range []string{
		"gaming.quest_system.v1.QuestSystemService/GetQuest",
		"/gaming.quest_system.v1.QuestSystemService/GetQuest",
		"gaming.quest_system.v1.QuestSystemService.GetQuest",
		"staging.gaming.quest_system.v1.QuestSystemService.GetQuest",
		"Svc/M", "a.b-c.d", "x/y/z", "", "$SRV.INFO", "a..b", "a.*.b", "a.>", "a b.c", "1a.b/C",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseMethod(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseMethod(%q): empty error", s)
			}
			return
		}
		if ref.Raw != s || ref.String() != s {
			t.Fatalf("ParseMethod(%q).Raw = %q", s, ref.Raw)
		}
		if !ref.ByName() && ref.Subject == "" {
			t.Fatalf("ParseMethod(%q) = %+v: neither a name nor a subject", s, ref)
		}
		if ref.Subject != "" {
			if ref.Subject != s || spec.ValidateSubject(s) != nil || strings.Contains(s, "/") {
				t.Fatalf("ParseMethod(%q) took %q as a subject", s, ref.Subject)
			}
		}
		if ref.ByName() {
			if !isFullName(ref.Service) || !isIdent(ref.Method) {
				t.Fatalf("ParseMethod(%q) = service %q, method %q", s, ref.Service, ref.Method)
			}
			again, err := ParseMethod(ref.FullName())
			if err != nil || again.Service != ref.Service || again.Method != ref.Method {
				t.Fatalf("ParseMethod(%q) = %q, which parses to %+v, %v", s, ref.FullName(), again, err)
			}
		}
	})
}

// TestParseMethod pins the accepted forms and the errors.
func TestParseMethod(t *testing.T) {
	for _, c := range []struct {
		in, service, method, subject, err string
	}{
		{in: "gaming.q.v1.S/Get", service: "gaming.q.v1.S", method: "Get"},
		{in: "/gaming.q.v1.S/Get", service: "gaming.q.v1.S", method: "Get"},
		{in: "gaming.q.v1.S.Get", service: "gaming.q.v1.S", method: "Get", subject: "gaming.q.v1.S.Get"},
		{in: "staging.q-1.S.Get", subject: "staging.q-1.S.Get"},
		{in: "Get", subject: "Get"},
		{in: "", err: "the method is empty"},
		{in: "a/b/c", err: "not of the form pkg.Service/Method"},
		{in: "a.b/1c", err: "not of the form"},
		{in: "$SRV.INFO", err: "neither a name nor a subject"},
		{in: "a.*.b", err: "wildcard"},
		{in: "a..b", err: "empty token"},
	} {
		ref, err := ParseMethod(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseMethod(%q) = %+v, %v; want an error with %q", c.in, ref, err, c.err)
			}
			continue
		}
		if err != nil || ref.Service != c.service || ref.Method != c.method || ref.Subject != c.subject {
			t.Errorf("ParseMethod(%q) = %+v, %v; want %s/%s subject %q", c.in, ref, err, c.service, c.method, c.subject)
		}
	}
}
