package store_test

import (
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// TestResolveMissingSymbolNamesOwner: a symbol missing from a package a
// module owns is reported as missing from that module's latest version,
// naming the module and the package (what `natsrpc describe` prints),
// not as belonging to no module.
func TestResolveMissingSymbolNamesOwner(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	pushCommon(t, r, testschema.CommonV1)
	if _, err := pushShop(t, r, shopV1, testschema.CommonV1); err != nil {
		t.Fatal(err)
	}

	_, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.common.v1.Nope"})
	wantKind(t, err, store.KindNotFound, `"acme.common.v1.Nope"`, `latest version of module "common" (common@1)`, `owns package "acme.common.v1"`)
	// A nested name: the longest owned prefix is the package.
	_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.shop.v1.ShopService.Nope"})
	wantKind(t, err, store.KindNotFound, `module "shop" (shop@1)`, `package "acme.shop.v1"`)
	// A field added later is missing from the latest version until then.
	_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.common.v1.Money.nanos"})
	wantKind(t, err, store.KindNotFound, `module "common" (common@1)`)
	pushCommon(t, r, testschema.CommonV2)
	if res, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.common.v1.Money.nanos"}); err != nil || res.Module != "common" || res.Version != 2 {
		t.Fatalf("resolve after the push = %+v, %v; want common@2", res, err)
	}
	// No module owns any prefix: said so.
	_, err = r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.nobody.v1.Thing"})
	wantKind(t, err, store.KindNotFound, "no module owns a package it could belong to")
}
