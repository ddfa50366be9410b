package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// TestGatewayCommand runs `natsrpc gateway` on a registry: it serves the
// registry's modules, says where, and stops cleanly when its context ends
// (what SIGTERM and SIGINT do). The gateway itself is tested in its module.
func TestGatewayCommand(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	set := testschema.ShopSet(t, testschema.ShopV1, testschema.CommonV1)
	if _, err := env.Client.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: testschema.CommonSet(t, testschema.CommonV1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{Module: "shop", OwnFiles: []string{"acme/shop/v1/shop.proto"}, Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startNatsrpc(ctx, "-s", env.Server.ClientURL(), "gateway", "--listen", "127.0.0.1:0", "--module", "shop")
	var addr string
	deadline := time.Now().Add(time.Minute)
	for addr == "" {
		if m := regexp.MustCompile(`serving on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(r.stdout.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", r.stdout, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(r.stdout.String(), "routes from the registry: shop@1 (1 services)") {
		t.Errorf("banner:\n%s", r.stdout)
	}
	resp, err := http.Get("http://" + addr + "/versions")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"acme.shop.v1.ShopService"`) || strings.Contains(string(body), `"module": "common"`) {
		t.Errorf("/versions = %s", body)
	}
	cancel()
	select {
	case code := <-r.done:
		if code != 0 || !strings.Contains(r.stdout.String(), "natsrpc gateway stopped") {
			t.Errorf("exit %d\n%s\n%s", code, r.stdout, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not stop")
	}
}

func TestGatewayCommandErrors(t *testing.T) {
	t.Parallel()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("http:\n  rules:\n  - selector: a.B.C\n    get: /v1/{id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	natsrpc(t, "gateway", "--descriptor-set", "x.binpb", "--module", "m").want(t, 1, "", "give one of them")
	natsrpc(t, "gateway", "--http-rules", rules).want(t, 1, "", rules+":4: get \"/v1/{id\": at 7: variable opened at 4 is not closed")
	natsrpc(t, "gateway", "--descriptor-set", filepath.Join(t.TempDir(), "none.binpb")).want(t, 1, "", "no such file")
	natsrpc(t, "gateway", "extra").want(t, 1, "", "no arguments")
}
