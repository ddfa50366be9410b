package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/nats-io/nats.go"
)

// alwaysForwarded are the headers every call passes both ways: W3C trace
// context and baggage, and the usual request ids.
var alwaysForwarded = []string{"traceparent", "tracestate", "baggage", "X-Request-Id", "X-Correlation-Id"}

// headerPolicy says which headers pass between a NATS call's metadata and
// the HTTP request (and back from the HTTP response).
type headerPolicy struct {
	names    map[string]bool // canonical MIME names
	prefixes []string        // canonical, without the "*"
}

// parseForwardHeaders builds the policy from names and prefixes ("X-Game-*").
// Headers that belong to either protocol cannot be forwarded: naming one
// is an error.
func parseForwardHeaders(extra []string) (*headerPolicy, error) {
	p := &headerPolicy{names: map[string]bool{}}
	for _, n := range alwaysForwarded {
		p.names[textproto.CanonicalMIMEHeaderKey(n)] = true
	}
	for _, n := range extra {
		prefix := strings.HasSuffix(n, "*")
		name := strings.TrimSuffix(n, "*")
		if name == "" || strings.ContainsAny(name, " \t\r\n:*") {
			return nil, fmt.Errorf("forward header %q: give a header name, or a prefix ending in * (X-Game-*)", n)
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if why := reserved(canon, prefix); why != "" {
			return nil, fmt.Errorf("forward header %q: %s", n, why)
		}
		if prefix {
			p.prefixes = append(p.prefixes, canon)
		} else {
			p.names[canon] = true
		}
	}
	return p, nil
}

// reserved says why a header (or prefix) cannot be forwarded, or "".
func reserved(canon string, prefix bool) string {
	lower := strings.ToLower(canon)
	for _, r := range []string{"nats-rpc-", "nats-service-", "natsrpc-"} {
		if strings.HasPrefix(lower, r) || (prefix && strings.HasPrefix(r, lower)) {
			return "natsrpc's wire contract owns this header"
		}
	}
	switch lower {
	case "content-type", "content-length", "content-encoding", "transfer-encoding", "host", "connection",
		"keep-alive", "te", "trailer", "upgrade", "proxy-connection", "accept", "status", "description":
		return "the bridge sets this header itself"
	}
	return ""
}

func (p *headerPolicy) allowed(canon string) bool {
	if p.names[canon] {
		return true
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(canon, pre) {
			return true
		}
	}
	return false
}

// toHTTP copies the allowed metadata of a call into an HTTP request.
func (p *headerPolicy) toHTTP(from nats.Header, to http.Header) {
	for k, vs := range from {
		canon := textproto.CanonicalMIMEHeaderKey(k)
		if !p.allowed(canon) {
			continue
		}
		for _, v := range vs {
			to.Add(canon, v)
		}
	}
}

// fromHTTP copies the allowed headers of an HTTP answer into the call's
// response metadata. NATS headers are case-sensitive: W3C trace headers
// keep their lower-case names there.
func (p *headerPolicy) fromHTTP(from http.Header, to nats.Header) {
	for k, vs := range from {
		if !p.allowed(k) {
			continue
		}
		name := k
		for _, w := range alwaysForwarded[:3] {
			if strings.EqualFold(k, w) {
				name = w
			}
		}
		to[name] = append(to[name], vs...)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
