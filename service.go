package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// Service is one running instance of a protobuf service: its methods'
// subscriptions, its worker pool and its NATS micro discovery. Build it with
// [NewService] (generated Register...Handler functions do) and end it with
// [Service.Stop].
//
// To the NATS micro tooling a Service is a micro service (ADR-32): it
// answers $SRV.PING, $SRV.INFO and $SRV.STATS with nats.go micro's own
// types, under the name "<proto package>_<Service>" with dots as
// underscores, so `nats micro ls|info|stats` list it. natsrpc runs the
// protocol itself rather than through micro.AddService because micro calls
// handlers one at a time per endpoint and times only its own callback: with
// a worker pool behind it, micro's STATS would count neither handler errors
// nor handler time. natsrpc's STATS counts every request and error where it
// happens and reports real handler latency in the standard columns.
type Service struct {
	nc          *nats.Conn
	payload     payloadLimit
	spec        *spec.Service
	id          string
	description string
	metadata    map[string]string
	endpoints   []*endpoint
	cfg         handlerConfig
	started     time.Time

	pool       *pool
	baseCtx    context.Context
	cancelBase context.CancelCauseFunc

	discovery []*nats.Subscription

	// Streams: the clients' frames arrive on one wildcard subscription,
	// ctrlPrefix + ".*", and are routed by the last token.
	ctrlPrefix    string
	ctrlSub       *nats.Subscription
	streamsMu     sync.RWMutex
	streams       map[string]*handlerConn
	streamSeq     atomic.Uint64
	activeStreams atomic.Int64
	streamWG      sync.WaitGroup
	stopping      atomic.Bool

	stopOnce sync.Once
	done     chan struct{} // closed once every worker has returned
}

// endpoint is one method of a Service.
type endpoint struct {
	svc        *Service
	name       string
	spec       Spec
	queueGroup string
	// timeout is the deadline of a request without Nats-Rpc-Timeout: the
	// schema's timeout, clamped to the max timeout. It is also the time
	// limit of an event's handler.
	timeout time.Duration
	// streamTimeout bounds a stream opened without Nats-Rpc-Timeout: the
	// method's own timeout option, or none.
	streamTimeout time.Duration
	method        *spec.Method
	metadata      map[string]string
	handler       *boundHandler
	sub           *nats.Subscription
	// durable is the JetStream side of a durable event; nil otherwise.
	durable *durableEndpoint
	// unimplemented is set once an event handler answered
	// CodeUnimplemented and the endpoint stopped consuming.
	unimplemented atomic.Bool
	// subDone is closed when the subscription's delivery goroutine has
	// returned: no callback runs any more.
	subDone chan struct{}
	stats   endpointStats
	// shadow mirrors the endpoint's calls (WithShadow); nil when it does
	// not.
	shadow *shadowMethod
}

// request is one admitted request (or event) on its way to a worker.
type request struct {
	ep       *endpoint
	msg      *nats.Msg
	jsMsg    jetstream.Msg // a durable event's delivery
	codec    codec
	arrived  time.Time
	deadline time.Time
}

// NewService starts serving handlers, the handlers of methods of service,
// on nc: one subscription per method, on the method's subject (with the
// [WithSubjectPrefix] prefix) in the method's queue group, so that
// instances share the load; a worker pool ([WithConcurrency],
// [WithMaxPending]); and NATS micro discovery.
//
// Methods without a handler are not served (callers get
// [CodeUnavailable]), so an instance can serve part of a service. It fails
// when the service's options are invalid, when a handler is invalid,
// belongs to another service or is given twice, when an option is invalid,
// or when NATS refuses a subscription.
func NewService(nc *nats.Conn, service protoreflect.ServiceDescriptor, handlers []Handler, opts ...HandlerOption) (*Service, error) {
	if nc == nil {
		return nil, errors.New("natsrpc: new service: nats connection is nil")
	}
	if service == nil {
		return nil, errors.New("natsrpc: new service: service descriptor is nil")
	}
	cfg := handlerConfig{
		concurrency: DefaultConcurrency(),
		maxPending:  DefaultMaxPending,
		maxTimeout:  DefaultMaxTimeout,
		maxStreams:  DefaultMaxStreams,
	}
	for _, o := range opts {
		if o != nil {
			o.applyToHandler(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, fmt.Errorf("natsrpc: new service %q: %w", service.FullName(), cfg.err)
	}
	sp, err := spec.ForService(service)
	if err != nil {
		return nil, fmt.Errorf("natsrpc: new service %q: %w", service.FullName(), err)
	}
	s := &Service{
		nc:          nc,
		spec:        sp,
		id:          strings.TrimPrefix(nats.NewInbox(), nats.InboxPrefix),
		description: sp.FullName,
		metadata: map[string]string{
			"natsrpc.version": Version,
			"proto.service":   sp.FullName,
			"proto.package":   string(service.ParentFile().Package()),
		},
		cfg:     cfg,
		payload: payloadLimit{nc: nc},
		done:    make(chan struct{}),
		streams: make(map[string]*handlerConn),
	}
	if err := s.bindEndpoints(handlers); err != nil {
		return nil, fmt.Errorf("natsrpc: new service %q: %w", sp.FullName, err)
	}
	s.baseCtx, s.cancelBase = context.WithCancelCause(context.Background())
	if err := s.bindShadow(); err != nil {
		s.cancelBase(errServiceStopping)
		return nil, fmt.Errorf("natsrpc: new service %q: %w", sp.FullName, err)
	}
	s.pool = newPool(cfg.concurrency, cfg.maxPending, s.serve)
	s.started = time.Now().UTC()
	if err := s.subscribe(); err != nil {
		s.unsubscribeAll()
		s.pool.close()
		s.pool.wait()
		s.cancelBase(errServiceStopping)
		return nil, fmt.Errorf("natsrpc: new service %q: %w", sp.FullName, err)
	}
	return s, nil
}

func (s *Service) bindEndpoints(handlers []Handler) error {
	byName := make(map[protoreflect.Name]*spec.Method, len(s.spec.Methods))
	for _, m := range s.spec.Methods {
		byName[m.Desc.Name()] = m
	}
	seen := make(map[protoreflect.Name]bool, len(handlers))
	var errs []error
	for name := range s.cfg.methods {
		if _, ok := byName[protoreflect.Name(name)]; !ok {
			errs = append(errs, fmt.Errorf("WithMethods names %q, which is not a method of the service", name))
		}
	}
	for name := range s.cfg.wildcards {
		if _, ok := byName[protoreflect.Name(name)]; !ok {
			errs = append(errs, fmt.Errorf("WithSubjectWildcard names %q, which is not a method of the service", name))
		}
	}
	for i, h := range handlers {
		if h == nil {
			errs = append(errs, fmt.Errorf("handler %d is nil", i))
			continue
		}
		md := h.handlerMethod()
		if md == nil {
			_, err := h.bind(nil, nil) // reports the handler's own error
			errs = append(errs, err)
			continue
		}
		m, ok := byName[md.Name()]
		if !ok || md.Parent() == nil || md.Parent().FullName() != s.spec.Desc.FullName() {
			errs = append(errs, fmt.Errorf("handler %d is for %q, not a method of this service", i, md.FullName()))
			continue
		}
		if seen[md.Name()] {
			errs = append(errs, fmt.Errorf("method %q has two handlers", md.Name()))
			continue
		}
		seen[md.Name()] = true
		if s.cfg.methods != nil && !s.cfg.methods[string(md.Name())] {
			continue
		}
		bound, err := h.bind(m, s.cfg.interceptors)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		subject := prefixed(s.cfg.prefix, m.Subject)
		if s.cfg.wildcards[m.Name] {
			if m.Kind != spec.KindUnary {
				errs = append(errs, fmt.Errorf("WithSubjectWildcard names %q, which is not a unary method", m.Name))
				continue
			}
			subject += ".*"
		}
		ep := &endpoint{
			svc:        s,
			name:       m.Name,
			spec:       newSpec(m, subject, false),
			queueGroup: m.QueueGroup,
			timeout:    s.cfg.maxTimeout,
			method:     m,
			handler:    bound,
		}
		if m.Timeout > 0 {
			ep.timeout = min(m.Timeout, s.cfg.maxTimeout)
		}
		if o, _ := spec.MethodOptions(m.Desc); o.GetTimeout() != nil {
			ep.streamTimeout = o.GetTimeout().AsDuration()
		}
		if m.Durable != nil {
			ep.queueGroup = "" // a durable consumer, not a subscription
		}
		ep.metadata = endpointMetadata(m)
		ep.subDone = make(chan struct{})
		ep.stats.shards = make([]statShard, s.cfg.concurrency+1)
		s.endpoints = append(s.endpoints, ep)
	}
	return errors.Join(errs...)
}

func endpointMetadata(m *spec.Method) map[string]string {
	md := map[string]string{
		"natsrpc.procedure":     m.Procedure,
		"natsrpc.request":       string(m.Desc.Input().FullName()),
		"natsrpc.response":      string(m.Desc.Output().FullName()),
		"natsrpc.kind":          m.Kind.String(),
		"natsrpc.idempotency":   IdempotencyLevel(m.Idempotency).String(),
		"natsrpc.content_types": contentTypeProto + "," + contentTypeJSON,
	}
	if m.Timeout > 0 {
		md["natsrpc.timeout"] = m.Timeout.String()
	}
	if m.Deprecated {
		md["natsrpc.deprecated"] = "true"
	}
	if m.Kind == spec.KindEvent {
		md["natsrpc.delivery"] = m.Delivery.String()
		if m.Durable != nil {
			md["natsrpc.delivery"] = "durable"
		}
	}
	return md
}

// subscribe subscribes every endpoint (durable events: sets up their
// JetStream stream and consumer and starts consuming), the streams' control
// inbox, then discovery.
func (s *Service) subscribe() error {
	for _, ep := range s.endpoints {
		if ep.spec.Kind == MethodKindServerStream || ep.spec.Kind == MethodKindClientStream || ep.spec.Kind == MethodKindBidiStream {
			if s.ctrlSub == nil {
				s.ctrlPrefix = s.nc.NewInbox()
				sub, err := s.nc.Subscribe(s.ctrlPrefix+".*", s.onControl)
				if err != nil {
					return fmt.Errorf("subscribe to the streams' control inbox %q: %w", s.ctrlPrefix+".*", err)
				}
				s.ctrlSub = sub
			}
		}
	}
	for _, ep := range s.endpoints {
		if ep.method.Durable != nil {
			close(ep.subDone) // no subscription to wait for
			if err := s.setupDurable(ep, ep.method); err != nil {
				return err
			}
			if err := ep.durable.start(s.cfg.concurrency); err != nil {
				return err
			}
			continue
		}
		cb := ep.onMsg
		switch ep.spec.Kind {
		case MethodKindServerStream, MethodKindClientStream, MethodKindBidiStream:
			cb = ep.onStream
		case MethodKindEvent:
			cb = ep.onEvent
		}
		var err error
		if ep.queueGroup != "" {
			ep.sub, err = s.nc.QueueSubscribe(ep.spec.Subject, ep.queueGroup, cb)
		} else {
			ep.sub, err = s.nc.Subscribe(ep.spec.Subject, cb)
		}
		if err != nil {
			return fmt.Errorf("subscribe to %q: %w", ep.spec.Subject, err)
		}
		// nats.go calls this once its delivery goroutine has returned,
		// after a drain and after the connection closed alike.
		done := ep.subDone
		ep.sub.SetClosedHandler(func(string) { close(done) })
	}
	if err := s.subscribeDiscovery(); err != nil {
		return err
	}
	// Make sure the server has every subscription before NewService
	// returns, so that a call right after it never sees no responders.
	if err := s.nc.Flush(); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	return nil
}

func (s *Service) unsubscribeAll() {
	for _, ep := range s.endpoints {
		if ep.sub != nil {
			_ = ep.sub.Unsubscribe()
		}
		if ep.durable != nil {
			ep.durable.stop()
		}
	}
	if s.ctrlSub != nil {
		_ = s.ctrlSub.Unsubscribe()
	}
	for _, sub := range s.discovery {
		_ = sub.Unsubscribe()
	}
}

// Name returns the micro service name, e.g.
// "gaming_quest_system_v1_QuestSystemService".
func (s *Service) Name() string { return s.spec.MicroName }

// ID returns this instance's micro service ID, unique per NewService call.
func (s *Service) ID() string { return s.id }

// Stop stops the service gracefully: it drains the method subscriptions
// (requests and events NATS has already delivered are still served, no new
// ones arrive; other instances in the queue group take them), stops
// pulling durable events (those already pulled are still handled), refuses
// new streams, waits for the requests, events and streams in flight and
// queued to finish, and removes the service from discovery. If ctx ends
// first, Stop cancels the handlers' contexts (streams end with
// [CodeUnavailable], so their clients may retry elsewhere) and returns an
// error wrapping ctx's; the handlers still finish in the background. A
// stream that only ends when its client leaves (a watch) makes Stop wait
// for ctx: give it a deadline. Stop may be called again, and from several
// goroutines: every call waits for the same shutdown.
func (s *Service) Stop(ctx context.Context) error {
	s.stopOnce.Do(s.beginStop)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		// Count before canceling: the handlers may return at once.
		busy, queued := s.pool.load()
		streams := s.activeStreams.Load()
		s.cancelBase(errServiceStopping)
		inFlight := strconv.Itoa(busy+queued) + " requests"
		if streams > 0 {
			inFlight += " and " + strconv.FormatInt(streams, 10) + " streams"
		}
		return fmt.Errorf("natsrpc: stop %q: %s still in flight: %w", s.spec.FullName, inFlight, ctx.Err())
	}
}

// beginStop drains the subscriptions and, in the background, waits for the
// drains, the durable consumers and the streams, then for the workers.
func (s *Service) beginStop() {
	s.stopping.Store(true)
	var drained []<-chan struct{}
	for _, ep := range s.endpoints {
		// On a closed connection Drain fails, and the delivery goroutine
		// has returned or is returning anyway.
		if ep.sub != nil {
			_ = ep.sub.Drain()
		}
		if ep.durable != nil {
			if s.nc.IsConnected() {
				drained = append(drained, ep.durable.drain())
			} else {
				// A drain needs the server; JetStream redelivers the
				// dropped pull buffer after ack_wait anyway.
				ep.durable.stop()
			}
		}
	}
	go func() {
		for _, ep := range s.endpoints {
			<-ep.subDone
		}
		for _, c := range drained {
			// A consumer whose connection closed may never report; the
			// pull buffer it drops is redelivered by JetStream anyway.
			select {
			case <-c:
			case <-s.baseCtx.Done():
			}
		}
		s.streamWG.Wait()
		if s.ctrlSub != nil {
			_ = s.ctrlSub.Unsubscribe()
		}
		for _, sub := range s.discovery {
			_ = sub.Unsubscribe()
		}
		s.pool.close()
		s.pool.wait()
		s.cancelBase(errServiceStopping)
		close(s.done)
	}()
}

// requestPool recycles request structs: they never leave the runtime.
var requestPool = sync.Pool{New: func() any { return new(request) }}

// These errors are shared: they are only encoded and shown in the stats,
// never handed to application code (which could add metadata to them).
var (
	errNoReply    = errorf(CodeInvalidArgument, "request has no reply subject: send it with request/reply")
	errExpired    = errorf(CodeDeadlineExceeded, "request expired before a worker took it; dropped without an answer")
	errOverloaded = errorf(CodeResourceExhausted, "service overloaded: all workers busy and the queue full; retry with backoff")
)

// onMsg admits one request: it is the subscription callback, so it must be
// quick. It checks the headers, computes the deadline and queues the
// request for a worker, or answers at once when the pool is full.
func (ep *endpoint) onMsg(msg *nats.Msg) {
	now := time.Now()
	s := ep.svc
	if msg.Reply == "" {
		ep.record(ep.admissionShard(), 0, errNoReply, nil)
		return
	}
	codec, ok := parseContentType(msg.Header.Get(headerContentType))
	if !ok {
		ep.reject(msg, codecProto, errorf(CodeInvalidArgument, "unsupported Content-Type "+
			strconv.Quote(msg.Header.Get(headerContentType))+": use "+contentTypeProto+" or "+contentTypeJSON))
		return
	}
	timeout := ep.timeout
	if v := msg.Header.Get(headerTimeout); v != "" {
		t, ok := parseTimeout(v)
		if !ok {
			ep.reject(msg, codec, errorf(CodeInvalidArgument, "invalid "+headerTimeout+" header "+strconv.Quote(v)+": want 1 to 10 digits of milliseconds"))
			return
		}
		if t <= 0 {
			ep.stats.expired.Add(1)
			ep.record(ep.admissionShard(), 0, errExpired, nil)
			return
		}
		timeout = min(t, s.cfg.maxTimeout)
	}
	r := requestPool.Get().(*request)
	*r = request{ep: ep, msg: msg, codec: codec, arrived: now, deadline: now.Add(timeout)}
	if !s.pool.push(r) {
		*r = request{}
		requestPool.Put(r)
		ep.stats.rejected.Add(1)
		ep.reject(msg, codec, errOverloaded)
	}
}

// reject answers a request that never reached a worker.
func (ep *endpoint) reject(msg *nats.Msg, c codec, e *Error) {
	ep.record(ep.admissionShard(), 0, e, nil)
	ep.sendError(msg.Reply, c, nil, e)
}

// serve runs one request on a worker. The request is counted in the stats
// before the answer is sent, so that whoever sees the answer also sees it
// counted.
func (s *Service) serve(r *request, worker int) {
	if r.ep.handler.event != nil {
		s.serveEvent(r, worker)
		return
	}
	ep, msg, codec, arrived, deadline := r.ep, r.msg, r.codec, r.arrived, r.deadline
	*r = request{}
	requestPool.Put(r)
	sh := &ep.stats.shards[worker]
	start := time.Now()
	sh.queueTime.Add(int64(start.Sub(arrived)))
	if !start.Before(deadline) {
		// The caller has given up: answering would only waste work.
		ep.stats.expired.Add(1)
		ep.record(sh, 0, errExpired, nil)
		return
	}
	sh.started.Add(1)
	body := msg.Data
	if len(msg.Header) > 0 {
		var derr error
		if body, derr = decodeBody(msg.Header, msg.Data); derr != nil {
			e := NewError(CodeInvalidArgument, fmt.Errorf("request: %w", derr))
			sh.finished.Add(1)
			ep.record(sh, time.Since(start), e, nil)
			ep.sendError(msg.Reply, codec, nil, e)
			return
		}
	}
	ctx := &handlerContext{base: s.baseCtx, deadline: deadline, info: CallInfo{spec: &ep.spec, requestHeader: msg.Header}}
	if s.cfg.wildcards != nil && s.cfg.wildcards[ep.name] {
		ctx.info.subject = msg.Subject
	}
	res, err, panicked := ep.invoke(ctx, codec, body)
	ctx.release()
	hdr := ctx.info.responseHeader
	var (
		e, detail *Error
		buf       *[]byte
		data      []byte
		plain     []byte // data before compression
	)
	if err == nil {
		buf = getBuffer()
		data, plain, hdr, e = ep.encodeResponse((*buf)[:0], codec, res, hdr, msg.Header)
	} else {
		e = asError(err)
		if panicked != nil {
			detail = NewError(CodeInternal, fmt.Errorf("handler panicked: %v", panicked))
		}
	}
	sh.finished.Add(1)
	took := time.Since(start)
	ep.record(sh, took, e, detail)
	if e != nil {
		ep.sendError(msg.Reply, codec, hdr, e)
	} else if err := ep.publish(msg.Reply, hdr, data); err != nil {
		ep.recordSendError(err)
	}
	// The mirror compares the responses as messages: it gets the request
	// and the response decompressed.
	if ep.shadow != nil && ep.shadow.mirror(msg, body, codec, plain, e, took) {
		buf = nil // the mirror keeps plain, which is in buf
	}
	if buf != nil {
		putBuffer(buf, data)
	}
}

var errPanicked = errorf(CodeInternal, "handler panicked")

// invoke runs the handler path with a panic guard.
func (ep *endpoint) invoke(ctx context.Context, c codec, body []byte) (res proto.Message, err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			ep.stats.panics.Add(1)
			res, err, panicked = nil, errPanicked, p
		}
	}()
	res, err = ep.handler.unary(ctx, c, body)
	if err == nil && res == nil {
		err = errNilResponse()
	}
	return res, err, nil
}

// encodeResponse appends res's encoding to b and prepares the response
// headers: the handler's, without reserved ones, plus Content-Type for
// JSON. It returns the error to send instead when res cannot be encoded or
// the response would exceed max_payload.
//
// A response of at least the WithCompression threshold goes compressed
// when the request announced that its caller decodes S2 (reqHdr); plain
// is the response before compression (data when it is not compressed).
func (ep *endpoint) encodeResponse(b []byte, c codec, res proto.Message, hdr, reqHdr nats.Header) (data, plain []byte, _ nats.Header, _ *Error) {
	data, err := c.marshal(b, res)
	plain = data
	if err != nil {
		return data, plain, hdr, NewError(CodeInternal, fmt.Errorf("encode %q: %w", ep.spec.Method.Output().FullName(), err))
	}
	compressed := false
	if min := ep.svc.cfg.compressMin; min > 0 && len(data) >= min && acceptsS2(reqHdr) {
		data, compressed = compress(data, min)
	}
	if len(hdr) > 0 || c == codecJSON || compressed {
		if hdr == nil {
			hdr = make(nats.Header, 1)
		}
		for k := range hdr {
			if isReservedHeader(k) || !validHeaderKey(k) {
				delete(hdr, k)
			}
		}
		if ct := c.contentType(); ct != "" {
			hdr[headerContentType] = []string{ct}
		}
		if compressed {
			hdr[headerEncoding] = s2Value
		}
	}
	if size := int64(headerSize(hdr) + len(data)); ep.svc.payload.exceeded(size) > 0 {
		return data, plain, nil, NewError(CodeResourceExhausted, fmt.Errorf(
			"response of %d bytes (headers included) is larger than the NATS server's max_payload of %d bytes", size, ep.svc.payload.limit.Load()))
	}
	return data, plain, hdr, nil
}

// publish sends a success.
func (ep *endpoint) publish(reply string, hdr nats.Header, data []byte) error {
	if len(hdr) == 0 {
		return ep.svc.nc.Publish(reply, data)
	}
	return ep.svc.nc.PublishMsg(&nats.Msg{Subject: reply, Header: hdr, Data: data})
}

// recordSendError turns a request already counted as a success into an
// error: its answer could not be sent (the connection closed).
func (ep *endpoint) recordSendError(err error) {
	ep.admissionShard().errors.Add(1)
	ep.stats.lastError.Store(NewError(CodeUnavailable, fmt.Errorf("send response: %w", err)))
}

// sendError answers with e; hdr holds headers the handler set.
func (ep *endpoint) sendError(reply string, c codec, hdr nats.Header, e *Error) {
	h, body := encodeError(e, c)
	for k, vs := range hdr {
		if _, set := h[k]; !set && !isReservedHeader(k) && validHeaderKey(k) {
			h[k] = vs
		}
	}
	_ = ep.svc.nc.PublishMsg(&nats.Msg{Subject: reply, Header: h, Data: body})
}

// Service stats are counted per endpoint where each request ends: answered
// (successfully or not), rejected, or dropped. The hot counters are sharded
// by worker (one cache line each, the last shard for the subscription's
// admission goroutine), so that workers on different CPUs never contend on
// them; STATS sums the shards.
type endpointStats struct {
	shards    []statShard
	rejected  atomic.Int64
	expired   atomic.Int64
	panics    atomic.Int64
	lastError atomic.Pointer[Error]
	// Streams: messages sent and received, and sends that had to wait
	// for the client's credit.
	streamSent     atomic.Int64
	streamReceived atomic.Int64
	creditWaits    atomic.Int64
}

type statShard struct {
	requests   atomic.Int64
	errors     atomic.Int64
	processing atomic.Int64 // nanoseconds, handler time
	queueTime  atomic.Int64 // nanoseconds from arrival to a worker
	started    atomic.Int64 // requests a worker began
	finished   atomic.Int64 // of those, the ones that ended
	_          [16]byte     // pad to a cache line
}

// totals sums the shards.
func (st *endpointStats) totals() (t struct{ requests, errors, processing, queueTime, inFlight int64 }) {
	for i := range st.shards {
		sh := &st.shards[i]
		t.requests += sh.requests.Load()
		t.errors += sh.errors.Load()
		t.processing += sh.processing.Load()
		t.queueTime += sh.queueTime.Load()
		t.inFlight += sh.started.Load() - sh.finished.Load()
	}
	return t
}

// record counts one ended request in shard sh; e is the error the caller
// saw (nil on success), detail the error to show as last_error.
func (ep *endpoint) record(sh *statShard, d time.Duration, e, detail *Error) {
	sh.requests.Add(1)
	if d != 0 {
		sh.processing.Add(int64(d))
	}
	if e != nil {
		sh.errors.Add(1)
		if detail == nil {
			detail = e
		}
		ep.stats.lastError.Store(detail)
	}
}

// admissionShard is the shard of the endpoint's subscription goroutine.
func (ep *endpoint) admissionShard() *statShard {
	return &ep.stats.shards[len(ep.stats.shards)-1]
}
