package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/spec"
	"github.com/natsrpc/natsrpc/internal/testhook"
	natsrpcv1 "github.com/natsrpc/natsrpc/proto/natsrpc/v1"
)

// Defaults of the durable event option's fields (proto/natsrpc/v1/options.proto).
const (
	defaultDuplicateWindow = 2 * time.Minute
	defaultMaxDeliver      = 5
	defaultAckWait         = 30 * time.Second
	// jetStreamTimeout bounds each JetStream API call natsrpc makes on its
	// own (stream and consumer set-up, acknowledgements, parking).
	jetStreamTimeout = 10 * time.Second
	// maxPrefetch bounds the events a durable consumer pulls ahead of the
	// workers.
	maxPrefetch = 256
	// pullExpiry and pullHeartbeat configure the consumer's pull requests
	// (see durableEndpoint.start).
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
	// parkedSubjectPrefix starts the subject of every parked-event stream.
	parkedSubjectPrefix = "natsrpc.parked."
	parkedStreamSuffix  = "_DLQ"
)

var defaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// Headers of a parked event (docs/wire.md, "Parked events"). The event's
// own headers and body are kept.
const (
	headerParkedReason   = "Nats-Rpc-Parked-Reason"
	headerParkedError    = "Nats-Rpc-Parked-Error"
	headerParkedCode     = "Nats-Rpc-Parked-Code"
	headerParkedAttempts = "Nats-Rpc-Parked-Attempts"
	headerParkedStream   = "Nats-Rpc-Parked-Stream"
	headerParkedSequence = "Nats-Rpc-Parked-Sequence"
	headerParkedSubject  = "Nats-Rpc-Parked-Subject"
	headerParkedConsumer = "Nats-Rpc-Parked-Consumer"
	headerParkedTime     = "Nats-Rpc-Parked-Time"
)

// Reasons an event is parked (the Nats-Rpc-Parked-Reason values).
const (
	// parkHandlerError: the handler failed on every one of max_deliver
	// attempts.
	parkHandlerError = "handler_error"
	// parkNotAcknowledged: the last attempt was never acknowledged (the
	// handler's process died or hung past ack_wait).
	parkNotAcknowledged = "not_acknowledged"
	// parkUndecodable: the event does not decode as the method's request;
	// retrying cannot help.
	parkUndecodable = "undecodable"
)

// durableSettings are a durable event's JetStream settings, defaults
// applied.
type durableSettings struct {
	stream       string
	consumer     string
	parkedStream string
	parkedSubj   string
	storage      jetstream.StorageType
	replicas     int
	maxAge       time.Duration
	maxBytes     int64
	duplicates   time.Duration
	maxDeliver   int
	backoff      []time.Duration
	ackWait      time.Duration
}

var invalidStreamChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// durableSettingsFor derives the settings of durable event m served or
// published with the runtime subject prefix prefix.
func durableSettingsFor(m *spec.Method, prefix string) durableSettings {
	d := m.Durable
	subject := prefixed(prefix, m.Subject)
	st := durableSettings{
		stream:     d.GetStream(),
		consumer:   d.GetConsumer(),
		storage:    jetstream.FileStorage,
		replicas:   max(1, int(d.GetReplicas())),
		maxAge:     d.GetMaxAge().AsDuration(),
		maxBytes:   d.GetMaxBytes(),
		duplicates: d.GetDuplicateWindow().AsDuration(),
		maxDeliver: int(d.GetMaxDeliver()),
		ackWait:    d.GetAckWait().AsDuration(),
	}
	if st.stream == "" {
		st.stream = invalidStreamChars.ReplaceAllString(subject, "_")
	}
	if st.consumer == "" {
		st.consumer = m.Service.MicroName
		if prefix != "" {
			st.consumer = invalidStreamChars.ReplaceAllString(prefix, "_") + "_" + st.consumer
		}
	}
	st.parkedStream = st.stream + parkedStreamSuffix
	st.parkedSubj = parkedSubjectPrefix + st.stream
	if d.GetStorage() == natsrpcv1.StorageType_STORAGE_TYPE_MEMORY {
		st.storage = jetstream.MemoryStorage
	}
	if d.GetMaxAge() == nil {
		st.maxAge = 0
	}
	if st.maxBytes == 0 {
		st.maxBytes = -1
	}
	if d.GetDuplicateWindow() == nil || st.duplicates <= 0 {
		st.duplicates = defaultDuplicateWindow
	}
	if st.maxAge > 0 && st.duplicates > st.maxAge {
		st.duplicates = st.maxAge
	}
	if st.maxDeliver <= 0 {
		st.maxDeliver = defaultMaxDeliver
	}
	for _, b := range d.GetBackoff() {
		st.backoff = append(st.backoff, b.AsDuration())
	}
	if len(st.backoff) == 0 {
		st.backoff = defaultBackoff
	}
	if d.GetAckWait() == nil || st.ackWait <= 0 {
		st.ackWait = defaultAckWait
	}
	return st
}

// backoffFor is the redelivery delay after failed attempt n (from 1); the
// last entry repeats.
func (st *durableSettings) backoffFor(n uint64) time.Duration {
	i := int(min(n, uint64(len(st.backoff)))) - 1
	return st.backoff[max(i, 0)]
}

// durableTarget is the publishing side of a durable event.
type durableTarget struct {
	js       jetstream.JetStream
	settings durableSettings
}

func newDurableTarget(nc *nats.Conn, m *spec.Method, prefix string) (*durableTarget, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &durableTarget{js: js, settings: durableSettingsFor(m, prefix)}, nil
}

// publish stores one event in the stream and waits for JetStream's
// acknowledgement.
func (t *durableTarget) publish(ctx context.Context, timeout time.Duration, subject string, hdr nats.Header, data []byte) *Error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if hdr == nil {
		hdr = make(nats.Header, 1)
	}
	if hdr.Get(headerMsgID) == "" {
		hdr[headerMsgID] = []string{newMsgID()}
	}
	_, err := t.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: hdr, Data: data}, jetstream.WithExpectStream(t.settings.stream))
	if err != nil {
		return durablePublishError(err, subject, t.settings.stream)
	}
	return nil
}

// durablePublishError maps the errors of a JetStream publish onto codes.
func durablePublishError(err error, subject, stream string) *Error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return NewError(CodeUnavailable, fmt.Errorf(
			"no JetStream stream stores %q (registering a handler of the event creates stream %q; JetStream must be enabled): %w", subject, stream, err))
	case errors.As(err, &apiErr):
		code := CodeInternal
		switch {
		case apiErr.Code == 503:
			code = CodeUnavailable
		case apiErr.Code == 429, apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
			code = CodeResourceExhausted
		case apiErr.Code == 400:
			code = CodeFailedPrecondition
		}
		return NewError(code, fmt.Errorf("JetStream refused the event on %q: %w", subject, err))
	}
	return requestError(err, subject)
}

// durableEndpoint is the consuming side of a durable event in a service.
type durableEndpoint struct {
	ep       *endpoint
	js       jetstream.JetStream
	consumer jetstream.Consumer
	settings durableSettings

	mu      sync.Mutex
	cc      jetstream.ConsumeContext
	stopped bool

	parked      atomic.Int64
	redelivered atomic.Int64
	ackFailures atomic.Int64
	lastProblem atomic.Pointer[string]
}

// setupDurable creates or updates the event's stream, its parked-event
// stream and its durable consumer. It does not start consuming.
func (s *Service) setupDurable(ep *endpoint, m *spec.Method) error {
	st := durableSettingsFor(m, s.cfg.prefix)
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("durable event %q: jetstream: %w", m.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), jetStreamTimeout)
	defer cancel()
	cfg := jetstream.StreamConfig{
		Name:        st.stream,
		Description: "natsrpc durable events",
		Subjects:    []string{ep.spec.Subject},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     st.storage,
		Replicas:    st.replicas,
		MaxAge:      st.maxAge,
		MaxBytes:    st.maxBytes,
		MaxMsgs:     -1,
		Duplicates:  st.duplicates,
	}
	lastSeq, err := ensureStream(ctx, js, cfg, false)
	if err != nil {
		return fmt.Errorf("durable event %q: %w", m.Name, err)
	}
	parked := cfg
	parked.Name, parked.Description, parked.Subjects = st.parkedStream, "natsrpc parked events of stream "+st.stream, []string{st.parkedSubj}
	if _, err := ensureStream(ctx, js, parked, true); err != nil {
		return fmt.Errorf("durable event %q: parked events: %w", m.Name, err)
	}
	cons, err := ensureConsumer(ctx, js, st, ep.spec.Subject, lastSeq, m.Procedure)
	if err != nil {
		return fmt.Errorf("durable event %q: %w", m.Name, err)
	}
	ep.durable = &durableEndpoint{ep: ep, js: js, consumer: cons, settings: st}
	ep.metadata["natsrpc.stream"] = st.stream
	ep.metadata["natsrpc.consumer"] = st.consumer
	ep.metadata["natsrpc.parked_stream"] = st.parkedStream
	return nil
}

// ensureStream creates the stream of cfg, or updates an existing one with
// cfg's settings and subjects (merged with its own). createOnly leaves an
// existing stream's settings alone. It returns the stream's last sequence.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, createOnly bool) (uint64, error) {
	for range 2 {
		st, err := js.Stream(ctx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			st, err = js.CreateStream(ctx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // another instance created it meanwhile
			}
			if err != nil {
				return 0, fmt.Errorf("create JetStream stream %q for %q: %w", cfg.Name, cfg.Subjects, err)
			}
			return st.CachedInfo().State.LastSeq, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look up JetStream stream %q: %w", cfg.Name, err)
		}
		info := st.CachedInfo()
		cur := info.Config
		upd := cur
		upd.Subjects = slices.Clone(cur.Subjects)
		for _, s := range cfg.Subjects {
			if !slices.Contains(upd.Subjects, s) {
				upd.Subjects = append(upd.Subjects, s)
			}
		}
		if !createOnly {
			if cur.Storage != cfg.Storage {
				return 0, fmt.Errorf("JetStream stream %q keeps events in %s storage and the option asks for %s, which JetStream cannot change: delete the stream or change the option", cfg.Name, cur.Storage, cfg.Storage)
			}
			upd.Replicas, upd.MaxAge, upd.MaxBytes, upd.Duplicates = cfg.Replicas, cfg.MaxAge, cfg.MaxBytes, cfg.Duplicates
		}
		if !slices.Equal(upd.Subjects, cur.Subjects) || upd.Replicas != cur.Replicas || upd.MaxAge != cur.MaxAge ||
			upd.MaxBytes != cur.MaxBytes || upd.Duplicates != cur.Duplicates {
			if _, err := js.UpdateStream(ctx, upd); err != nil {
				return 0, fmt.Errorf("update JetStream stream %q: %w", cfg.Name, err)
			}
		}
		return info.State.LastSeq, nil
	}
	return 0, fmt.Errorf("JetStream stream %q: created and deleted concurrently; try again", cfg.Name)
}

// ensureConsumer creates the durable consumer of st on subject, or updates
// the settings natsrpc owns on an existing one. A new consumer starts
// after lastSeq, the stream's last event when natsrpc set it up: it gets
// every event published from then on (none published between the stream's
// creation and the consumer's is missed), but not history from before the
// service first registered.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, st durableSettings, subject string, lastSeq uint64, procedure string) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       st.consumer,
		Description:   "natsrpc durable event consumer for " + procedure,
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       st.ackWait,
		// natsrpc counts attempts itself and parks the event after the
		// last one; JetStream must keep delivering so that it can.
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   lastSeq + 1,
	}
	for range 2 {
		cons, err := js.Consumer(ctx, st.stream, st.consumer)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			cons, err = js.CreateConsumer(ctx, st.stream, cfg)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create JetStream consumer %q on stream %q: %w", st.consumer, st.stream, err)
			}
			return cons, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up JetStream consumer %q on stream %q: %w", st.consumer, st.stream, err)
		}
		cur := cons.CachedInfo().Config
		if cur.FilterSubject != subject || len(cur.FilterSubjects) > 0 {
			return nil, fmt.Errorf("JetStream consumer %q of stream %q consumes %q, not %q: give the method a consumer of its own with (natsrpc.v1.method).durable.consumer",
				st.consumer, st.stream, strings.Join(append([]string{cur.FilterSubject}, cur.FilterSubjects...), " "), subject)
		}
		if cur.AckPolicy != jetstream.AckExplicitPolicy {
			return nil, fmt.Errorf("JetStream consumer %q of stream %q has ack policy %s; natsrpc needs explicit acks: delete the consumer", st.consumer, st.stream, cur.AckPolicy)
		}
		if cur.AckWait != st.ackWait || cur.MaxDeliver != -1 {
			upd := cur
			upd.AckWait, upd.MaxDeliver = st.ackWait, -1
			if cons, err = js.UpdateConsumer(ctx, st.stream, upd); err != nil {
				return nil, fmt.Errorf("update JetStream consumer %q on stream %q: %w", st.consumer, st.stream, err)
			}
		}
		return cons, nil
	}
	return nil, fmt.Errorf("JetStream consumer %q on stream %q: created and deleted concurrently; try again", st.consumer, st.stream)
}

// start starts pulling events, at most prefetch ahead of the workers.
//
// Pull requests expire after pullExpiry with a server heartbeat every
// pullHeartbeat (nats.go's defaults are 30 s and 15 s): a pull consumer that
// stops receiving (a server restart, or the rare stall described at begin)
// notices two missed heartbeats and pulls again within seconds instead of
// half a minute.
func (d *durableEndpoint) start(prefetch int) error {
	cc, err := d.consumer.Consume(d.onMsg,
		jetstream.PullMaxMessages(max(1, min(prefetch, maxPrefetch))),
		jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { d.problem(err.Error()) }))
	if err != nil {
		return fmt.Errorf("consume JetStream consumer %q on stream %q: %w", d.settings.consumer, d.settings.stream, err)
	}
	d.mu.Lock()
	d.cc = cc
	d.mu.Unlock()
	return nil
}

func (d *durableEndpoint) problem(msg string) { d.lastProblem.Store(&msg) }

// onMsg hands one delivered event to the worker pool, waiting for room;
// it is the consumer's callback, so the pull buffer bounds what waits.
func (d *durableEndpoint) onMsg(m jetstream.Msg) {
	now := time.Now()
	codec, ok := parseContentType(m.Headers().Get(headerContentType))
	if !ok {
		md, err := m.Metadata()
		if err != nil {
			_ = m.Nak()
			return
		}
		d.park(m, md, parkUndecodable, errorf(CodeInvalidArgument, "unsupported Content-Type "+strconv.Quote(m.Headers().Get(headerContentType))), md.NumDelivered)
		return
	}
	r := requestPool.Get().(*request)
	*r = request{ep: d.ep, jsMsg: m, codec: codec, arrived: now}
	if !d.ep.svc.pool.pushWait(r) {
		*r = request{}
		requestPool.Put(r)
		_ = m.Nak()
	}
}

// stop stops consuming, dropping the pull buffer (JetStream redelivers
// those events after ack_wait).
func (d *durableEndpoint) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cc != nil && !d.stopped {
		d.stopped = true
		d.cc.Stop()
	}
}

// drain stops pulling and lets the buffered events reach the workers; the
// returned channel closes when the last one has been handed over.
func (d *durableEndpoint) drain() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cc == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	if !d.stopped {
		d.stopped = true
		d.cc.Drain()
	}
	return d.cc.Closed()
}

// durableDelivery is one delivery of a durable event to a worker.
type durableDelivery struct {
	d        *durableEndpoint
	msg      jetstream.Msg
	md       *jetstream.MsgMetadata
	attempt  uint64
	deadline time.Time
	progress *time.Timer
	mu       sync.Mutex
	finished bool
	err      *Error // why begin did not call the handler
}

// begin starts a delivery on a worker; arrived is when the consumer
// received it (JetStream's ack_wait timer started about then). It returns
// false, with the reason in err, when the handler must not run: the
// event's attempts are used up (the last one was never acknowledged), so
// it is parked instead.
//
// The handler's deadline is the end of ack_wait, after which JetStream
// would deliver the event again. An event that waited long for a worker
// (over a quarter of ack_wait) first gets an in-progress ack, which
// restarts JetStream's timer, so that time queued does not eat into the
// handler's; a handler still running half-way through its time gets
// another, so that JetStream does not redeliver while it may still finish.
// They are not sent for every event: with nats-server 2.15 and nats.go
// 1.55 an in-progress ack followed by the ack occasionally stalls a pull
// consumer until its missed-heartbeat check (the benchmark caught 30 s
// stalls with nats.go's default heartbeat; see start), and an event
// handled well within ack_wait does not need one.
func (d *durableEndpoint) begin(m jetstream.Msg, start, arrived time.Time) (*durableDelivery, bool) {
	dd := &durableDelivery{d: d, msg: m}
	md, err := m.Metadata()
	if err != nil {
		_ = m.Nak()
		dd.err = NewError(CodeInternal, fmt.Errorf("durable event without JetStream metadata: %w", err))
		return dd, false
	}
	dd.md, dd.attempt = md, md.NumDelivered
	if dd.attempt > uint64(d.settings.maxDeliver) {
		dd.err = errorf(CodeDeadlineExceeded, fmt.Sprintf("attempt %d of %d was not acknowledged within ack_wait (%s): the handler's process died or hung", dd.attempt-1, d.settings.maxDeliver, d.settings.ackWait))
		d.park(m, md, parkNotAcknowledged, dd.err, dd.attempt-1)
		return dd, false
	}
	if dd.attempt > 1 {
		d.redelivered.Add(1)
	}
	timerStart := arrived
	if start.Sub(arrived) > d.settings.ackWait/4 {
		_ = m.InProgress()
		timerStart = start
	}
	dd.deadline = timerStart.Add(d.settings.ackWait)
	// Under dd.mu: inProgress, on the timer's goroutine, reads dd.progress.
	dd.mu.Lock()
	dd.progress = time.AfterFunc(time.Until(timerStart.Add(d.settings.ackWait/2)), dd.inProgress)
	dd.mu.Unlock()
	return dd, true
}

// inProgress tells JetStream the handler is still at work, every half
// ack_wait until the handler's deadline: a handler that hangs past it lets
// the event be redelivered (and, at its last attempt, parked).
func (dd *durableDelivery) inProgress() {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	if !dd.finished && time.Now().Before(dd.deadline) {
		_ = dd.msg.InProgress()
		dd.progress.Reset(dd.d.settings.ackWait / 2)
	}
}

// end settles the delivery: acknowledged (and confirmed by the server)
// when the handler succeeded, parked when it failed for the last time or
// the event cannot be decoded, otherwise handed back for redelivery after
// the backoff.
func (dd *durableDelivery) end(e *Error, undecodable bool) {
	dd.mu.Lock()
	dd.finished = true
	dd.mu.Unlock()
	dd.progress.Stop()
	d, m := dd.d, dd.msg
	switch {
	case e == nil:
		ctx, cancel := context.WithTimeout(context.Background(), jetStreamTimeout)
		err := m.DoubleAck(ctx)
		cancel()
		if err != nil {
			d.ackFailures.Add(1)
			d.problem("acknowledge event " + strconv.FormatUint(dd.md.Sequence.Stream, 10) + ": " + err.Error())
		}
		testhook.Acked(m.Headers().Get(headerMsgID), err)
	case undecodable:
		d.park(m, dd.md, parkUndecodable, e, dd.attempt)
	case e.code == CodeUnimplemented:
		_ = m.Nak()
	case dd.attempt >= uint64(d.settings.maxDeliver):
		d.park(m, dd.md, parkHandlerError, e, dd.attempt)
	default:
		_ = m.NakWithDelay(d.settings.backoffFor(dd.attempt))
	}
}

// park republishes m to the parked-event stream with the reason, then
// terminates it in its own stream. The parked copy's message ID is the
// original's stream, sequence and consumer, so that parking one event
// twice (after a crash) stores it once. If parking fails the event is
// handed back and parked at its next delivery.
func (d *durableEndpoint) park(m jetstream.Msg, md *jetstream.MsgMetadata, reason string, e *Error, attempts uint64) {
	h := make(nats.Header, len(m.Headers())+10)
	for k, vs := range m.Headers() {
		h[k] = vs
	}
	h[headerParkedReason] = []string{reason}
	h[headerParkedError] = []string{sanitizeMessage(e.Message())}
	h[headerParkedCode] = []string{e.code.String()}
	h[headerParkedAttempts] = []string{strconv.FormatUint(attempts, 10)}
	h[headerParkedStream] = []string{md.Stream}
	h[headerParkedSequence] = []string{strconv.FormatUint(md.Sequence.Stream, 10)}
	h[headerParkedSubject] = []string{m.Subject()}
	h[headerParkedConsumer] = []string{md.Consumer}
	h[headerParkedTime] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	h[headerMsgID] = []string{md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10) + ":" + md.Consumer}
	ctx, cancel := context.WithTimeout(context.Background(), jetStreamTimeout)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, &nats.Msg{Subject: d.settings.parkedSubj, Header: h, Data: m.Data()},
		jetstream.WithExpectStream(d.settings.parkedStream)); err != nil {
		d.problem("park event " + strconv.FormatUint(md.Sequence.Stream, 10) + ": " + err.Error())
		_ = m.NakWithDelay(d.settings.backoff[len(d.settings.backoff)-1])
		return
	}
	d.parked.Add(1)
	_ = m.TermWithReason("parked in " + d.settings.parkedStream + ": " + reason)
}
