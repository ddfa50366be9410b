// Package bridge serves a protobuf service's NATS subjects by calling an
// existing HTTP/JSON service: the other half of a migration from HTTP to
// NATS, next to the gateway (HTTP callers reaching NATS services). NATS
// callers, generated Go clients among them, call a service still on HTTP
// without knowing it is not on NATS yet.
//
// The bridge is a natsrpc service built from the service's descriptors
// with the runtime's dynamic handlers ([natsrpc.NewDynamicUnaryHandler]):
// the queue group, $SRV discovery, deadlines, headers and errors of the
// wire contract are the runtime's, so instances of the bridge and of the
// service that replaces it are interchangeable to callers. Each method's
// HTTP request comes from its google.api.http annotation, else from a
// rules file (package httprule), else is POST <base>/<pkg.Service>/<Method>
// with the request as JSON; the JSON answer is decoded into the response
// message. Shadow traffic ([natsrpc.WithShadow]) and weighted cutover
// ([Mappings]) move the service over.
//
// It lives in the gateway module: it shares httprule and the gateway's
// descriptor loading, and adds no requirement of its own.
package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/gateway/internal/jsonwire"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// DefaultMaxInFlight is how many HTTP calls a bridge makes at once unless
// told otherwise; as many more wait for one to finish, and calls beyond
// are answered resource_exhausted at once.
const DefaultMaxInFlight = 256

// Option configures [New].
type Option func(*options)

type options struct {
	rules        *httprule.Config
	strict       bool
	camel        bool
	emitDefaults bool
	maxInFlight  int
	forward      []string
	client       *http.Client
	handlerOpts  []natsrpc.HandlerOption
	log          *slog.Logger
	// types resolve Any's type URLs; wire transcodes answers.
	types *dynamicpb.Types
	wire  *jsonwire.Transcoder
}

// WithRules gives the rules file: HTTP routes for methods without
// annotations, and per-method status overrides.
func WithRules(c *httprule.Config) Option { return func(o *options) { o.rules = c } }

// WithStrict refuses answers with JSON fields the response message does
// not have (internal), instead of ignoring them.
func WithStrict() Option { return func(o *options) { o.strict = true } }

// WithJSONNames sends requests with lowerCamelCase JSON names
// (protojson's default) instead of the proto field names (snake_case,
// what Python services such as FastAPI's use). Answers are read with
// either.
func WithJSONNames() Option { return func(o *options) { o.camel = true } }

// WithEmitDefaults sends every field, zero values included (null for
// unset messages), for services that want every key present; by default
// zero values are left out, as protojson does.
func WithEmitDefaults() Option { return func(o *options) { o.emitDefaults = true } }

// WithMaxInFlight bounds the HTTP calls in progress (default
// [DefaultMaxInFlight]).
func WithMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = n } }

// WithForwardHeaders adds request headers passed to the HTTP service (and
// response headers passed back): names, or prefixes ending in "*". Always
// passed: traceparent, tracestate, baggage, X-Request-Id and
// X-Correlation-Id.
func WithForwardHeaders(names ...string) Option {
	return func(o *options) { o.forward = append(o.forward, names...) }
}

// WithHTTPClient replaces the HTTP client (default: keep-alive, with as
// many idle connections as calls in flight).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithHandlerOptions passes options to the natsrpc service: a subject
// prefix, [natsrpc.WithShadow], interceptors, [natsrpc.WithMaxTimeout].
func WithHandlerOptions(opts ...natsrpc.HandlerOption) Option {
	return func(o *options) { o.handlerOpts = append(o.handlerOpts, opts...) }
}

// WithLogger logs the routes' warnings.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Bridge is one running bridge: a natsrpc service whose handlers call the
// HTTP service.
type Bridge struct {
	svc    *natsrpc.Service
	base   string // scheme://host[/prefix], escaped, without a trailing slash
	client *http.Client
	routes []*route
	fwd    *headerPolicy
	maxRes int64
}

// New starts serving sd's methods on nc by calling the HTTP service at
// base (http:// or https://, with a path prefix if any). Unary methods and
// events are bridged; streaming methods are not (they have no HTTP/JSON
// counterpart) and get no subscription, so their callers are answered
// unavailable. It fails when a route cannot be built (a rule naming a
// field the request lacks, a template segment no field fills) or NATS
// refuses the service.
func New(nc *nats.Conn, sd protoreflect.ServiceDescriptor, base string, opts ...Option) (*Bridge, error) {
	o := &options{maxInFlight: DefaultMaxInFlight, rules: &httprule.Config{}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.rules == nil {
		o.rules = &httprule.Config{}
	}
	if o.maxInFlight < 1 {
		return nil, fmt.Errorf("bridge: max in flight %d must be at least 1", o.maxInFlight)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bridge: the HTTP service's base URL %q must be http://HOST[:PORT][/PREFIX] or https://...", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	fwd, err := parseForwardHeaders(o.forward)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	sp, err := spec.ForService(sd)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	o.types = dynamicpb.NewTypes(filesOf(sd.ParentFile()))
	o.wire = jsonwire.New(o.types)
	b := &Bridge{base: u.String(), client: o.client, fwd: fwd, maxRes: 8 * max(nc.MaxPayload(), 1<<20)}
	if b.client == nil {
		b.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        o.maxInFlight,
			MaxIdleConnsPerHost: o.maxInFlight,
			MaxConnsPerHost:     o.maxInFlight,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	var handlers []natsrpc.Handler
	for _, m := range sp.Methods {
		if m.Skip {
			continue
		}
		kind := natsrpc.MethodKind(m.Kind)
		if kind != natsrpc.MethodKindUnary && kind != natsrpc.MethodKindEvent {
			b.routes = append(b.routes, &route{Route: Route{Method: string(m.Desc.FullName()), Kind: kind,
				Skipped: fmt.Sprintf("a %s has no HTTP/JSON counterpart; callers get unavailable", kind)}})
			continue
		}
		rule, source := ruleFor(m.Desc, o.rules.Rules)
		rt, err := newRoute(m.Desc, rule, source, o)
		if err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
		rt.Kind = kind
		rt.Status = o.rules.StatusOverrides(m.Desc.FullName())
		for _, w := range rt.Warnings {
			o.log.Warn("bridge: "+w, "method", rt.Method)
		}
		b.routes = append(b.routes, rt)
		if kind == natsrpc.MethodKindEvent {
			handlers = append(handlers, natsrpc.NewDynamicEventHandler(m.Desc, func(ctx context.Context, req proto.Message) error {
				_, _, err := b.exchange(ctx, rt, req.ProtoReflect())
				return err
			}))
			continue
		}
		handlers = append(handlers, natsrpc.NewDynamicUnaryBytesHandler(m.Desc, func(ctx context.Context, req []byte) ([]byte, error) {
			return b.unary(ctx, rt, req)
		}))
	}
	hopts := append([]natsrpc.HandlerOption{natsrpc.WithConcurrency(o.maxInFlight), natsrpc.WithMaxPending(o.maxInFlight)}, o.handlerOpts...)
	b.svc, err = natsrpc.NewService(nc, sd, handlers, hopts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return b, nil
}

// Routes describes every method: its HTTP request, or why it is skipped.
func (b *Bridge) Routes() []Route {
	out := make([]Route, len(b.routes))
	for i, rt := range b.routes {
		out[i] = rt.Route
	}
	return out
}

// Service returns the natsrpc service (its stats, its shadow stats).
func (b *Bridge) Service() *natsrpc.Service { return b.svc }

// Stop stops taking calls and waits for those in flight, as
// [natsrpc.Service.Stop] does.
func (b *Bridge) Stop(ctx context.Context) error {
	err := b.svc.Stop(ctx)
	b.client.CloseIdleConnections()
	return err
}

// exchange makes one HTTP call for msg and returns the answer's status
// and body; an answer that is not a success is returned as its error.
func (b *Bridge) exchange(ctx context.Context, rt *route, msg protoreflect.Message) (int, []byte, error) {
	path, e := rt.path(msg)
	if e != nil {
		return 0, nil, e
	}
	target := b.base + path
	if rt.Body != "*" {
		q, err := rt.query(msg)
		if err != nil {
			return 0, nil, errorf(natsrpc.CodeInternal, "encode the query string of %s: %v", rt.Method, err)
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	}
	body, err := rt.body(msg)
	if err != nil {
		return 0, nil, errorf(natsrpc.CodeInternal, "encode the JSON body of %s: %v", rt.Method, err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, rt.HTTPMethod, target, rd)
	if err != nil {
		return 0, nil, errorf(natsrpc.CodeInternal, "build the HTTP request of %s: %v", rt.Method, err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", "natsrpc-bridge/"+natsrpc.Version)
	ci, _ := natsrpc.CallInfoFromContext(ctx)
	if ci != nil {
		b.fwd.toHTTP(ci.RequestHeader(), hreq.Header)
	}
	resp, err := b.client.Do(hreq)
	if err != nil {
		return 0, nil, transportError(ctx, rt, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.maxRes+1))
	if err != nil {
		return 0, nil, transportError(ctx, rt, err)
	}
	if int64(len(data)) > b.maxRes {
		return 0, nil, errorf(natsrpc.CodeResourceExhausted, "%s %s answered more than %d bytes", rt.HTTPMethod, rt.Path, b.maxRes)
	}
	if ci != nil {
		b.fwd.fromHTTP(resp.Header, ci.ResponseHeader())
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, nil, rt.statusError(resp, data)
	}
	return resp.StatusCode, data, nil
}

// unary serves one call of a unary method: req is the request's binary
// encoding, the answer the response's, transcoded from the HTTP answer's
// JSON without a dynamic message when jsonwire can (protojson otherwise).
func (b *Bridge) unary(ctx context.Context, rt *route, req []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(rt.desc.Input())
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(req, msg); err != nil {
		return nil, errorf(natsrpc.CodeInvalidArgument, "decode %q: %v", rt.desc.Input().FullName(), err)
	}
	status, data, err := b.exchange(ctx, rt, msg)
	if err != nil {
		return nil, err
	}
	out, err := rt.responseWire(data)
	if err != nil {
		return nil, errorf(natsrpc.CodeInternal, "%s %s answered %d with a body that is not a %s in JSON (%v): %s",
			rt.HTTPMethod, rt.Path, status, rt.desc.Output().FullName(), err, firstBytes(data))
	}
	return out, nil
}

// transportError is the error of a call that got no HTTP answer.
func transportError(ctx context.Context, rt *route, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return errorf(natsrpc.CodeDeadlineExceeded, "%s %s: no answer from the HTTP service within the call's deadline", rt.HTTPMethod, rt.Path)
	case errors.Is(ctx.Err(), context.Canceled):
		return errorf(natsrpc.CodeCanceled, "%s %s: the call was canceled", rt.HTTPMethod, rt.Path)
	}
	return errorf(natsrpc.CodeUnavailable, "%s %s: the HTTP service cannot be reached: %v", rt.HTTPMethod, rt.Path, err)
}

// CodeForStatus maps an HTTP status onto a natsrpc code, as the bridge
// does without an override: 400 and 422 invalid_argument, 401
// unauthenticated, 403 permission_denied, 404 not_found, 408 and 504
// deadline_exceeded, 409 aborted, 412 failed_precondition, 413 and 429
// resource_exhausted, 499 canceled, 501 unimplemented, 502 and 503
// unavailable, other 4xx failed_precondition, other 5xx (and any other
// status that is not a success) internal.
func CodeForStatus(status int) natsrpc.Code {
	switch status {
	case 400, 422:
		return natsrpc.CodeInvalidArgument
	case 401:
		return natsrpc.CodeUnauthenticated
	case 403:
		return natsrpc.CodePermissionDenied
	case 404:
		return natsrpc.CodeNotFound
	case 408, 504:
		return natsrpc.CodeDeadlineExceeded
	case 409:
		return natsrpc.CodeAborted
	case 412:
		return natsrpc.CodeFailedPrecondition
	case 413, 429:
		return natsrpc.CodeResourceExhausted
	case 499:
		return natsrpc.CodeCanceled
	case 501:
		return natsrpc.CodeUnimplemented
	case 502, 503:
		return natsrpc.CodeUnavailable
	}
	if status >= 400 && status < 500 {
		return natsrpc.CodeFailedPrecondition
	}
	return natsrpc.CodeInternal
}

// statusError is the error of an HTTP answer that is not a success: its
// code from the method's overrides or the table, its message from the
// body.
func (rt *route) statusError(resp *http.Response, body []byte) error {
	code, ok := rt.Status[resp.StatusCode]
	if !ok {
		code = CodeForStatus(resp.StatusCode)
	}
	msg := errorMessage(body)
	text := fmt.Sprintf("%s %s answered %d %s", rt.HTTPMethod, rt.Path, resp.StatusCode, http.StatusText(resp.StatusCode))
	if msg != "" {
		text += ": " + msg
	}
	e := natsrpc.NewError(code, errors.New(text))
	return e
}

// errorMessage reads an error body: FastAPI's {"detail": "..."} or
// {"detail": [{"loc": [...], "msg": "..."}]}, {"message": "..."},
// {"error": "..."} or {"error": {"message": "..."}} (google.rpc.Status's
// JSON has a message too), else the body's first bytes.
func errorMessage(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	var doc map[string]any
	if jsonUnmarshal(body, &doc) == nil {
		if s := detailText(doc["detail"]); s != "" {
			return s
		}
		if s, ok := doc["message"].(string); ok && s != "" {
			return s
		}
		switch e := doc["error"].(type) {
		case string:
			if e != "" {
				return e
			}
		case map[string]any:
			if s, ok := e["message"].(string); ok && s != "" {
				return s
			}
		}
	}
	return firstBytes(body)
}

// detailText reads FastAPI's detail: a string, or validation errors.
func detailText(v any) string {
	switch d := v.(type) {
	case string:
		return d
	case []any:
		var parts []string
		for _, item := range d {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			msg, _ := m["msg"].(string)
			var loc []string
			if l, ok := m["loc"].([]any); ok {
				for _, p := range l {
					loc = append(loc, fmt.Sprint(p))
				}
			}
			if len(loc) > 0 {
				msg = strings.Join(loc, ".") + ": " + msg
			}
			if msg != "" {
				parts = append(parts, msg)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// maxQuoted is how much of a body an error message quotes.
const maxQuoted = 200

// firstBytes quotes the start of a body for an error message.
func firstBytes(b []byte) string {
	if len(b) == 0 {
		return "(empty body)"
	}
	cut := b
	if len(cut) > maxQuoted {
		cut = cut[:maxQuoted]
		for len(cut) > 0 && !utf8.Valid(cut) {
			cut = cut[:len(cut)-1]
		}
	}
	s := fmt.Sprintf("%q", cut)
	if len(b) > maxQuoted {
		s += fmt.Sprintf(" (first %d of %d bytes)", len(cut), len(b))
	}
	return s
}

// filesOf registers fd and its imports, for a type resolver.
func filesOf(fd protoreflect.FileDescriptor) *protoregistry.Files {
	files := new(protoregistry.Files)
	var add func(protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		_ = files.RegisterFile(fd)
	}
	add(fd)
	return files
}
