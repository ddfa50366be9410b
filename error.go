package natsrpc

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error is the error every natsrpc client returns, and the error handlers
// return to choose what the caller sees. It carries a [Code], a message (the
// wrapped error's), optional protobuf details and optional metadata headers.
//
// Errors received from a server are "wire errors" ([IsWireError]); errors the
// client made up (no responders, timeout, cancel, oversized payload) are not,
// which tells a caller whether any server saw the request.
type Error struct {
	code    Code
	err     error
	details []*anypb.Any
	meta    nats.Header
	wire    bool
}

// NewError returns an error with the given code that wraps err. err's
// message is the message the caller sees; a nil err sends only the code.
func NewError(code Code, err error) *Error {
	return &Error{code: code, err: err}
}

// Error returns "<code>: <message>", or only the code when there is no
// message.
func (e *Error) Error() string {
	msg := e.Message()
	if msg == "" {
		return e.code.String()
	}
	return e.code.String() + ": " + msg
}

// Code returns the error's code.
func (e *Error) Code() Code {
	return e.code
}

// Message returns the message without the code prefix: the wrapped error's
// text, or the text the server sent.
func (e *Error) Message() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// Unwrap returns the wrapped error, so that [errors.Is] and [errors.As] see
// through an *Error (for example to context.DeadlineExceeded on a client
// timeout).
func (e *Error) Unwrap() error {
	return e.err
}

// Details returns the protobuf details attached with [Error.AddDetail] or
// received from the server, in order. Unpack them with
// [anypb.Any.UnmarshalTo] or [anypb.UnmarshalNew].
func (e *Error) Details() []*anypb.Any {
	return e.details
}

// AddDetail attaches a protobuf message (for example a
// google.rpc.RetryInfo, or the studio's gaming.common.v1.Error) that travels
// to the caller with the error. An *anypb.Any is attached as it is; any
// other message is packed into one. It fails only when the message cannot
// be marshaled.
func (e *Error) AddDetail(m proto.Message) error {
	a, ok := m.(*anypb.Any)
	if !ok {
		var err error
		if a, err = anypb.New(m); err != nil {
			return err
		}
	}
	e.details = append(e.details, a)
	return nil
}

// Meta returns the error's metadata headers. On a handler's error they are
// sent with the error response (reserved headers excepted); on a client's
// wire error they are all the headers of the error response.
func (e *Error) Meta() nats.Header {
	if e.meta == nil {
		e.meta = nats.Header{}
	}
	return e.meta
}

// IsWireError reports whether err is an [*Error] that a server sent, as
// opposed to one the client made up because the call failed locally (no
// responders, timeout, cancellation, oversized payload, bad options).
func IsWireError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.wire
}

// CodeOf returns the code of err: the [*Error]'s code when err is or wraps
// one, [CodeCanceled] or [CodeDeadlineExceeded] for the context errors,
// [CodeUnknown] for any other error, and 0 ("ok") for nil. It is the code a
// caller sees when a handler returns err.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	}
	return CodeUnknown
}

// asError turns any error into an *Error: an *Error is returned as is,
// context errors get their codes and everything else is CodeUnknown with its
// message kept.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{code: CodeOf(err), err: err}
}

// errorf is NewError with a constant message, for errors made up by the
// runtime.
func errorf(code Code, msg string) *Error {
	return &Error{code: code, err: errors.New(msg)}
}
