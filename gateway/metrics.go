package gateway

import (
	"context"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	rejected prometheus.Counter
	reloads  *prometheus.CounterVec
	routes   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsrpc_gateway_requests_total",
			Help: "Requests handled, by procedure (\"unrouted\" for requests no route took) and protocol.",
		}, []string{"procedure", "protocol"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsrpc_gateway_errors_total",
			Help: "Requests that ended with an error, by procedure and code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "natsrpc_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival to its last byte (streams included), by procedure.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"procedure"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "natsrpc_gateway_in_flight",
			Help: "Calls in progress.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "natsrpc_gateway_rejected_total",
			Help: "Calls refused with resource_exhausted because --max-in-flight calls were in progress.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsrpc_gateway_reloads_total",
			Help: "Route reloads, by result (ok or refused).",
		}, []string{"result"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "natsrpc_gateway_routes",
			Help: "Methods routed.",
		}),
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.inFlight, m.rejected, m.reloads, m.routes)
	return m
}

// observation follows one request from the outer handler to the route's
// handler, which names the procedure and the outcome.
type observation struct {
	mu        sync.Mutex
	procedure string
	code      connect.Code
	set       bool
	accept    string
}

type observationKey struct{}

// observe returns the request's observation, naming its procedure.
func observe(ctx context.Context, procedure string) *observation {
	o, _ := ctx.Value(observationKey{}).(*observation)
	if o == nil {
		return &observation{} // not reached through the gateway's handler
	}
	o.mu.Lock()
	o.procedure = procedure
	o.mu.Unlock()
	return o
}

// done records the outcome: nil is success.
func (o *observation) done(err *connect.Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.set = true
	o.code = 0
	if err != nil {
		o.code = err.Code()
	}
}

// originalAccept is the Accept header of the request as the client sent
// it (vanguard rewrites headers when it transcodes).
func originalAccept(ctx context.Context, h http.Header) string {
	if o, _ := ctx.Value(observationKey{}).(*observation); o != nil && o.accept != "" {
		return o.accept
	}
	return h.Get("Accept")
}

// record counts a finished request.
func (m *metrics) record(o *observation, proto protocol, status int, start time.Time) {
	o.mu.Lock()
	procedure, code, set := o.procedure, o.code, o.set
	o.mu.Unlock()
	if procedure == "" {
		procedure = "unrouted"
	}
	if !set {
		c, isErr := codeFromHTTPStatus(status)
		if isErr {
			code = c
		} else {
			code = 0
		}
	}
	m.requests.WithLabelValues(procedure, proto.String()).Inc()
	if code != 0 {
		m.errors.WithLabelValues(procedure, code.String()).Inc()
	}
	m.latency.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
}

func (p protocol) String() string {
	switch p {
	case protoConnect, protoConnectStream:
		return "connect"
	case protoGRPC:
		return "grpc"
	case protoGRPCWeb:
		return "grpc_web"
	}
	return "rest"
}

// statusRecorder remembers the status a handler wrote. For a unary call
// it also swallows flushes: vanguard flushes every response, which for a
// unary answer only splits it into a chunked header and body written
// apart (a second syscall per call); unflushed, net/http writes it once,
// with its Content-Length.
type statusRecorder struct {
	http.ResponseWriter
	status int
	unary  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush flushes, for streams.
func (s *statusRecorder) Flush() {
	if s.unary {
		return
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.status = http.StatusOK
		}
		f.Flush()
	}
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
