package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestForwardHeaders(t *testing.T) {
	p, err := parseForwardHeaders(append(slices.Clone(DefaultForwardHeaders), "X-Player-*", "Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Traceparent", "00-abc-def-01")
	h.Set("X-Player-Id", "p1")
	h.Set("X-Player-", "empty suffix")
	h.Set("Authorization", "Bearer x")
	h.Set("Cookie", "c=1")
	h.Set("X-Request-Id", "r1")
	h.Set("Content-Type", "application/json")
	h.Set("Grpc-Timeout", "1S")
	h.Set("X-Player-Evil", "a\nb")
	got := p.forward(h)
	want := map[string]string{"traceparent": "00-abc-def-01", "X-Player-Id": "p1", "Authorization": "Bearer x", "X-Request-Id": "r1"}
	if len(got) != len(want) {
		t.Fatalf("forwarded %v; want %v", got, want)
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q; want %q (forwarded %v)", k, got.Get(k), v, got)
		}
	}
	for _, bad := range []string{"*", "", "Nats-Rpc-Timeout", "nats-rpc-*", "Content-Type", "Grpc-*", "G*", "X Y", "Connect-Timeout-Ms", "Host", "Status"} {
		if _, err := parseForwardHeaders([]string{bad}); err == nil {
			t.Errorf("parseForwardHeaders(%q) accepted", bad)
		}
	}
}

func TestResponseHeaderAllowed(t *testing.T) {
	for k, want := range map[string]bool{
		"X-Quest-Cache": true, "x-model": true, "Nats-Rpc-Code": false, "Nats-Service-Error": false, "Content-Type": false,
		"Grpc-Status": false, "Connect-Timeout-Ms": false, "Status": false, "Access-Control-Allow-Origin": false, "Bad Key": false, "Nats-Msg-Id": false,
	} {
		if got := responseHeaderAllowed(k); got != want {
			t.Errorf("responseHeaderAllowed(%q) = %v", k, got)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		method, path, ct string
		hdr              map[string]string
		want             protocol
	}{
		{"POST", "/a.B/C", "application/grpc", nil, protoGRPC},
		{"POST", "/a.B/C", "application/grpc+proto", nil, protoGRPC},
		{"POST", "/a.B/C", "application/grpc-web+proto", nil, protoGRPCWeb},
		{"POST", "/a.B/C", "application/connect+json", nil, protoConnectStream},
		{"POST", "/a.B/C", "application/json", nil, protoConnect},
		{"POST", "/a.B/C", "application/json; charset=utf-8", nil, protoConnect},
		{"POST", "/v1/items", "application/json", nil, protoREST},
		{"GET", "/v1/items/1", "", nil, protoREST},
		{"POST", "/v1/items", "application/json", map[string]string{"Connect-Protocol-Version": "1"}, protoConnect},
		{"POST", "/a.B/C/D", "application/json", nil, protoREST},
		{"POST", "/B/C", "application/json", nil, protoREST},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := classify(r); got != c.want {
			t.Errorf("classify(%s %s %q) = %v; want %v", c.method, c.path, c.ct, got, c.want)
		}
	}
}

func TestAcceptsEventStream(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/event-stream": true, "application/json, text/event-stream;q=0.5": true, "TEXT/EVENT-STREAM": true,
		"text/event-stream;q=0": false, "text/event-stream; q=0.0": false, "application/json": false, "": false, "*/*": false,
	} {
		if got := acceptsEventStream(accept); got != want {
			t.Errorf("acceptsEventStream(%q) = %v", accept, got)
		}
	}
}

// FuzzForwardHeaders checks the forward-header policy on any names and
// headers: it never forwards a reserved or protocol header, never a value
// with a control character, and forwards only what a name or prefix
// allows.
func FuzzForwardHeaders(f *testing.F) {
	f.Add("X-Game-*", "X-Game-Id", "v")
	f.Add("authorization", "Authorization", "Bearer t")
	f.Add("nats-rpc-*", "Nats-Rpc-Timeout", "1")
	f.Add("X-A", "X-A", "a\r\nb")
	f.Add("traceparent", "traceparent", "00-x")
	f.Fuzz(func(t *testing.T, name, key, value string) {
		p, err := parseForwardHeaders([]string{name})
		if err != nil {
			return
		}
		name = strings.TrimSpace(name) // names are trimmed
		h := http.Header{}
		h[textproto.CanonicalMIMEHeaderKey(key)] = []string{value}
		for k, vs := range p.forward(h) {
			canon := textproto.CanonicalMIMEHeaderKey(k)
			if reservedReason(canon, false) != "" || strings.HasPrefix(strings.ToLower(k), "nats-") && !strings.EqualFold(name, k) {
				t.Fatalf("policy %q forwarded reserved header %q", name, k)
			}
			if !validToken(k) {
				t.Fatalf("forwarded invalid name %q", k)
			}
			for _, v := range vs {
				if !validValue(v) {
					t.Fatalf("forwarded value %q", v)
				}
			}
			prefix, wild := strings.CutSuffix(name, "*")
			if !strings.EqualFold(k, name) && !(wild && hasPrefixFold(k, prefix)) {
				t.Fatalf("policy %q forwarded %q", name, k)
			}
		}
	})
}

// FuzzClassify checks that classifying any request never panics and that
// a gRPC content type is always gRPC.
func FuzzClassify(f *testing.F) {
	f.Add("POST", "/a.B/C", "application/grpc", "")
	f.Add("GET", "/v1/x?message=1", "", "1")
	f.Add("POST", "/a.b.C/D", "application/json;x", "")
	f.Fuzz(func(t *testing.T, method, path, ct, version string) {
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, Header: http.Header{}, URL: u}
		r.Header.Set("Content-Type", ct)
		if version != "" {
			r.Header.Set("Connect-Protocol-Version", version)
		}
		got := classify(r)
		base := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
		if (base == "application/grpc" || strings.HasPrefix(base, "application/grpc+")) && got != protoGRPC {
			t.Fatalf("%q classified %v", ct, got)
		}
		_ = isProcedurePath(path)
		_ = acceptsEventStream(ct)
		if enc := grpcPercentEncode(path); strings.ContainsAny(enc, "\r\n\x00") {
			t.Fatalf("grpc-message %q", enc)
		}
	})
}

func TestGRPCPercentEncode(t *testing.T) {
	if got := grpcPercentEncode("50% off: café\n"); got != "50%25 off: caf%C3%A9%0A" {
		t.Errorf("got %q", got)
	}
}
