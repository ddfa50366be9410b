package harness

import (
	"net"
	"sync/atomic"
	"time"
)

// Counter counts the bytes that cross a set of TCP connections, in both
// directions, as the kernel sees them: payloads plus every protocol's
// framing, headers and control traffic (NATS PING/PONG, HTTP/2 SETTINGS and
// WINDOW_UPDATE, HTTP/1.1 headers).
type Counter struct {
	n      atomic.Uint64
	parent *Counter
}

// NewCounter returns a counter that also adds to parent, if not nil.
func NewCounter(parent *Counter) *Counter { return &Counter{parent: parent} }

// Bytes returns the bytes counted so far.
func (c *Counter) Bytes() uint64 { return c.n.Load() }

func (c *Counter) add(n int) {
	if n <= 0 {
		return
	}
	c.n.Add(uint64(n))
	if c.parent != nil {
		c.parent.add(n)
	}
}

type countingConn struct {
	net.Conn
	c *Counter
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.add(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.add(n)
	return n, err
}

// Listener wraps l so that every accepted connection is counted by c.
func Listener(l net.Listener, c *Counter) net.Listener {
	return &countingListener{Listener: l, c: c}
}

type countingListener struct {
	net.Listener
	c *Counter
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: l.c}, nil
}

// Dialer is a nats.CustomDialer whose connections are counted by C.
type Dialer struct {
	C *Counter
}

// Dial implements nats.CustomDialer.
func (d Dialer) Dial(network, address string) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: d.C}, nil
}

// ListenLoopback listens on a random port of 127.0.0.1.
func ListenLoopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}
