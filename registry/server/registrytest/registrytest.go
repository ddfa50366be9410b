// Package registrytest runs registries for tests, as net/http/httptest
// runs HTTP servers: a real in-process nats-server with JetStream
// (sync_always), the registry on it and its NATS API. Everything stops
// when the test ends. Its API takes public types only (nats-server's
// options, the store's and the server's options), so that a service's
// tests can start a registry too.
package registrytest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/registry/client"
	regserver "github.com/natsrpc/natsrpc/registry/server"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// Ctx returns a context that ends with the test or after d.
func Ctx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Env is a NATS server with a registry served on it.
type Env struct {
	Server   *server.Server
	Conn     *nats.Conn
	Registry *store.Registry
	API      *regserver.Server
	Client   *client.Client
}

// StartNATS starts a nats-server on a random loopback port with JetStream
// (sync_always) in a temporary directory, and shuts it down when the test
// ends. Each configure function may then adjust the server's options, in
// order: a fixed Port and StoreDir restart a server on the same data at the
// same URL; Authorization, TLS or limits test what a deployment sets.
func StartNATS(t testing.TB, configure ...func(*server.Options)) *server.Server {
	t.Helper()
	return natstest.Start(t, natstest.WithJetStream(), natstest.WithConfigure(func(o *server.Options) {
		o.SyncAlways = true
		for _, f := range configure {
			f(o)
		}
	}))
}

// Serve starts a registry and its API on a new connection to srv; both
// stop when the test ends.
func Serve(t testing.TB, srv *server.Server, opts ...regserver.Option) (*store.Registry, *regserver.Server) {
	t.Helper()
	return ServeRegistry(t, srv, nil, opts...)
}

// ServeRegistry is [Serve] with options for the registry too.
func ServeRegistry(t testing.TB, srv *server.Server, ropts []store.Option, opts ...regserver.Option) (*store.Registry, *regserver.Server) {
	t.Helper()
	nc := natstest.Connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	reg, err := store.New(Ctx(t, 30*time.Second), js, ropts...)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	opts = append([]regserver.Option{regserver.WithRelayDelay(100 * time.Millisecond), regserver.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := regserver.New(nc, reg, opts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		wait := 10 * time.Second
		if !nc.IsConnected() {
			wait = 100 * time.Millisecond // the server is gone: nothing to drain
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return reg, s
}

// Start starts a NATS server (see [StartNATS] for configure), a registry
// and its API, and returns them with a client connection and an API
// client.
func Start(t testing.TB, configure ...func(*server.Options)) *Env {
	t.Helper()
	srv := StartNATS(t, configure...)
	reg, api := Serve(t, srv)
	nc := natstest.Connect(t, srv)
	return &Env{Server: srv, Conn: nc, Registry: reg, API: api, Client: client.New(nc)}
}
