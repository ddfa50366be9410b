package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsrpc/natsrpc/internal/testkit/testcerts"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The secrets TestSecurityTLS connects with; no output may contain them.
const (
	registryPassword = "r3gistry-pa55-s3cret"
	ciPassword       = "c1-pa55-s3cret"
	contextToken     = "ctx-t0ken-s3cret"
)

// TestSecurityTLS runs the CLI against a nats-server configured as a
// deployment would: TLS with verify: true (client certificates required),
// certificates made by the test, and users with passwords, a token and an
// NKey. Every way of giving the settings is used (flags, the nats CLI's
// flag spellings, its environment variables, a named nats CLI context),
// the gateway serves HTTPS with client certificates, and no output ever
// contains a secret the commands used.
func TestSecurityTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "nats")
	other := testcerts.NewCA(t, "other")
	srvPair := ca.Server(t, "nats-server")
	client := ca.Client(t, "ci")
	stranger := other.Client(t, "stranger")
	nk, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := nk.Seed()
	pub, _ := nk.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	reader := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"natsrpc.registry.v1.read.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	srv := registrytest.StartNATS(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: srvPair.Cert, KeyFile: srvPair.Key, CaFile: ca.File, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		o.TLS, o.TLSVerify, o.TLSConfig, o.TLSTimeout = true, true, tc, 5
		o.Users = []*server.User{
			{Username: "registry", Password: registryPassword},
			{Username: "ci", Password: ciPassword},
		}
		o.Nkeys = []*server.NkeyUser{{Nkey: pub, Permissions: reader}}
		o.Authorization = ""
	})
	url := srv.ClientURL()
	secrets := []string{registryPassword, ciPassword, "wrong-" + ciPassword, contextToken, string(seed)}
	clean := func(what string, r result) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
				t.Errorf("%s prints a secret:\nstdout: %s\nstderr: %s", what, r.stdout, r.stderr)
			}
		}
	}
	tlsFlags := []string{"-s", url, "--tls-ca", ca.File, "--tls-cert", client.Cert, "--tls-key", client.Key}

	// Without a client certificate, or with one of another CA: refused,
	// and said so.
	r := natsrpc(t, "-s", url, "--tls-ca", ca.File, "--user", "ci", "--password", ciPassword, "ls")
	r.want(t, 1, "", "TLS with NATS at")
	clean("ls without a client certificate", r)
	r = natsrpc(t, "-s", url, "--tls-ca", ca.File, "--tls-cert", stranger.Cert, "--tls-key", stranger.Key, "--user", "ci", "--password", ciPassword, "ls")
	r.want(t, 1, "", "TLS with NATS at")
	clean("ls with another CA's certificate", r)
	// Without the CA, the server's certificate is not trusted.
	r = natsrpc(t, "-s", url, "--tls-cert", client.Cert, "--tls-key", client.Key, "--user", "ci", "--password", ciPassword, "ls")
	r.want(t, 1, "", "TLS with NATS at")
	// A wrong password: refused, without the password.
	r = natsrpc(t, append(tlsFlags, "--user", "ci", "--password", "wrong-"+ciPassword, "ls")...)
	r.want(t, 1, "", "refused this connection's credentials")
	clean("ls with a wrong password", r)

	// The registry, not embedded, as user registry (flags).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := startNatsrpc(ctx, append(tlsFlags, "--user", "registry", "--password", registryPassword, "registry", "serve")...)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(serve.stdout.String(), "natsrpc registry serving") {
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not start:\n%s\n%s", serve.stdout, serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// push with the nats CLI's environment variables.
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	t.Setenv("NATS_URL", url)
	t.Setenv("NATS_CA", ca.File)
	t.Setenv("NATS_CERT", client.Cert)
	t.Setenv("NATS_KEY", client.Key)
	t.Setenv("NATS_USER", "ci")
	t.Setenv("NATS_PASSWORD", ciPassword)
	r = natsrpc(t, "push", dir, "--module", "common")
	r.want(t, 0, "common", "")
	clean("push", r)
	r = natsrpc(t, "policy", "common", "--set", "FILE")
	clean("policy", r)
	for _, k := range []string{"NATS_URL", "NATS_CA", "NATS_CERT", "NATS_KEY", "NATS_USER", "NATS_PASSWORD"} {
		t.Setenv(k, "")
	}

	// describe and get with the nats CLI's flag spellings.
	r = natsrpc(t, "-s", url, "--tlsca", ca.File, "--tlscert", client.Cert, "--tlskey", client.Key, "--user", "ci", "--password", ciPassword, "describe", "acme.common.v1.Money")
	r.want(t, 0, "Money", "")
	clean("describe", r)
	out := filepath.Join(t.TempDir(), "common.binpb")
	r = natsrpc(t, "-s", url, "--tlsca", ca.File, "--tlscert", client.Cert, "--tlskey", client.Key, "--user", "ci", "--password", ciPassword, "get", "common", "-o", out)
	r.want(t, 0, "", "")
	clean("get", r)

	// ls through a named nats CLI context (a token, as the nats CLI saves
	// a user without password), which is refused by the server: the
	// context's settings are used, and its token is not printed. A
	// selected context (context.txt) is never used.
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	ctxDir := filepath.Join(cfg, "nats", "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeContext := func(name string, c map[string]any) {
		data, _ := json.Marshal(c)
		if err := os.WriteFile(filepath.Join(ctxDir, name+".json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeContext("ci", map[string]any{"url": url, "ca": ca.File, "cert": client.Cert, "key": client.Key, "user": "ci", "password": ciPassword})
	writeContext("tok", map[string]any{"url": url, "ca": ca.File, "cert": client.Cert, "key": client.Key, "token": contextToken})
	if err := os.WriteFile(filepath.Join(cfg, "nats", "context.txt"), []byte("ci"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = natsrpc(t, "--context", "ci", "ls")
	r.want(t, 0, "common", "")
	clean("ls --context ci", r)
	r = natsrpc(t, "--context", "tok", "ls")
	r.want(t, 1, "", "refused this connection's credentials")
	clean("ls --context tok", r)
	// A flag overrides the context: the context's token gives way to the
	// NKey of --nkey.
	r = natsrpc(t, "--context", "tok", "--nkey", seedFile, "ls")
	r.want(t, 0, "common", "")
	clean("ls --context tok --nkey", r)
	// The selected context is not used: the default server is.
	r = natsrpc(t, "ls")
	r.want(t, 1, "", `"nats://127.0.0.1:4222"`)

	// The NKey user may read, not push: the CLI says which right it lacks,
	// at once.
	start := time.Now()
	r = natsrpc(t, append(tlsFlags, "--nkey", seedFile, "push", dir, "--module", "common")...)
	r.want(t, 1, "", "lacks the registry's push:common right")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the refusal took %s: it should not wait for the timeout", d)
	}
	clean("push refused", r)

	// Every other command that connects: whatever it prints (an answer, a
	// refusal, an error), never a secret; tap and the bridge run until
	// stopped.
	ci := append(append([]string(nil), tlsFlags...), "--user", "ci", "--password", ciPassword)
	for _, args := range [][]string{
		{"services"},
		{"services", "acme.common.v1.Nope"},
		{"status", "--wait", "200ms"},
		{"template", "acme.common.v1.Nope.Get"},
		{"call", "acme.common.v1.Nope.Get", "-d", "{}", "--timeout", "1s"},
		{"shadow", "report", "--wait", "200ms"},
		{"cutover", "--service", "acme.common.v1.Nope", "--percent", "10"},
		{"breaking", dir, "--against-registry", "common"},
		{"tap", "--wait", "100ms"},
		{"bridge", "--service", "acme.common.v1.Nope", "--http", "http://127.0.0.1:1"},
	} {
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		r := natsrpcContext(cctx, append(append([]string(nil), ci...), args...)...)
		ccancel()
		clean(strings.Join(args, " "), r)
		// With a wrong password, the refusal is explained without it.
		r = natsrpc(t, append(append(append([]string(nil), tlsFlags...), "--user", "ci", "--password", "wrong-"+ciPassword), args...)...)
		if r.code == 0 {
			t.Errorf("%s with a wrong password: exit 0", strings.Join(args, " "))
		}
		clean(strings.Join(args, " ")+" with a wrong password", r)
	}

	// The gateway over TLS to NATS, serving HTTPS with client certificates.
	gwPair := ca.Server(t, "gateway")
	gctx, gcancel := context.WithCancel(context.Background())
	defer gcancel()
	gw := startNatsrpc(gctx, append(tlsFlags, "--user", "ci", "--password", ciPassword, "gateway", "--listen", "127.0.0.1:0",
		"--http-tls-cert", gwPair.Cert, "--http-tls-key", gwPair.Key, "--http-client-ca", ca.File)...)
	var addr string
	deadline = time.Now().Add(time.Minute)
	for addr == "" {
		if m := regexp.MustCompile(`serving on https://(127\.0\.0\.1:\d+)`).FindStringSubmatch(gw.stdout.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", gw.stdout, gw.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca.File)
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(client.Cert, client.Key)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}, Timeout: 10 * time.Second}
	resp, err := withCert.Get("https://" + addr + "/versions")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "common") {
		t.Errorf("GET /versions over HTTPS: %d %s", resp.StatusCode, body)
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	if resp, err := noCert.Get("https://" + addr + "/versions"); err == nil {
		resp.Body.Close()
		t.Errorf("GET without a client certificate: %d; want a refused handshake", resp.StatusCode)
	}
	gcancel()
	<-gw.done
	clean("gateway", result{gw.stdout.String(), gw.stderr.String(), 0})

	cancel()
	<-serve.done
	clean("registry serve", result{serve.stdout.String(), serve.stderr.String(), 0})
}

// TestServeEmbeddedWithServerConfig: `registry serve --embedded
// --server-config FILE` runs its embedded NATS server as the file says
// (TLS with verify: true, users) and connects to it in process as the user
// the connection flags give; clients then need a certificate and a user.
func TestServeEmbeddedWithServerConfig(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "nats")
	srvPair := ca.Server(t, "nats-server")
	client := ca.Client(t, "ci")
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(`
tls {
  cert_file: "`+srvPair.Cert+`"
  key_file: "`+srvPair.Key+`"
  ca_file: "`+ca.File+`"
  verify: true
}
authorization {
  users = [
    {user: registry, password: "`+registryPassword+`"}
    {user: ci, password: "`+ciPassword+`", permissions: {publish: {allow: ["natsrpc.registry.v1.read.>"]}, subscribe: {allow: ["_INBOX.>"]}}}
  ]
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := startNatsrpc(ctx, "--tls-ca", ca.File, "--tls-cert", client.Cert, "--tls-key", client.Key, "--user", "registry", "--password", registryPassword, "registry", "serve", "--embedded",
		"--server-config", conf, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--push-dir", dir, "--push-module", "common")
	var url string
	deadline := time.Now().Add(time.Minute)
	for url == "" {
		if m := regexp.MustCompile(`serving on ((?:nats|tls)://127\.0\.0\.1:\d+)`).FindStringSubmatch(serve.stdout.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", serve.stdout, serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := natsrpc(t, "-s", url, "--tls-ca", ca.File, "--tls-cert", client.Cert, "--tls-key", client.Key, "--user", "ci", "--password", ciPassword, "ls")
	r.want(t, 0, "common", "")
	r = natsrpc(t, "-s", url, "--tls-ca", ca.File, "--user", "ci", "--password", ciPassword, "ls")
	r.want(t, 1, "", "TLS with NATS at")
	// Without the registry's certificate or user, the embedded registry
	// cannot connect, and says what to give.
	r = natsrpc(t, "--user", "registry", "--password", registryPassword, "registry", "serve", "--embedded", "--server-config", conf, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	r.want(t, 1, "", "may require TLS and a user")
	r = natsrpc(t, "--tls-ca", ca.File, "--tls-cert", client.Cert, "--tls-key", client.Key, "registry", "serve", "--embedded", "--server-config", conf, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	r.want(t, 1, "", "may require TLS and a user")
	for _, r := range []result{r, {serve.stdout.String(), serve.stderr.String(), 0}} {
		if strings.Contains(r.stdout+r.stderr, registryPassword) {
			t.Errorf("output shows the registry's password:\n%s\n%s", r.stdout, r.stderr)
		}
	}
	// --server-config without --embedded is refused.
	natsrpc(t, "registry", "serve", "--server-config", conf).want(t, 1, "", "--server-config configures the embedded NATS server")
	cancel()
	<-serve.done
}
