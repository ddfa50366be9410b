// Package otelnatsrpc adds OpenTelemetry tracing and metrics to natsrpc
// clients and services. It is one [natsrpc.Interceptor] for both sides, in
// the manner of connect-go's otelconnect:
//
//	otelInterceptor, err := otelnatsrpc.NewInterceptor()
//	if err != nil {
//		return err
//	}
//	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc,
//		natsrpc.WithInterceptors(otelInterceptor))
//	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, impl,
//		natsrpc.WithInterceptors(otelInterceptor))
//
// # Traces
//
// A client call gets a span of kind client, and its trace context goes to
// the service in the request headers (W3C traceparent and tracestate, and
// baggage, with the default propagator). The handler gets a span of kind
// server, a child of the client's span, and its context carries that span:
// a handler that passes its context to another natsrpc client (with this
// interceptor) continues the same trace. Services reachable by untrusted
// callers should use [WithPublicEndpoint].
//
// Spans are named after the method, "<package>.<Service>/<Method>" (e.g.
// "gaming.quest_system.v1.QuestSystemService/GetQuest"), and follow the
// OpenTelemetry semantic conventions for RPC (semconv v1.43.0):
//
//   - rpc.system.name: "natsrpc"
//   - rpc.method: the span's name
//   - rpc.response.status_code: the call's [natsrpc.Code] as text, "ok" for
//     a success, e.g. "not_found"
//   - error.type: the same code text when the call failed
//   - rpc.natsrpc.subject (spans only): the NATS subject, runtime prefix
//     included
//
// One-way events (methods of kind event) get spans of kind producer and
// consumer instead, with messaging.system "nats",
// messaging.destination.name (the subject) and messaging.operation.type
// ("send", "process") besides the attributes above.
//
// On the client, every error sets the span's status to Error. On the server
// only codes that mean the service failed do (unknown, deadline_exceeded,
// unimplemented, internal, unavailable, data_loss), as the conventions ask:
// a not_found is the caller's problem, not the service's. Every error is
// also recorded as an "exception" event on the span.
//
// # Metrics
//
// The rpc.client.call.duration and rpc.server.call.duration histograms (in
// seconds) count and time every call, with the attributes above except
// rpc.natsrpc.subject. They go to the global MeterProvider unless
// [WithMeterProvider] says otherwise; [WithoutMetrics] turns them off.
//
// # Streaming
//
// A stream (server, client or bidirectional streaming) gets one span on
// each side for its whole life, with the attributes above, and its trace
// context travels in the headers of the request that opens it, as for a
// unary call; the handler's context carries the server span.
//
// Each message is a span event named "message" ([MessageEvent]) with
// rpc.message.type ("SENT" or "RECEIVED"), rpc.message.id (its number in
// its direction, from 1: for a server stream the request is message 1 sent
// by the client) and rpc.message.uncompressed_size (its protobuf size). A
// long stream would fill its span with events: [WithMessageEvents] records
// only every n-th message's event (or none), and the span's end says how
// many messages went each way in any case ([MessagesSentKey],
// [MessagesReceivedKey]). Span event limits of the SDK still apply (128
// events per span by default).
//
// The client span ends when Receive reports the end of the stream (io.EOF:
// code ok) or an error (its code, that of the service's end frame or a
// failure on the way), or when the client closes the stream before that:
// then its code is the failed open's, or canceled if the client simply
// stopped, which does not set the span's status to Error (closing a watch
// is how it ends). A stream that is neither read to its end nor closed
// never ends its span: always Close streams. The server span ends when the
// handler returns, with the code of its error, as the end frame says.
//
// The duration histograms record each stream's whole duration.
package otelnatsrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/internal/streamobserve"
)

// SystemName is the rpc.system.name of natsrpc calls.
const SystemName = "natsrpc"

// MessagingSystem is the messaging.system of one-way events.
const MessagingSystem = "nats"

// SubjectKey is the span attribute that holds the NATS subject of a call.
const SubjectKey = attribute.Key("rpc.natsrpc.subject")

// instrumentationName names the tracer and the meter, as the conventions
// ask: the instrumentation's import path.
const instrumentationName = "github.com/natsrpc/natsrpc/contrib/otelnatsrpc"

// Interceptor is a [natsrpc.Interceptor] that traces calls and records their
// duration, on clients and services alike. Build it with [NewInterceptor];
// it is safe for concurrent use, and one Interceptor may serve any number of
// clients and services.
type Interceptor struct {
	tracer         trace.Tracer
	propagator     propagation.TextMapPropagator
	filter         func(context.Context, natsrpc.Spec) bool
	public         bool
	attributes     []attribute.KeyValue
	metrics        bool
	messageEvery   uint64
	clientDuration rpcconv.ClientCallDuration
	serverDuration rpcconv.ServerCallDuration
	subjects       sync.Map // subject -> *subjectOptions
}

var _ natsrpc.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor that adds OpenTelemetry tracing and
// metrics to natsrpc clients and services. By default it uses the global
// TracerProvider and MeterProvider of the otel package (see
// [otel.SetTracerProvider]); with none set, tracing and metrics cost almost
// nothing, and trace context still passes through (see [WithPropagator]).
// It fails only when the meter refuses to create the instruments.
func NewInterceptor(opts ...Option) (*Interceptor, error) {
	cfg := config{
		messageEvery:   1,
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		propagator:     globalPropagator{fallback: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})},
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	i := &Interceptor{
		tracer:       cfg.tracerProvider.Tracer(instrumentationName, trace.WithInstrumentationVersion(natsrpc.Version), trace.WithSchemaURL(semconv.SchemaURL)),
		propagator:   cfg.propagator,
		filter:       cfg.filter,
		public:       cfg.public,
		attributes:   cfg.attributes,
		metrics:      !cfg.withoutMetrics,
		messageEvery: cfg.messageEvery,
	}
	if cfg.withoutTracing {
		// A no-op tracer still carries the caller's span context, so
		// trace context keeps flowing through services that do not
		// record spans.
		i.tracer = noop.NewTracerProvider().Tracer(instrumentationName)
	}
	if i.metrics {
		meter := cfg.meterProvider.Meter(instrumentationName, metric.WithInstrumentationVersion(natsrpc.Version), metric.WithSchemaURL(semconv.SchemaURL))
		var err error
		if i.clientDuration, err = rpcconv.NewClientCallDuration(meter); err != nil {
			return nil, fmt.Errorf("create %s histogram: %w", i.clientDuration.Name(), err)
		}
		if i.serverDuration, err = rpcconv.NewServerCallDuration(meter); err != nil {
			return nil, fmt.Errorf("create %s histogram: %w", i.serverDuration.Name(), err)
		}
	}
	return i, nil
}

// WrapUnary traces and times unary calls: a client span around the whole
// call (retries included) that sends its context in the request headers, or
// a server span around the handler, a child of the caller's span.
func (i *Interceptor) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		if !ok {
			return next(ctx, req)
		}
		spec := ci.Spec()
		if i.filter != nil && !i.filter(ctx, spec) {
			return next(ctx, req)
		}
		start := time.Now()
		method := strings.TrimPrefix(spec.Procedure, "/")
		ctx, span := i.startSpan(ctx, ci.RequestHeader(), &spec, method)
		panicked := true
		defer func() {
			if panicked {
				// The runtime answers a panicking handler with
				// CodeInternal; end the span so, rather than never.
				i.end(ctx, span, spec.IsClient, method, start, natsrpc.CodeInternal, errPanic)
			}
		}()
		res, err := next(ctx, req)
		panicked = false
		i.end(ctx, span, spec.IsClient, method, start, natsrpc.CodeOf(err), err)
		return res, err
	}
}

var errPanic = natsrpc.NewError(natsrpc.CodeInternal, errors.New("panic"))

func (i *Interceptor) end(ctx context.Context, span trace.Span, isClient bool, method string, start time.Time, code natsrpc.Code, err error) {
	i.endSpan(span, isClient, isClient, code, err)
	if i.metrics {
		i.recordDuration(ctx, isClient, method, code, time.Since(start))
	}
}

// WrapStreamingClient traces the client side of streams: a client span
// for the whole stream, whose context goes to the service in the headers
// of the request that opens the stream, with an event per message (see
// [WithMessageEvents]).
func (i *Interceptor) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return func(ctx context.Context, spec natsrpc.Spec) natsrpc.StreamingClientConn {
		if i.filter != nil && !i.filter(ctx, spec) {
			return next(ctx, spec)
		}
		start := time.Now()
		method := strings.TrimPrefix(spec.Procedure, "/")
		ctx, span := i.tracer.Start(ctx, method, i.spanOptions(&spec, method).client...)
		conn := next(ctx, spec)
		if conn == nil {
			// The runtime fails such a call with CodeInternal.
			i.endStream(ctx, &streamSpan{span: span}, true, method, start, natsrpc.CodeInternal, errNilStream)
			return nil
		}
		// The stream opens with the first Send, CloseRequest or Receive:
		// its request headers may still change.
		i.propagator.Inject(ctx, HeaderCarrier(conn.RequestHeader()))
		s := &streamSpan{span: span, every: i.messageEvery}
		return streamobserve.Client(conn, streamobserve.Hooks{
			Sent:     s.sent,
			Received: s.received,
			End: func(err error) {
				i.endStream(ctx, s, true, method, start, natsrpc.CodeOf(err), err)
			},
		})
	}
}

var errNilStream = natsrpc.NewError(natsrpc.CodeInternal, errors.New("client interceptor returned a nil stream"))

// WrapStreamingHandler traces the handler side of streams: a server span,
// a child of the client's span, around the handler, with an event per
// message (see [WithMessageEvents]); the handler's context carries it.
func (i *Interceptor) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return func(ctx context.Context, conn natsrpc.StreamingHandlerConn) error {
		spec := conn.Spec()
		if i.filter != nil && !i.filter(ctx, spec) {
			return next(ctx, conn)
		}
		start := time.Now()
		method := strings.TrimPrefix(spec.Procedure, "/")
		ctx, span := i.startSpan(ctx, conn.RequestHeader(), &spec, method)
		s := &streamSpan{span: span, every: i.messageEvery}
		panicked := true
		defer func() {
			if panicked {
				i.endStream(ctx, s, false, method, start, natsrpc.CodeInternal, errPanic)
			}
		}()
		err := next(ctx, streamobserve.Handler(conn, streamobserve.Hooks{Sent: s.sent, Received: s.received}))
		panicked = false
		i.endStream(ctx, s, false, method, start, natsrpc.CodeOf(err), err)
		return err
	}
}

// MessageEvent is the name of the span event recorded for a stream's
// messages.
const MessageEvent = "message"

// Attributes of message events (the keys of the OpenTelemetry RPC
// conventions up to semconv v1.37.0, which otelgrpc and otelconnect use)
// and of stream spans.
const (
	// MessageTypeKey is "SENT" or "RECEIVED".
	MessageTypeKey = attribute.Key("rpc.message.type")
	// MessageIDKey is the message's number in its direction, from 1.
	MessageIDKey = attribute.Key("rpc.message.id")
	// MessageUncompressedSizeKey is the message's protobuf size in bytes.
	MessageUncompressedSizeKey = attribute.Key("rpc.message.uncompressed_size")
	// MessagesSentKey is set when a stream's span ends: how many messages
	// this side sent.
	MessagesSentKey = attribute.Key("rpc.natsrpc.messages_sent")
	// MessagesReceivedKey is set when a stream's span ends: how many
	// messages this side received.
	MessagesReceivedKey = attribute.Key("rpc.natsrpc.messages_received")
)

var (
	messageSent     = MessageTypeKey.String("SENT")
	messageReceived = MessageTypeKey.String("RECEIVED")
)

// streamSpan is the span of one stream and its message counts.
type streamSpan struct {
	span             trace.Span
	every            uint64
	nSent, nReceived atomic.Uint64
}

func (s *streamSpan) sent(seq uint64, msg proto.Message) {
	s.nSent.Store(seq)
	s.event(messageSent, seq, msg)
}

func (s *streamSpan) received(seq uint64, msg proto.Message) {
	s.nReceived.Store(seq)
	s.event(messageReceived, seq, msg)
}

// event records message seq's event if it is one of the sampled ones:
// messages 1, 1+every, 1+2*every...
func (s *streamSpan) event(kind attribute.KeyValue, seq uint64, msg proto.Message) {
	if s.every == 0 || (seq-1)%s.every != 0 || !s.span.IsRecording() {
		return
	}
	s.span.AddEvent(MessageEvent, trace.WithAttributes(kind,
		MessageIDKey.Int64(int64(seq)), MessageUncompressedSizeKey.Int(proto.Size(msg))))
}

// endStream ends a stream's span and records its duration. A client that
// closed its stream before the end (streamobserve.ErrClosed) chose to stop:
// that is no failure of the call.
func (i *Interceptor) endStream(ctx context.Context, s *streamSpan, isClient bool, method string, start time.Time, code natsrpc.Code, err error) {
	if s.span.IsRecording() {
		s.span.SetAttributes(MessagesSentKey.Int64(int64(s.nSent.Load())), MessagesReceivedKey.Int64(int64(s.nReceived.Load())))
	}
	i.endSpan(s.span, isClient && !errors.Is(err, streamobserve.ErrClosed), isClient, code, err)
	if i.metrics {
		i.recordDuration(ctx, isClient, method, code, time.Since(start))
	}
}

// subjectOptions are the span start options of the calls on one subject,
// built once: a subject stands for one method (and one runtime prefix).
type subjectOptions struct {
	client []trace.SpanStartOption
	server []trace.SpanStartOption
}

func (i *Interceptor) spanOptions(spec *natsrpc.Spec, method string) *subjectOptions {
	if o, ok := i.subjects.Load(spec.Subject); ok {
		return o.(*subjectOptions)
	}
	attrs := []attribute.KeyValue{
		semconv.RPCSystemNameKey.String(SystemName),
		semconv.RPCMethod(method),
		SubjectKey.String(spec.Subject),
	}
	clientKind, serverKind := trace.SpanKindClient, trace.SpanKindServer
	var send, process []attribute.KeyValue
	if spec.Kind == natsrpc.MethodKindEvent {
		// A one-way event is a message: producer and consumer spans with
		// the messaging conventions' attributes.
		clientKind, serverKind = trace.SpanKindProducer, trace.SpanKindConsumer
		attrs = append(attrs, semconv.MessagingSystemKey.String(MessagingSystem), semconv.MessagingDestinationName(spec.Subject))
		send = []attribute.KeyValue{semconv.MessagingOperationTypeSend}
		process = []attribute.KeyValue{semconv.MessagingOperationTypeProcess}
	}
	attrs = append(attrs, i.attributes...)
	o := &subjectOptions{
		client: []trace.SpanStartOption{trace.WithAttributes(attrs...), trace.WithAttributes(send...), trace.WithSpanKind(clientKind)},
		server: []trace.SpanStartOption{trace.WithAttributes(attrs...), trace.WithAttributes(process...), trace.WithSpanKind(serverKind)},
	}
	actual, _ := i.subjects.LoadOrStore(spec.Subject, o)
	return actual.(*subjectOptions)
}

// startSpan starts the span of a call whose request headers are header:
// on the client it injects the span's context into them, on the server it
// extracts the caller's.
func (i *Interceptor) startSpan(ctx context.Context, header nats.Header, spec *natsrpc.Spec, method string) (context.Context, trace.Span) {
	opts := i.spanOptions(spec, method)
	carrier := HeaderCarrier(header)
	if spec.IsClient {
		ctx, span := i.tracer.Start(ctx, method, opts.client...)
		i.propagator.Inject(ctx, carrier)
		return ctx, span
	}
	// A span already in the context was put there by another interceptor
	// that extracted the caller's context itself: keep it.
	if trace.SpanContextFromContext(ctx).IsValid() {
		return i.tracer.Start(ctx, method, opts.server...)
	}
	ctx = i.propagator.Extract(ctx, carrier)
	if !i.public {
		return i.tracer.Start(ctx, method, opts.server...)
	}
	public := append(opts.server[:len(opts.server):len(opts.server)], trace.WithNewRoot())
	if remote := trace.SpanContextFromContext(ctx); remote.IsValid() {
		public = append(public, trace.WithLinks(trace.Link{SpanContext: remote}))
	}
	return i.tracer.Start(ctx, method, public...)
}

// endSpan ends span with code. Every error is recorded; clientFailure
// says whether an error is the call's failure on the client, where any
// error sets the span's status to Error (on the server only service faults
// do).
func (i *Interceptor) endSpan(span trace.Span, clientFailure, isClient bool, code natsrpc.Code, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	codeText := code.String()
	if err == nil {
		span.SetAttributes(semconv.RPCResponseStatusCode(codeText))
		span.End()
		return
	}
	span.SetAttributes(semconv.RPCResponseStatusCode(codeText), semconv.ErrorTypeKey.String(codeText))
	span.RecordError(err, trace.WithAttributes(semconv.RPCResponseStatusCode(codeText)))
	if clientFailure || !isClient && serverFault(code) {
		span.SetStatus(codes.Error, message(err))
	}
	span.End()
}

func (i *Interceptor) recordDuration(ctx context.Context, isClient bool, method string, code natsrpc.Code, d time.Duration) {
	var enabled bool
	if isClient {
		enabled = i.clientDuration.Enabled(ctx)
	} else {
		enabled = i.serverDuration.Enabled(ctx)
	}
	if !enabled {
		return
	}
	codeText := code.String()
	attrs := make([]attribute.KeyValue, 0, 3+len(i.attributes))
	attrs = append(attrs, semconv.RPCMethod(method), semconv.RPCResponseStatusCode(codeText))
	if code != 0 {
		attrs = append(attrs, semconv.ErrorTypeKey.String(codeText))
	}
	attrs = append(attrs, i.attributes...)
	if isClient {
		i.clientDuration.Record(ctx, d.Seconds(), SystemName, attrs...)
	} else {
		i.serverDuration.Record(ctx, d.Seconds(), SystemName, attrs...)
	}
}

// serverFault reports whether a handler's code means the service failed,
// after the semantic conventions for gRPC servers.
func serverFault(code natsrpc.Code) bool {
	switch code {
	case natsrpc.CodeUnknown, natsrpc.CodeDeadlineExceeded, natsrpc.CodeUnimplemented,
		natsrpc.CodeInternal, natsrpc.CodeUnavailable, natsrpc.CodeDataLoss:
		return true
	}
	return false
}

// message is err's message without the code prefix that [natsrpc.Error]
// adds (the code is in the span's attributes).
func message(err error) string {
	if e := (*natsrpc.Error)(nil); errors.As(err, &e) {
		return e.Message()
	}
	return err.Error()
}

// globalPropagator is the global propagator once one is set, and fallback
// until then.
type globalPropagator struct {
	fallback propagation.TextMapPropagator
}

func (p globalPropagator) current() propagation.TextMapPropagator {
	// The global propagator is a no-op with no fields until
	// otel.SetTextMapPropagator is called.
	if g := otel.GetTextMapPropagator(); len(g.Fields()) > 0 {
		return g
	}
	return p.fallback
}

func (p globalPropagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	p.current().Inject(ctx, carrier)
}

func (p globalPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return p.current().Extract(ctx, carrier)
}

func (p globalPropagator) Fields() []string {
	return p.current().Fields()
}
