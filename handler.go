package natsrpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// Handler is the server side of one method, built by [NewUnaryHandler],
// [NewServerStreamHandler], [NewClientStreamHandler],
// [NewBidiStreamHandler] or [NewEventHandler]. Pass a service's handlers to
// [NewService].
type Handler interface {
	handlerMethod() protoreflect.MethodDescriptor
	// bind builds the handler's request path for one service, with the
	// service's interceptor chain, once.
	bind(m *spec.Method, interceptors []Interceptor) (*boundHandler, error)
}

// boundHandler is a Handler ready to serve: one entry point is set, after
// the method's kind.
type boundHandler struct {
	// unary decodes a request body and runs the interceptors and the
	// handler. A decoding failure returns CodeInvalidArgument without
	// calling either.
	unary func(ctx context.Context, c codec, body []byte) (proto.Message, error)
	// stream runs the interceptors and the handler of a stream.
	stream StreamingHandlerFunc
	// decode and event serve an event: decode fails with
	// CodeInvalidArgument (the event is not retried), event runs the
	// interceptors and the handler.
	decode func(c codec, body []byte) (proto.Message, *Error)
	event  UnaryFunc
}

// NewUnaryHandler returns the handler of the unary method described by
// method; fn serves each request. Req and Res are the method's generated
// request and response message types.
//
// fn runs on the service's worker pool, concurrently with other requests,
// with a context whose deadline is the caller's (clamped to
// [WithMaxTimeout]) and that is canceled if [Service.Stop] gives up waiting.
// [CallInfoFromContext] gives the request headers and lets fn set response
// headers. fn's error reaches the caller with its [Code] when it is an
// [*Error] (see [NewError]); any other error arrives as [CodeUnknown] with
// its message, except context errors, which arrive as [CodeCanceled] and
// [CodeDeadlineExceeded]. A nil response with a nil error is answered with
// [CodeInternal]. A panic in fn is answered with [CodeInternal] and the
// service keeps serving.
//
// It never fails: a problem with the arguments is returned by [NewService].
func NewUnaryHandler[Req, Res any](method protoreflect.MethodDescriptor, fn func(context.Context, *Req) (*Res, error)) Handler {
	err := checkHandler(method, fn == nil, func(m *spec.Method) error {
		return errors.Join(checkUnary(m), checkMessages[Req, Res](method))
	})
	return &unaryHandler[Req, Res]{method: method, fn: fn, err: err}
}

// checkHandler is the validation every handler constructor shares: method,
// check (the kind's own checks: method kind, message types), then a nil
// fn. Its error, nil when all is well, is kept for NewService to report:
// handler constructors never fail.
func checkHandler(method protoreflect.MethodDescriptor, nilFn bool, check func(*spec.Method) error) error {
	m, err := methodSpec(method)
	if err == nil {
		err = check(m)
	}
	if err == nil && nilFn {
		err = errors.New("handler function is nil")
	}
	if err != nil {
		return fmt.Errorf("invalid handler for %q: %w", methodName(method), err)
	}
	return nil
}

type unaryHandler[Req, Res any] struct {
	method protoreflect.MethodDescriptor
	fn     func(context.Context, *Req) (*Res, error)
	err    error
}

func (h *unaryHandler[Req, Res]) handlerMethod() protoreflect.MethodDescriptor {
	return h.method
}

// errNilResponse is made fresh for every call: it passes through
// interceptors, which may add metadata to it.
func errNilResponse() *Error {
	return errorf(CodeInternal, "handler returned a nil response and a nil error")
}

func (h *unaryHandler[Req, Res]) bind(m *spec.Method, interceptors []Interceptor) (*boundHandler, error) {
	if h.err != nil {
		return nil, h.err
	}
	fn := h.fn
	inner := func(ctx context.Context, req proto.Message) (proto.Message, error) {
		r, ok := any(req).(*Req)
		if !ok || r == nil {
			return nil, errorf(CodeInternal, fmt.Sprintf("handler interceptor passed a %T request; want a non-nil %T", req, r))
		}
		res, err := fn(ctx, r)
		if err != nil {
			return nil, err
		}
		if res == nil {
			return nil, errNilResponse()
		}
		return any(res).(proto.Message), nil
	}
	chain := chainUnary(inner, interceptors)
	input := m.Desc.Input().FullName()
	return &boundHandler{
		unary: func(ctx context.Context, c codec, body []byte) (proto.Message, error) {
			req := any(new(Req)).(proto.Message)
			if err := c.unmarshal(body, req); err != nil {
				return nil, NewError(CodeInvalidArgument, fmt.Errorf("decode %q: %w", input, err))
			}
			return chain(ctx, req)
		},
	}, nil
}
