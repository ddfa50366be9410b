package otelnatsrpc_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/otelnatsrpc"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// messageEvent is one "message" span event, as "SENT 1 <size>".
func messageEvents(t *testing.T, sp sdktrace.ReadOnlySpan) []string {
	t.Helper()
	var out []string
	for _, ev := range sp.Events() {
		if ev.Name != otelnatsrpc.MessageEvent {
			continue
		}
		set := attribute.NewSet(ev.Attributes...)
		typ, _ := set.Value(otelnatsrpc.MessageTypeKey)
		id, _ := set.Value(otelnatsrpc.MessageIDKey)
		size, _ := set.Value(otelnatsrpc.MessageUncompressedSizeKey)
		out = append(out, fmt.Sprintf("%s %d %d", typ.AsString(), id.AsInt64(), size.AsInt64()))
	}
	return out
}

// waitSpan waits for the one ended span named name: a server span ends when
// its handler returns, which may be after the client saw the end.
func waitSpan(t *testing.T, s side, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, sp := range s.rec.Ended() {
			if sp.Name() == name {
				return onlySpan(t, s, name)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended span named %q (all: %v)", name, spanNames(s.rec.Ended()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sizeOf(m proto.Message) int { return proto.Size(m) }

// TestStreamSpans runs the test schema's Watch through its generated
// stubs: one client span and one server span for the whole stream, the
// server span a child of the client span through the open request's
// headers, the handler's context carrying the server span, a message
// event per message with its number and size, the counts at the end, and
// the status from the end of the stream.
func TestStreamSpans(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	client, server := newSide(t), newSide(t)
	var (
		mu          sync.Mutex
		traceparent string
		handlerSpan trace.SpanContext
	)
	env.Serve(t, &contribtest.Handler{
		WatchFunc: func(ctx context.Context, req *natsrpctestv1.WatchRequest, stream *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
			mu.Lock()
			traceparent, handlerSpan = stream.RequestHeader().Get("traceparent"), trace.SpanContextFromContext(ctx)
			mu.Unlock()
			return contribtest.Watch(ctx, req, stream)
		},
	}, natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))))
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))))

	ctx, parent := client.provider.Tracer("test").Start(context.Background(), "caller")
	req := contribtest.WatchRequest("ok", 5)
	watch, err := c.Watch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := contribtest.ReadAll(watch.Recv)
	if err != nil || len(got) != 5 {
		t.Fatalf("Watch: %d responses, %v; want 5 and the end", len(got), err)
	}
	parent.End()

	// Read to the end, without Close: the client span has ended.
	clientSpan := onlySpan(t, client, contribtest.WatchMethod)
	serverSpan := waitSpan(t, server, contribtest.WatchMethod)
	if clientSpan.SpanKind() != trace.SpanKindClient || serverSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kinds: client %v, server %v", clientSpan.SpanKind(), serverSpan.SpanKind())
	}
	if clientSpan.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span's parent = %v; want the caller's span", clientSpan.Parent().SpanID())
	}
	if serverSpan.Parent().SpanID() != clientSpan.SpanContext().SpanID() || !serverSpan.Parent().IsRemote() ||
		serverSpan.SpanContext().TraceID() != clientSpan.SpanContext().TraceID() {
		t.Errorf("server span's parent = %v; want the client span %v, remote", serverSpan.Parent(), clientSpan.SpanContext())
	}
	mu.Lock()
	sc := clientSpan.SpanContext()
	if want := fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()); traceparent != want {
		t.Errorf("the stream's request carried traceparent %q; want %q", traceparent, want)
	}
	if handlerSpan.SpanID() != serverSpan.SpanContext().SpanID() {
		t.Errorf("the handler's context carries span %v; want the server span", handlerSpan.SpanID())
	}
	mu.Unlock()

	reqSize := sizeOf(req)
	var sent, received []string
	for rev := range 5 {
		sent = append(sent, fmt.Sprintf("SENT %d %d", rev+1, sizeOf(contribtest.Change(uint64(rev+1)))))
		received = append(received, fmt.Sprintf("RECEIVED %d %d", rev+1, sizeOf(contribtest.Change(uint64(rev+1)))))
	}
	for _, s := range []struct {
		span           sdktrace.ReadOnlySpan
		events         []string
		sent, received int64
	}{
		{clientSpan, append([]string{fmt.Sprintf("SENT 1 %d", reqSize)}, received...), 1, 5},
		{serverSpan, append([]string{fmt.Sprintf("RECEIVED 1 %d", reqSize)}, sent...), 5, 1},
	} {
		what := s.span.SpanKind().String() + " span"
		wantAttrs(t, what, s.span.Attributes(), []attribute.KeyValue{
			attribute.String("rpc.system.name", "natsrpc"),
			attribute.String("rpc.method", contribtest.WatchMethod),
			attribute.String("rpc.natsrpc.subject", "natsrpctest.v1.TestService.Watch"),
			attribute.String("rpc.response.status_code", "ok"),
			otelnatsrpc.MessagesSentKey.Int64(s.sent),
			otelnatsrpc.MessagesReceivedKey.Int64(s.received),
		}, "error.type")
		if got := messageEvents(t, s.span); !slices.Equal(got, s.events) {
			t.Errorf("%s message events\n%q\nwant\n%q", what, got, s.events)
		}
		if s.span.Status().Code != codes.Unset {
			t.Errorf("%s status %v; want unset", what, s.span.Status())
		}
	}
}

// TestStreamStatus: a stream the handler ends with an error, one that
// fails to open, one whose handler panics, and one the client closes.
func TestStreamStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		script      string // "" for no service at all
		closeAfter  int    // the client closes after this many messages; 0 reads to the end
		code        natsrpc.Code
		clientError bool // the client span's status is Error
		serverError bool // the server span's status is Error
		received    int64
	}{
		{name: "handler error", script: "fail", code: natsrpc.CodeNotFound, clientError: true, received: 3},
		{name: "panic", script: "panic", code: natsrpc.CodeInternal, clientError: true, serverError: true, received: 3},
		{name: "no responders", code: natsrpc.CodeUnavailable, clientError: true},
		{name: "closed by the client", script: "forever", closeAfter: 2, code: natsrpc.CodeCanceled, received: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := contribtest.Start(t)
			client, server := newSide(t), newSide(t)
			if tc.script != "" {
				env.Serve(t, &contribtest.Handler{},
					natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(server.provider))))
			}
			c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, otelnatsrpc.WithTracerProvider(client.provider))))
			watch, err := c.Watch(context.Background(), contribtest.WatchRequest(tc.script, 3))
			switch {
			case tc.script == "":
				if natsrpc.CodeOf(err) != tc.code {
					t.Fatalf("Watch: %v; want %v", err, tc.code)
				}
			case err != nil:
				t.Fatal(err)
			case tc.closeAfter > 0:
				for range tc.closeAfter {
					if _, err := watch.Recv(); err != nil {
						t.Fatal(err)
					}
				}
				if err := watch.Close(); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := contribtest.ReadAll(watch.Recv); natsrpc.CodeOf(err) != tc.code {
					t.Fatalf("Watch ended with %v; want %v", err, tc.code)
				}
			}

			spans := []struct {
				span    sdktrace.ReadOnlySpan
				isError bool
			}{{onlySpan(t, client, contribtest.WatchMethod), tc.clientError}}
			if tc.script != "" {
				spans = append(spans, struct {
					span    sdktrace.ReadOnlySpan
					isError bool
				}{waitSpan(t, server, contribtest.WatchMethod), tc.serverError})
			}
			for i, s := range spans {
				what := s.span.SpanKind().String() + " span"
				wantAttrs(t, what, s.span.Attributes(), []attribute.KeyValue{
					attribute.String("rpc.response.status_code", tc.code.String()),
					attribute.String("error.type", tc.code.String()),
				})
				if i == 0 {
					wantAttrs(t, what, s.span.Attributes(), []attribute.KeyValue{otelnatsrpc.MessagesReceivedKey.Int64(tc.received)})
				}
				if got := s.span.Status().Code == codes.Error; got != s.isError {
					t.Errorf("%s status %v; want error %v", what, s.span.Status(), s.isError)
				}
				if !slices.ContainsFunc(s.span.Events(), func(e sdktrace.Event) bool { return e.Name == "exception" }) {
					t.Errorf("%s: no exception event", what)
				}
			}
		})
	}
}

// TestStreamMessageSampling: WithMessageEvents(10) records messages 1, 11
// and 21 of 25; WithMessageEvents(0) none; both keep the counts.
func TestStreamMessageSampling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		every uint
		ids   []string
	}{
		{10, []string{"RECEIVED 1", "RECEIVED 11", "RECEIVED 21"}},
		{0, nil},
	} {
		t.Run(fmt.Sprint(tc.every), func(t *testing.T) {
			t.Parallel()
			env := contribtest.Start(t)
			client := newSide(t)
			env.Serve(t, &contribtest.Handler{})
			c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t,
				otelnatsrpc.WithTracerProvider(client.provider), otelnatsrpc.WithMessageEvents(tc.every))))
			watch, err := c.Watch(context.Background(), contribtest.WatchRequest("ok", 25))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := contribtest.ReadAll(watch.Recv); err != nil || len(got) != 25 {
				t.Fatalf("Watch: %d, %v", len(got), err)
			}
			sp := onlySpan(t, client, contribtest.WatchMethod)
			var got []string
			for _, ev := range messageEvents(t, sp) {
				var typ string
				var id, size int
				fmt.Sscanf(ev, "%s %d %d", &typ, &id, &size)
				if typ == "RECEIVED" {
					got = append(got, fmt.Sprintf("%s %d", typ, id))
				}
			}
			if !slices.Equal(got, tc.ids) {
				t.Errorf("received message events %q; want %q", got, tc.ids)
			}
			wantAttrs(t, "client span", sp.Attributes(), []attribute.KeyValue{
				otelnatsrpc.MessagesSentKey.Int64(1), otelnatsrpc.MessagesReceivedKey.Int64(25),
			})
		})
	}
}

// TestBidiStream: a bidirectional stream's messages both ways on both
// spans, and a client stream's, through one interceptor on both sides, and
// their durations in the histograms.
func TestBidiStream(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	spans := newSide(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	i := newInterceptor(t, otelnatsrpc.WithTracerProvider(spans.provider), otelnatsrpc.WithMeterProvider(mp))
	env.Serve(t, &contribtest.Handler{}, natsrpc.WithInterceptors(i))
	ctx := context.Background()

	echo, err := contribtest.NewChatClient(env.Client, natsrpc.WithInterceptors(i)).CallBidiStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"hail", "and", "well met"}
	for _, w := range words {
		if err := echo.Send(contribtest.Chat(w)); err != nil {
			t.Fatal(err)
		}
		if res, err := echo.Recv(); err != nil || res.GetValue() == "" {
			t.Fatalf("Recv: %v, %v", res, err)
		}
	}
	if err := echo.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Recv(); err == nil {
		t.Fatal("Recv after CloseSend: a message; want the end")
	}

	collect, err := contribtest.NewUploadClient(env.Client, natsrpc.WithInterceptors(i)).CallClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range words {
		if err := collect.Send(contribtest.Upload(w)); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := collect.CloseAndRecv(); err != nil || res.GetValue() != "hail and well met" {
		t.Fatalf("CloseAndRecv: %v, %v", res, err)
	}

	for _, tc := range []struct {
		method         string
		kind           trace.SpanKind
		sent, received int64
	}{
		{contribtest.ChatMethod, trace.SpanKindClient, 3, 3},
		{contribtest.ChatMethod, trace.SpanKindServer, 3, 3},
		{contribtest.UploadMethod, trace.SpanKindClient, 3, 1},
		{contribtest.UploadMethod, trace.SpanKindServer, 1, 3},
	} {
		var sp sdktrace.ReadOnlySpan
		for deadline := time.Now().Add(10 * time.Second); sp == nil; time.Sleep(5 * time.Millisecond) {
			for _, s := range spans.rec.Ended() {
				if s.Name() == tc.method && s.SpanKind() == tc.kind {
					sp = s
				}
			}
			if sp == nil && time.Now().After(deadline) {
				t.Fatalf("no %v span %s", tc.kind, tc.method)
			}
		}
		what := fmt.Sprintf("%s %v span", tc.method, tc.kind)
		wantAttrs(t, what, sp.Attributes(), []attribute.KeyValue{
			attribute.String("rpc.response.status_code", "ok"),
			otelnatsrpc.MessagesSentKey.Int64(tc.sent),
			otelnatsrpc.MessagesReceivedKey.Int64(tc.received),
		})
		if n := int64(len(messageEvents(t, sp))); n != tc.sent+tc.received {
			t.Errorf("%s: %d message events; want %d", what, n, tc.sent+tc.received)
		}
	}
	if server, client := spansOf(spans, contribtest.ChatMethod, trace.SpanKindServer), spansOf(spans, contribtest.ChatMethod, trace.SpanKindClient); server.Parent().SpanID() != client.SpanContext().SpanID() {
		t.Errorf("Chat's server span's parent %v; want the client span %v", server.Parent().SpanID(), client.SpanContext().SpanID())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := dp.Attributes.Value("rpc.method")
				code, _ := dp.Attributes.Value("rpc.response.status_code")
				counts[m.Name+" "+method.AsString()+" "+code.AsString()] += dp.Count
			}
		}
	}
	want := map[string]uint64{
		"rpc.client.call.duration " + contribtest.ChatMethod + " ok":   1,
		"rpc.server.call.duration " + contribtest.ChatMethod + " ok":   1,
		"rpc.client.call.duration " + contribtest.UploadMethod + " ok": 1,
		"rpc.server.call.duration " + contribtest.UploadMethod + " ok": 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("histogram counts = %v; want %v", counts, want)
	}
}

func spansOf(s side, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	for _, sp := range s.rec.Ended() {
		if sp.Name() == name && sp.SpanKind() == kind {
			return sp
		}
	}
	return nil
}
