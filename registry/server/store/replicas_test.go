package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// startCluster starts an n-node JetStream cluster and returns a JetStream
// context on a connection to all of it, once JetStream answers.
func startCluster(t *testing.T, n int) jetstream.JetStream {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var urls []string
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[j]))
			}
		}
		srv, err := natsserver.Start(natsserver.Config{
			ServerName: fmt.Sprintf("r%d", i+1),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    &natsserver.ClusterConfig{Name: "replicas", Port: ports[i], Routes: routes},
		})
		if err != nil {
			t.Fatalf("start r%d: %v", i+1, err)
		}
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		urls = append(urls, srv.ClientURL())
	}
	js, err := jetstream.New(natsConnect(t, strings.Join(urls, ",")))
	if err != nil {
		t.Fatal(err)
	}
	ctx := registrytest.Ctx(t, 30*time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return js
		}
		if ctx.Err() != nil {
			t.Fatalf("jetstream cluster not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// streamReplicas returns the replica count of each of bucket's three
// streams, read back from the servers, and checks the settings the
// registry always enforces.
func streamReplicas(t *testing.T, js jetstream.JetStream, bucket string) []int {
	t.Helper()
	var out []int
	for _, name := range []string{"KV_" + bucket, "OBJ_" + bucket + "_blobs", "OBJ_" + bucket + "_transfer"} {
		st, err := js.Stream(registrytest.Ctx(t, 10*time.Second), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		sc := st.CachedInfo().Config
		if sc.AllowDirect || strings.HasPrefix(name, "KV_") && !sc.AllowAtomicPublish {
			t.Errorf("stream %s: allow_direct %v, allow_atomic %v", name, sc.AllowDirect, sc.AllowAtomicPublish)
		}
		out = append(out, sc.Replicas)
	}
	return out
}

func wantReplicas(t *testing.T, js jetstream.JetStream, bucket, when string, want int) {
	t.Helper()
	got := streamReplicas(t, js, bucket)
	if slices.ContainsFunc(got, func(n int) bool { return n != want }) {
		t.Errorf("%s: the streams of bucket %s have %v replicas; want %d each", when, bucket, got, want)
	}
}

// TestReplicasKeptUnlessSet runs registry instances on a 3-node cluster
// against one bucket: an instance opened without WithReplicas keeps the
// streams' replica count, whatever it is (an R3 cluster is not downgraded
// by an instance started without the option); WithReplicas changes it; a
// new bucket without the option gets 1 replica. Each step reads the
// streams' configuration back from the servers.
func TestReplicasKeptUnlessSet(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	t.Parallel()
	start := time.Now()
	js := startCluster(t, 3)
	const bucket = "replicas"

	newRegistry(t, js, store.WithBucket(bucket), store.WithReplicas(3))
	wantReplicas(t, js, bucket, "created with WithReplicas(3)", 3)

	r := newRegistry(t, js, store.WithBucket(bucket))
	wantReplicas(t, js, bucket, "opened without WithReplicas", 3)
	// The instance works on the R3 streams it kept.
	mustPush(t, r, store.PushRequest{Module: "shop", Files: testschema.Compile(t, map[string]string{"shop/v1/shop.proto": `syntax = "proto3";
package shop.v1;
message Item { string id = 1; }
`}, "shop/v1/shop.proto")})

	newRegistry(t, js, store.WithBucket(bucket), store.WithReplicas(1))
	wantReplicas(t, js, bucket, "opened with WithReplicas(1)", 1)

	newRegistry(t, js, store.WithBucket(bucket))
	wantReplicas(t, js, bucket, "opened without WithReplicas after R1", 1)

	newRegistry(t, js, store.WithBucket("fresh"))
	wantReplicas(t, js, "fresh", "created without WithReplicas", 1)
	t.Logf("replicas test took %s", time.Since(start).Round(time.Millisecond))
}

// TestReplicasInvalid: an explicit count must be 1 to 5; WithReplicas(0)
// is an error, not "keep".
func TestReplicasInvalid(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	for _, n := range []int{0, -1, 6} {
		_, err := store.New(registrytest.Ctx(t, 10*time.Second), js, store.WithReplicas(n))
		wantKind(t, err, store.KindInvalidArgument, fmt.Sprintf("replicas %d: use 1 to 5", n))
	}
	// Nothing was created by the refused calls; without the option a
	// single server gets R1 streams.
	if _, err := js.Stream(registrytest.Ctx(t, 10*time.Second), "KV_"+store.DefaultBucket); err == nil {
		t.Error("a refused store.New created the KV stream")
	}
	newRegistry(t, js)
	wantReplicas(t, js, store.DefaultBucket, "created on one server without WithReplicas", 1)
}

// TestReplicasNeedACluster: more than one replica on a single server is
// refused with an error that says a cluster is needed, for a new bucket
// and for an existing one (whose update used to blame the server's
// version).
func TestReplicasNeedACluster(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	check := func(what string, err error) {
		t.Helper()
		wantKind(t, err, store.KindInvalidArgument, "replicas 3", "need a cluster of at least 3 JetStream servers", "not clustered")
		if strings.Contains(err.Error(), "2.12") {
			t.Errorf("%s: the error blames the server's version: %v", what, err)
		}
	}
	_, err := store.New(registrytest.Ctx(t, 10*time.Second), js, store.WithReplicas(3))
	check("new bucket", err)
	newRegistry(t, js, store.WithBucket("existing"))
	_, err = store.New(registrytest.Ctx(t, 10*time.Second), js, store.WithBucket("existing"), store.WithReplicas(3))
	check("existing bucket", err)
}
