// Package shadow is the storage and reporting side of shadow traffic
// ([natsrpc.WithShadow]): a [natsrpc.ShadowRecorder] that keeps the pairs
// of answers that differ in a JetStream stream, bounded, with both bodies
// as JSON and the differing field paths ([NewRecorder]), and the report
// that `natsrpc shadow report` prints ([Collect]): every mirroring
// instance's counts from $SRV.STATS, merged, with the kept pairs.
//
// It is a module of its own so that the runtime's option stays free of
// storage; it needs nothing beyond the runtime's own requirements.
package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
)

// Defaults of the stream the recorder keeps differences in.
const (
	// DefaultStream is the stream's name.
	DefaultStream = "NATSRPC_SHADOW"
	// SubjectPrefix starts the subjects differences are stored on:
	// natsrpc.shadow.<micro service name>.<method>.
	SubjectPrefix = "natsrpc.shadow"
	// DefaultPerMethod is how many differences are kept per method (the
	// oldest go first).
	DefaultPerMethod = 100
	// DefaultMaxBytes bounds the whole stream.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxAge is how long a difference is kept.
	DefaultMaxAge = 7 * 24 * time.Hour
)

// Record is one difference as stored: a JSON document.
type Record struct {
	// Service is the micro service name, Method the method's name.
	Service string `json:"service"`
	Method  string `json:"method"`
	// Subject is the primary's subject.
	Subject string `json:"subject"`
	// Time is when the primary answered.
	Time        time.Time `json:"time"`
	TraceParent string    `json:"traceparent,omitempty"`
	// Paths are the differing fields of the responses (proto names, as in
	// the JSON bodies); empty when the outcomes differ.
	Paths []string `json:"paths"`
	// Request, Primary and Candidate are protojson with proto field
	// names; an answer that is an error is in PrimaryError or
	// CandidateError instead.
	Request        json.RawMessage `json:"request"`
	Primary        json.RawMessage `json:"primary,omitempty"`
	Candidate      json.RawMessage `json:"candidate,omitempty"`
	PrimaryError   *ErrorRecord    `json:"primary_error,omitempty"`
	CandidateError *ErrorRecord    `json:"candidate_error,omitempty"`
	// PrimaryLatency and CandidateLatency are in microseconds.
	PrimaryLatency   int64 `json:"primary_latency_us"`
	CandidateLatency int64 `json:"candidate_latency_us"`
}

// ErrorRecord is an answer that was an error.
type ErrorRecord struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Option configures [NewRecorder] and [Read].
type Option func(*config)

type config struct {
	stream    string
	perMethod int64
	maxBytes  int64
	maxAge    time.Duration
	replicas  int
}

// WithStream names the stream (default [DefaultStream]).
func WithStream(name string) Option { return func(c *config) { c.stream = name } }

// WithLimits sets how many differences are kept per method, the stream's
// size and the age of a difference; zero keeps a default.
func WithLimits(perMethod int, maxBytes int64, maxAge time.Duration) Option {
	return func(c *config) {
		if perMethod > 0 {
			c.perMethod = int64(perMethod)
		}
		if maxBytes > 0 {
			c.maxBytes = maxBytes
		}
		if maxAge > 0 {
			c.maxAge = maxAge
		}
	}
}

// WithReplicas sets the stream's replicas (default 1; 3 on a cluster
// that must not lose them).
func WithReplicas(n int) Option { return func(c *config) { c.replicas = n } }

func newConfig(opts []Option) config {
	c := config{stream: DefaultStream, perMethod: DefaultPerMethod, maxBytes: DefaultMaxBytes, maxAge: DefaultMaxAge, replicas: 1}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// Recorder stores differences in a JetStream stream. It is a
// [natsrpc.ShadowRecorder]: pass it in [natsrpc.ShadowPolicy.Recorder].
type Recorder struct {
	nc       *nats.Conn
	cfg      config
	stored   atomic.Int64
	failed   atomic.Int64
	lastFail atomic.Pointer[string]
}

// NewRecorder creates or updates the stream (subjects natsrpc.shadow.>,
// file storage, the oldest dropped beyond the limits) and returns a
// recorder that publishes to it over js's connection.
func NewRecorder(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Recorder, error) {
	cfg := newConfig(opts)
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              cfg.stream,
		Description:       "natsrpc shadow traffic: pairs of answers that differ (natsrpc shadow report)",
		Subjects:          []string{SubjectPrefix + ".>"},
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: cfg.perMethod,
		MaxBytes:          cfg.maxBytes,
		MaxAge:            cfg.maxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("shadow: create the stream %q for differences: %w", cfg.stream, err)
	}
	return &Recorder{nc: js.Conn(), cfg: cfg}, nil
}

// Subject is the subject the differences of one method are stored on.
func Subject(service, method string) string {
	return SubjectPrefix + "." + service + "." + method
}

var jsonOut = protojson.MarshalOptions{UseProtoNames: true}

// NewRecord builds the stored form of d.
func NewRecord(d *natsrpc.ShadowDifference) (*Record, error) {
	r := &Record{
		Service:          d.Service,
		Method:           string(d.Spec.Method.Name()),
		Subject:          d.Spec.Subject,
		Time:             d.Time.UTC(),
		TraceParent:      d.TraceParent,
		Paths:            d.Paths,
		PrimaryLatency:   d.PrimaryLatency.Microseconds(),
		CandidateLatency: d.CandidateLatency.Microseconds(),
		PrimaryError:     errorRecord(d.PrimaryError),
		CandidateError:   errorRecord(d.CandidateError),
	}
	if r.Paths == nil {
		r.Paths = []string{}
	}
	var err error
	if r.Request, err = marshal(d.Request); err != nil {
		return nil, err
	}
	if r.Primary, err = marshal(d.Primary); err != nil {
		return nil, err
	}
	if r.Candidate, err = marshal(d.Candidate); err != nil {
		return nil, err
	}
	return r, nil
}

func marshal(m proto.Message) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	return jsonOut.Marshal(m)
}

func errorRecord(e *natsrpc.Error) *ErrorRecord {
	if e == nil {
		return nil
	}
	return &ErrorRecord{Code: e.Code().String(), Message: e.Message()}
}

// RecordShadow stores d, without waiting: a plain publish on its subject,
// which the stream captures. A difference that cannot be published (too
// large for max_payload, the connection closed) is counted in Failed.
func (r *Recorder) RecordShadow(d *natsrpc.ShadowDifference) {
	rec, err := NewRecord(d)
	var b []byte
	if err == nil {
		b, err = json.Marshal(rec)
	}
	if err == nil {
		err = r.nc.Publish(Subject(d.Service, rec.Method), b)
	}
	if err != nil {
		r.failed.Add(1)
		msg := err.Error()
		r.lastFail.Store(&msg)
		return
	}
	r.stored.Add(1)
}

// Stored and Failed count the differences published and those that could
// not be.
func (r *Recorder) Stored() int64 { return r.stored.Load() }

// Failed counts the differences that could not be published; LastFailure
// says why the latest failed.
func (r *Recorder) Failed() int64 { return r.failed.Load() }

// LastFailure is the latest failure's error text, or "".
func (r *Recorder) LastFailure() string {
	if p := r.lastFail.Load(); p != nil {
		return *p
	}
	return ""
}

// Flush waits until the server has every difference published so far.
func (r *Recorder) Flush(ctx context.Context) error {
	return r.nc.FlushWithContext(ctx)
}

// Read returns the differences stored for service (a micro service name;
// every service when empty), oldest first. A missing stream is no error:
// nothing was ever stored.
func Read(ctx context.Context, js jetstream.JetStream, service string, opts ...Option) ([]Record, error) {
	cfg := newConfig(opts)
	filter := SubjectPrefix + ".>"
	if service != "" {
		filter = SubjectPrefix + "." + service + ".>"
	}
	cons, err := js.OrderedConsumer(ctx, cfg.stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("shadow: read the stream %q: %w", cfg.stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("shadow: read the stream %q: %w", cfg.stream, err)
	}
	pending := info.NumPending
	var out []Record
	for pending > 0 {
		batch, err := cons.Fetch(int(min(pending, 256)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("shadow: read the stream %q: %w", cfg.stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var rec Record
			if err := json.Unmarshal(m.Data(), &rec); err != nil {
				return nil, fmt.Errorf("shadow: %s holds a message that is not a difference: %w", m.Subject(), err)
			}
			out = append(out, rec)
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("shadow: read the stream %q: %w", cfg.stream, err)
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

// microName turns a service's full name into its micro name; a micro name
// is returned as it is.
func microName(s string) string {
	return strings.ReplaceAll(s, ".", "_")
}
