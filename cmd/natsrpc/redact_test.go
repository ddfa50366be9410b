package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The secrets the tests put in server URLs; none may ever be printed.
const (
	testPassword = "pa55-s3cret"
	testToken    = "t0ken-s3cret"
)

func noSecret(t *testing.T, what string, r result) {
	t.Helper()
	for _, secret := range []string{testPassword, testToken} {
		if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
			t.Errorf("%s prints the secret %q:\nstdout: %s\nstderr: %s", what, secret, r.stdout, r.stderr)
		}
	}
}

// TestURLSecretsAreRedacted runs commands with a password or a token in
// --server and checks that no output (errors, notices, the serve banner)
// contains them, while still naming the server.
func TestURLSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	// Nothing listens: the connection error names the server.
	r := natsrpc(t, "-s", "nats://user:"+testPassword+"@127.0.0.1:1", "ls")
	r.want(t, 1, "", `cannot connect to NATS at "nats://user:xxxxx@127.0.0.1:1"`)
	noSecret(t, "an unreachable server", r)
	r = natsrpc(t, "-s", "nats://"+testToken+"@127.0.0.1:1,nats://user:"+testPassword+"@127.0.0.1:2", "describe", "a.B")
	r.want(t, 1, "", `cannot connect to NATS at "nats://xxxxx@127.0.0.1:1,nats://user:xxxxx@127.0.0.1:2"`)
	noSecret(t, "an unreachable server list", r)

	// A NATS server that wants a password, without a registry.
	bare := natstest.Start(t, natstest.WithConfigure(func(o *server.Options) {
		o.Users = []*server.User{{Username: "user", Password: testPassword}}
	}))
	userURL := strings.Replace(bare.ClientURL(), "nats://", "nats://user:"+testPassword+"@", 1)
	r = natsrpc(t, "-s", userURL, "ls")
	r.want(t, 1, "", "no registry answers on nats://user:xxxxx@")
	noSecret(t, "a server without a registry", r)

	// A JetStream server that wants a token: serve a registry on it, then
	// use it.
	srv := registrytest.StartNATS(t, func(o *server.Options) { o.Authorization = testToken })
	tokenURL := strings.Replace(srv.ClientURL(), "nats://", "nats://"+testToken+"@", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result)
	go func() { done <- natsrpcContext(ctx, "-s", tokenURL, "registry", "serve") }()
	deadline := time.Now().Add(time.Minute)
	for {
		r = natsrpc(t, "-s", tokenURL, "ls")
		if r.code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.want(t, 0, "", "")
	noSecret(t, "ls", r)
	// Whatever these print (a notice, an error), never the token.
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	for _, args := range [][]string{
		{"breaking", dir, "--against-registry", "brandnew"},
		{"push", dir, "--module", "common"},
		{"ls", "nope"},
		{"describe", "a.B"},
	} {
		noSecret(t, strings.Join(args, " "), natsrpc(t, append([]string{"-s", tokenURL}, args...)...))
	}
	cancel()
	r = <-done
	r.want(t, 0, "natsrpc registry serving on nats://xxxxx@", "")
	noSecret(t, "registry serve's banner", r)
}

// TestHelpRedactsNATSURL: --help names $NATS_URL as the default server
// and never shows its value, password included.
func TestHelpRedactsNATSURL(t *testing.T) {
	t.Setenv("NATS_URL", "nats://user:"+testPassword+"@nats.example:4222")
	r := natsrpc(t, "ls", "--help")
	r.want(t, 0, `(default $NATS_URL, else`, "")
	noSecret(t, "--help", r)
}
