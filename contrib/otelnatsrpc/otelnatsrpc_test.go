package otelnatsrpc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/otelnatsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

const (
	getMethod      = "natsrpctest.v1.TestService/Get"
	generateMethod = "natsrpctest.v1.TestService/Generate"
	getSubject     = "natsrpctest.v1.TestService.Get"
)

// w3c is the propagator the tests pass explicitly, so that they do not
// depend on the global one.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// side is one side's tracing: a provider that records its ended spans.
type side struct {
	rec      *tracetest.SpanRecorder
	provider *sdktrace.TracerProvider
}

func newSide(t *testing.T) side {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return side{rec: rec, provider: tp}
}

func newInterceptor(t *testing.T, opts ...otelnatsrpc.Option) *otelnatsrpc.Interceptor {
	t.Helper()
	i, err := otelnatsrpc.NewInterceptor(append([]otelnatsrpc.Option{otelnatsrpc.WithPropagator(w3c)}, opts...)...)
	if err != nil {
		t.Fatalf("NewInterceptor: %v", err)
	}
	return i
}

// onlySpan returns the one ended span named name.
func onlySpan(t *testing.T, s side, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, sp := range s.rec.Ended() {
		if sp.Name() == name {
			found = append(found, sp)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d ended spans named %q; want 1 (all: %v)", len(found), name, spanNames(s.rec.Ended()))
	}
	return found[0]
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, sp := range spans {
		names = append(names, sp.Name())
	}
	return names
}

// wantAttrs fails t unless attrs hold every one of want (and none of the
// keys in absent).
func wantAttrs(t *testing.T, what string, attrs []attribute.KeyValue, want []attribute.KeyValue, absent ...attribute.Key) {
	t.Helper()
	set := attribute.NewSet(attrs...)
	for _, w := range want {
		got, ok := set.Value(w.Key)
		if !ok {
			t.Errorf("%s: no attribute %s; want %s", what, w.Key, w.Value.Emit())
			continue
		}
		if got != w.Value {
			t.Errorf("%s: %s = %s; want %s", what, w.Key, got.Emit(), w.Value.Emit())
		}
	}
	for _, k := range absent {
		if v, ok := set.Value(k); ok {
			t.Errorf("%s: %s = %s; want no such attribute", what, k, v.Emit())
		}
	}
}

// TestSpansParentChild calls Get through generated stubs on a real
// nats-server: the client span and the server span belong to one trace,
// the server span is the client span's child, the traceparent header
// carries the client span, and a call the handler makes with its context
// continues the trace.
func TestSpansParentChild(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client, server := newSide(t), newSide(t)
	serverInterceptor := newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))

	type seen struct {
		traceparent string
		spanContext trace.SpanContext
	}
	var (
		mu        sync.Mutex
		seenByGet seen
	)
	// The downstream call: Get's handler calls Generate with its
	// own context, through a client that uses the server's provider (it is
	// the same process).
	downstream := env.NewClient(natsrpc.WithInterceptors(serverInterceptor))
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			mu.Lock()
			seenByGet = seen{traceparent: ci.RequestHeader().Get("traceparent"), spanContext: trace.SpanContextFromContext(ctx)}
			mu.Unlock()
			if _, err := downstream.Generate(ctx, &natsrpctestv1.GenerateRequest{OwnerId: req.GetOwnerId()}); err != nil {
				return nil, err
			}
			return contribtest.Item(ctx, req)
		},
		GenerateFunc: func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			return &natsrpctestv1.GenerateResponse{}, nil
		},
	}, natsrpc.WithInterceptors(serverInterceptor))

	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))))
	// The caller's own span: the client span must be its child.
	ctx, parent := client.provider.Tracer("test").Start(context.Background(), "caller")
	if _, err := c.Get(ctx, &natsrpctestv1.GetRequest{OwnerId: "p-1", Id: "q-1"}); err != nil {
		t.Fatalf("Get: %v", err)
	}
	parent.End()

	clientSpan := onlySpan(t, client, getMethod)
	serverSpan := onlySpan(t, server, getMethod)
	if clientSpan.SpanKind() != trace.SpanKindClient || serverSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kinds: client %v, server %v; want client, server", clientSpan.SpanKind(), serverSpan.SpanKind())
	}
	if got, want := clientSpan.Parent().SpanID(), parent.SpanContext().SpanID(); got != want {
		t.Errorf("client span's parent = %v; want the caller's span %v", got, want)
	}
	if got, want := serverSpan.SpanContext().TraceID(), clientSpan.SpanContext().TraceID(); got != want {
		t.Errorf("server span's trace = %v; want the client's %v", got, want)
	}
	if got, want := serverSpan.Parent().SpanID(), clientSpan.SpanContext().SpanID(); got != want {
		t.Errorf("server span's parent = %v; want the client span %v", got, want)
	}
	if !serverSpan.Parent().IsRemote() {
		t.Error("server span's parent is not remote")
	}
	if len(serverSpan.Links()) != 0 {
		t.Errorf("server span has %d links; want none without WithPublicEndpoint", len(serverSpan.Links()))
	}

	mu.Lock()
	got := seenByGet
	mu.Unlock()
	sc := clientSpan.SpanContext()
	if want := fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()); got.traceparent != want {
		t.Errorf("handler saw traceparent %q; want %q", got.traceparent, want)
	}
	if got.spanContext.SpanID() != serverSpan.SpanContext().SpanID() {
		t.Errorf("handler's context carries span %v; want the server span %v", got.spanContext.SpanID(), serverSpan.SpanContext().SpanID())
	}

	// The handler's downstream call: a client span under the server span,
	// and its server span under that.
	downClient, downServer := spansByKind(t, server, generateMethod)
	if got, want := downClient.Parent().SpanID(), serverSpan.SpanContext().SpanID(); got != want {
		t.Errorf("downstream client span's parent = %v; want Get's server span %v", got, want)
	}
	if got, want := downServer.Parent().SpanID(), downClient.SpanContext().SpanID(); got != want {
		t.Errorf("downstream server span's parent = %v; want the downstream client span %v", got, want)
	}
	if downServer.SpanContext().TraceID() != sc.TraceID() {
		t.Error("downstream call left the trace")
	}

	for _, sp := range []sdktrace.ReadOnlySpan{clientSpan, serverSpan} {
		what := sp.SpanKind().String() + " span"
		wantAttrs(t, what, sp.Attributes(), []attribute.KeyValue{
			attribute.String("rpc.system.name", "natsrpc"),
			attribute.String("rpc.method", getMethod),
			attribute.String("rpc.response.status_code", "ok"),
			attribute.String("rpc.natsrpc.subject", getSubject),
		}, "error.type")
		if sp.Status().Code != codes.Unset {
			t.Errorf("%s status = %v; want unset", what, sp.Status())
		}
		if len(sp.Events()) != 0 {
			t.Errorf("%s has events %v; want none", what, sp.Events())
		}
	}
}

// spansByKind returns the client and the server span named name.
func spansByKind(t *testing.T, s side, name string) (client, server sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, sp := range s.rec.Ended() {
		if sp.Name() != name {
			continue
		}
		switch sp.SpanKind() {
		case trace.SpanKindClient:
			client = sp
		case trace.SpanKindServer:
			server = sp
		}
	}
	if client == nil || server == nil {
		t.Fatalf("spans named %q: client %v, server %v; want both", name, client != nil, server != nil)
	}
	return client, server
}

// TestSpanStatus checks the status, attributes and error events of failed
// calls: every error is an error on the client, only server faults are on
// the server.
func TestSpanStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code        natsrpc.Code
		serverError bool
	}{
		{natsrpc.CodeNotFound, false},
		{natsrpc.CodeInvalidArgument, false},
		{natsrpc.CodeInternal, true},
		{natsrpc.CodeUnavailable, true},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			t.Parallel()
			env := contribtest.Start(t)
			client, server := newSide(t), newSide(t)
			env.Serve(t, &contribtest.Handler{
				GetFunc: func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
					return nil, natsrpc.NewError(tc.code, errors.New("item q-9 is gone"))
				},
			}, natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))))
			c := env.NewClient(
				natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))),
				natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}),
			)
			_, err := c.Get(context.Background(), &natsrpctestv1.GetRequest{Id: "q-9"})
			if natsrpc.CodeOf(err) != tc.code {
				t.Fatalf("Get: %v; want code %v", err, tc.code)
			}
			for _, s := range []struct {
				span    sdktrace.ReadOnlySpan
				isError bool
			}{
				{onlySpan(t, client, getMethod), true},
				{onlySpan(t, server, getMethod), tc.serverError},
			} {
				what := s.span.SpanKind().String() + " span"
				wantAttrs(t, what, s.span.Attributes(), []attribute.KeyValue{
					attribute.String("rpc.response.status_code", tc.code.String()),
					attribute.String("error.type", tc.code.String()),
				})
				wantStatus := sdktrace.Status{Code: codes.Unset}
				if s.isError {
					wantStatus = sdktrace.Status{Code: codes.Error, Description: "item q-9 is gone"}
				}
				if s.span.Status() != wantStatus {
					t.Errorf("%s status = %+v; want %+v", what, s.span.Status(), wantStatus)
				}
				events := s.span.Events()
				if len(events) != 1 || events[0].Name != "exception" {
					t.Fatalf("%s events = %v; want one exception", what, events)
				}
				wantAttrs(t, what+" event", events[0].Attributes, []attribute.KeyValue{
					attribute.String("exception.message", tc.code.String()+": item q-9 is gone"),
					attribute.String("rpc.response.status_code", tc.code.String()),
				})
			}
		})
	}
}

// TestNoResponders: with no service, only the client span exists, and it
// says unavailable.
func TestNoResponders(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client := newSide(t)
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))))
	_, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{})
	if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Fatalf("Generate: %v; want unavailable", err)
	}
	sp := onlySpan(t, client, generateMethod)
	wantAttrs(t, "client span", sp.Attributes(), []attribute.KeyValue{
		attribute.String("rpc.response.status_code", "unavailable"),
		attribute.String("error.type", "unavailable"),
	})
	if sp.Status().Code != codes.Error {
		t.Errorf("client span status = %v; want error", sp.Status())
	}
}

// TestPublicEndpoint: a public service starts its own trace, linked to the
// caller's span.
func TestPublicEndpoint(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client, server := newSide(t), newSide(t)
	env.Serve(t, &contribtest.Handler{GetFunc: contribtest.Item},
		natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider), otelnatsrpc.WithPublicEndpoint())))
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))))
	if _, err := c.Get(context.Background(), &natsrpctestv1.GetRequest{Id: "q-1"}); err != nil {
		t.Fatal(err)
	}
	clientSpan, serverSpan := onlySpan(t, client, getMethod), onlySpan(t, server, getMethod)
	if serverSpan.Parent().IsValid() {
		t.Errorf("public server span has parent %v; want a root", serverSpan.Parent())
	}
	if serverSpan.SpanContext().TraceID() == clientSpan.SpanContext().TraceID() {
		t.Error("public server span joined the caller's trace")
	}
	links := serverSpan.Links()
	if len(links) != 1 || links[0].SpanContext.SpanID() != clientSpan.SpanContext().SpanID() || links[0].SpanContext.TraceID() != clientSpan.SpanContext().TraceID() {
		t.Errorf("public server span links = %+v; want one to the client span %v", links, clientSpan.SpanContext())
	}
}

// TestFilter: filtered calls get no span and send no trace context.
func TestFilter(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client := newSide(t)
	headers := make(chan nats.Header, 2)
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			headers <- ci.RequestHeader()
			return contribtest.Item(ctx, req)
		},
		GenerateFunc: func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			return &natsrpctestv1.GenerateResponse{}, nil
		},
	})
	onlyGenerate := otelnatsrpc.WithFilter(func(_ context.Context, spec natsrpc.Spec) bool {
		return spec.Method.Name() == "Generate"
	})
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider), onlyGenerate)))
	if _, err := c.Get(context.Background(), &natsrpctestv1.GetRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{}); err != nil {
		t.Fatal(err)
	}
	if names := spanNames(client.rec.Ended()); !slices.Equal(names, []string{generateMethod}) {
		t.Errorf("spans %q; want only %q", names, generateMethod)
	}
	if h := <-headers; h.Get("traceparent") != "" {
		t.Errorf("filtered call sent traceparent %q", h.Get("traceparent"))
	}
}

// TestWithoutTracing: no spans, but the caller's trace context still
// reaches the service.
func TestWithoutTracing(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	caller := newSide(t)
	traceparents := make(chan string, 1)
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			traceparents <- ci.RequestHeader().Get("traceparent")
			return contribtest.Item(ctx, req)
		},
	})
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(caller.provider), otelnatsrpc.WithoutTracing())))
	ctx, parent := caller.provider.Tracer("test").Start(context.Background(), "caller")
	if _, err := c.Get(ctx, &natsrpctestv1.GetRequest{}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	sc := parent.SpanContext()
	if got, want := <-traceparents, fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()); got != want {
		t.Errorf("traceparent = %q; want the caller's span %q", got, want)
	}
	if names := spanNames(caller.rec.Ended()); !slices.Equal(names, []string{"caller"}) {
		t.Errorf("spans %q; want only the caller's", names)
	}
}

// TestDefaultPropagator: without WithPropagator and with no global
// propagator set, trace context still travels as W3C traceparent.
func TestDefaultPropagator(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client, server := newSide(t), newSide(t)
	serverInterceptor, err := otelnatsrpc.NewInterceptor(otelnatsrpc.WithTracerProvider(server.provider))
	if err != nil {
		t.Fatal(err)
	}
	clientInterceptor, err := otelnatsrpc.NewInterceptor(otelnatsrpc.WithTracerProvider(client.provider))
	if err != nil {
		t.Fatal(err)
	}
	env.Serve(t, &contribtest.Handler{GetFunc: contribtest.Item}, natsrpc.WithInterceptors(serverInterceptor))
	c := env.NewClient(natsrpc.WithInterceptors(clientInterceptor))
	if _, err := c.Get(context.Background(), &natsrpctestv1.GetRequest{}); err != nil {
		t.Fatal(err)
	}
	if got, want := onlySpan(t, server, getMethod).Parent().SpanID(), onlySpan(t, client, getMethod).SpanContext().SpanID(); got != want {
		t.Errorf("server span's parent = %v; want the client span %v", got, want)
	}
}

// TestMetrics checks rpc.client.call.duration and rpc.server.call.duration
// after calls with mixed outcomes.
func TestMetrics(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	i := newInterceptor(t, otelnatsrpc.WithMeterProvider(mp), otelnatsrpc.WithAttributes(attribute.String("server.address", "nats.test")))
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			if req.GetId() == "missing" {
				return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
			}
			return contribtest.Item(ctx, req)
		},
	}, natsrpc.WithInterceptors(i))
	c := env.NewClient(natsrpc.WithInterceptors(i))
	for _, id := range []string{"a", "b", "missing", "c"} {
		_, _ = c.Get(context.Background(), &natsrpctestv1.GetRequest{Id: id})
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/natsrpc/natsrpc/contrib/otelnatsrpc" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Unit != "s" {
				t.Errorf("%s unit = %q; want s", m.Name, m.Unit)
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is %T; want a float64 histogram", m.Name, m.Data)
			}
			for _, dp := range h.DataPoints {
				wantAttrs(t, m.Name, dp.Attributes.ToSlice(), []attribute.KeyValue{
					attribute.String("rpc.system.name", "natsrpc"),
					attribute.String("rpc.method", getMethod),
					attribute.String("server.address", "nats.test"),
				}, "rpc.natsrpc.subject")
				code, _ := dp.Attributes.Value("rpc.response.status_code")
				errType, hasErrType := dp.Attributes.Value("error.type")
				if hasErrType != (code.AsString() != "ok") || (hasErrType && errType.AsString() != code.AsString()) {
					t.Errorf("%s{code %s}: error.type %q (set %v); want it only on errors, equal to the code", m.Name, code.AsString(), errType.AsString(), hasErrType)
				}
				counts[m.Name+" "+code.AsString()] += dp.Count
			}
		}
	}
	want := map[string]uint64{
		"rpc.client.call.duration ok":        3,
		"rpc.client.call.duration not_found": 1,
		"rpc.server.call.duration ok":        3,
		"rpc.server.call.duration not_found": 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("histogram counts = %v; want %v", counts, want)
	}
}

func TestHeaderCarrier(t *testing.T) {
	t.Parallel()
	h := nats.Header{"Traceparent": {"old"}, "Other": {"x"}}
	c := otelnatsrpc.HeaderCarrier(h)
	if got := c.Get("traceparent"); got != "old" {
		t.Errorf("Get(traceparent) = %q; want the case-insensitive match", got)
	}
	c.Set("traceparent", "new")
	if _, ok := h["Traceparent"]; ok || h.Get("traceparent") != "new" {
		t.Errorf("after Set: %v; want only traceparent=new", h)
	}
	keys := c.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"Other", "traceparent"}) {
		t.Errorf("Keys() = %q", keys)
	}
	if got := c.Get("missing"); got != "" {
		t.Errorf("Get(missing) = %q", got)
	}
}

// TestHandlerPanic: a panicking handler's span still ends, as internal.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	server := newSide(t)
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			panic("item log corrupted")
		},
	}, natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))))
	_, err := env.NewClient().Get(context.Background(), &natsrpctestv1.GetRequest{})
	if natsrpc.CodeOf(err) != natsrpc.CodeInternal {
		t.Fatalf("Get: %v; want internal", err)
	}
	sp := onlySpan(t, server, getMethod)
	wantAttrs(t, "server span", sp.Attributes(), []attribute.KeyValue{
		attribute.String("rpc.response.status_code", "internal"),
		attribute.String("error.type", "internal"),
	})
	if sp.Status().Code != codes.Error {
		t.Errorf("server span status = %v; want error", sp.Status())
	}
}

// TestEvent: a one-way event gets a producer span on the publisher and a
// consumer span, its child, on the handler; a durable event too, through
// JetStream, which keeps the publisher's headers.
func TestEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, service, method string
		durable               bool
	}{
		{name: "plain", service: "TestService", method: "Notify"},
		{name: "durable", service: "DurableService", method: "Record", durable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var env *contribtest.Env
			if tc.durable {
				env = contribtest.Start(t, natstest.WithJetStream())
			} else {
				env = contribtest.Start(t)
			}
			client, server := newSide(t), newSide(t)
			service := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName(protoreflect.Name(tc.service))
			md := service.Methods().ByName(protoreflect.Name(tc.method))
			handled := make(chan struct{})
			var handler natsrpc.Handler
			if tc.durable {
				handler = natsrpc.NewEventHandler(md, func(context.Context, *natsrpctestv1.RecordRequest) error {
					close(handled)
					return nil
				})
			} else {
				handler = natsrpc.NewEventHandler(md, func(context.Context, *natsrpctestv1.NotifyRequest) error {
					close(handled)
					return nil
				})
			}
			svc, err := natsrpc.NewService(env.Service, service, []natsrpc.Handler{handler},
				natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Stop(context.Background()) })
			if err := env.Service.Flush(); err != nil {
				t.Fatal(err)
			}
			publish := natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider)))
			if tc.durable {
				err = natsrpc.NewEventClient[natsrpctestv1.RecordRequest](env.Client, md, publish).Publish(context.Background(), &natsrpctestv1.RecordRequest{Id: "r-1"})
			} else {
				err = natsrpc.NewEventClient[natsrpctestv1.NotifyRequest](env.Client, md, publish).Publish(context.Background(), &natsrpctestv1.NotifyRequest{Id: "n-1"})
			}
			if err != nil {
				t.Fatal(err)
			}
			<-handled
			method := "natsrpctest.v1." + tc.service + "/" + tc.method
			producer := onlySpan(t, client, method)
			// The consumer span ends just after the handler returns.
			var consumer sdktrace.ReadOnlySpan
			for deadline := time.Now().Add(5 * time.Second); consumer == nil; {
				if spans := server.rec.Ended(); len(spans) == 1 {
					consumer = spans[0]
				} else if time.Now().After(deadline) {
					t.Fatalf("consumer spans %v; want one", spanNames(spans))
				} else {
					time.Sleep(5 * time.Millisecond)
				}
			}
			if producer.SpanKind() != trace.SpanKindProducer || consumer.SpanKind() != trace.SpanKindConsumer {
				t.Errorf("span kinds %v, %v; want producer, consumer", producer.SpanKind(), consumer.SpanKind())
			}
			if consumer.Parent().SpanID() != producer.SpanContext().SpanID() || consumer.SpanContext().TraceID() != producer.SpanContext().TraceID() {
				t.Errorf("consumer span's parent = %v; want the producer span %v", consumer.Parent(), producer.SpanContext())
			}
			for _, s := range []struct {
				span sdktrace.ReadOnlySpan
				op   string
			}{{producer, "send"}, {consumer, "process"}} {
				wantAttrs(t, s.span.SpanKind().String()+" span", s.span.Attributes(), []attribute.KeyValue{
					attribute.String("rpc.system.name", "natsrpc"),
					attribute.String("rpc.method", method),
					attribute.String("messaging.system", "nats"),
					attribute.String("messaging.destination.name", "natsrpctest.v1."+tc.service+"."+tc.method),
					attribute.String("messaging.operation.type", s.op),
					attribute.String("rpc.response.status_code", "ok"),
				})
			}
		})
	}
}
