package store_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// startJS starts a JetStream server with sync_always and returns a
// JetStream context on it.
func startJS(t testing.TB, opts ...natstest.Option) (*server.Server, jetstream.JetStream) {
	t.Helper()
	opts = append([]natstest.Option{natstest.WithJetStream(), natstest.WithConfigure(func(o *server.Options) { o.SyncAlways = true })}, opts...)
	srv := natstest.Start(t, opts...)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return srv, js
}

func newRegistry(t testing.TB, js jetstream.JetStream, opts ...store.Option) *store.Registry {
	t.Helper()
	r, err := store.New(registrytest.Ctx(t, 30*time.Second), js, opts...)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	return r
}

func mustPush(t testing.TB, r *store.Registry, req store.PushRequest) *store.PushResult {
	t.Helper()
	res, err := r.Push(registrytest.Ctx(t, 60*time.Second), req)
	if err != nil {
		t.Fatalf("push %s: %v", req.Module, err)
	}
	return res
}

// wantKind fails unless err is a registry error of kind k whose message
// contains every one of substrs.
func wantKind(t testing.TB, err error, k store.Kind, substrs ...string) *store.Error {
	t.Helper()
	var re *store.Error
	if !errors.As(err, &re) {
		t.Fatalf("error = %v; want a *store.Error of kind %s", err, k)
	}
	if re.Kind != k {
		t.Fatalf("error kind = %s (%v); want %s", re.Kind, err, k)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	return re
}

func hasRule(vs []store.Violation, rule string) bool {
	for _, v := range vs {
		if v.Rule == rule {
			return true
		}
	}
	return false
}

func getBytes(t testing.TB, r *store.Registry, module string, version uint64) []byte {
	t.Helper()
	mc, err := r.GetModuleVersion(registrytest.Ctx(t, 30*time.Second), store.GetRequest{Module: module, Version: version, MaxInlineBytes: -1})
	if err != nil {
		t.Fatalf("get %s@%d: %v", module, version, err)
	}
	return mc.Set
}

func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }

// natsConnect opens a connection to url, closed when t ends.
func natsConnect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.Timeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Test schemas: a shared module and a service module that imports it.
const shopV1 = `syntax = "proto3";

package acme.shop.v1;

import "acme/common/v1/common.proto";
import "google/protobuf/timestamp.proto";
import "natsrpc/v1/options.proto";

// ShopService sells items.
service ShopService {
  option (natsrpc.v1.service) = {version: "1.0.0"};

  // Buy buys an item.
  rpc Buy(BuyRequest) returns (BuyResponse);
  // Restocked announces new stock.
  rpc Restocked(RestockedRequest) returns (RestockedResponse);
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
  // at is when.
  google.protobuf.Timestamp at = 2;
}

// BuyResponse is the receipt.
message BuyResponse {
  // item is what was bought.
  Item item = 1;
}

// RestockedRequest names the item.
message RestockedRequest {
  // item_id is the restocked item.
  string item_id = 1;
}

// RestockedResponse is empty.
message RestockedResponse {}

// Unused is not used by any method.
message Unused {
  // note is a note.
  string note = 1;
}
`

// pushCommon pushes the common module and returns its result.
func pushCommon(t testing.TB, r *store.Registry, src string) *store.PushResult {
	t.Helper()
	return mustPush(t, r, store.PushRequest{
		Module: "common",
		Files:  testschema.CommonSet(t, src),
	})
}

// pushShop pushes the shop module (importing common) and returns the
// result and error.
func pushShop(t testing.TB, r *store.Registry, shop, common string) (*store.PushResult, error) {
	t.Helper()
	return r.Push(registrytest.Ctx(t, 60*time.Second), store.PushRequest{
		Module:   "shop",
		Files:    testschema.ShopSet(t, shop, common),
		OwnFiles: []string{"acme/shop/v1/shop.proto"},
	})
}
