package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// jwtPermissions turns `natsrpc perms --format json` into a user JWT's
// permissions.
func jwtPermissions(t *testing.T, data string) jwt.Permissions {
	t.Helper()
	var p struct {
		Publish, Subscribe struct{ Allow, Deny []string }
		AllowResponses     json.RawMessage `json:"allow_responses"`
	}
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		t.Fatalf("perms JSON: %v\n%s", err, data)
	}
	out := jwt.Permissions{
		Pub: jwt.Permission{Allow: p.Publish.Allow, Deny: p.Publish.Deny},
		Sub: jwt.Permission{Allow: p.Subscribe.Allow, Deny: p.Subscribe.Deny},
	}
	switch s := string(p.AllowResponses); {
	case s == "true":
		out.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: 2 * time.Minute}
	case strings.HasPrefix(s, "{"):
		var r struct {
			Max     int
			Expires string
		}
		_ = json.Unmarshal(p.AllowResponses, &r)
		d, _ := time.ParseDuration(r.Expires)
		out.Resp = &jwt.ResponsePermission{MaxMsgs: r.Max, Expires: d}
	}
	return out
}

// TestOperatorModeCreds runs the registry and the CLI as users of an
// operator/account JWT deployment (nats-server's in-memory resolver, JWTs
// and credentials files made here), each user's JWT carrying the
// permissions `natsrpc perms` prints: the registry serves with its
// credentials, a pusher pushes its module, a reader reads and cannot push,
// and no output shows a JWT or a seed.
func TestOperatorModeCreds(t *testing.T) {
	t.Parallel()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	// JetStream needs a system account.
	skp, _ := nkeys.CreateAccount()
	spub, _ := skp.PublicKey()
	sjwt, err := jwt.NewAccountClaims(spub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var secrets []string
	creds := func(name string, perms jwt.Permissions) string {
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		seed, _ := ukp.Seed()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		uc.Permissions = perms
		ujwt, err := uc.Encode(akp)
		if err != nil {
			t.Fatal(err)
		}
		data, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".creds")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, ujwt, string(seed))
		return p
	}
	registryCreds := creds("registry", jwtPermissions(t, permsOf(t, "registry", "--format", "json")))
	questCreds := creds("quest", jwtPermissions(t, permsOf(t, "pusher", "--module", "quest", "--format", "json")))
	readerCreds := creds("reader", jwtPermissions(t, permsOf(t, "reader", "--format", "json")))

	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("operator: %s\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %s\n  %s: %s\n}\n", ojwt, spub, apub, ajwt, spub, sjwt)), 0o600); err != nil {
		t.Fatal(err)
	}
	fileOpts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := registrytest.StartNATS(t, func(o *server.Options) {
		host, port, storeDir := o.Host, o.Port, o.StoreDir
		*o = *fileOpts
		o.Host, o.Port, o.StoreDir, o.JetStream, o.SyncAlways, o.NoLog, o.NoSigs = host, port, storeDir, true, true, true, true
	})
	url := srv.ClientURL()
	clean := func(what string, r result) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("%s prints a JWT or seed:\n%s\n%s", what, r.stdout, r.stderr)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := startNatsrpc(ctx, "-s", url, "--creds", registryCreds, "registry", "serve")
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(serve.stdout.String(), "natsrpc registry serving") {
		select {
		case code := <-serve.done:
			t.Fatalf("registry serve exited %d:\n%s\n%s", code, serve.stdout, serve.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not start:\n%s\n%s", serve.stdout, serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mod := t.TempDir()
	writeModule(t, mod, testschema.CommonV1)
	r := natsrpc(t, "-s", url, "--creds", questCreds, "push", mod, "--module", "quest")
	r.want(t, 0, "quest@1", "")
	clean("push", r)
	r = natsrpc(t, "-s", url, "--creds", readerCreds, "ls", "quest")
	r.want(t, 0, "push:quest", "")
	clean("ls", r)
	r = natsrpc(t, "-s", url, "--creds", readerCreds, "push", mod, "--module", "quest")
	r.want(t, 1, "", "lacks the registry's push:quest right")
	clean("refused push", r)
	// A credentials file of an unknown account is refused, said so.
	stranger, _ := nkeys.CreateAccount()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	useed, _ := ukp.Seed()
	ujwt, _ := jwt.NewUserClaims(upub).Encode(stranger)
	data, _ := jwt.FormatUserConfig(ujwt, useed)
	bad := filepath.Join(dir, "stranger.creds")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, ujwt, string(useed))
	r = natsrpc(t, "-s", url, "--creds", bad, "ls")
	r.want(t, 1, "", "refused this connection's credentials")
	clean("unknown account", r)
	cancel()
	<-serve.done
	clean("registry serve", result{serve.stdout.String(), serve.stderr.String(), 0})
}
