// Package promnatsrpc records Prometheus metrics of natsrpc calls, on
// clients and services, with one [natsrpc.Interceptor] registered on a
// registry the caller chooses:
//
//	metrics, err := promnatsrpc.NewInterceptor(prometheus.DefaultRegisterer)
//	if err != nil {
//		return err
//	}
//	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc,
//		natsrpc.WithInterceptors(metrics))
//	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, impl,
//		natsrpc.WithInterceptors(metrics))
//
// The metrics mirror go-grpc-prometheus, with natsrpc_ for grpc_:
//
//	natsrpc_server_started_total       counter    calls a handler started
//	natsrpc_server_handled_total       counter    calls a handler finished, by code
//	natsrpc_server_handling_seconds    histogram  handler latency, by code
//	natsrpc_server_calls_in_flight     gauge      calls in a handler now
//	natsrpc_client_started_total       counter    calls a client started
//	natsrpc_client_handled_total       counter    calls a client finished, by code
//	natsrpc_client_handling_seconds    histogram  call latency seen by the caller, by code
//	natsrpc_client_calls_in_flight     gauge      calls waiting for an answer now
//	natsrpc_server_msg_received_total  counter    messages handlers received
//	natsrpc_server_msg_sent_total      counter    messages handlers sent
//	natsrpc_client_msg_sent_total      counter    messages clients sent
//	natsrpc_client_msg_received_total  counter    messages clients received
//
// Their labels are natsrpc_type (the method kind: "unary",
// "server_stream", "client_stream", "bidi_stream", or "event" for one-way
// events, which go through the unary hook), natsrpc_service (the full
// protobuf name, "gaming.quest_system.v1.QuestSystemService"),
// natsrpc_method ("GetQuest") and, on handled_total and handling_seconds,
// natsrpc_code (the [natsrpc.Code] as text: "ok", "not_found",
// "unavailable"...). The prefix keeps them clear of target labels such as
// service that Kubernetes service discovery adds.
//
// Message counters count as go-grpc-prometheus does: a unary call is one
// message each way, the request counted when the call starts (client) or
// reaches the handler (server), the response only when the call succeeds;
// an event is one message from client to handler.
//
// The histograms carry the code too, unlike go-grpc-prometheus's, so that
// the latency of successes is not blurred by timeouts: a method that has
// answered ok, not_found and deadline_exceeded has three histograms of
// [DefaultBuckets] (17 buckets, 0.1 ms to 30 s) per side.
//
// Client metrics count logical calls: retries of idempotent methods happen
// below interceptors, so a call that succeeded on its third attempt counts
// once, as ok, with the time of all three. Server metrics count requests
// that reached a handler; requests rejected before it (overload, expired,
// undecodable) are in the service's NATS micro stats.
//
// # Streams
//
// A stream (server, client or bidirectional streaming) is one call: it is
// counted in started_total and calls_in_flight when it starts, and in
// handled_total and handling_seconds, with its whole duration and its
// code, when it ends; each message it carries counts in msg_sent_total or
// msg_received_total as it goes. On the client a stream ends when Receive
// reports its end (io.EOF: code ok) or an error (its code), or when the
// client closes it first (the failed open's code, or canceled); a stream
// that is neither read to its end nor closed stays in flight. On the
// server it ends when the handler returns, with its error's code.
package promnatsrpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/internal/streamobserve"
)

// DefaultBuckets are the histograms' upper bounds in seconds, from 0.1 ms
// (a cached answer on the same host) to 30 s (a long LLM generation).
var DefaultBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
	10, 30,
}

// Label names.
const (
	LabelType    = "natsrpc_type"
	LabelService = "natsrpc_service"
	LabelMethod  = "natsrpc_method"
	LabelCode    = "natsrpc_code"
)

// Interceptor is a [natsrpc.Interceptor] that records Prometheus metrics of
// calls on clients and services alike. Build it with [NewInterceptor]; it is
// safe for concurrent use, and one Interceptor may serve any number of
// clients and services.
type Interceptor struct {
	client *sideMetrics
	server *sideMetrics
}

var _ natsrpc.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor whose metrics are registered on reg
// (prometheus.DefaultRegisterer, or a registry of your own). Nothing is
// registered anywhere else, nor at init.
//
// Registering a second interceptor on the same registry is not an error:
// it shares the first one's metrics (and their buckets), or, with other
// values of the same [WithConstLabels], adds series of its own.
// NewInterceptor fails when reg is nil, when the options are invalid, or
// when reg holds a different metric under one of the names (or the same
// name with other labels); it then leaves reg as it was.
func NewInterceptor(reg prometheus.Registerer, opts ...Option) (*Interceptor, error) {
	if reg == nil {
		return nil, errors.New("promnatsrpc: registerer is nil")
	}
	cfg := config{buckets: slices.Clone(DefaultBuckets)}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("promnatsrpc: %w", err)
	}
	r := &registration{reg: reg}
	i := &Interceptor{
		client: newSideMetrics(r, "client", &cfg),
		server: newSideMetrics(r, "server", &cfg),
	}
	if r.err != nil {
		r.undo()
		return nil, fmt.Errorf("promnatsrpc: %w", r.err)
	}
	return i, nil
}

// WrapUnary counts and times unary calls and events, and counts their
// messages.
func (i *Interceptor) WrapUnary(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		if !ok {
			return next(ctx, req)
		}
		spec := ci.Spec()
		side := i.server
		if spec.IsClient {
			side = i.client
		}
		m := side.method(&spec)
		m.started.Inc()
		m.inFlight.Inc()
		// The request: sent by the client as the call starts, received by
		// the handler (the runtime decoded it before interceptors run).
		if spec.IsClient {
			m.sent.Inc()
		} else {
			m.received.Inc()
		}
		start := time.Now()
		panicked := true
		defer func() {
			if panicked {
				// The runtime answers a panicking handler with
				// CodeInternal; count it so, and keep the gauge right.
				m.finish(side, natsrpc.CodeInternal, time.Since(start))
			}
		}()
		res, err := next(ctx, req)
		panicked = false
		if err == nil && spec.Kind != natsrpc.MethodKindEvent {
			// The response; events have none.
			if spec.IsClient {
				m.received.Inc()
			} else {
				m.sent.Inc()
			}
		}
		m.finish(side, natsrpc.CodeOf(err), time.Since(start))
		return res, err
	}
}

// WrapStreamingClient counts and times the client side of streams, and
// counts their messages.
func (i *Interceptor) WrapStreamingClient(next natsrpc.StreamingClientFunc) natsrpc.StreamingClientFunc {
	return func(ctx context.Context, spec natsrpc.Spec) natsrpc.StreamingClientConn {
		side := i.client
		m := side.method(&spec)
		m.started.Inc()
		m.inFlight.Inc()
		start := time.Now()
		conn := next(ctx, spec)
		if conn == nil {
			// The runtime fails such a call with CodeInternal.
			m.finish(side, natsrpc.CodeInternal, time.Since(start))
			return nil
		}
		return streamobserve.Client(conn, streamobserve.Hooks{
			Sent:     func(uint64, proto.Message) { m.sent.Inc() },
			Received: func(uint64, proto.Message) { m.received.Inc() },
			End: func(err error) {
				m.finish(side, natsrpc.CodeOf(err), time.Since(start))
			},
		})
	}
}

// WrapStreamingHandler counts and times the handler side of streams, and
// counts their messages.
func (i *Interceptor) WrapStreamingHandler(next natsrpc.StreamingHandlerFunc) natsrpc.StreamingHandlerFunc {
	return func(ctx context.Context, conn natsrpc.StreamingHandlerConn) error {
		spec := conn.Spec()
		side := i.server
		m := side.method(&spec)
		m.started.Inc()
		m.inFlight.Inc()
		start := time.Now()
		panicked := true
		defer func() {
			if panicked {
				m.finish(side, natsrpc.CodeInternal, time.Since(start))
			}
		}()
		err := next(ctx, streamobserve.Handler(conn, streamobserve.Hooks{
			Sent:     func(uint64, proto.Message) { m.sent.Inc() },
			Received: func(uint64, proto.Message) { m.received.Inc() },
		}))
		panicked = false
		m.finish(side, natsrpc.CodeOf(err), time.Since(start))
		return err
	}
}

// sideMetrics are the metrics of one side, client or server.
type sideMetrics struct {
	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	handling *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
	sent     *prometheus.CounterVec
	received *prometheus.CounterVec
	// methods caches each procedure's series, so that a call looks up a
	// map once instead of hashing label values four times.
	methods sync.Map // procedure -> *methodMetrics
}

func newSideMetrics(r *registration, side string, cfg *config) *sideMetrics {
	methodLabels := []string{LabelType, LabelService, LabelMethod}
	codeLabels := []string{LabelType, LabelService, LabelMethod, LabelCode}
	what := map[string]string{
		"client": "calls clients made",
		"server": "calls handlers served",
	}[side]
	who := map[string]string{
		"client": "clients",
		"server": "handlers",
	}[side]
	prefix := "natsrpc_" + side + "_"
	return &sideMetrics{
		started: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        prefix + "started_total",
			Help:        "Number of natsrpc " + what + ", counted when they start.",
			ConstLabels: cfg.constLabels,
		}, methodLabels)),
		handled: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        prefix + "handled_total",
			Help:        "Number of natsrpc " + what + ", counted when they end, by code.",
			ConstLabels: cfg.constLabels,
		}, codeLabels)),
		handling: register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        prefix + "handling_seconds",
			Help:        "Duration of natsrpc " + what + ", in seconds, by code.",
			ConstLabels: cfg.constLabels,
			Buckets:     cfg.buckets,
		}, codeLabels)),
		inFlight: register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        prefix + "calls_in_flight",
			Help:        "Number of natsrpc " + what + " that have started and not ended.",
			ConstLabels: cfg.constLabels,
		}, methodLabels)),
		sent: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        prefix + "msg_sent_total",
			Help:        "Number of messages natsrpc " + who + " sent (requests, responses and stream messages).",
			ConstLabels: cfg.constLabels,
		}, methodLabels)),
		received: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        prefix + "msg_received_total",
			Help:        "Number of messages natsrpc " + who + " received (requests, responses and stream messages).",
			ConstLabels: cfg.constLabels,
		}, methodLabels)),
	}
}

// methodMetrics are the series of one procedure on one side.
type methodMetrics struct {
	labels   [3]string // type, service, method
	started  prometheus.Counter
	inFlight prometheus.Gauge
	sent     prometheus.Counter
	received prometheus.Counter
	codes    [17]atomic.Pointer[codeMetrics] // by code, 0 (ok) to 16
}

type codeMetrics struct {
	handled  prometheus.Counter
	handling prometheus.Observer
}

func (s *sideMetrics) method(spec *natsrpc.Spec) *methodMetrics {
	if m, ok := s.methods.Load(spec.Procedure); ok {
		return m.(*methodMetrics)
	}
	service, method := names(spec)
	m := &methodMetrics{labels: [3]string{spec.Kind.String(), service, method}}
	m.started = s.started.WithLabelValues(m.labels[:]...)
	m.inFlight = s.inFlight.WithLabelValues(m.labels[:]...)
	m.sent = s.sent.WithLabelValues(m.labels[:]...)
	m.received = s.received.WithLabelValues(m.labels[:]...)
	actual, _ := s.methods.LoadOrStore(spec.Procedure, m)
	return actual.(*methodMetrics)
}

// finish records the end of a call.
func (m *methodMetrics) finish(s *sideMetrics, code natsrpc.Code, elapsed time.Duration) {
	m.inFlight.Dec()
	c := m.code(s, code)
	c.handled.Inc()
	c.handling.Observe(elapsed.Seconds())
}

func (m *methodMetrics) code(s *sideMetrics, code natsrpc.Code) *codeMetrics {
	if int(code) < len(m.codes) {
		if c := m.codes[code].Load(); c != nil {
			return c
		}
	}
	text := code.String()
	c := &codeMetrics{
		handled:  s.handled.WithLabelValues(m.labels[0], m.labels[1], m.labels[2], text),
		handling: s.handling.WithLabelValues(m.labels[0], m.labels[1], m.labels[2], text),
	}
	if int(code) < len(m.codes) {
		m.codes[code].CompareAndSwap(nil, c)
	}
	return c
}

// names returns the service's full name and the method's name.
func names(spec *natsrpc.Spec) (service, method string) {
	if spec.Method != nil {
		return string(spec.Method.Parent().FullName()), string(spec.Method.Name())
	}
	// "/<package>.<Service>/<Method>"
	service, method, _ = strings.Cut(strings.TrimPrefix(spec.Procedure, "/"), "/")
	return service, method
}

// registration registers collectors on a registry and can take them back.
type registration struct {
	reg   prometheus.Registerer
	added []prometheus.Collector
	err   error
}

// register registers c on r's registry and returns it, or the collector
// already registered under the same name and labels when it is of the same
// type. After a failure it does nothing.
func register[C prometheus.Collector](r *registration, c C) C {
	if r.err != nil {
		return c
	}
	err := r.reg.Register(c)
	if err == nil {
		r.added = append(r.added, c)
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
		err = fmt.Errorf("a different collector is registered under the same name: %w", err)
	}
	r.err = fmt.Errorf("register %s: %w", metricName(c), err)
	return c
}

// undo unregisters what r registered.
func (r *registration) undo() {
	for _, c := range slices.Backward(r.added) {
		r.reg.Unregister(c)
	}
	r.added = nil
}

// metricName returns the fully-qualified name of c's metric, for errors.
func metricName(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 1)
	c.Describe(ch) // a metric vector describes exactly one Desc
	close(ch)
	d := <-ch
	// There is no accessor; Desc.String is `Desc{fqName: "<name>", ...}`.
	_, rest, _ := strings.Cut(d.String(), `fqName: "`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}
