package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// streamClient is what the streaming clients of one method share: built
// once, safe for concurrent use, each call opening its own stream.
type streamClient struct {
	nc      *nats.Conn
	payload payloadLimit
	spec    Spec
	codec   codec
	// timeout is the method's own timeout option: the only schema timeout
	// that bounds a stream (a service's default_timeout is meant for
	// unary calls and would cut long watches).
	timeout  time.Duration
	settings streamSettings
	// acceptS2 announces in the handshake that S→C frames may come
	// compressed (WithCompression, wire.md §15).
	acceptS2 bool
	open     StreamingClientFunc // the interceptor chain around newConn
	err      *Error
}

func newStreamClient(nc *nats.Conn, method protoreflect.MethodDescriptor, kind spec.Kind, typeErr func() error, opts []ClientOption) *streamClient {
	c := &streamClient{nc: nc}
	c.payload.nc = nc
	cfg, m, err := setupClient(nc, method, opts, func(m *spec.Method) error {
		return errors.Join(checkKind(m, kind), typeErr())
	})
	if err != nil {
		c.err = invalidClient("client", method, err)
		return c
	}
	c.spec = newSpec(m, prefixed(cfg.prefix, m.Subject), true)
	c.codec = cfg.codec()
	c.acceptS2 = cfg.compressMin > 0
	if o, _ := spec.MethodOptions(method); o.GetTimeout() != nil {
		c.timeout = o.GetTimeout().AsDuration()
	}
	c.settings = cfg.stream.apply(defaultStreamSettings())
	c.open = chainStreamingClient(c.newConn, cfg.interceptors)
	return c
}

// streamCall carries a call's settings from call to newConn, through the
// interceptors, in the call's context.
type streamCall struct {
	settings streamSettings
	cancel   context.CancelFunc
}

type streamCallKey struct{}

// call starts a call: options, deadline, CallInfo, the interceptors. The
// stream itself opens lazily (see StreamingClientFunc).
func (c *streamClient) call(ctx context.Context, opts []CallOption) (StreamingClientConn, *Error) {
	if c.err != nil {
		e := *c.err
		return nil, &e
	}
	var cc callConfig
	for _, o := range opts {
		if o != nil {
			o.applyToCall(&cc)
		}
	}
	if cc.err != nil {
		return nil, asError(cc.err)
	}
	if cc.subjectToken != "" {
		return nil, errTokenNotUnary()
	}
	sc := &streamCall{settings: cc.stream.apply(c.settings)}
	if cc.timeout > 0 {
		ctx, sc.cancel = context.WithTimeout(ctx, cc.timeout)
	} else if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		ctx, sc.cancel = context.WithTimeout(ctx, c.timeout)
	}
	cctx := &callContext{Context: ctx, info: CallInfo{spec: &c.spec, requestHeader: cc.header}, stream: sc}
	conn := c.open(cctx, c.spec)
	if conn == nil {
		if sc.cancel != nil {
			sc.cancel()
		}
		return nil, errorf(CodeInternal, "client interceptor returned a nil stream")
	}
	return conn, nil
}

// newConn is the innermost StreamingClientFunc.
func (c *streamClient) newConn(ctx context.Context, sp Spec) StreamingClientConn {
	cc := &clientConn{c: c, ctx: ctx, spec: sp}
	if sc, ok := ctx.Value(streamCallKey{}).(*streamCall); ok {
		cc.settings, cc.cancel = sc.settings, sc.cancel
	} else {
		cc.settings = c.settings
	}
	if ci, ok := CallInfoFromContext(ctx); ok {
		cc.header = ci.RequestHeader()
	} else {
		cc.header = nats.Header{}
	}
	return cc
}

// errPeerEnded stops the client's sending side once the service has ended
// the stream; Send reports it as io.EOF, and Recv has the status.
var errPeerEnded = errorf(CodeCanceled, "the service ended the stream")

// clientConn is the client side of one stream: the StreamingClientConn at
// the bottom of the interceptor chain.
type clientConn struct {
	c        *streamClient
	ctx      context.Context
	cancel   context.CancelFunc
	spec     Spec
	settings streamSettings
	header   nats.Header

	mu      sync.Mutex
	started bool
	// begun is started, for Receive's check without the lock.
	begun      atomic.Bool
	halfClosed bool
	closed     bool
	startOnce  sync.Once
	startErr   *Error

	sub *nats.Subscription
	// frames is the inbox subscription's channel in a server-stream call:
	// the client reads its own frames (start, Receive and, when nobody
	// receives, the keepalive), holding readMu, instead of a subscription
	// callback handing every message to Receive's goroutine. nil for
	// client and bidi streams, whose Send must see the service's credit
	// frames while nobody receives: there a callback handles frames.
	frames    chan *nats.Msg
	readMu    sync.Mutex
	in        *inbound
	out       *outbound
	opened    chan struct{}
	openOnce  sync.Once
	openErr   *Error
	isOpen    atomic.Bool
	peerEnded atomic.Bool
	heard     activity     // frames received
	liveness  atomic.Int64 // nanoseconds, set by the open frame
	done      chan struct{}
	doneOnce  sync.Once
}

func (c *clientConn) Spec() Spec                 { return c.spec }
func (c *clientConn) RequestHeader() nats.Header { return c.header }

func (c *clientConn) ResponseHeader() nats.Header {
	if c.in != nil {
		if h, _ := c.in.headers(); h != nil {
			return h
		}
	}
	return nats.Header{}
}

func (c *clientConn) ResponseTrailer() nats.Header {
	if c.in != nil {
		if _, t := c.in.headers(); t != nil {
			return t
		}
	}
	return nats.Header{}
}

// ensureStarted opens the stream once; body is the handshake's body (the
// request of a server-streaming call, empty otherwise).
func (c *clientConn) ensureStarted(body []byte) *Error {
	c.startOnce.Do(func() {
		c.mu.Lock()
		c.started = true
		c.begun.Store(true)
		c.mu.Unlock()
		c.startErr = c.start(body)
	})
	return c.startErr
}

// start subscribes to a fresh inbox, sends the handshake with the inbox as
// its reply subject and waits for the service's open frame (or its
// refusal, no responders, the context, or the liveness timeout).
func (c *clientConn) start(body []byte) *Error {
	nc := c.c.nc
	subject := c.spec.Subject
	c.in = newInbound(c.settings)
	c.out = newOutbound(nc, &c.c.payload, "")
	c.opened = make(chan struct{})
	c.done = make(chan struct{})
	fail := func(e *Error) *Error {
		c.resolveOpen(e)
		c.in.fail(e, true)
		c.out.fail(e)
		c.finish()
		return e
	}
	if err := c.ctx.Err(); err != nil {
		return fail(contextError(err, subject))
	}
	if e := checkRequestHeader(c.header); e != nil {
		return fail(e)
	}
	hdr := make(nats.Header, len(c.header)+6)
	for k, vs := range c.header {
		hdr[k] = vs
	}
	hdr[headerStream] = []string{streamProtocolVersion}
	hdr[headerCredit] = formatCount(c.settings.window)
	hdr[headerCreditBytes] = formatCount(c.settings.windowBytes)
	hdr[headerHeartbeat] = []string{encodeTimeout(c.settings.heartbeat)}
	if dl, ok := c.ctx.Deadline(); ok {
		remaining := time.Until(dl)
		if remaining <= 0 {
			return fail(contextError(context.DeadlineExceeded, subject))
		}
		hdr[headerTimeout] = []string{encodeTimeout(remaining)}
	}
	if c.c.codec == codecJSON {
		hdr[headerContentType] = []string{contentTypeJSON}
	}
	if c.c.acceptS2 {
		hdr[headerAcceptEncoding] = s2Value
	}
	if size := int64(headerSize(hdr) + len(body)); c.c.payload.exceeded(size) > 0 {
		return fail(NewError(CodeResourceExhausted, fmt.Errorf(
			"request of %d bytes (headers included) is larger than the NATS server's max_payload of %d bytes: %w", size, c.c.payload.limit.Load(), nats.ErrMaxPayload)))
	}
	inbox := nc.NewInbox()
	var (
		sub *nats.Subscription
		err error
	)
	if c.spec.Kind == MethodKindServerStream && c.settings.window <= maxChannelWindow {
		// The service sends at most window data frames beyond what Receive
		// consumed; the keepalive moves frames out of the channel every
		// tick while nobody receives, so the slack only has to hold the
		// control frames of one tick.
		c.frames = make(chan *nats.Msg, c.settings.window+frameSlack)
		sub, err = nc.ChanSubscribe(inbox, c.frames)
	} else {
		sub, err = nc.Subscribe(inbox, c.onFrame)
	}
	if err != nil {
		return fail(requestError(err, subject))
	}
	c.mu.Lock()
	c.sub = sub
	c.mu.Unlock()
	c.heard.start(time.Now())
	if err := nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Header: hdr, Data: body}); err != nil {
		return fail(requestError(err, subject))
	}
	go c.keepalive()
	if c.frames == nil {
		<-c.opened
		return c.openErr
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		select {
		case <-c.opened:
			return c.openErr
		default:
		}
		select {
		case <-c.opened:
			return c.openErr
		case m := <-c.frames:
			c.onFrame(m)
		}
	}
}

// maxChannelWindow is the largest window whose server-stream client reads
// frames from a channel (its buffer is allocated whole, 8 bytes a slot);
// larger windows use a subscription callback.
const maxChannelWindow = 1 << 16

// frameSlack is the room a frames channel has beyond the window: the
// heartbeats and the end frame that arrive between two keepalive ticks
// while nobody receives.
const frameSlack = 64

// drainFrames handles the frames waiting in the channel, when no Receive
// is doing it: the keepalive calls it every tick, so that heartbeats count
// and the channel never fills while the application does not receive.
func (c *clientConn) drainFrames() {
	if c.frames == nil || !c.readMu.TryLock() {
		return
	}
	defer c.readMu.Unlock()
	for {
		select {
		case m := <-c.frames:
			c.onFrame(m)
		default:
			return
		}
	}
}

func (c *clientConn) resolveOpen(e *Error) {
	c.openOnce.Do(func() {
		c.openErr = e
		close(c.opened)
	})
}

// finish releases the network side: the keepalive stops, the inbox is
// unsubscribed, the call's timeout context is released. Received messages
// stay readable.
func (c *clientConn) finish() {
	c.doneOnce.Do(func() {
		close(c.done)
		c.mu.Lock()
		sub := c.sub
		c.mu.Unlock()
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		if c.cancel != nil {
			c.cancel()
		}
	})
}

// abort ends the stream locally with e. now makes Recv report e before
// messages already received (the caller gave up); tellPeer sends the
// service a cancel frame so that its handler stops.
func (c *clientConn) abort(e *Error, now, tellPeer bool) {
	c.resolveOpen(e)
	c.in.fail(e, now)
	if tellPeer && c.isOpen.Load() && !c.peerEnded.Load() {
		_ = c.out.sendControl(frameCancel, nil, nil)
	}
	c.out.fail(e)
	c.finish()
}

// keepalive sends heartbeats while the client is otherwise silent and
// gives the stream up when the service falls silent or ctx ends.
func (c *clientConn) keepalive() {
	t := time.NewTicker(tickInterval(c.settings.heartbeat))
	defer t.Stop()
	openBy := time.Now().Add(c.settings.liveness)
	subject := c.spec.Subject
	for {
		select {
		case <-c.done:
			return
		case <-c.ctx.Done():
			select {
			case <-c.done: // finish canceled the call's own context
				return
			default:
			}
			c.abort(contextError(c.ctx.Err(), subject), true, true)
			return
		case now := <-t.C:
			c.drainFrames()
			if !c.isOpen.Load() {
				if now.After(openBy) {
					c.abort(NewError(CodeUnavailable, fmt.Errorf("no answer from the service on %q within %s", subject, c.settings.liveness)), false, false)
					return
				}
				continue
			}
			if silent := c.heard.since(now); silent > time.Duration(c.liveness.Load()) {
				c.abort(NewError(CodeUnavailable, fmt.Errorf("the service on %q stopped responding: nothing heard for %s", subject, silent.Round(time.Millisecond))), false, true)
				return
			}
			if c.out.sent.since(now) >= c.settings.heartbeat/2 {
				_ = c.out.sendControl(frameHeartbeat, c.in.credit(), nil)
			}
		}
	}
}

// isNoResponders reports nats-server's no-responders status message.
func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// onFrame handles a frame from the service; it runs on the inbox
// subscription's goroutine, in order.
func (c *clientConn) onFrame(m *nats.Msg) {
	c.heard.bump()
	subject := c.spec.Subject
	if isNoResponders(m) {
		c.abort(NewError(CodeUnavailable, fmt.Errorf("no service instance listens on %q: %w", subject, nats.ErrNoResponders)), false, false)
		return
	}
	f, err := readFrame(m)
	if err != nil {
		c.abort(NewError(CodeInternal, fmt.Errorf("malformed stream frame from the service on %q: %w", subject, err)), false, true)
		return
	}
	protocolError := func(what string) {
		c.abort(errorf(CodeInternal, "stream protocol violation by the service on "+fmt.Sprintf("%q", subject)+": "+what), false, true)
	}
	open := c.isOpen.Load()
	switch f.kind {
	case frameOpen:
		if open {
			protocolError("a second open frame")
			return
		}
		c.out.mu.Lock()
		c.out.subject = f.control
		c.out.mu.Unlock()
		if f.hasCredit {
			c.out.grant(f.credit, f.creditBytes)
		}
		c.liveness.Store(int64(livenessTimeout(c.settings.liveness, f.heartbeat)))
		c.isOpen.Store(true)
		c.resolveOpen(nil)
	case frameData:
		if !open {
			protocolError("a data frame before the open frame")
			return
		}
		if e := c.in.onData(m, f.seq, publicHeader); e != nil {
			c.abort(e, false, true)
		}
	case frameHeartbeat, frameCredit:
		if !open {
			protocolError("a " + f.kind.String() + " frame before the open frame")
			return
		}
		if e := c.in.checkSeq(f.seq); e != nil {
			c.abort(e, false, true)
			return
		}
		if f.hasCredit {
			c.out.grant(f.credit, f.creditBytes)
		}
	case frameEnd:
		e := decodeError(m)
		c.peerEnded.Store(true)
		if !open {
			// Refused before opening: overloaded, invalid, unimplemented.
			if e == nil {
				e = errorf(CodeInternal, "the service ended the stream before opening it")
			}
			c.abort(e, false, false)
			return
		}
		if perr := c.in.onEnd(m, f.seq, e, publicHeader); perr != nil {
			c.abort(perr, false, false)
			return
		}
		c.out.fail(errPeerEnded)
		c.finish()
	default:
		protocolError("a " + f.kind.String() + " frame")
	}
}

func (c *clientConn) Send(msg proto.Message) error {
	if msg == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	c.mu.Lock()
	started, halfClosed, closed := c.started, c.halfClosed, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return errorf(CodeCanceled, "send on a closed stream")
	case halfClosed:
		return errorf(CodeFailedPrecondition, "send after CloseRequest")
	}
	buf := getBuffer()
	data, err := c.c.codec.marshal((*buf)[:0], msg)
	defer putBuffer(buf, data)
	if err != nil {
		return NewError(CodeInvalidArgument, fmt.Errorf("encode stream message: %w", err))
	}
	if c.spec.Kind == MethodKindServerStream {
		if started {
			return errorf(CodeFailedPrecondition, "a server-streaming call sends exactly one request")
		}
		if e := c.ensureStarted(data); e != nil {
			return e
		}
		return nil
	}
	if e := c.ensureStarted(nil); e != nil {
		return e
	}
	if e := c.out.sendData(c.ctx, nil, data); e != nil {
		if e == errPeerEnded {
			return io.EOF
		}
		return e
	}
	return nil
}

func (c *clientConn) CloseRequest() error {
	c.mu.Lock()
	started, already := c.started, c.halfClosed
	c.halfClosed = true
	c.mu.Unlock()
	if already {
		return nil
	}
	if c.spec.Kind == MethodKindServerStream {
		if !started {
			return errorf(CodeFailedPrecondition, "CloseRequest before the request was sent")
		}
		return nil
	}
	if e := c.ensureStarted(nil); e != nil {
		return e
	}
	if err := c.out.sendControl(frameEnd, nil, nil); err != nil {
		if err == errPeerEnded {
			return nil
		}
		return asError(err)
	}
	return nil
}

func (c *clientConn) Receive(msg proto.Message) error {
	if c.spec.Kind == MethodKindServerStream {
		if !c.begun.Load() {
			return errorf(CodeFailedPrecondition, "Receive before the request was sent")
		}
	}
	if e := c.ensureStarted(nil); e != nil {
		return e
	}
	var (
		m     *nats.Msg
		grant nats.Header
		err   error
	)
	if c.frames != nil {
		c.readMu.Lock()
		m, grant, err = c.in.next(c.ctx, c.frames, c.onFrame)
		c.readMu.Unlock()
	} else {
		m, grant, err = c.in.next(c.ctx, nil, nil)
	}
	if err != nil {
		switch {
		case err == errEndOfStream:
			return io.EOF
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return contextError(err, c.spec.Subject)
		}
		return err
	}
	if grant != nil {
		_ = c.out.sendControl(frameCredit, grant, nil)
	}
	body, err := decodeBody(m.Header, m.Data)
	if err == nil {
		err = c.c.codec.unmarshal(body, msg)
	}
	if err != nil {
		e := NewError(CodeInternal, fmt.Errorf("decode %q stream message: %w", c.spec.Method.Output().FullName(), err))
		c.abort(e, true, true)
		return e
	}
	return nil
}

func (c *clientConn) CloseResponse() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	started := false
	c.startOnce.Do(func() { c.startErr = errorf(CodeCanceled, "stream closed before it opened") })
	if c.in != nil {
		started = true
	}
	if !started {
		if c.cancel != nil {
			c.cancel()
		}
		return nil
	}
	c.abort(errorf(CodeCanceled, "stream closed by the client"), true, true)
	return nil
}

// ServerStreamClient calls one server-streaming method. Build it once with
// [NewServerStreamClient] and share it: it is safe for concurrent use, and
// each call opens its own stream.
type ServerStreamClient[Req, Res any] struct {
	c *streamClient
}

// NewServerStreamClient returns a client for the server-streaming method
// described by method, over nc. Req and Res are the method's generated
// request and response message types.
//
// It never fails: a problem with the arguments or options is returned by
// every call, as an [*Error] with [CodeInvalidArgument].
func NewServerStreamClient[Req, Res any](nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *ServerStreamClient[Req, Res] {
	return &ServerStreamClient[Req, Res]{c: newStreamClient(nc, method, spec.KindServerStream,
		func() error { return checkMessages[Req, Res](method) }, opts)}
}

// CallServerStream sends req and returns the stream of responses once the
// service has accepted it. It fails with [CodeUnavailable] at once when no
// service instance listens, and with the service's code when it refuses
// the stream ([CodeResourceExhausted] when it serves too many).
//
// The stream lasts until the service ends it, ctx ends, or the caller
// closes it: always Close it (or read it to the end). Only ctx,
// [WithCallTimeout] and the method's own timeout option bound it: unlike
// unary calls, streams get no default timeout (a watch may last hours),
// and heartbeats end them when the service vanishes ([WithHeartbeat]).
func (c *ServerStreamClient[Req, Res]) CallServerStream(ctx context.Context, req *Req, opts ...CallOption) (*ClientRecvStream[Res], error) {
	if req == nil {
		return nil, errorf(CodeInvalidArgument, "request is nil")
	}
	conn, e := c.c.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	if err := conn.Send(any(req).(proto.Message)); err != nil {
		_ = conn.CloseResponse()
		return nil, asError(err)
	}
	if err := conn.CloseRequest(); err != nil {
		_ = conn.CloseResponse()
		return nil, asError(err)
	}
	return &ClientRecvStream[Res]{conn: conn}, nil
}

// ClientRecvStream is the calling side of a server-streaming call, which
// [ServerStreamClient.CallServerStream] returns: it receives the
// responses, in order. It is not safe for concurrent use.
//
// Stream types are named by side and direction: Client or Handler, then
// Recv, Send or Bidi ([ClientRecvStream], [ClientSendStream],
// [ClientBidiStream]; [HandlerSendStream], [HandlerRecvStream],
// [HandlerBidiStream]). Names of method kinds (ServerStream, ClientStream,
// BidiStream) appear only in the clients, handler constructors and call
// methods of that kind.
type ClientRecvStream[Res any] struct {
	conn StreamingClientConn
}

// Recv returns the next response. It returns io.EOF after the last one
// when the service ended the stream successfully, and an [*Error] when it
// ended with an error (after every response sent before it), when the
// stream lost messages on the way ([CodeDataLoss]), when the service
// vanished ([CodeUnavailable]), when ctx ended ([CodeCanceled],
// [CodeDeadlineExceeded]) or after Close. While the caller does not call
// Recv, the service's Send blocks once the window is full
// ([WithStreamWindow]).
func (s *ClientRecvStream[Res]) Recv() (*Res, error) {
	return receive[Res](s.conn)
}

func receive[Res any](conn StreamingClientConn) (*Res, error) {
	res := new(Res)
	if err := receiveInto(conn, any(res).(proto.Message)); err != nil {
		return nil, err
	}
	return res, nil
}

// receiveInto reads the next response into msg: io.EOF at the end, else an
// [*Error].
func receiveInto(conn StreamingClientConn, msg proto.Message) error {
	if err := conn.Receive(msg); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return asError(err)
	}
	return nil
}

// All returns an iterator over the responses that ends at the end of the
// stream, yielding a final error (never io.EOF) if the stream failed. It
// closes the stream when the loop ends, early or not.
func (s *ClientRecvStream[Res]) All() iter.Seq2[*Res, error] {
	return allOf[Res](s.conn)
}

func allOf[Res any](conn StreamingClientConn) iter.Seq2[*Res, error] {
	return func(yield func(*Res, error) bool) {
		defer conn.CloseResponse()
		for {
			res, err := receive[Res](conn)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(res, nil) {
				return
			}
		}
	}
}

// Close stops the stream: the service's handler sees its context canceled,
// and Recv returns [CodeCanceled]. It is safe to call more than once and
// after the end.
func (s *ClientRecvStream[Res]) Close() error {
	return s.conn.CloseResponse()
}

// ResponseHeader returns the headers the handler set before its first
// Send; they arrive with the first response, so read them after the first
// Recv.
func (s *ClientRecvStream[Res]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the headers the handler set as its trailer,
// sent at the end of the stream: read them after Recv returned io.EOF or an
// error from the service.
func (s *ClientRecvStream[Res]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }

// ClientStreamClient calls one client-streaming method. Build it once with
// [NewClientStreamClient] and share it.
type ClientStreamClient[Req, Res any] struct {
	c *streamClient
}

// NewClientStreamClient returns a client for the client-streaming method
// described by method, over nc. It never fails: a problem with the
// arguments or options is returned by every call.
func NewClientStreamClient[Req, Res any](nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *ClientStreamClient[Req, Res] {
	return &ClientStreamClient[Req, Res]{c: newStreamClient(nc, method, spec.KindClientStream,
		func() error { return checkMessages[Req, Res](method) }, opts)}
}

// CallClientStream starts a client-streaming call. The stream opens with
// the first Send (or CloseAndRecv), which reports the errors of opening
// it ([CodeUnavailable] when no instance listens). The error returned here
// is only about the client and its options.
func (c *ClientStreamClient[Req, Res]) CallClientStream(ctx context.Context, opts ...CallOption) (*ClientSendStream[Req, Res], error) {
	conn, e := c.c.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	return &ClientSendStream[Req, Res]{conn: conn}, nil
}

// ClientSendStream is the calling side of a client-streaming call: it
// sends requests, then receives the one response. It is not safe for
// concurrent use.
type ClientSendStream[Req, Res any] struct {
	conn StreamingClientConn
}

// Send sends one request, blocking while the service has granted no credit
// (its handler reads slowly). It returns io.EOF when the service has
// already ended the stream: CloseAndRecv then returns its status.
func (s *ClientSendStream[Req, Res]) Send(req *Req) error {
	if req == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	return sendMsg(s.conn, any(req).(proto.Message))
}

func sendMsg(conn StreamingClientConn, msg proto.Message) error {
	if err := conn.Send(msg); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return asError(err)
	}
	return nil
}

// CloseAndRecv says the client sends no more requests and returns the
// service's response; it releases the stream.
func (s *ClientSendStream[Req, Res]) CloseAndRecv() (*Res, error) {
	res := new(Res)
	if err := closeAndReceive(s.conn, any(res).(proto.Message), func() proto.Message { return any(new(Res)).(proto.Message) }); err != nil {
		return nil, err
	}
	return res, nil
}

// closeAndReceive ends the requests of a client stream and reads its one
// response into res; extra is a message to read a second, unexpected
// response into. It releases the stream.
func closeAndReceive(conn StreamingClientConn, res proto.Message, extra func() proto.Message) error {
	defer conn.CloseResponse()
	if err := conn.CloseRequest(); err != nil {
		return asError(err)
	}
	err := receiveInto(conn, res)
	if err == io.EOF {
		return errorf(CodeInternal, "the service ended the client stream without a response")
	}
	if err != nil {
		return err
	}
	if err := receiveInto(conn, extra()); err != io.EOF {
		if err == nil {
			return errorf(CodeInternal, "the service sent more than one response to a client stream")
		}
		return err
	}
	return nil
}

// Close abandons the call: the service's handler sees its context
// canceled.
func (s *ClientSendStream[Req, Res]) Close() error { return s.conn.CloseResponse() }

// RequestHeader returns the headers sent when the stream opens: set them
// before the first Send.
func (s *ClientSendStream[Req, Res]) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// ResponseHeader returns the headers the handler set, after CloseAndRecv.
func (s *ClientSendStream[Req, Res]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the handler's trailer, after CloseAndRecv.
func (s *ClientSendStream[Req, Res]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }

// BidiStreamClient calls one bidirectional-streaming method. Build it once
// with [NewBidiStreamClient] and share it.
type BidiStreamClient[Req, Res any] struct {
	c *streamClient
}

// NewBidiStreamClient returns a client for the bidirectional-streaming
// method described by method, over nc. It never fails: a problem with the
// arguments or options is returned by every call.
func NewBidiStreamClient[Req, Res any](nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *BidiStreamClient[Req, Res] {
	return &BidiStreamClient[Req, Res]{c: newStreamClient(nc, method, spec.KindBidiStream,
		func() error { return checkMessages[Req, Res](method) }, opts)}
}

// CallBidiStream starts a bidirectional-streaming call. The stream opens
// with the first Send, CloseSend or Recv, which reports the errors of
// opening it. The error returned here is only about the client and its
// options.
func (c *BidiStreamClient[Req, Res]) CallBidiStream(ctx context.Context, opts ...CallOption) (*ClientBidiStream[Req, Res], error) {
	conn, e := c.c.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	return &ClientBidiStream[Req, Res]{conn: conn}, nil
}

// ClientBidiStream is the calling side of a bidirectional-streaming call.
// One goroutine may send while another receives; neither side is safe for
// concurrent use by several goroutines.
type ClientBidiStream[Req, Res any] struct {
	conn StreamingClientConn
}

// Send sends one request, blocking while the service has granted no
// credit. It returns io.EOF when the service has already ended the stream:
// Recv then returns its status.
func (s *ClientBidiStream[Req, Res]) Send(req *Req) error {
	if req == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	return sendMsg(s.conn, any(req).(proto.Message))
}

// CloseSend says the client sends no more requests; the service's Recv
// returns io.EOF after the last one. Responses keep coming.
func (s *ClientBidiStream[Req, Res]) CloseSend() error {
	if err := s.conn.CloseRequest(); err != nil {
		return asError(err)
	}
	return nil
}

// Recv returns the next response, with the semantics of [ClientRecvStream.Recv].
func (s *ClientBidiStream[Req, Res]) Recv() (*Res, error) { return receive[Res](s.conn) }

// All returns an iterator over the responses, as [ClientRecvStream.All] does.
func (s *ClientBidiStream[Req, Res]) All() iter.Seq2[*Res, error] { return allOf[Res](s.conn) }

// Close stops the stream in both directions.
func (s *ClientBidiStream[Req, Res]) Close() error { return s.conn.CloseResponse() }

// RequestHeader returns the headers sent when the stream opens: set them
// before the first Send or Recv.
func (s *ClientBidiStream[Req, Res]) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// ResponseHeader returns the headers the handler set before its first
// Send, once the first response arrived.
func (s *ClientBidiStream[Req, Res]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the handler's trailer, at the end of the stream.
func (s *ClientBidiStream[Req, Res]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }
