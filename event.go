package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// headerMsgID is JetStream's deduplication header.
const headerMsgID = "Nats-Msg-Id"

// EventClient publishes one event method: a one-way message on the
// method's subject. Build it once with [NewEventClient] and share it: it is
// safe for concurrent use.
type EventClient[Req any] struct {
	c eventClient
}

// eventClient is the machinery of every event client, typed or dynamic.
type eventClient struct {
	nc      *nats.Conn
	payload payloadLimit
	spec    Spec
	codec   codec
	timeout time.Duration
	durable *durableTarget // nil for plain events
	// compressMin is WithCompression's threshold: events of at least that
	// size are published compressed; 0: never.
	compressMin int
	call        UnaryFunc // the interceptor chain around invoke; nil without interceptors
	err         *Error
}

// NewEventClient returns a client for the event method described by
// method, over nc. Req is the method's generated request message type.
//
// It never fails: a problem with the arguments or options is returned by
// every Publish, as an [*Error] with [CodeInvalidArgument].
func NewEventClient[Req any](nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *EventClient[Req] {
	c := &EventClient[Req]{}
	c.c.init(nc, method, opts, func() error { return checkMessage[Req]("request", method.Input()) })
	return c
}

// init sets c up for method; typeErr checks the request type.
func (c *eventClient) init(nc *nats.Conn, method protoreflect.MethodDescriptor, opts []ClientOption, typeErr func() error) {
	c.nc = nc
	c.payload.nc = nc
	cfg, m, err := setupClient(nc, method, opts, func(m *spec.Method) error {
		return errors.Join(checkEvent(m), typeErr())
	})
	if err == nil && m.Durable != nil {
		c.durable, err = newDurableTarget(nc, m, cfg.prefix)
	}
	if err != nil {
		c.err = invalidClient("event client", method, err)
		return
	}
	c.spec = newSpec(m, prefixed(cfg.prefix, m.Subject), true)
	c.codec = cfg.codec()
	c.compressMin = cfg.compressMin
	c.timeout = cfg.timeoutFor(m)
	if len(cfg.interceptors) > 0 {
		c.call = chainUnary(c.invoke, cfg.interceptors)
	}
}

// Publish publishes req as one event with the same headers as a call
// ([WithHeader] metadata, W3C trace context, Content-Type for JSON).
//
// A plain event is published with core NATS, at most once: Publish returns
// once nats.go has taken the message, and an event nobody listens to is
// gone. A durable event (the method's durable option) is stored in its
// JetStream stream: Publish returns once JetStream has acknowledged it
// (within ctx's deadline, else the schema's timeout, [WithTimeout] or
// [DefaultTimeout]), and fails with [CodeUnavailable] when no stream
// stores the subject (no handler has registered it yet, or JetStream is
// down). [WithIdempotencyKey] sets its message ID, so that a retried
// Publish is stored once.
func (c *EventClient[Req]) Publish(ctx context.Context, req *Req, opts ...CallOption) error {
	if c.c.err != nil {
		e := *c.c.err
		return &e
	}
	if req == nil {
		return errorf(CodeInvalidArgument, "request is nil")
	}
	return c.c.publish(ctx, any(req).(proto.Message), opts)
}

// publish is Publish for any message type: req is not nil and c is valid.
// A nil error is returned as a nil interface.
func (c *eventClient) publish(ctx context.Context, req proto.Message, opts []CallOption) error {
	var header nats.Header
	if len(opts) > 0 {
		var cc callConfig
		for _, o := range opts {
			if o != nil {
				o.applyToCall(&cc)
			}
		}
		if cc.err != nil {
			return cc.err
		}
		if cc.subjectToken != "" {
			return errTokenNotUnary()
		}
		header = cc.header
		if cc.idempotencyKey != "" {
			if header == nil {
				header = nats.Header{}
			}
			header[headerMsgID] = []string{cc.idempotencyKey}
		}
		if cc.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, cc.timeout)
			defer cancel()
		}
	}
	if c.call != nil {
		cctx := &callContext{Context: ctx, info: CallInfo{spec: &c.spec, requestHeader: header}}
		if _, err := c.call(cctx, req); err != nil {
			return asError(err)
		}
		return nil
	}
	ci := CallInfo{spec: &c.spec, requestHeader: header}
	if e := c.send(ctx, &ci, req); e != nil {
		return e
	}
	return nil
}

// invoke is the innermost UnaryFunc of a client with interceptors.
func (c *eventClient) invoke(ctx context.Context, req proto.Message) (proto.Message, error) {
	ci, ok := CallInfoFromContext(ctx)
	if !ok {
		ci = &CallInfo{spec: &c.spec}
	}
	if e := c.send(ctx, ci, req); e != nil {
		return nil, e
	}
	return &emptypb.Empty{}, nil
}

func (c *eventClient) send(ctx context.Context, ci *CallInfo, req proto.Message) *Error {
	if e := checkRequestHeader(ci.requestHeader); e != nil {
		return e
	}
	buf := getBuffer()
	data, err := c.codec.marshal((*buf)[:0], req)
	defer putBuffer(buf, data)
	if err != nil {
		return NewError(CodeInvalidArgument, fmt.Errorf("encode event: %w", err))
	}
	hdr := ci.requestHeader
	if c.codec == codecJSON {
		if hdr == nil {
			hdr = nats.Header{}
		}
		hdr[headerContentType] = jsonContentTypeValue
	}
	if out, ok := compress(data, c.compressMin); ok {
		// The publisher opted in (WithCompression): receivers must decode
		// S2, and those that cannot refuse the event (wire.md §15).
		data = out
		if hdr == nil {
			hdr = nats.Header{}
		}
		hdr[headerEncoding] = s2Value
	}
	subject := c.spec.Subject
	if c.durable != nil {
		return c.durable.publish(ctx, c.timeout, subject, hdr, data)
	}
	if size := int64(headerSize(hdr) + len(data)); c.payload.exceeded(size) > 0 {
		return NewError(CodeResourceExhausted, fmt.Errorf(
			"event of %d bytes (headers included) is larger than the NATS server's max_payload of %d bytes: %w", size, c.payload.limit.Load(), nats.ErrMaxPayload))
	}
	if len(hdr) == 0 {
		err = c.nc.Publish(subject, data)
	} else {
		err = c.nc.PublishMsg(&nats.Msg{Subject: subject, Header: hdr, Data: data})
	}
	if err != nil {
		return requestError(err, subject)
	}
	return nil
}

// NewEventHandler returns the handler of the event method described by
// method; fn handles each event. Req is the method's generated request
// message type.
//
// Events are delivered through a subscription on the method's subject: in
// the service's queue group by default (one instance handles each event),
// to every instance with EVENT_DELIVERY_BROADCAST. fn runs on the
// service's worker pool like a unary handler ([WithConcurrency]); when the
// pool is full, delivery waits for a worker instead of refusing (there is
// nobody to refuse to), and NATS buffers the subscription's pending events
// up to its slow-consumer limits. Its context's deadline is the schema's
// timeout clamped to [WithMaxTimeout]. Plain events are at most once: fn's
// error is counted in the service's stats and the event is gone.
//
// For a durable event (the method's durable option), registering the
// handler creates or updates the method's JetStream stream and durable
// consumer, and fn's error makes JetStream deliver the event again after
// the option's backoff, up to max_deliver attempts, after which the event
// is parked with the reason (see docs/wire.md). The event is acknowledged
// only when fn returns nil. fn's context's deadline is the consumer's
// ack_wait.
//
// A handler answering [CodeUnimplemented] (the generated Unimplemented
// handler does) makes the instance stop consuming the event; a durable
// event goes back to the consumer for another instance.
func NewEventHandler[Req any](method protoreflect.MethodDescriptor, fn func(context.Context, *Req) error) Handler {
	err := checkHandler(method, fn == nil, func(m *spec.Method) error {
		return errors.Join(checkEvent(m), checkMessage[Req]("request", method.Input()))
	})
	return &eventHandler[Req]{method: method, fn: fn, err: err}
}

type eventHandler[Req any] struct {
	method protoreflect.MethodDescriptor
	fn     func(context.Context, *Req) error
	err    error
}

func (h *eventHandler[Req]) handlerMethod() protoreflect.MethodDescriptor { return h.method }

func (h *eventHandler[Req]) bind(m *spec.Method, interceptors []Interceptor) (*boundHandler, error) {
	if h.err != nil {
		return nil, h.err
	}
	fn := h.fn
	inner := func(ctx context.Context, req proto.Message) (proto.Message, error) {
		r, ok := any(req).(*Req)
		if !ok || r == nil {
			return nil, errorf(CodeInternal, fmt.Sprintf("handler interceptor passed a %T request; want a non-nil %T", req, r))
		}
		if err := fn(ctx, r); err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	}
	input := m.Desc.Input().FullName()
	return &boundHandler{
		event: chainUnary(inner, interceptors),
		decode: func(c codec, body []byte) (proto.Message, *Error) {
			req := any(new(Req)).(proto.Message)
			if err := c.unmarshal(body, req); err != nil {
				return nil, NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", input, err))
			}
			return req, nil
		},
	}, nil
}

// onEvent admits a plain event: it is the subscription callback of event
// endpoints. It waits for room in the worker pool rather than refusing.
func (ep *endpoint) onEvent(msg *nats.Msg) {
	now := time.Now()
	codec, ok := parseContentType(msg.Header.Get(headerContentType))
	if !ok {
		ep.record(ep.admissionShard(), 0, errorf(CodeInvalidArgument, "event with unsupported Content-Type "+fmt.Sprintf("%q", msg.Header.Get(headerContentType))+" dropped"), nil)
		return
	}
	r := requestPool.Get().(*request)
	*r = request{ep: ep, msg: msg, codec: codec, arrived: now}
	if !ep.svc.pool.pushWait(r) {
		*r = request{}
		requestPool.Put(r)
		ep.record(ep.admissionShard(), 0, errorf(CodeUnavailable, "event dropped: the service is stopping"), nil)
	}
}

// serveEvent runs one event, plain or durable, on a worker.
func (s *Service) serveEvent(r *request, worker int) {
	ep, msg, jm, codec, arrived := r.ep, r.msg, r.jsMsg, r.codec, r.arrived
	*r = request{}
	requestPool.Put(r)
	sh := &ep.stats.shards[worker]
	start := time.Now()
	sh.queueTime.Add(int64(start.Sub(arrived)))
	var (
		header   nats.Header
		body     []byte
		d        *durableDelivery
		deadline time.Time
	)
	if jm != nil {
		var ok bool
		if d, ok = ep.durable.begin(jm, start, arrived); !ok {
			// Parked or handed back without calling the handler.
			ep.record(sh, 0, d.err, nil)
			return
		}
		header, body, deadline = jm.Headers(), jm.Data(), d.deadline
	} else {
		// An event's time limit starts when a worker takes it: unlike a
		// request, nobody waits for it, so time queued is not lost.
		header, body, deadline = msg.Header, msg.Data, start.Add(ep.timeout)
	}
	sh.started.Add(1)
	var (
		e, detail *Error
	)
	var (
		req  proto.Message
		derr *Error
	)
	if plain, err := decodeBody(header, body); err != nil {
		derr = NewError(CodeInvalidArgument, fmt.Errorf("event: %w", err))
	} else {
		req, derr = ep.handler.decode(codec, plain)
	}
	if derr != nil {
		e = derr
	} else {
		ctx := &handlerContext{base: s.baseCtx, deadline: deadline, info: CallInfo{spec: &ep.spec, requestHeader: header}}
		err, panicked := ep.invokeEvent(ctx, req)
		ctx.release()
		if err != nil {
			e = asError(err)
			if panicked != nil {
				detail = NewError(CodeInternal, fmt.Errorf("handler panicked: %v", panicked))
			}
		}
	}
	if d != nil {
		d.end(e, derr != nil)
	}
	sh.finished.Add(1)
	ep.record(sh, time.Since(start), e, detail)
	if e != nil && e.code == CodeUnimplemented && derr == nil {
		ep.stopConsuming()
	}
}

// invokeEvent runs the event handler chain with a panic guard.
func (ep *endpoint) invokeEvent(ctx context.Context, req proto.Message) (err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			ep.stats.panics.Add(1)
			err, panicked = errPanicked, p
		}
	}()
	_, err = ep.handler.event(ctx, req)
	return err, nil
}

// stopConsuming makes an instance whose handler does not implement an
// event stop receiving it, once.
func (ep *endpoint) stopConsuming() {
	if !ep.unimplemented.CompareAndSwap(false, true) {
		return
	}
	if ep.durable != nil {
		ep.durable.stop()
		return
	}
	if ep.sub != nil {
		_ = ep.sub.Unsubscribe()
	}
}

// newMsgID returns a fresh, unique event message ID.
func newMsgID() string { return nuid.Next() }
