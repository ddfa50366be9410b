package natsrpc

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// NewDynamicUnaryHandler returns the handler of a unary method known by its
// descriptor alone (from the schema registry or a descriptor set), for
// services with no generated types: bridges to other protocols, test
// doubles, tools. fn gets each request as a [*dynamicpb.Message] of the
// method's input type and returns a message of its output type (dynamic
// or generated).
//
// Everything else is [NewUnaryHandler]'s, on the same path through
// [NewService]: the queue group, $SRV discovery, the worker pool,
// deadlines, headers ([CallInfoFromContext]), interceptors, errors and the
// panic guard. A response of another type is answered with
// [CodeInternal].
func NewDynamicUnaryHandler(method protoreflect.MethodDescriptor, fn func(context.Context, proto.Message) (proto.Message, error)) Handler {
	return &dynamicUnaryHandler{method: method, fn: fn, err: checkHandler(method, fn == nil, checkUnary)}
}

// NewDynamicUnaryBytesHandler is [NewDynamicUnaryHandler] with messages in
// their binary protobuf encoding, neither decoded nor re-encoded: fn gets
// the request's bytes (a JSON request is transcoded to protobuf first) and
// returns the response's (written back as JSON to a JSON caller). A
// request that does not decode as the input type is answered with
// [CodeInvalidArgument] without calling fn; a response that does not
// decode as the output type with [CodeInternal]. Nil and empty bytes are
// the empty message. Interceptors see messages of the method's types whose
// fields are all unknown fields, as with [DynamicClient]'s Bytes methods.
func NewDynamicUnaryBytesHandler(method protoreflect.MethodDescriptor, fn func(context.Context, []byte) ([]byte, error)) Handler {
	return &dynamicUnaryHandler{method: method, bytesFn: fn, err: checkHandler(method, fn == nil, checkUnary)}
}

// NewDynamicEventHandler returns the handler of an event method known by
// its descriptor alone: fn gets each event as a [*dynamicpb.Message] of
// the method's input type. Everything else is [NewEventHandler]'s, durable
// events included (fn's error asks JetStream for another delivery).
func NewDynamicEventHandler(method protoreflect.MethodDescriptor, fn func(context.Context, proto.Message) error) Handler {
	return &dynamicEventHandler{method: method, fn: fn, err: checkHandler(method, fn == nil, checkEvent)}
}

// NewDynamicEventBytesHandler is [NewDynamicEventHandler] with the event
// in its binary protobuf encoding; an event that does not decode as the
// input type is refused as an undecodable event (durable ones are parked).
func NewDynamicEventBytesHandler(method protoreflect.MethodDescriptor, fn func(context.Context, []byte) error) Handler {
	return &dynamicEventHandler{method: method, bytesFn: fn, err: checkHandler(method, fn == nil, checkEvent)}
}

type dynamicUnaryHandler struct {
	method  protoreflect.MethodDescriptor
	fn      func(context.Context, proto.Message) (proto.Message, error)
	bytesFn func(context.Context, []byte) ([]byte, error)
	err     error
}

func (h *dynamicUnaryHandler) handlerMethod() protoreflect.MethodDescriptor { return h.method }

func (h *dynamicUnaryHandler) bind(m *spec.Method, interceptors []Interceptor) (*boundHandler, error) {
	if h.err != nil {
		return nil, h.err
	}
	in, out := m.Desc.Input(), m.Desc.Output()
	var inner UnaryFunc
	if h.bytesFn != nil {
		fn := h.bytesFn
		inner = func(ctx context.Context, req proto.Message) (proto.Message, error) {
			b, e := messageBytes(req, in)
			if e != nil {
				return nil, e
			}
			res, err := fn(ctx, b)
			if err != nil {
				return nil, err
			}
			if err := validateWire(res, out); err != nil {
				return nil, NewError(CodeInternal, fmt.Errorf("handler returned bytes that are not a valid %q: %w", out.FullName(), err))
			}
			return &rawMessage{desc: out, data: res}, nil
		}
	} else {
		fn := h.fn
		inner = func(ctx context.Context, req proto.Message) (proto.Message, error) {
			if e := checkType("request", req, in); e != nil {
				return nil, e
			}
			res, err := fn(ctx, req)
			if err != nil {
				return nil, err
			}
			if res == nil {
				return nil, errNilResponse()
			}
			if e := checkType("response", res, out); e != nil {
				return nil, e
			}
			return res, nil
		}
	}
	chain := chainUnary(inner, interceptors)
	decode := dynamicDecoder(in, h.bytesFn != nil)
	return &boundHandler{
		unary: func(ctx context.Context, c codec, body []byte) (proto.Message, error) {
			req, e := decode(c, body)
			if e != nil {
				return nil, e
			}
			return chain(ctx, req)
		},
	}, nil
}

type dynamicEventHandler struct {
	method  protoreflect.MethodDescriptor
	fn      func(context.Context, proto.Message) error
	bytesFn func(context.Context, []byte) error
	err     error
}

func (h *dynamicEventHandler) handlerMethod() protoreflect.MethodDescriptor { return h.method }

func (h *dynamicEventHandler) bind(m *spec.Method, interceptors []Interceptor) (*boundHandler, error) {
	if h.err != nil {
		return nil, h.err
	}
	in := m.Desc.Input()
	fn, bytesFn := h.fn, h.bytesFn
	inner := func(ctx context.Context, req proto.Message) (proto.Message, error) {
		var err error
		if bytesFn != nil {
			b, e := messageBytes(req, in)
			if e != nil {
				return nil, e
			}
			err = bytesFn(ctx, b)
		} else {
			if e := checkType("request", req, in); e != nil {
				return nil, e
			}
			err = fn(ctx, req)
		}
		if err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	}
	return &boundHandler{event: chainUnary(inner, interceptors), decode: dynamicDecoder(in, bytesFn != nil)}, nil
}

// dynamicDecoder decodes a request body of type in: into a rawMessage,
// checked but not decoded when it is protobuf (raw), else into a
// dynamicpb message.
func dynamicDecoder(in protoreflect.MessageDescriptor, raw bool) func(c codec, body []byte) (proto.Message, *Error) {
	name := in.FullName()
	return func(c codec, body []byte) (proto.Message, *Error) {
		var req proto.Message
		if raw {
			if c == codecProto {
				if err := validateWire(body, in); err != nil {
					return nil, NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", name, err))
				}
			}
			req = &rawMessage{desc: in}
		} else {
			req = dynamicpb.NewMessage(in)
		}
		if err := c.unmarshal(body, req); err != nil {
			return nil, NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", name, err))
		}
		return req, nil
	}
}

// messageBytes returns the binary encoding of req, a message of type in: a
// rawMessage's bytes as they are, any other message marshaled (an
// interceptor may have replaced the request).
func messageBytes(req proto.Message, in protoreflect.MessageDescriptor) ([]byte, *Error) {
	if r, ok := req.(*rawMessage); ok && r != nil && r.desc.FullName() == in.FullName() {
		b, err := r.bytes()
		if err != nil {
			return nil, asError(err)
		}
		return b, nil
	}
	if e := checkType("request", req, in); e != nil {
		return nil, e
	}
	b, err := protoMarshal.Marshal(req)
	if err != nil {
		return nil, NewError(CodeInternal, fmt.Errorf("encode %q: %w", in.FullName(), err))
	}
	return b, nil
}

// checkType fails unless m is a non-nil message of type want.
func checkType(role string, m proto.Message, want protoreflect.MessageDescriptor) *Error {
	if m == nil {
		return errorf(CodeInternal, role+" is nil")
	}
	if got := m.ProtoReflect().Descriptor().FullName(); got != want.FullName() {
		return errorf(CodeInternal, fmt.Sprintf("%s is a %q; the method's is a %q", role, got, want.FullName()))
	}
	return nil
}
