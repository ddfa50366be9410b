package natsrpc

import (
	"context"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// DynamicStream is the calling side of a streaming call made with a
// [DynamicClient], for all three streaming kinds: it sends requests and
// receives responses as [dynamicpb] messages or as binary protobuf. What a
// kind allows is what its typed stream allows: a server stream sends its
// one request when it opens and only receives; a client stream sends, then
// CloseAndRecv; a bidi stream does both, one goroutine sending while
// another receives. It is not safe for concurrent use otherwise.
type DynamicStream struct {
	conn   StreamingClientConn
	kind   MethodKind
	in     protoreflect.MessageDescriptor
	out    protoreflect.MessageDescriptor
	client *DynamicClient
}

// CallServerStream sends req, a message of the method's input type, and
// returns the stream of responses once the service has accepted it, as
// [ServerStreamClient.CallServerStream] does.
func (c *DynamicClient) CallServerStream(ctx context.Context, req proto.Message, opts ...CallOption) (*DynamicStream, error) {
	if e := c.check(MethodKindServerStream); e != nil {
		return nil, e
	}
	if e := c.checkRequest(req); e != nil {
		return nil, e
	}
	return c.openServerStream(ctx, req, opts)
}

// CallServerStreamBytes is CallServerStream with the request's binary
// protobuf encoding.
func (c *DynamicClient) CallServerStreamBytes(ctx context.Context, req []byte, opts ...CallOption) (*DynamicStream, error) {
	if e := c.check(MethodKindServerStream); e != nil {
		return nil, e
	}
	r, e := c.rawRequest(req)
	if e != nil {
		return nil, e
	}
	return c.openServerStream(ctx, r, opts)
}

func (c *DynamicClient) openServerStream(ctx context.Context, req proto.Message, opts []CallOption) (*DynamicStream, error) {
	conn, e := c.stream.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	if err := conn.Send(req); err != nil {
		_ = conn.CloseResponse()
		return nil, asError(err)
	}
	if err := conn.CloseRequest(); err != nil {
		_ = conn.CloseResponse()
		return nil, asError(err)
	}
	return c.newStream(conn), nil
}

// CallClientStream starts a client-streaming call, as
// [ClientStreamClient.CallClientStream] does: the stream opens with the
// first Send or CloseAndRecv.
func (c *DynamicClient) CallClientStream(ctx context.Context, opts ...CallOption) (*DynamicStream, error) {
	if e := c.check(MethodKindClientStream); e != nil {
		return nil, e
	}
	conn, e := c.stream.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	return c.newStream(conn), nil
}

// CallBidiStream starts a bidirectional-streaming call, as
// [BidiStreamClient.CallBidiStream] does: the stream opens with the first
// Send, CloseSend or Recv.
func (c *DynamicClient) CallBidiStream(ctx context.Context, opts ...CallOption) (*DynamicStream, error) {
	if e := c.check(MethodKindBidiStream); e != nil {
		return nil, e
	}
	conn, e := c.stream.call(ctx, opts)
	if e != nil {
		return nil, e
	}
	return c.newStream(conn), nil
}

func (c *DynamicClient) newStream(conn StreamingClientConn) *DynamicStream {
	return &DynamicStream{conn: conn, kind: c.kind, in: c.method.Input(), out: c.method.Output(), client: c}
}

// Send sends one request, a message of the method's input type; see
// [ClientBidiStream.Send]. It returns io.EOF when the service has already
// ended the stream.
func (s *DynamicStream) Send(req proto.Message) error {
	if e := s.client.checkRequest(req); e != nil {
		return e
	}
	return sendMsg(s.conn, req)
}

// SendBytes sends one request given as its binary protobuf encoding,
// checked against the method's input type first.
func (s *DynamicStream) SendBytes(req []byte) error {
	r, e := s.client.rawRequest(req)
	if e != nil {
		return e
	}
	return sendMsg(s.conn, r)
}

// CloseSend says the client sends no more requests.
func (s *DynamicStream) CloseSend() error {
	if err := s.conn.CloseRequest(); err != nil {
		return asError(err)
	}
	return nil
}

// Recv returns the next response as a [*dynamicpb.Message] of the method's
// output type, with the semantics of [ClientRecvStream.Recv]: io.EOF after
// the last one when the stream ended well, an [*Error] otherwise.
func (s *DynamicStream) Recv() (proto.Message, error) {
	res := dynamicpb.NewMessage(s.out)
	if err := receiveInto(s.conn, res); err != nil {
		return nil, err
	}
	return res, nil
}

// RecvBytes returns the next response's binary protobuf encoding, not
// decoded.
func (s *DynamicStream) RecvBytes() ([]byte, error) {
	res := &rawMessage{desc: s.out}
	if err := receiveInto(s.conn, res); err != nil {
		return nil, err
	}
	return res.bytes()
}

// CloseAndRecv ends a client stream's requests and returns the service's
// one response; it releases the stream. See [ClientSendStream.CloseAndRecv].
func (s *DynamicStream) CloseAndRecv() (proto.Message, error) {
	res := dynamicpb.NewMessage(s.out)
	if err := closeAndReceive(s.conn, res, func() proto.Message { return dynamicpb.NewMessage(s.out) }); err != nil {
		return nil, err
	}
	return res, nil
}

// CloseAndRecvBytes is CloseAndRecv returning the response's encoding.
func (s *DynamicStream) CloseAndRecvBytes() ([]byte, error) {
	res := &rawMessage{desc: s.out}
	if err := closeAndReceive(s.conn, res, func() proto.Message { return &rawMessage{desc: s.out} }); err != nil {
		return nil, err
	}
	return res.bytes()
}

// Close stops the stream in both directions; the service's handler sees
// its context canceled. It is safe to call more than once.
func (s *DynamicStream) Close() error { return s.conn.CloseResponse() }

// Kind returns the stream's method kind.
func (s *DynamicStream) Kind() MethodKind { return s.kind }

// RequestHeader returns the headers sent when the stream opens: set them
// before the first Send (or use [WithHeader]).
func (s *DynamicStream) RequestHeader() nats.Header { return s.conn.RequestHeader() }

// ResponseHeader returns the headers the handler set before its first
// Send, once the first response arrived.
func (s *DynamicStream) ResponseHeader() nats.Header { return s.conn.ResponseHeader() }

// ResponseTrailer returns the handler's trailer, at the end of the stream.
func (s *DynamicStream) ResponseTrailer() nats.Header { return s.conn.ResponseTrailer() }
