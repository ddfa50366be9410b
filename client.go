package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// UnaryClient calls one unary method. Build it once with [NewUnaryClient]
// and share it: it is safe for concurrent use.
type UnaryClient[Req, Res any] struct {
	c unaryClient
}

// unaryClient is the machinery of every unary client, typed or dynamic
// ([DynamicClient]): options, deadlines, headers, retries, interceptors,
// the payload check and the wire. Only the message types differ, and they
// are chosen by newRes.
type unaryClient struct {
	nc         *nats.Conn
	payload    payloadLimit
	spec       Spec
	codec      codec
	timeout    time.Duration
	retry      *retrier
	call       UnaryFunc // the interceptor chain around invoke; nil without interceptors
	timeoutHdr timeoutHeader
	// acceptS2 announces that responses may be compressed (WithCompression).
	acceptS2 bool
	// newRes returns the message a response is decoded into, given the
	// request: a rawMessage for a rawMessage (bytes in, bytes out), else
	// the method's response type.
	newRes func(req proto.Message) proto.Message
	err    *Error
}

// NewUnaryClient returns a client for the unary method described by method,
// over nc. Req and Res are the method's generated request and response
// message types (the structs; *Req and *Res implement proto.Message).
//
// It never fails: a problem with the arguments or options (a nil
// connection, a streaming method, message types that do not match the
// descriptor, an invalid prefix) is returned by every call, as an [*Error]
// with [CodeInvalidArgument].
func NewUnaryClient[Req, Res any](nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *UnaryClient[Req, Res] {
	c := &UnaryClient[Req, Res]{}
	c.c.init(nc, method, opts, func() error { return checkMessages[Req, Res](method) })
	c.c.newRes = func(proto.Message) proto.Message { return any(new(Res)).(proto.Message) }
	return c
}

// init sets c up for method; typeErr checks the message types.
func (c *unaryClient) init(nc *nats.Conn, method protoreflect.MethodDescriptor, opts []ClientOption, typeErr func() error) {
	c.nc = nc
	c.payload.nc = nc
	cfg, m, err := setupClient(nc, method, opts, func(m *spec.Method) error {
		return errors.Join(checkUnary(m), typeErr())
	})
	if err != nil {
		c.err = invalidClient("client", method, err)
		return
	}
	c.spec = newSpec(m, prefixed(cfg.prefix, m.Subject), true)
	c.codec = cfg.codec()
	c.timeout = cfg.timeoutFor(m)
	c.acceptS2 = cfg.compressMin > 0
	if c.spec.Idempotency == IdempotencyNoSideEffects || c.spec.Idempotency == IdempotencyIdempotent {
		c.retry = newRetrier(cfg.retry)
	}
	if len(cfg.interceptors) > 0 {
		c.call = chainUnary(c.invoke, cfg.interceptors)
	}
}

// CallUnary sends req and waits for the response. The call's deadline is,
// first match wins: [WithCallTimeout]; ctx's deadline; the schema's timeout;
// [WithTimeout]; [DefaultTimeout]. It travels to the handler, which sees
// about the same deadline.
//
// Every error is an [*Error]: [CodeUnavailable] when no service instance
// listens, [CodeDeadlineExceeded] on timeout, [CodeCanceled] when ctx is
// canceled, [CodeResourceExhausted] when the request is larger than the NATS
// server's max_payload (checked before sending), and the handler's code
// otherwise.
func (c *UnaryClient[Req, Res]) CallUnary(ctx context.Context, req *Req, opts ...CallOption) (*Res, error) {
	if c.c.err != nil {
		// A copy, so that callers may add metadata without racing.
		e := *c.c.err
		return nil, &e
	}
	if req == nil {
		return nil, errorf(CodeInvalidArgument, "request is nil")
	}
	res, err := c.c.callUnary(ctx, any(req).(proto.Message), opts)
	if err != nil {
		return nil, err
	}
	r, ok := any(res).(*Res)
	if !ok || r == nil {
		return nil, errorf(CodeInternal, fmt.Sprintf("client interceptor returned a %T response; want a non-nil %T", res, r))
	}
	return r, nil
}

// callUnary is CallUnary for any message types: req is not nil and c is
// valid. A nil error is returned as a nil interface.
func (c *unaryClient) callUnary(ctx context.Context, req proto.Message, opts []CallOption) (proto.Message, error) {
	var cc *callConfig
	if len(opts) > 0 {
		cc = &callConfig{}
		for _, o := range opts {
			if o != nil {
				o.applyToCall(cc)
			}
		}
		if cc.err != nil {
			return nil, cc.err
		}
	}
	var (
		cancel   context.CancelFunc
		deadline time.Time // set when ctx carries none and cannot be canceled
	)
	if cc != nil && cc.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, cc.timeout)
	} else if _, ok := ctx.Deadline(); !ok {
		if c.call == nil && ctx.Done() == nil {
			// Nothing can cancel ctx (context.Background and its values)
			// and no interceptor sees it: a deadline and nats.go's pooled
			// timer do the job of a timer context, without its
			// allocations.
			deadline = time.Now().Add(c.timeout)
		} else {
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
		}
	}
	var (
		res  proto.Message
		err  error
		info *CallInfo
	)
	sp := &c.spec
	if cc != nil && cc.subjectToken != "" {
		sp = tokenSpec(sp, cc.subjectToken)
	}
	if c.call != nil {
		cctx := &callContext{Context: ctx, info: CallInfo{spec: sp}}
		if cc != nil {
			cctx.info.requestHeader = cc.header
		}
		if sp != &c.spec {
			cctx.info.subject = sp.Subject
		}
		info = &cctx.info
		res, err = c.call(cctx, req)
	} else {
		// Without interceptors nothing can see the CallInfo: skip the
		// context that would carry it.
		local := CallInfo{spec: sp}
		if cc != nil {
			local.requestHeader = cc.header
		}
		info = &local
		var e *Error
		if res, e = c.send(ctx, deadline, info, req); e != nil {
			err = e
		}
	}
	if cancel != nil {
		cancel()
	}
	if cc != nil && cc.responseHeader != nil {
		*cc.responseHeader = info.responseHeader
	}
	if err != nil {
		return nil, asError(err)
	}
	return res, nil
}

// bufPool recycles marshal buffers. nats.go copies a message into its
// write buffer before Publish returns, so a buffer is free again as soon as
// the request is sent.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuffer keeps one huge message from pinning a huge buffer.
const maxPooledBuffer = 64 << 10

// headerPool recycles request header maps nobody else can see.
var headerPool = sync.Pool{New: func() any { return make(nats.Header, 2) }}

// jsonContentTypeValue is shared by every JSON request; nothing mutates it.
var jsonContentTypeValue = []string{contentTypeJSON}

func getBuffer() *[]byte { return bufPool.Get().(*[]byte) }

func putBuffer(b *[]byte, data []byte) {
	if cap(data) > maxPooledBuffer {
		return
	}
	*b = data[:0]
	bufPool.Put(b)
}

// invoke is the innermost UnaryFunc of a client with interceptors.
func (c *unaryClient) invoke(ctx context.Context, req proto.Message) (proto.Message, error) {
	ci, ok := CallInfoFromContext(ctx)
	if !ok {
		// Only reachable if an interceptor replaced the context with an
		// unrelated one; start a fresh CallInfo.
		ci = &CallInfo{spec: &c.spec}
	}
	if _, ok := ctx.Deadline(); !ok {
		// Likewise: the context CallUnary gave the chain had a deadline.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	res, err := c.send(ctx, time.Time{}, ci, req)
	if err != nil {
		return nil, err // a nil *Error must not become a non-nil error
	}
	return res, nil
}

// send encodes req, sends it with retries and decodes the response. The
// call ends at deadline, or at ctx's deadline when deadline is zero.
func (c *unaryClient) send(ctx context.Context, deadline time.Time, ci *CallInfo, req proto.Message) (proto.Message, *Error) {
	if deadline.IsZero() {
		deadline, _ = ctx.Deadline() // CallUnary always sets one
	}
	if err := checkRequestHeader(ci.requestHeader); err != nil {
		return nil, err
	}
	buf := getBuffer()
	data, err := c.codec.marshal((*buf)[:0], req)
	if err != nil {
		return nil, NewError(CodeInvalidArgument, fmt.Errorf("encode request: %w", err))
	}
	defer putBuffer(buf, data)
	hdr := ci.requestHeader
	onlyOurs := hdr == nil // then the header size is simple arithmetic
	if hdr == nil {
		// Nobody set a header, so nobody holds this map: borrow one.
		// (nats.go encodes the headers while sending and keeps no
		// reference.) A later RequestHeader call gets a fresh map.
		hdr = headerPool.Get().(nats.Header)
		defer func() {
			clear(hdr)
			headerPool.Put(hdr)
		}()
	}
	if c.codec == codecJSON {
		hdr[headerContentType] = jsonContentTypeValue
	}
	if c.acceptS2 {
		hdr[headerAcceptEncoding] = s2Value
	}
	if c.retry != nil {
		c.retry.budget.deposit()
	}
	msg := nats.Msg{Subject: ci.spec.Subject, Header: hdr, Data: data}
	for attempt := 1; ; attempt++ {
		res, rerr := c.attempt(ctx, deadline, ci, req, &msg, onlyOurs)
		if rerr == nil {
			return res, nil
		}
		if c.retry == nil || attempt >= c.retry.policy.MaxAttempts || !retryable(rerr) ||
			c.nc.IsClosed() || !c.retry.budget.withdraw(time.Now()) || !c.retry.wait(ctx, deadline, attempt) {
			return nil, rerr
		}
	}
}

// attempt sends msg once and decodes the answer.
func (c *unaryClient) attempt(ctx context.Context, deadline time.Time, ci *CallInfo, req proto.Message, msg *nats.Msg, onlyOurs bool) (proto.Message, *Error) {
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return nil, contextError(context.DeadlineExceeded, c.spec.Subject)
	}
	timeout := c.timeoutHdr.value(remaining)
	msg.Header[headerTimeout] = timeout
	var hsize int
	if onlyOurs {
		// "NATS/1.0\r\n", "Nats-Rpc-Timeout: <v>\r\n", maybe the
		// Content-Type line, "\r\n".
		hsize = 12 + len(headerTimeout) + len(timeout[0]) + 4
		if c.codec == codecJSON {
			hsize += len(headerContentType) + len(contentTypeJSON) + 4
		}
		if c.acceptS2 {
			hsize += len(headerAcceptEncoding) + len(encodingS2) + 4
		}
	} else {
		hsize = headerSize(msg.Header)
	}
	if size := int64(hsize + len(msg.Data)); c.payload.exceeded(size) > 0 {
		limit := c.payload.limit.Load()
		return nil, NewError(CodeResourceExhausted, fmt.Errorf(
			"request of %d bytes (headers included) is larger than the NATS server's max_payload of %d bytes: %w", size, limit, nats.ErrMaxPayload))
	}
	var (
		resp *nats.Msg
		err  error
	)
	if ctx.Done() == nil {
		resp, err = c.nc.RequestMsg(msg, remaining)
	} else {
		resp, err = c.nc.RequestMsgWithContext(ctx, msg)
	}
	if err != nil {
		return nil, requestError(err, msg.Subject)
	}
	ci.responseHeader = resp.Header
	if e := decodeError(resp); e != nil {
		return nil, e
	}
	codec, ok := parseContentType(resp.Header.Get(headerContentType))
	if !ok {
		return nil, errorf(CodeInternal, "response has unsupported Content-Type "+strconv.Quote(resp.Header.Get(headerContentType)))
	}
	body, err := decodeBody(resp.Header, resp.Data)
	if err != nil {
		return nil, NewError(CodeInternal, fmt.Errorf("decode %q response: %w", c.spec.Method.Output().FullName(), err))
	}
	res := c.newRes(req)
	if err := codec.unmarshal(body, res); err != nil {
		return nil, NewError(CodeInternal, fmt.Errorf("decode %q response: %w", c.spec.Method.Output().FullName(), err))
	}
	return res, nil
}

// requestError maps the errors of nats.go's request onto codes.
func requestError(err error, subject string) *Error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return contextError(err, subject)
	case errors.Is(err, nats.ErrNoResponders):
		return NewError(CodeUnavailable, fmt.Errorf("no service instance listens on %q: %w", subject, err))
	case errors.Is(err, nats.ErrTimeout):
		return NewError(CodeDeadlineExceeded, fmt.Errorf("no response on %q before the deadline: %w (%w)", subject, err, context.DeadlineExceeded))
	case errors.Is(err, nats.ErrMaxPayload):
		return NewError(CodeResourceExhausted, fmt.Errorf("request is larger than the NATS server's max_payload: %w", err))
	case errors.Is(err, nats.ErrBadHeaderMsg), errors.Is(err, nats.ErrBadSubject):
		return NewError(CodeInvalidArgument, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrInvalidConnection):
		return NewError(CodeUnavailable, fmt.Errorf("call on %q: %w", subject, err))
	}
	return NewError(CodeUnknown, fmt.Errorf("call on %q: %w", subject, err))
}

func contextError(err error, subject string) *Error {
	if errors.Is(err, context.Canceled) {
		return NewError(CodeCanceled, fmt.Errorf("call on %q canceled: %w", subject, err))
	}
	return NewError(CodeDeadlineExceeded, fmt.Errorf("no response on %q before the deadline: %w", subject, err))
}

// methodSpec derives the NATS mapping of md with the shared spec package.
func methodSpec(md protoreflect.MethodDescriptor) (*spec.Method, error) {
	if md == nil {
		return nil, errors.New("method descriptor is nil")
	}
	sd, ok := md.Parent().(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("method %q has no service", md.FullName())
	}
	s, err := spec.ForService(sd)
	if err != nil {
		return nil, err
	}
	for _, m := range s.Methods {
		if m.Desc.Name() == md.Name() {
			return m, nil
		}
	}
	return nil, fmt.Errorf("method %q is not in service %q", md.Name(), sd.FullName())
}

func checkUnary(m *spec.Method) error {
	if m.Kind != spec.KindUnary {
		return fmt.Errorf("method is %s, not unary", m.Kind)
	}
	return nil
}

// checkEvent is checkUnary for events, worded "an event".
func checkEvent(m *spec.Method) error {
	if m.Kind != spec.KindEvent {
		return fmt.Errorf("method is %s, not an event", m.Kind)
	}
	return nil
}

// checkKind is checkUnary for the streaming kinds, whose names read as
// they are.
func checkKind(m *spec.Method, kind spec.Kind) error {
	if m.Kind != kind {
		return fmt.Errorf("method is %s, not %s", m.Kind, kind)
	}
	return nil
}

// codec is the codec the options chose: JSON with WithJSON, else protobuf.
func (cfg *clientConfig) codec() codec {
	if cfg.json {
		return codecJSON
	}
	return codecProto
}

// timeoutFor is the default call timeout of unary and event clients of m.
// Precedence (documented on WithTimeout): the schema's method timeout or
// service default_timeout, then WithTimeout, then DefaultTimeout. Streams
// differ: only the method's own timeout bounds them.
func (cfg *clientConfig) timeoutFor(m *spec.Method) time.Duration {
	if m.Timeout != 0 {
		return m.Timeout
	}
	if cfg.timeout != 0 {
		return cfg.timeout
	}
	return DefaultTimeout
}

// checkMessages verifies that Req and Res are the method's input and output
// types, so that a mismatch in generated or hand-written code fails at the
// first call instead of corrupting messages.
func checkMessages[Req, Res any](md protoreflect.MethodDescriptor) error {
	return errors.Join(
		checkMessage[Req]("request", md.Input()),
		checkMessage[Res]("response", md.Output()),
	)
}

func checkMessage[T any](role string, want protoreflect.MessageDescriptor) error {
	m, ok := any(new(T)).(proto.Message)
	if !ok {
		return fmt.Errorf("%s type %T does not implement proto.Message", role, new(T))
	}
	if got := m.ProtoReflect().Descriptor().FullName(); got != want.FullName() {
		return fmt.Errorf("%s type is %q; the method wants %q", role, got, want.FullName())
	}
	return nil
}

// setupClient is the construction every client kind shares: it applies
// opts, then checks method, the options and check (the kind's own checks:
// method kind, message types), and only when those pass, nc. The caller
// wraps the error with invalidClient: constructors never fail.
func setupClient(nc *nats.Conn, method protoreflect.MethodDescriptor, opts []ClientOption, check func(*spec.Method) error) (clientConfig, *spec.Method, error) {
	var cfg clientConfig
	for _, o := range opts {
		if o != nil {
			o.applyToClient(&cfg)
		}
	}
	m, err := methodSpec(method)
	if err == nil {
		err = errors.Join(cfg.err, check(m))
	}
	if err == nil && nc == nil {
		err = errors.New("nats connection is nil")
	}
	return cfg, m, err
}

// invalidClient is the error that every call of a client whose
// construction failed returns (constructors never fail), naming what and
// the method.
func invalidClient(what string, method protoreflect.MethodDescriptor, err error) *Error {
	return NewError(CodeInvalidArgument, fmt.Errorf("invalid %s for %q: %w", what, methodName(method), err))
}

// methodName is method's full name for error messages, which must not
// panic on the nil descriptor they may be reporting.
func methodName(method protoreflect.MethodDescriptor) string {
	if method == nil {
		return "<nil>"
	}
	return string(method.FullName())
}

func prefixed(prefix, subject string) string {
	if prefix == "" {
		return subject
	}
	return prefix + "." + subject
}
