package httprule

import (
	"os"
	"testing"
)

// FuzzParse checks that no rules file makes Parse panic, and that what it
// accepts has a selector and a parsable pattern in every rule.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	if b, err := os.ReadFile("testdata/gaming.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{"", "http: {rules: []}", "http:\n  rules:\n  - selector: a.B.C\n    get: /v1/{id=**}\n", "{http: {rules: [{selector: '*', post: /x, body: '*'}]}}", "http: &a {rules: *a}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
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
