// Package registrytest runs registries for tests, as net/http/httptest
// runs HTTP servers: a real in-process nats-server with JetStream
// (sync_always), the registry on it and its NATS API. It also compiles
// test schemas. Everything stops when the test ends.
package registrytest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/natstest"
	"github.com/natsrpc/natsrpc/registry"
	"github.com/natsrpc/natsrpc/registry/client"
	regserver "github.com/natsrpc/natsrpc/registry/server"
)

// Ctx returns a context that ends with the test or after d.
func Ctx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// RepoRoot returns the repository root (the directory with tools/go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root")
		}
		dir = parent
	}
}

// Env is a NATS server with a registry served on it.
type Env struct {
	Server   *server.Server
	Conn     *nats.Conn
	Registry *registry.Registry
	API      *regserver.Server
	Client   *client.Client
}

// StartNATS starts a JetStream server with sync_always.
func StartNATS(t testing.TB, opts ...natstest.Option) *server.Server {
	t.Helper()
	opts = append([]natstest.Option{natstest.WithJetStream(), natstest.WithConfigure(func(o *server.Options) { o.SyncAlways = true })}, opts...)
	return natstest.Start(t, opts...)
}

// Serve starts a registry and its API on a new connection to srv; both
// stop when the test ends.
func Serve(t testing.TB, srv *server.Server, opts ...regserver.Option) (*registry.Registry, *regserver.Server) {
	t.Helper()
	return ServeRegistry(t, srv, nil, opts...)
}

// ServeRegistry is [Serve] with options for the registry too.
func ServeRegistry(t testing.TB, srv *server.Server, ropts []registry.Option, opts ...regserver.Option) (*registry.Registry, *regserver.Server) {
	t.Helper()
	nc := natstest.Connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	reg, err := registry.New(Ctx(t, 30*time.Second), js, ropts...)
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

// Start starts a NATS server, a registry and its API, and returns them
// with a client connection and an API client.
func Start(t testing.TB, opts ...natstest.Option) *Env {
	t.Helper()
	srv := StartNATS(t, opts...)
	reg, api := Serve(t, srv)
	nc := natstest.Connect(t, srv)
	return &Env{Server: srv, Conn: nc, Registry: reg, API: api, Client: client.New(nc)}
}

// Compile compiles the targets from srcs, falling back to the
// repository's proto/ directory (for natsrpc/v1/options.proto and the
// gaming schemas), with source info, and returns them and their transitive
// imports as a descriptor set, dependencies first.
func Compile(t testing.TB, srcs map[string]string, targets ...string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	root := RepoRoot(t)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if s, ok := srcs[path]; ok {
					return io.NopCloser(strings.NewReader(s)), nil
				}
				return os.Open(filepath.Join(root, "proto", path))
			},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), targets...)
	if err != nil {
		t.Fatalf("compile %v: %v", targets, err)
	}
	set := descset.Closure(files...)
	return set
}

// GamingFiles lists the .proto files of the repository's gaming schemas,
// relative to proto/.
func GamingFiles(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(RepoRoot(t), "proto")
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "gaming"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".proto") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Test schemas: a shared module and a service module that imports it.
const (
	CommonV1 = `syntax = "proto3";

package acme.common.v1;

// Money is an amount in a currency.
message Money {
  // currency is an ISO 4217 code.
  string currency = 1;
  // units are whole units.
  int64 units = 2;
}
`
	CommonV2 = `syntax = "proto3";

package acme.common.v1;

// Money is an amount in a currency.
message Money {
  // currency is an ISO 4217 code.
  string currency = 1;
  // units are whole units.
  int64 units = 2;
  // nanos are billionths of a unit.
  int32 nanos = 3;
}
`
	// CommonBroken deletes a field of CommonV1.
	CommonBroken = `syntax = "proto3";

package acme.common.v1;

// Money is an amount in a currency.
message Money {
  // currency is an ISO 4217 code.
  string currency = 1;
}
`
	ShopV1 = `syntax = "proto3";

package acme.shop.v1;

import "acme/common/v1/common.proto";
import "google/protobuf/any.proto";
import "natsrpc/v1/options.proto";

// ShopService sells items.
service ShopService {
  option (natsrpc.v1.service) = {version: "1.0.0"};

  // Buy buys an item.
  rpc Buy(BuyRequest) returns (BuyResponse);
}

// Item is something for sale.
message Item {
  // id identifies the item.
  string id = 1;
  // price is what it costs.
  acme.common.v1.Money price = 2;
}

// BuyRequest buys one item.
message BuyRequest {
  // item_id is the item to buy.
  string item_id = 1;
  // extra carries anything.
  google.protobuf.Any extra = 2;
}

// BuyResponse is the receipt.
message BuyResponse {
  // item is what was bought.
  Item item = 1;
}
`
)

// CommonSet compiles a version of the common module.
func CommonSet(t testing.TB, src string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	return Compile(t, map[string]string{"acme/common/v1/common.proto": src}, "acme/common/v1/common.proto")
}

// ShopSet compiles the shop module against a version of common.
func ShopSet(t testing.TB, shop, common string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	return Compile(t, map[string]string{"acme/shop/v1/shop.proto": shop, "acme/common/v1/common.proto": common}, "acme/shop/v1/shop.proto")
}
