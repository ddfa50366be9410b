package main

import (
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/registry/registrytest"
)

// TestServeReplicasNeedACluster: --replicas above 1 on a single server
// says that a cluster is needed, embedded or not, and does not blame the
// server's version.
func TestServeReplicasNeedACluster(t *testing.T) {
	t.Parallel()
	r := natsrpc(t, "registry", "serve", "--embedded", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--replicas", "3")
	r.want(t, 1, "", "--replicas 3 needs a NATS cluster of at least 3 servers, and the embedded server is a single server")
	if strings.Contains(r.stderr, "2.12") {
		t.Errorf("the error blames the server's version: %s", r.stderr)
	}
	srv := registrytest.StartNATS(t)
	r = natsrpc(t, "-s", srv.ClientURL(), "registry", "serve", "--replicas", "3")
	r.want(t, 1, "", "--replicas 3: registry: replicas 3:")
	if !strings.Contains(r.stderr, "need a cluster of at least 3 JetStream servers") || strings.Contains(r.stderr, "2.12") {
		t.Errorf("the error does not say a cluster is needed, or blames the server's version: %s", r.stderr)
	}
}
