package httprule

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc"
)

// FuzzParse checks that no rules file makes ParseConfig panic, that what
// it accepts has a selector and a parsable pattern in every rule, and that
// natsrpc's extension holds what its reader promises: valid selectors,
// error statuses mapped to error codes, rates from 0 to 1, field paths of
// identifiers. Parse agrees with ParseConfig.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte(extensionFile))
	if b, err := os.ReadFile("testdata/gaming.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{"", "http: {rules: []}", "http:\n  rules:\n  - selector: a.B.C\n    get: /v1/{id=**}\n", "{http: {rules: [{selector: '*', post: /x, body: '*'}]}}", "http: &a {rules: *a}"} {
		f.Add([]byte(s))
	}
	for _, s := range []string{"natsrpc: {bridge: [{selector: '*', status: {500: unavailable}}]}", "natsrpc:\n  shadow:\n  - {selector: a.*, rate: 0.5, ignore: [x.y]}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		rules, perr := Parse(data)
		if (err == nil) != (perr == nil) {
			t.Fatalf("ParseConfig: %v; Parse: %v", err, perr)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		if len(rules) != len(cfg.Rules) {
			t.Fatalf("Parse found %d rules, ParseConfig %d", len(rules), len(cfg.Rules))
		}
		for _, b := range cfg.Bridge {
			if checkSelector(b.Selector) != nil || len(b.Status) == 0 {
				t.Fatalf("accepted bridge entry %+v", b)
			}
			for status, code := range b.Status {
				if status < 400 || status > 599 || code < natsrpc.CodeCanceled || code > natsrpc.CodeUnauthenticated {
					t.Fatalf("accepted override %d: %v", status, code)
				}
			}
		}
		for _, s := range cfg.Shadow {
			if checkSelector(s.Selector) != nil || !(s.Rate >= 0 && s.Rate <= 1) {
				t.Fatalf("accepted shadow entry %+v", s)
			}
			for _, p := range append(slices.Clone(s.Ignore), s.Unordered...) {
				for _, part := range strings.Split(p, ".") {
					if !isIdent(part) {
						t.Fatalf("accepted field path %q", p)
					}
				}
			}
		}
		for _, r := range rules {
			if r.GetSelector() == "" {
				t.Fatalf("accepted a rule without selector: %v", r)
			}
			for _, b := range append(r.GetAdditionalBindings(), r) {
				verb, path := Pattern(b)
				if verb == "" {
					t.Fatalf("accepted a rule without pattern: %v", b)
				}
				if _, err := ParseTemplate(path); err != nil {
					t.Fatalf("accepted template %q: %v", path, err)
				}
			}
		}
	})
}

// FuzzParseTemplate checks that an accepted template prints back to
// itself in canonical form and that the canonical form parses to the same.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"/v1/items", "/v1/{id}", "/v1/{name=shelves/*/books/*}", "/v1/{a.b}:cancel", "/*/**", "/v1/{p=**}", "/{a=*}", "/%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate(s)
		if err != nil {
			return
		}
		out := tp.String()
		again, err := ParseTemplate(out)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, out, err)
		}
		if again.String() != out {
			t.Fatalf("%q: canonical form %q reprints as %q", s, out, again.String())
		}
	})
}
