// Package streamobserve wraps natsrpc's streaming connections so that the
// contrib interceptors see each message sent and received, numbered from 1
// in each direction, and, on the client, the end of the stream, once.
package streamobserve

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
)

// ErrClosed is the end a client stream reports when the client closed it
// (CloseResponse) before its end and no send had failed: the caller chose
// to stop, so its code is [natsrpc.CodeCanceled].
var ErrClosed = natsrpc.NewError(natsrpc.CodeCanceled, errors.New("the client closed the stream before its end"))

// Hooks are told what happens on one stream. Sent and Received run after
// a message went out or came in, with its number in its direction; on a
// bidirectional stream one goroutine may send while another receives, so
// they may run concurrently with each other (never with themselves).
type Hooks struct {
	// Sent is called after each successful Send.
	Sent func(seq uint64, msg proto.Message)
	// Received is called after each successful Receive.
	Received func(seq uint64, msg proto.Message)
	// End is called once, on the client only, when the stream ends: nil
	// when Receive reported the end (io.EOF), Receive's error when it
	// failed, or, when the client closes the stream first, the last Send
	// error (an open that failed) or else ErrClosed. A stream the caller
	// neither reads to its end nor closes never ends.
	End func(err error)
}

// Client returns conn with hooks observing it.
func Client(conn natsrpc.StreamingClientConn, hooks Hooks) natsrpc.StreamingClientConn {
	return &clientConn{StreamingClientConn: conn, hooks: hooks}
}

type clientConn struct {
	natsrpc.StreamingClientConn
	hooks          Hooks
	sent, received atomic.Uint64
	ended          atomic.Bool

	mu      sync.Mutex
	sendErr error
}

func (c *clientConn) Send(msg proto.Message) error {
	err := c.StreamingClientConn.Send(msg)
	if err == nil {
		if c.hooks.Sent != nil {
			c.hooks.Sent(c.sent.Add(1), msg)
		}
		return nil
	}
	if !errors.Is(err, io.EOF) { // io.EOF: the service ended; Receive has the status
		c.mu.Lock()
		c.sendErr = err
		c.mu.Unlock()
	}
	return err
}

func (c *clientConn) Receive(msg proto.Message) error {
	err := c.StreamingClientConn.Receive(msg)
	switch {
	case err == nil:
		if c.hooks.Received != nil {
			c.hooks.Received(c.received.Add(1), msg)
		}
	case errors.Is(err, io.EOF):
		c.end(nil)
	default:
		c.end(err)
	}
	return err
}

func (c *clientConn) CloseResponse() error {
	err := c.StreamingClientConn.CloseResponse()
	c.mu.Lock()
	end := c.sendErr
	c.mu.Unlock()
	if end == nil {
		end = ErrClosed
	}
	c.end(end)
	return err
}

func (c *clientConn) end(err error) {
	if c.ended.CompareAndSwap(false, true) && c.hooks.End != nil {
		c.hooks.End(err)
	}
}

// Handler returns conn with hooks observing its messages; End is not
// used: a handler's stream ends when the handler returns.
func Handler(conn natsrpc.StreamingHandlerConn, hooks Hooks) natsrpc.StreamingHandlerConn {
	return &handlerConn{StreamingHandlerConn: conn, hooks: hooks}
}

type handlerConn struct {
	natsrpc.StreamingHandlerConn
	hooks          Hooks
	sent, received atomic.Uint64
}

func (h *handlerConn) Send(msg proto.Message) error {
	err := h.StreamingHandlerConn.Send(msg)
	if err == nil && h.hooks.Sent != nil {
		h.hooks.Sent(h.sent.Add(1), msg)
	}
	return err
}

func (h *handlerConn) Receive(msg proto.Message) error {
	err := h.StreamingHandlerConn.Receive(msg)
	if err == nil && h.hooks.Received != nil {
		h.hooks.Received(h.received.Add(1), msg)
	}
	return err
}
