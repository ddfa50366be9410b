package natsrpc

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// DynamicClient calls one method of any kind from its descriptor alone,
// with [dynamicpb] messages or with messages already encoded in binary
// protobuf: what gateways, bridges and command-line tools need, which learn
// their schemas at run time (from the schema registry or a descriptor set)
// and have no generated types.
//
// It is the generated clients' machinery with the message types left open:
// the same subjects, deadlines (the schema's timeouts, [WithTimeout],
// [WithCallTimeout], the Nats-Rpc-Timeout header), headers ([WithHeader],
// [WithResponseHeader]), errors, retries of idempotent methods,
// interceptors, payload checks, stream flow control and heartbeats, and
// durable events. Build it once per method with [NewDynamicClient] and
// share it: it is safe for concurrent use.
//
// The Bytes methods take and return binary protobuf without decoding it
// (interceptors see a message of the method's type whose fields are all
// unknown fields). A request's bytes are checked against the method's input
// type before anything is sent, so a body that the service could not decode
// fails with [CodeInvalidArgument] and never reaches it.
type DynamicClient struct {
	method protoreflect.MethodDescriptor
	kind   MethodKind
	unary  *unaryClient
	event  *eventClient
	stream *streamClient
	err    *Error
}

// NewDynamicClient returns a client for method over nc, whatever its kind.
// Call it with the methods of the method's kind: CallUnary or
// CallUnaryBytes for unary methods, Publish or PublishBytes for events,
// CallServerStream, CallClientStream or CallBidiStream for streams.
//
// It never fails: a problem with the arguments or options is returned by
// every call, as an [*Error] with [CodeInvalidArgument].
func NewDynamicClient(nc *nats.Conn, method protoreflect.MethodDescriptor, opts ...ClientOption) *DynamicClient {
	c := &DynamicClient{method: method}
	m, err := methodSpec(method)
	if err != nil {
		c.err = invalidClient("dynamic client", method, err)
		return c
	}
	c.kind = MethodKind(m.Kind)
	noCheck := func() error { return nil }
	switch m.Kind {
	case spec.KindUnary:
		c.unary = &unaryClient{}
		c.unary.init(nc, method, opts, noCheck)
		out := method.Output()
		c.unary.newRes = func(req proto.Message) proto.Message {
			if r, ok := req.(*rawMessage); ok {
				return &rawMessage{desc: r.out}
			}
			return dynamicpb.NewMessage(out)
		}
		c.err = c.unary.err
	case spec.KindEvent:
		c.event = &eventClient{}
		c.event.init(nc, method, opts, noCheck)
		c.err = c.event.err
	default:
		c.stream = newStreamClient(nc, method, m.Kind, noCheck, opts)
		c.err = c.stream.err
	}
	return c
}

// Method returns the method's descriptor.
func (c *DynamicClient) Method() protoreflect.MethodDescriptor { return c.method }

// Kind returns how the method travels; 0 when the client is invalid.
func (c *DynamicClient) Kind() MethodKind { return c.kind }

// Spec describes the method as interceptors see it (the subject includes
// the client's prefix). It is the zero Spec when the client is invalid.
func (c *DynamicClient) Spec() Spec {
	switch {
	case c.unary != nil:
		return c.unary.spec
	case c.event != nil:
		return c.event.spec
	case c.stream != nil:
		return c.stream.spec
	}
	return Spec{}
}

// check returns the client's construction error, or an error when the
// method is not of kind want.
func (c *DynamicClient) check(want MethodKind) *Error {
	if c.err != nil {
		e := *c.err
		return &e
	}
	if c.kind != want {
		return errorf(CodeInvalidArgument, fmt.Sprintf("method %q is %s, not %s: %s", c.method.FullName(), c.kind, want, kindHint(c.kind)))
	}
	return nil
}

// kindHint names the call that fits kind.
func kindHint(kind MethodKind) string {
	switch kind {
	case MethodKindUnary:
		return "use CallUnary"
	case MethodKindEvent:
		return "use Publish"
	case MethodKindServerStream:
		return "use CallServerStream"
	case MethodKindClientStream:
		return "use CallClientStream"
	case MethodKindBidiStream:
		return "use CallBidiStream"
	}
	return "the method has no kind"
}

// checkRequest checks that req is a non-nil message of the method's input
// type.
func (c *DynamicClient) checkRequest(req proto.Message) *Error {
	if req == nil {
		return errorf(CodeInvalidArgument, "request is nil")
	}
	if got, want := req.ProtoReflect().Descriptor().FullName(), c.method.Input().FullName(); got != want {
		return errorf(CodeInvalidArgument, fmt.Sprintf("request is a %q; method %q takes a %q", got, c.method.FullName(), want))
	}
	return nil
}

// rawRequest checks b against the method's input type and wraps it.
func (c *DynamicClient) rawRequest(b []byte) (*rawMessage, *Error) {
	in := c.method.Input()
	if err := validateWire(b, in); err != nil {
		return nil, NewError(CodeInvalidArgument, fmt.Errorf("request is not a valid %q: %w", in.FullName(), err))
	}
	return &rawMessage{desc: in, out: c.method.Output(), data: b}, nil
}

// CallUnary calls a unary method with req, a message of its input type
// (a [dynamicpb.Message] or a generated message), and returns the response
// as a [*dynamicpb.Message] of its output type. Deadlines, headers, errors
// and retries are those of [UnaryClient.CallUnary].
func (c *DynamicClient) CallUnary(ctx context.Context, req proto.Message, opts ...CallOption) (proto.Message, error) {
	if e := c.check(MethodKindUnary); e != nil {
		return nil, e
	}
	if e := c.checkRequest(req); e != nil {
		return nil, e
	}
	return c.unary.callUnary(ctx, req, opts)
}

// CallUnaryBytes calls a unary method with req, the binary protobuf
// encoding of a message of its input type, and returns the response's
// encoding, neither decoded nor re-encoded.
func (c *DynamicClient) CallUnaryBytes(ctx context.Context, req []byte, opts ...CallOption) ([]byte, error) {
	if e := c.check(MethodKindUnary); e != nil {
		return nil, e
	}
	r, e := c.rawRequest(req)
	if e != nil {
		return nil, e
	}
	res, err := c.unary.callUnary(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	return rawBytes(res)
}

// Publish publishes req as one event of an event method, as
// [EventClient.Publish] does (a durable event waits for JetStream's
// acknowledgement).
func (c *DynamicClient) Publish(ctx context.Context, req proto.Message, opts ...CallOption) error {
	if e := c.check(MethodKindEvent); e != nil {
		return e
	}
	if e := c.checkRequest(req); e != nil {
		return e
	}
	return c.event.publish(ctx, req, opts)
}

// PublishBytes is Publish with the event's binary protobuf encoding.
func (c *DynamicClient) PublishBytes(ctx context.Context, req []byte, opts ...CallOption) error {
	if e := c.check(MethodKindEvent); e != nil {
		return e
	}
	r, e := c.rawRequest(req)
	if e != nil {
		return e
	}
	return c.event.publish(ctx, r, opts)
}

// rawBytes returns the bytes of a response that should be a rawMessage.
func rawBytes(res proto.Message) ([]byte, error) {
	r, ok := res.(*rawMessage)
	if !ok || r == nil {
		return nil, errorf(CodeInternal, fmt.Sprintf("client interceptor returned a %T response to a bytes call; want the response it was given", res))
	}
	return r.bytes()
}
