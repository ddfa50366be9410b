package input

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
)

const annotatedProto = `syntax = "proto3";

package shop.v1;

import "google/api/annotations.proto";

service ShopService {
  rpc GetItem(GetItemRequest) returns (Item) {
    option (google.api.http) = {get: "/v1/items/{id}"};
  }
}

message GetItemRequest {
  string id = 1;
}

message Item {
  string id = 1;
}
`

// TestGoogleAPIsResolved checks that a schema importing
// google/api/annotations.proto compiles without a copy of googleapis: the
// files come from the descriptors linked in, are imports (never the
// module's own), and the annotation is kept.
func TestGoogleAPIsResolved(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"shop/v1/shop.proto": annotatedProto})
	in, err := Load(context.Background(), ".", Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := paths(in.Modules[0].Files)
	for _, want := range []string{"google/api/annotations.proto -> google/api/annotations.proto (import)", "google/api/http.proto -> google/api/http.proto (import)"} {
		if !slices.Contains(got, want) {
			t.Errorf("files %v lack %q", got, want)
		}
	}
	var shop *File
	for _, f := range in.Modules[0].Files {
		if f.Path == "shop/v1/shop.proto" {
			shop = f
		}
	}
	if shop == nil {
		t.Fatalf("no shop file in %v", got)
	}
	opts := shop.Proto.GetService()[0].GetMethod()[0].GetOptions()
	b, _ := proto.Marshal(opts)
	fresh := opts.ProtoReflect().Type().New().Interface()
	if err := proto.Unmarshal(b, fresh); err != nil {
		t.Fatal(err)
	}
	rule, _ := proto.GetExtension(fresh, annotations.E_Http).(*annotations.HttpRule)
	if rule.GetGet() != "/v1/items/{id}" {
		t.Errorf("google.api.http = %v; want get /v1/items/{id}", rule)
	}
}
