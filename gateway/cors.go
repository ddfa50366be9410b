package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// corsPolicy lets browser clients at given origins call the gateway:
// Connect and gRPC-Web from a web page, and REST.
type corsPolicy struct {
	any     bool
	origins map[string]bool
	allow   string // Access-Control-Allow-Headers
}

// corsExposed are the response headers a browser client must read:
// Connect's and gRPC-Web's status, and metadata.
const corsExposed = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Connect-Content-Encoding, Connect-Accept-Encoding, Content-Encoding"

func newCORSPolicy(origins []string, forward *headerPolicy) (*corsPolicy, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	p := &corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			p.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("CORS origin %q: give a scheme and host, such as https://dashboard.example.com (or * for any)", o)
		}
		p.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	allow := []string{"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms", "Connect-Accept-Encoding", "Connect-Content-Encoding",
		"Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "Accept"}
	allow = append(allow, forward.names()...)
	slices.Sort(allow)
	p.allow = strings.Join(slices.Compact(allow), ", ")
	return p, nil
}

func (p *corsPolicy) allowed(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// handle adds CORS headers for an allowed origin and answers preflight
// requests; it reports whether it answered.
func (p *corsPolicy) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !p.allowed(origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if p.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Expose-Headers", corsExposed)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", p.allow)
		h.Set("Access-Control-Max-Age", "7200")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
