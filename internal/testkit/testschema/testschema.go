// Package testschema holds the repository's test fixtures for schemas:
// where the repository is, its gaming schemas, and small schemas (an acme
// common module and a shop service that imports it) compiled with
// protocompile. It is test support, internal to the repository: public
// test helpers (registry/server/registrytest) export no fixtures.
package testschema

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
)

// RepoRoot returns the repository root (the directory with tools/go.mod),
// found from the working directory up.
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

// CompileGaming compiles the repository's gaming schemas (proto/gaming)
// with source info and returns them in path order, each file a
// protocompile result.
func CompileGaming(t testing.TB) []protoreflect.FileDescriptor {
	t.Helper()
	return compileFiles(t, filepath.Join(RepoRoot(t), "proto"), GamingFiles(t))
}

// CompileDir compiles every .proto file below dir, with dir as the import
// root, with source info, and returns them in path order.
func CompileDir(t testing.TB, dir string) []protoreflect.FileDescriptor {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".proto") {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return compileFiles(t, dir, names)
}

func compileFiles(t testing.TB, root string, names []string) []protoreflect.FileDescriptor {
	t.Helper()
	slices.Sort(names)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				return os.Open(filepath.Join(root, path))
			},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		t.Fatalf("compile %v: %v", names, err)
	}
	out := make([]protoreflect.FileDescriptor, len(files))
	for i, f := range files {
		out[i] = f
	}
	return out
}
