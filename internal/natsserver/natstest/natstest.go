// Package natstest starts real in-process nats-servers for tests: random
// loopback ports, JetStream in a temporary directory, shut down when the test
// ends. No mocks: every test that needs NATS talks to one of these.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/internal/natsserver"
)

// Option adjusts the server a test starts.
type Option func(*natsserver.Config)

// WithJetStream enables JetStream with storage in a fresh temporary directory.
func WithJetStream() Option {
	return func(c *natsserver.Config) { c.JetStream = true }
}

// WithStoreDir enables JetStream with storage in dir, so that a test can
// restart a server on the same data.
func WithStoreDir(dir string) Option {
	return func(c *natsserver.Config) { c.JetStream = true; c.StoreDir = dir }
}

// WithPort fixes the client port, so that a restarted server is reachable at
// the same URL.
func WithPort(port int) Option {
	return func(c *natsserver.Config) { c.Port = port }
}

// WithMaxPayload sets the server's maximum payload.
func WithMaxPayload(n int32) Option {
	return func(c *natsserver.Config) { c.MaxPayload = n }
}

// WithConfigure lets a test adjust the raw server options (authorization,
// limits).
func WithConfigure(f func(*server.Options)) Option {
	return func(c *natsserver.Config) { c.Configure = f }
}

// Start starts a server for t and shuts it down when t ends.
func Start(t testing.TB, opts ...Option) *server.Server {
	t.Helper()
	cfg := natsserver.Config{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.JetStream && cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	srv, err := natsserver.Start(cfg)
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// Connect opens a client connection to srv and closes it when t ends.
func Connect(t testing.TB, srv *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}
