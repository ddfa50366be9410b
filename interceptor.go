package natsrpc

import (
	"context"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// UnaryFunc is one unary call: on the client it sends the request and
// returns the response, in a handler it runs the handler. The request and
// response are the method's generated message types (as pointers).
// [CallInfoFromContext] gives the [Spec] and the headers.
type UnaryFunc func(ctx context.Context, req proto.Message) (proto.Message, error)

// StreamingClientFunc opens the client side of a streaming call. It does
// not contact the service: the stream opens with the first Send (which,
// for a server-streaming call, carries the request), CloseRequest or
// Receive, so a client interceptor may set request headers on the
// returned connection before calling any of them. The context carries the
// call's [CallInfo] and bounds the whole stream.
type StreamingClientFunc func(ctx context.Context, spec Spec) StreamingClientConn

// StreamingHandlerFunc runs the handler side of a streaming call; its
// error ends the stream with that error's code. The context carries the
// call's [CallInfo] and is canceled when the client cancels, closes or
// vanishes.
type StreamingHandlerFunc func(ctx context.Context, conn StreamingHandlerConn) error

// StreamingClientConn is the client side of a streaming call, as seen by
// client interceptors.
type StreamingClientConn interface {
	// Spec describes the method.
	Spec() Spec
	// RequestHeader is sent with the first message.
	RequestHeader() nats.Header
	// Send sends one request message.
	Send(msg proto.Message) error
	// CloseRequest says the client sends no more messages.
	CloseRequest() error
	// Receive reads the next response message into msg; io.EOF at the end.
	Receive(msg proto.Message) error
	// ResponseHeader holds the headers of the first response message.
	ResponseHeader() nats.Header
	// ResponseTrailer holds the headers of the end-of-stream message.
	ResponseTrailer() nats.Header
	// CloseResponse stops receiving and releases the stream.
	CloseResponse() error
}

// StreamingHandlerConn is the handler side of a streaming call, as seen by
// handler interceptors.
type StreamingHandlerConn interface {
	// Spec describes the method.
	Spec() Spec
	// RequestHeader holds the headers of the first request message.
	RequestHeader() nats.Header
	// Receive reads the next request message into msg; io.EOF at the end.
	Receive(msg proto.Message) error
	// ResponseHeader is sent with the first response message.
	ResponseHeader() nats.Header
	// Send sends one response message.
	Send(msg proto.Message) error
	// ResponseTrailer is sent with the end-of-stream message.
	ResponseTrailer() nats.Header
}

// Interceptor adds behaviour around calls: tracing, metrics, auth, logging.
// One interceptor serves clients and handlers alike ([Spec.IsClient] says
// which side it is on); pass it to [WithInterceptors].
//
// Chains are built once, when a client or service is constructed, never per
// call. The first interceptor given is the outermost: on the way in it runs
// first, on the way out last, on both sides. A round trip through client
// interceptors c1, c2 and handler interceptors s1, s2 runs c1, c2, (the
// wire), s1, s2, the handler, s2, s1, (the wire), c2, c1.
//
// In a UnaryFunc, [CallInfoFromContext] always finds the call: a client
// interceptor sees the call's deadline in its context and may add request
// headers (a traceparent, say) before calling next; a handler interceptor
// reads the request headers and may set response headers. Client
// interceptors see one logical call: retries happen inside, below them.
// Handler interceptors run after the request was decoded (an undecodable
// request never reaches them) and inside the panic guard (a panicking
// interceptor becomes [CodeInternal] like a panicking handler).
//
// Streams go through WrapStreamingClient and WrapStreamingHandler: a
// client interceptor may wrap the [StreamingClientConn] to see every
// message sent and received, and set request headers before the stream
// opens; a handler interceptor wraps the [StreamingHandlerConn] the
// handler uses and sees its error. Events go through WrapUnary.
type Interceptor interface {
	// WrapUnary wraps unary calls and events (one-way: the response is an
	// empty google.protobuf.Empty, and [Spec.Kind] is [MethodKindEvent]).
	WrapUnary(next UnaryFunc) UnaryFunc
	// WrapStreamingClient wraps the client side of streaming calls.
	WrapStreamingClient(next StreamingClientFunc) StreamingClientFunc
	// WrapStreamingHandler wraps the handler side of streaming calls.
	WrapStreamingHandler(next StreamingHandlerFunc) StreamingHandlerFunc
}

// UnaryInterceptorFunc is an [Interceptor] that wraps unary calls only and
// passes streaming calls through untouched.
type UnaryInterceptorFunc func(next UnaryFunc) UnaryFunc

// WrapUnary calls f.
func (f UnaryInterceptorFunc) WrapUnary(next UnaryFunc) UnaryFunc {
	return f(next)
}

// WrapStreamingClient returns next unchanged.
func (f UnaryInterceptorFunc) WrapStreamingClient(next StreamingClientFunc) StreamingClientFunc {
	return next
}

// WrapStreamingHandler returns next unchanged.
func (f UnaryInterceptorFunc) WrapStreamingHandler(next StreamingHandlerFunc) StreamingHandlerFunc {
	return next
}

// chainUnary wraps next with interceptors, the first one outermost.
func chainUnary(next UnaryFunc, interceptors []Interceptor) UnaryFunc {
	for i := len(interceptors) - 1; i >= 0; i-- {
		if wrapped := interceptors[i].WrapUnary(next); wrapped != nil {
			next = wrapped
		}
	}
	return next
}

// chainStreamingClient wraps next with interceptors, the first one
// outermost.
func chainStreamingClient(next StreamingClientFunc, interceptors []Interceptor) StreamingClientFunc {
	for i := len(interceptors) - 1; i >= 0; i-- {
		if wrapped := interceptors[i].WrapStreamingClient(next); wrapped != nil {
			next = wrapped
		}
	}
	return next
}

// chainStreamingHandler wraps next with interceptors, the first one
// outermost.
func chainStreamingHandler(next StreamingHandlerFunc, interceptors []Interceptor) StreamingHandlerFunc {
	for i := len(interceptors) - 1; i >= 0; i-- {
		if wrapped := interceptors[i].WrapStreamingHandler(next); wrapped != nil {
			next = wrapped
		}
	}
	return next
}
