package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// newGlobals binds the flags, parses args and reads env instead of the
// process's environment and home as the nats CLI's configuration root.
func newGlobals(t *testing.T, home string, env map[string]string, args ...string) *Globals {
	t.Helper()
	g := &Globals{getenv: func(k string) string { return env[k] }, home: home}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	g.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return g
}

func writeCtx(t *testing.T, home, name, body string) {
	t.Helper()
	dir := filepath.Join(home, "nats", "context")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPrecedence: a flag beats the environment, which beats the named
// context, which beats the default; the nats CLI's selected context is
// never read.
func TestPrecedence(t *testing.T) {
	home := t.TempDir()
	writeCtx(t, home, "prod", `{"url":"nats://ctx:4222","inbox_prefix":"_INBOX_ctx","token":"ctx-secret"}`)
	if err := os.WriteFile(filepath.Join(home, "nats", "context.txt"), []byte("prod"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		env         map[string]string
		args        []string
		server, box string
		auth        string
	}{
		{"default, selected context ignored", nil, nil, DefaultServer, "", ""},
		{"named context", nil, []string{"--context", "prod"}, "nats://ctx:4222", "_INBOX_ctx", "token"},
		{"context from the environment", map[string]string{"NATS_CONTEXT": "prod"}, nil, "nats://ctx:4222", "_INBOX_ctx", "token"},
		{"environment over context", map[string]string{"NATS_URL": "nats://env:4222", "NATS_USER": "u", "NATS_PASSWORD": "p"}, []string{"--context", "prod"}, "nats://env:4222", "_INBOX_ctx", "user"},
		{"flag over environment", map[string]string{"NATS_URL": "nats://env:4222", "NATS_INBOX_PREFIX": "_INBOX_env"}, []string{"--context", "prod", "-s", "nats://flag:4222"}, "nats://flag:4222", "_INBOX_env", "token"},
		{"flag over all", map[string]string{"NATS_INBOX_PREFIX": "_INBOX_env"}, []string{"--context", "prod", "--inbox-prefix", "_INBOX_flag", "--token", "t"}, "nats://ctx:4222", "_INBOX_flag", "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newGlobals(t, home, tc.env, tc.args...).resolve()
			if err != nil {
				t.Fatal(err)
			}
			if s.server.value != tc.server || s.inboxPrefix.value != tc.box {
				t.Errorf("server %q, inbox prefix %q; want %q, %q", s.server.value, s.inboxPrefix.value, tc.server, tc.box)
			}
			got := ""
			switch {
			case s.user.set():
				got = "user"
			case s.token.set():
				got = "token"
			}
			if got != tc.auth {
				t.Errorf("authenticates with %q; want %q", got, tc.auth)
			}
		})
	}
}

// TestSettingErrors: bad combinations and files are refused with what to
// fix, never with a secret.
func TestSettingErrors(t *testing.T) {
	home := t.TempDir()
	writeCtx(t, home, "socks", `{"url":"nats://x:4222","socks_proxy":"socks5://p"}`)
	writeCtx(t, home, "bad", `{"url": nats`)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--password", "hunter2-secret"}, "password without a user"},
		{nil, []string{"--tls-key", "k.pem"}, "client key without its certificate"},
		{nil, []string{"--tlscert", "c.pem", "--tls-cert", "c.pem"}, "--tlscert is the nats CLI's spelling of --tls-cert"},
		{map[string]string{"NATS_TOKEN": "hunter2-secret", "NATS_CREDS": "x.creds"}, nil, "two ways to authenticate"},
		{nil, []string{"--context", "nope"}, `no nats CLI context "nope"`},
		{nil, []string{"--context", "../etc"}, "not a context name"},
		{nil, []string{"--context", "socks"}, "socks_proxy, which natsrpc does not support"},
		{nil, []string{"--context", "bad"}, "not valid JSON"},
		{nil, []string{"--inbox-prefix", "_INBOX.>"}, "not a valid inbox prefix"},
		{nil, []string{"--creds", "/nonexistent/x.creds"}, "--creds: the credentials file"},
		{map[string]string{"NATS_TOKEN": "env://NATSRPC_TEST_UNSET_VAR"}, nil, "$NATSRPC_TEST_UNSET_VAR, which is not set"},
	} {
		g := newGlobals(t, home, tc.env, tc.args...)
		_, err := g.Options()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v; want an error containing %q", tc.env, tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("%v %v: the error shows the secret: %v", tc.env, tc.args, err)
		}
	}
}
