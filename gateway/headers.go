package gateway

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
)

// DefaultForwardHeaders are the request headers that become call metadata
// unless [WithForwardHeaders] says otherwise: W3C trace context and
// baggage, and request ids. Credentials (Authorization, Cookie) are not
// forwarded by default: a service that needs them must be named with
// --forward-header, so that nobody leaks them to every service by
// accident.
var DefaultForwardHeaders = []string{"traceparent", "tracestate", "baggage", "X-Request-Id", "X-Correlation-Id"}

// headerPolicy decides which HTTP request headers become NATS call
// metadata, and under which name.
type headerPolicy struct {
	// exact maps a canonical HTTP header name to the NATS header name it
	// is sent as (the spelling the user gave).
	exact map[string]string
	// prefixes are canonical name prefixes ("X-Game-" for "X-Game-*");
	// such headers travel under their canonical HTTP name.
	prefixes []string
}

// neverForwarded are headers no policy may forward: the natsrpc wire
// contract's own (reserved on NATS), HTTP's hop-by-hop and framing
// headers, and those of the protocols the gateway speaks, which it
// translates itself.
var neverForwarded = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Upgrade", "Te", "Trailer", "Host", "Status", "Description", "Accept-Encoding",
	"Nats-Service-Error", "Nats-Service-Error-Code", "Nats-Msg-Id",
}

// neverForwardedPrefixes are reserved name prefixes (canonical form).
var neverForwardedPrefixes = []string{"Nats-Rpc-", "Grpc-", "Connect-", "X-Grpc-", "Proxy-", "Sec-"}

// parseForwardHeaders builds the policy from header names: a name
// forwards that header (case-insensitive on HTTP, sent as written on
// NATS); a name ending in "*" forwards every header starting with the
// rest. Reserved names are refused with an error that says why.
func parseForwardHeaders(names []string) (*headerPolicy, error) {
	p := &headerPolicy{exact: map[string]string{}}
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		prefix, wildcard := strings.CutSuffix(name, "*")
		check := name
		if wildcard {
			check = prefix
		}
		if check == "" {
			if wildcard {
				return nil, fmt.Errorf("forward header %q: a lone \"*\" would forward every header, credentials included; list the headers, or a prefix such as X-Game-*", raw)
			}
			return nil, fmt.Errorf("forward header %q: empty name", raw)
		}
		if !validToken(check) || strings.Contains(check, "*") {
			return nil, fmt.Errorf("forward header %q: not a header name (letters, digits and !#$%%&'*+-.^_`|~, with an optional \"*\" at the end)", raw)
		}
		canon := textproto.CanonicalMIMEHeaderKey(check)
		if wildcard && !strings.HasSuffix(check, "-") {
			// "X-Game*" would canonicalize oddly; keep the prefix as
			// written, compared case-insensitively.
			canon = check
		}
		if reason := reservedReason(canon, wildcard); reason != "" {
			return nil, fmt.Errorf("forward header %q: %s", raw, reason)
		}
		if wildcard {
			p.prefixes = append(p.prefixes, canon)
			continue
		}
		p.exact[canon] = check
	}
	slices.Sort(p.prefixes)
	return p, nil
}

// reservedReason says why a name (or prefix) may not be forwarded; empty
// when it may.
func reservedReason(canon string, prefix bool) string {
	for _, r := range neverForwarded {
		if strings.EqualFold(canon, r) || (prefix && hasPrefixFold(r, canon)) {
			return fmt.Sprintf("%s is a protocol header the gateway handles itself and cannot be forwarded", r)
		}
	}
	for _, r := range neverForwardedPrefixes {
		if hasPrefixFold(canon, r) || (prefix && hasPrefixFold(r, canon)) {
			return fmt.Sprintf("headers starting with %s are reserved for the protocols the gateway speaks and cannot be forwarded", r)
		}
	}
	return ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validToken reports whether s is an HTTP token (RFC 9110), which is also
// a valid NATS header name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether v can travel as a NATS header value: no
// control characters but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// forward returns the NATS headers the policy lets through from h; nil
// when none.
func (p *headerPolicy) forward(h http.Header) nats.Header {
	var out nats.Header
	for k, vs := range h {
		name, ok := p.exact[k]
		if !ok {
			for _, pre := range p.prefixes {
				if hasPrefixFold(k, pre) && len(k) > len(pre) {
					name, ok = k, true
					break
				}
			}
		}
		if !ok || !validToken(k) {
			continue
		}
		for _, v := range vs {
			if !validValue(v) {
				continue
			}
			if out == nil {
				out = nats.Header{}
			}
			out[name] = append(out[name], v)
		}
	}
	return out
}

// names returns the exact header names, for CORS's allowed headers.
func (p *headerPolicy) names() []string {
	out := make([]string, 0, len(p.exact))
	for _, n := range p.exact {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// responseHeaderAllowed reports whether a NATS response header may become
// an HTTP response header: not the wire contract's own, not one of the
// protocols' or HTTP's framing headers, and a valid name.
func responseHeaderAllowed(k string) bool {
	if !validToken(k) {
		return false
	}
	canon := textproto.CanonicalMIMEHeaderKey(k)
	return reservedReason(canon, false) == "" && !hasPrefixFold(canon, "Nats-") &&
		!strings.EqualFold(canon, "Access-Control-Allow-Origin") && !hasPrefixFold(canon, "Access-Control-")
}

// copyResponseHeader adds the allowed headers of src to dst.
func copyResponseHeader(dst http.Header, src nats.Header) {
	for k, vs := range src {
		if !responseHeaderAllowed(k) {
			continue
		}
		for _, v := range vs {
			if validValue(v) {
				dst.Add(k, v)
			}
		}
	}
}

// protocol is how a request that never reached a route is answered.
type protocol int

const (
	protoREST protocol = iota
	protoConnect
	protoConnectStream
	protoGRPC
	protoGRPCWeb
)

// classify tells the protocol of a request from its method, path and
// Content-Type, for answering errors the gateway raises before routing
// (overload, unknown route, not ready) in a form the client reads.
func classify(r *http.Request) protocol {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return protoGRPCWeb
	case ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"):
		return protoGRPC
	case strings.HasPrefix(ct, "application/connect+"):
		return protoConnectStream
	}
	if r.Header.Get("Connect-Protocol-Version") != "" {
		return protoConnect
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodGet) && isProcedurePath(r.URL.Path) &&
		(ct == "application/json" || ct == "application/proto" || (r.Method == http.MethodGet && r.URL.Query().Has("message"))) {
		return protoConnect
	}
	return protoREST
}

// isProcedurePath reports whether path has the form /pkg.Service/Method.
func isProcedurePath(path string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || !strings.HasPrefix(path, "/") || method == "" || strings.Contains(method, "/") || !strings.Contains(svc, ".") {
		return false
	}
	for _, part := range strings.Split(svc, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return isIdent(method)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// acceptsEventStream reports whether an Accept header asks for
// Server-Sent Events (text/event-stream with a non-zero q).
func acceptsEventStream(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			continue
		}
		q := "1"
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q = strings.TrimSpace(v)
			}
		}
		if strings.Trim(q, "0.") != "" {
			return true
		}
	}
	return false
}
