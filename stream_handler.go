package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// streamHandler is the Handler of a streaming method of any kind.
type streamHandler struct {
	method protoreflect.MethodDescriptor
	fn     StreamingHandlerFunc
	err    error
}

func newStreamHandler(method protoreflect.MethodDescriptor, kind spec.Kind, nilFn bool, typeErr func() error, fn StreamingHandlerFunc) *streamHandler {
	err := checkHandler(method, nilFn, func(m *spec.Method) error {
		return errors.Join(checkKind(m, kind), typeErr())
	})
	return &streamHandler{method: method, fn: fn, err: err}
}

func (h *streamHandler) handlerMethod() protoreflect.MethodDescriptor { return h.method }

func (h *streamHandler) bind(_ *spec.Method, interceptors []Interceptor) (*boundHandler, error) {
	if h.err != nil {
		return nil, h.err
	}
	return &boundHandler{stream: chainStreamingHandler(h.fn, interceptors)}, nil
}

// NewServerStreamHandler returns the handler of the server-streaming method
// described by method; fn serves each stream: it reads the request and
// sends responses with [HandlerSendStream.Send] until it returns. Its error
// (nil for a clean end) reaches the client after every response sent
// before it, coded as for unary handlers (see [NewUnaryHandler]).
//
// fn runs on a goroutine of its own, not on the service's worker pool (a
// stream may last hours), within the service's stream limit
// ([WithMaxStreams]). Its context ends when the client closes the stream,
// cancels it or vanishes (no heartbeat for the liveness timeout,
// [WithHeartbeat]), at the client's deadline, and when [Service.Stop]
// gives up waiting; the client then sees [CodeUnavailable].
func NewServerStreamHandler[Req, Res any](method protoreflect.MethodDescriptor, fn func(context.Context, *Req, *HandlerSendStream[Res]) error) Handler {
	return newStreamHandler(method, spec.KindServerStream, fn == nil, func() error { return checkMessages[Req, Res](method) },
		func(ctx context.Context, conn StreamingHandlerConn) error {
			req := new(Req)
			if err := conn.Receive(any(req).(proto.Message)); err != nil {
				return err
			}
			return fn(ctx, req, &HandlerSendStream[Res]{conn: conn})
		})
}

// HandlerSendStream is the handling side of a server-streaming call: it
// sends the responses. It is not safe for concurrent use.
type HandlerSendStream[Res any] struct {
	conn StreamingHandlerConn
}

// Send sends one response. It blocks while the client has no credit left
// (it reads slower than the handler produces), so memory stays bounded and
// NATS never drops messages as a slow consumer; it fails when the stream
// ends (the client canceled, closed or vanished: [CodeCanceled]), when the
// context's deadline passes, or when res is larger than max_payload
// ([CodeResourceExhausted], the stream stays usable).
func (s *HandlerSendStream[Res]) Send(res *Res) error {
	if res == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	return s.conn.Send(any(res).(proto.Message))
}

// ResponseHeader returns the headers sent with the first response (or with
// the end of the stream, if there is none): set them before the first
// Send. Reserved headers are dropped.
func (s *HandlerSendStream[Res]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the headers sent with the end of the stream.
func (s *HandlerSendStream[Res]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }

// RequestHeader returns the headers of the client's request.
func (s *HandlerSendStream[Res]) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// NewClientStreamHandler returns the handler of the client-streaming method
// described by method; fn reads the client's requests with
// [HandlerRecvStream.Recv] until io.EOF and returns the one response. It
// runs as server-streaming handlers do (see [NewServerStreamHandler]).
func NewClientStreamHandler[Req, Res any](method protoreflect.MethodDescriptor, fn func(context.Context, *HandlerRecvStream[Req]) (*Res, error)) Handler {
	return newStreamHandler(method, spec.KindClientStream, fn == nil, func() error { return checkMessages[Req, Res](method) },
		func(ctx context.Context, conn StreamingHandlerConn) error {
			res, err := fn(ctx, &HandlerRecvStream[Req]{conn: conn})
			if err != nil {
				return err
			}
			if res == nil {
				return errNilResponse()
			}
			return conn.Send(any(res).(proto.Message))
		})
}

// HandlerRecvStream is the handling side of a client-streaming call: it
// receives the client's requests, in order. It is not safe for concurrent
// use.
type HandlerRecvStream[Req any] struct {
	conn StreamingHandlerConn
}

// Recv returns the next request, io.EOF after the last one. While the
// handler does not call it, the client's Send blocks once the window is
// full ([WithStreamWindow]).
func (s *HandlerRecvStream[Req]) Recv() (*Req, error) { return handlerReceive[Req](s.conn) }

// All returns an iterator over the requests, yielding a final error
// (never io.EOF) if the stream failed.
func (s *HandlerRecvStream[Req]) All() iter.Seq2[*Req, error] { return handlerAll[Req](s.conn) }

// RequestHeader returns the headers the client opened the stream with.
func (s *HandlerRecvStream[Req]) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// ResponseHeader returns the headers sent with the response.
func (s *HandlerRecvStream[Req]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the headers sent with the end of the stream.
func (s *HandlerRecvStream[Req]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }

func handlerReceive[Req any](conn StreamingHandlerConn) (*Req, error) {
	req := new(Req)
	if err := conn.Receive(any(req).(proto.Message)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, asError(err)
	}
	return req, nil
}

func handlerAll[Req any](conn StreamingHandlerConn) iter.Seq2[*Req, error] {
	return func(yield func(*Req, error) bool) {
		for {
			req, err := handlerReceive[Req](conn)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(req, nil) {
				return
			}
		}
	}
}

// NewBidiStreamHandler returns the handler of the bidirectional-streaming
// method described by method; fn reads requests and sends responses in any
// order until it returns. It runs as server-streaming handlers do (see
// [NewServerStreamHandler]).
func NewBidiStreamHandler[Req, Res any](method protoreflect.MethodDescriptor, fn func(context.Context, *HandlerBidiStream[Req, Res]) error) Handler {
	return newStreamHandler(method, spec.KindBidiStream, fn == nil, func() error { return checkMessages[Req, Res](method) },
		func(ctx context.Context, conn StreamingHandlerConn) error {
			return fn(ctx, &HandlerBidiStream[Req, Res]{conn: conn})
		})
}

// HandlerBidiStream is the handling side of a bidirectional-streaming
// call. One goroutine may receive while another sends.
type HandlerBidiStream[Req, Res any] struct {
	conn StreamingHandlerConn
}

// Recv returns the next request, io.EOF once the client called CloseSend.
func (s *HandlerBidiStream[Req, Res]) Recv() (*Req, error) { return handlerReceive[Req](s.conn) }

// All returns an iterator over the requests.
func (s *HandlerBidiStream[Req, Res]) All() iter.Seq2[*Req, error] { return handlerAll[Req](s.conn) }

// Send sends one response, with the semantics of [HandlerSendStream.Send].
func (s *HandlerBidiStream[Req, Res]) Send(res *Res) error {
	if res == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	return s.conn.Send(any(res).(proto.Message))
}

// RequestHeader returns the headers the client opened the stream with.
func (s *HandlerBidiStream[Req, Res]) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// ResponseHeader returns the headers sent with the first response.
func (s *HandlerBidiStream[Req, Res]) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the headers sent with the end of the stream.
func (s *HandlerBidiStream[Req, Res]) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }

// Causes of a stream handler's context ending early. They wrap
// context.Canceled, so handlers that check for it keep working.
var (
	errClientCanceled  = fmt.Errorf("the client canceled the stream: %w", context.Canceled)
	errClientVanished  = fmt.Errorf("the client vanished: no frame within the liveness timeout: %w", context.Canceled)
	errServiceStopping = fmt.Errorf("the service is stopping: %w", context.Canceled)
)

// handlerConn is the service side of one stream: the StreamingHandlerConn
// at the bottom of the handler's interceptor chain.
type handlerConn struct {
	ep       *endpoint
	ctx      *callContext
	cancel   context.CancelCauseFunc
	req      *nats.Msg
	codec    codec
	settings streamSettings
	token    string
	out      *outbound // to the client's inbox
	in       *inbound  // the client's messages; nil for server streaming

	liveness time.Duration
	heard    activity // frames received
	done     chan struct{}

	mu         sync.Mutex
	reqRead    bool
	headerSent bool
	// headerDone is set once headerSent is: Send's check without the lock.
	headerDone atomic.Bool
	trailer    nats.Header
	// compressMin is the service's WithCompression threshold when the
	// handshake announced s2 (wire.md §15): S→C data frames of at least
	// that size go compressed; 0: never.
	compressMin int
}

func (h *handlerConn) Spec() Spec                 { return *h.ctx.info.spec }
func (h *handlerConn) RequestHeader() nats.Header { return h.req.Header }
func (h *handlerConn) ResponseHeader() nats.Header {
	return h.ctx.info.ResponseHeader()
}

func (h *handlerConn) ResponseTrailer() nats.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.trailer == nil {
		h.trailer = nats.Header{}
	}
	return h.trailer
}

func (h *handlerConn) Receive(msg proto.Message) error {
	if h.in == nil {
		// Server streaming: the request came with the handshake.
		h.mu.Lock()
		read := h.reqRead
		h.reqRead = true
		h.mu.Unlock()
		if read {
			return io.EOF
		}
		body, err := decodeBody(h.req.Header, h.req.Data)
		if err != nil {
			return NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", h.ep.spec.Method.Input().FullName(), err))
		}
		if err := h.codec.unmarshal(body, msg); err != nil {
			return NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", h.ep.spec.Method.Input().FullName(), err))
		}
		return nil
	}
	m, grant, err := h.in.next(h.ctx, nil, nil)
	if err != nil {
		switch {
		case err == errEndOfStream:
			return io.EOF
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return contextError(context.Cause(h.ctx), h.ep.spec.Subject)
		}
		return err
	}
	h.ep.stats.streamReceived.Add(1)
	if grant != nil {
		_ = h.out.sendControl(frameCredit, grant, nil)
	}
	body, err := decodeBody(m.Header, m.Data)
	if err == nil {
		err = h.codec.unmarshal(body, msg)
	}
	if err != nil {
		return NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", h.ep.spec.Method.Input().FullName(), err))
	}
	return nil
}

func (h *handlerConn) Send(msg proto.Message) error {
	if msg == nil {
		return errorf(CodeInvalidArgument, "stream message is nil")
	}
	buf := getBuffer()
	data, err := h.codec.marshal((*buf)[:0], msg)
	defer putBuffer(buf, data)
	if err != nil {
		return NewError(CodeInternal, fmt.Errorf("encode %q: %w", h.ep.spec.Method.Output().FullName(), err))
	}
	var extra nats.Header
	if !h.headerDone.Load() {
		h.mu.Lock()
		if !h.headerSent {
			h.headerSent = true
			if rh := h.ctx.info.responseHeader; len(rh) > 0 {
				extra = publicHeader(rh)
			}
		}
		h.headerDone.Store(true)
		h.mu.Unlock()
	}
	if h.compressMin > 0 {
		// A compressed frame goes with headers, marked (wire.md §15);
		// compact frames stay header-free.
		if c, ok := compress(data, h.compressMin); ok {
			data = c
			if extra == nil {
				extra = s2Header
			} else {
				extra[headerEncoding] = s2Value
			}
		}
	}
	if e := h.out.sendData(h.ctx, extra, data); e != nil {
		return e
	}
	h.ep.stats.streamSent.Add(1)
	return nil
}

// onFrame handles a frame from the client; it runs on the service's
// control subscription, shared by all its streams, so it never blocks.
func (h *handlerConn) onFrame(m *nats.Msg) {
	h.heard.bump()
	f, err := readFrame(m)
	if err != nil {
		h.protocolError(fmt.Sprintf("malformed frame: %v", err))
		return
	}
	switch f.kind {
	case frameData:
		if h.in == nil {
			h.protocolError("a data frame on a server-streaming call")
			return
		}
		if e := h.in.onData(m, f.seq, publicHeader); e != nil {
			h.fail(e)
		}
	case frameHeartbeat, frameCredit:
		if h.in != nil {
			if e := h.in.checkSeq(f.seq); e != nil {
				h.fail(e)
				return
			}
		}
		if f.hasCredit {
			h.out.grant(f.credit, f.creditBytes)
		}
	case frameEnd:
		if h.in != nil {
			if e := h.in.onEnd(m, f.seq, nil, publicHeader); e != nil {
				h.fail(e)
			}
		}
	case frameCancel:
		h.cancel(errClientCanceled)
	default:
		h.protocolError("a " + f.kind.String() + " frame")
	}
}

// fail ends the stream with e, which the client is told in the end frame
// (unless it is gone).
func (h *handlerConn) fail(e *Error) {
	if h.in != nil {
		h.in.fail(e, true)
	}
	h.cancel(&streamFailure{e: e})
}

func (h *handlerConn) protocolError(what string) {
	h.fail(errorf(CodeInternal, "stream protocol violation by the client: "+what))
}

// streamFailure is the cause of a handler context canceled because the
// stream broke; it wraps context.Canceled like the other causes.
type streamFailure struct{ e *Error }

func (f *streamFailure) Error() string { return f.e.Error() }
func (f *streamFailure) Unwrap() error { return context.Canceled }

// keepalive sends heartbeats while the handler is silent (also while its
// Send waits for credit) and cancels the handler when the client falls
// silent.
func (h *handlerConn) keepalive() {
	t := time.NewTicker(tickInterval(h.settings.heartbeat))
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case now := <-t.C:
			if h.heard.since(now) > h.liveness {
				h.cancel(errClientVanished)
				return
			}
			if h.out.sent.since(now) >= h.settings.heartbeat/2 {
				var credit nats.Header
				if h.in != nil {
					credit = h.in.credit()
				}
				_ = h.out.sendControl(frameHeartbeat, credit, nil)
			}
		}
	}
}

// onStream admits a stream handshake: it is the subscription callback of
// streaming endpoints, so it only checks the request and starts the
// stream's goroutine, or refuses it at once with an end frame.
func (ep *endpoint) onStream(msg *nats.Msg) {
	s := ep.svc
	if msg.Reply == "" {
		ep.record(ep.admissionShard(), 0, errNoReply, nil)
		return
	}
	codec, ok := parseContentType(msg.Header.Get(headerContentType))
	if !ok {
		ep.rejectStream(msg.Reply, codecProto, errorf(CodeInvalidArgument, "unsupported Content-Type "+
			strconv.Quote(msg.Header.Get(headerContentType))+": use "+contentTypeProto+" or "+contentTypeJSON))
		return
	}
	sr, err := parseStreamRequest(msg.Header)
	if err != nil {
		ep.rejectStream(msg.Reply, codec, NewError(CodeInvalidArgument, err))
		return
	}
	var timeout time.Duration
	if v := msg.Header.Get(headerTimeout); v != "" {
		t, ok := parseTimeout(v)
		if !ok {
			ep.rejectStream(msg.Reply, codec, errorf(CodeInvalidArgument, "invalid "+headerTimeout+" header "+strconv.Quote(v)+": want 1 to 10 digits of milliseconds"))
			return
		}
		if t <= 0 {
			ep.stats.expired.Add(1)
			ep.record(ep.admissionShard(), 0, errExpired, nil)
			return
		}
		timeout = t
	} else {
		timeout = ep.streamTimeout
	}
	if d := s.cfg.maxStreamDuration; d > 0 && (timeout == 0 || timeout > d) {
		timeout = d
	}
	if s.stopping.Load() {
		ep.rejectStream(msg.Reply, codec, errorf(CodeUnavailable, "service is stopping"))
		return
	}
	if s.activeStreams.Add(1) > int64(s.cfg.maxStreams) {
		s.activeStreams.Add(-1)
		ep.stats.rejected.Add(1)
		ep.rejectStream(msg.Reply, codec, errorf(CodeResourceExhausted, "service overloaded: it serves its maximum of "+strconv.Itoa(s.cfg.maxStreams)+" streams; retry with backoff"))
		return
	}
	s.streamWG.Add(1)
	go ep.serveStream(msg, codec, sr, timeout)
}

// rejectStream refuses a stream before it opens: an end frame numbered 0
// with the error.
func (ep *endpoint) rejectStream(reply string, c codec, e *Error) {
	ep.record(ep.admissionShard(), 0, e, nil)
	h, body := endFrame(e, c, nil, nil)
	h[headerFrame] = frameValues[frameEnd]
	h[headerSeq] = formatCount(0)
	_ = ep.svc.nc.PublishMsg(&nats.Msg{Subject: reply, Header: h, Data: body})
}

// serveStream runs one stream: open frame, handler, end frame.
func (ep *endpoint) serveStream(msg *nats.Msg, c codec, sr streamRequest, timeout time.Duration) {
	s := ep.svc
	defer s.streamWG.Done()
	defer s.activeStreams.Add(-1)
	start := time.Now()
	sh := ep.admissionShard()
	sh.started.Add(1)

	base, cancel := context.WithCancelCause(s.baseCtx)
	var ctx context.Context = base
	if timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(base, start.Add(timeout))
		defer stop()
	}
	settings := s.cfg.stream.apply(defaultStreamSettings())
	h := &handlerConn{
		ep:       ep,
		ctx:      &callContext{Context: ctx, info: CallInfo{spec: &ep.spec, requestHeader: msg.Header}},
		cancel:   cancel,
		req:      msg,
		codec:    c,
		settings: settings,
		out:      newOutbound(s.nc, &s.payload, msg.Reply),
		liveness: livenessTimeout(settings.liveness, sr.heartbeat),
		done:     make(chan struct{}),
	}
	h.out.waits = &ep.stats.creditWaits
	if s.cfg.compressMin > 0 && acceptsS2(msg.Header) {
		h.compressMin = s.cfg.compressMin
	}
	h.out.grant(sr.credit, sr.creditBytes)
	h.heard.start(start)
	openHeader := nats.Header{headerHeartbeat: []string{encodeTimeout(settings.heartbeat)}}
	if ep.spec.Kind == MethodKindClientStream || ep.spec.Kind == MethodKindBidiStream {
		h.in = newInbound(settings)
		for k, v := range creditHeader(settings.window, settings.windowBytes) {
			openHeader[k] = v
		}
	}
	if c == codecJSON {
		openHeader[headerContentType] = []string{contentTypeJSON}
	}
	h.token = s.registerStream(h)
	openHeader[headerControl] = []string{s.ctrlPrefix + "." + h.token}

	var e, detail *Error
	if err := h.out.sendControl(frameOpen, openHeader, nil); err != nil {
		e = NewError(CodeUnavailable, fmt.Errorf("open stream: %w", err))
	} else {
		go h.keepalive()
		err, panicked := ep.invokeStream(h)
		e, detail = h.status(err, panicked)
	}
	close(h.done)
	s.unregisterStream(h.token)
	// Counted before the end frame goes out, as unary requests are before
	// their answer: whoever has seen the end sees the stream in the stats.
	sh.finished.Add(1)
	ep.record(sh, time.Since(start), e, detail)
	cause := context.Cause(h.ctx)
	clientGone := errors.Is(cause, errClientCanceled) || errors.Is(cause, errClientVanished)
	if !clientGone {
		hdr, body := endFrame(e, c, h.unsentHeader(), h.ResponseTrailer())
		_ = h.out.sendControl(frameEnd, hdr, body)
	}
	h.out.fail(errorf(CodeCanceled, "stream ended"))
	cancel(context.Canceled)
}

// unsentHeader returns the response headers when no data frame carried
// them, for the end frame.
func (h *handlerConn) unsentHeader() nats.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.headerSent {
		return nil
	}
	h.headerSent = true
	return h.ctx.info.responseHeader
}

// status is the error the stream ends with: the handler's, with context
// errors explained by their cause (a service stopping becomes unavailable,
// so the client may retry on another instance).
func (h *handlerConn) status(err error, panicked any) (e, detail *Error) {
	if panicked != nil {
		return errPanicked, NewError(CodeInternal, fmt.Errorf("handler panicked: %v", panicked))
	}
	if err == nil {
		return nil, nil
	}
	cause := context.Cause(h.ctx)
	var failure *streamFailure
	switch {
	case errors.As(cause, &failure) && isContextError(err):
		return failure.e, nil
	case errors.Is(cause, errServiceStopping) && isContextError(err):
		return NewError(CodeUnavailable, errServiceStopping), nil
	}
	return asError(err), nil
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// invokeStream runs the handler chain with a panic guard.
func (ep *endpoint) invokeStream(h *handlerConn) (err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			ep.stats.panics.Add(1)
			err, panicked = errPanicked, p
		}
	}()
	return ep.handler.stream(h.ctx, h), nil
}

// registerStream makes h reachable from the control subscription and
// returns its token, the last token of its control subject.
func (s *Service) registerStream(h *handlerConn) string {
	token := strconv.FormatUint(s.streamSeq.Add(1), 36)
	s.streamsMu.Lock()
	s.streams[token] = h
	s.streamsMu.Unlock()
	return token
}

func (s *Service) unregisterStream(token string) {
	s.streamsMu.Lock()
	delete(s.streams, token)
	s.streamsMu.Unlock()
}

// onControl routes a client's frame to its stream; frames for streams
// that are over are dropped.
func (s *Service) onControl(m *nats.Msg) {
	if len(m.Subject) <= len(s.ctrlPrefix)+1 {
		return
	}
	token := m.Subject[len(s.ctrlPrefix)+1:]
	s.streamsMu.RLock()
	h := s.streams[token]
	s.streamsMu.RUnlock()
	if h != nil {
		h.onFrame(m)
	}
}
