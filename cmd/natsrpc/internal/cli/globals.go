package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// The connection flags, with the nats CLI's spellings as aliases where
// they differ (--tlscert, --tlskey, --tlsca), and the environment
// variables the nats CLI reads.
const (
	serverFlagName         = "server"
	serverFlagShortName    = "s"
	credsFlagName          = "creds"
	nkeyFlagName           = "nkey"
	userFlagName           = "user"
	passwordFlagName       = "password"
	tokenFlagName          = "token"
	tlsCertFlagName        = "tls-cert"
	tlsKeyFlagName         = "tls-key"
	tlsCAFlagName          = "tls-ca"
	tlsFirstFlagName       = "tls-first"
	inboxPrefixFlagName    = "inbox-prefix"
	contextFlagName        = "context"
	connectionNameFlagName = "connection-name"
)

// natscliAliases are the nats CLI's spellings of our flags.
var natscliAliases = map[string]string{
	"tlscert":  tlsCertFlagName,
	"tlskey":   tlsKeyFlagName,
	"tlsca":    tlsCAFlagName,
	"tlsfirst": tlsFirstFlagName,
}

// envOf names the environment variable of each setting, as the nats CLI
// spells it (NATS_INBOX_PREFIX is ours: the nats CLI has only the flag).
var envOf = map[string]string{
	serverFlagName:      "NATS_URL",
	credsFlagName:       "NATS_CREDS",
	nkeyFlagName:        "NATS_NKEY",
	userFlagName:        "NATS_USER",
	passwordFlagName:    "NATS_PASSWORD",
	tokenFlagName:       "NATS_TOKEN",
	tlsCertFlagName:     "NATS_CERT",
	tlsKeyFlagName:      "NATS_KEY",
	tlsCAFlagName:       "NATS_CA",
	inboxPrefixFlagName: "NATS_INBOX_PREFIX",
	contextFlagName:     "NATS_CONTEXT",
}

// DefaultServer is the NATS URL used when no flag, environment variable or
// named context gives one.
const DefaultServer = "nats://127.0.0.1:4222"

// Globals are the connection settings every command that talks to NATS
// shares, bound once on the root command's persistent flags. Each setting
// comes from its flag, else its environment variable (the nats CLI's:
// NATS_URL, NATS_CREDS, ...), else the nats CLI context named by --context
// or $NATS_CONTEXT, else the default (loopback, no authentication). The
// nats CLI's selected context (`nats context select`) is never used: a
// production context must not redirect `natsrpc push` away from the
// registry of `make run`.
//
// The fields hold the flags' values; [Globals.Connect] resolves the
// settings and stores the effective server URL in Server.
type Globals struct {
	Server         string
	Creds          string
	NKey           string
	User           string
	Password       string
	Token          string
	TLSCert        string
	TLSKey         string
	TLSCA          string
	TLSFirst       bool
	InboxPrefix    string
	Context        string
	ConnectionName string

	fs *pflag.FlagSet
	// getenv reads the environment; os.Getenv unless a test sets it.
	getenv func(string) string
	// home is the nats CLI's configuration root ($XDG_CONFIG_HOME, else
	// ~/.config); found at resolve time unless a test sets it.
	home string
}

// Bind registers the flags on fs (the root command's persistent flags).
func (g *Globals) Bind(fs *pflag.FlagSet) {
	g.fs = fs
	fs.StringVarP(&g.Server, serverFlagName, serverFlagShortName, "", "The NATS server URL(s), comma-separated (default $NATS_URL, else the --context's, else "+DefaultServer+")")
	fs.StringVar(&g.Creds, credsFlagName, "", "The NATS user credentials file: JWT and NKey seed ($NATS_CREDS)")
	fs.StringVar(&g.NKey, nkeyFlagName, "", "A file holding the user's NKey seed ($NATS_NKEY)")
	fs.StringVar(&g.User, userFlagName, "", "The NATS user name; without a password, a token, as for the nats CLI ($NATS_USER)")
	fs.StringVar(&g.Password, passwordFlagName, "", "The NATS user's password ($NATS_PASSWORD; prefer the variable: flags show in process lists)")
	fs.StringVar(&g.Token, tokenFlagName, "", "The NATS authentication token ($NATS_TOKEN; prefer the variable: flags show in process lists)")
	fs.StringVar(&g.TLSCert, tlsCertFlagName, "", "The client certificate (PEM) for mutual TLS; needs --"+tlsKeyFlagName+" ($NATS_CERT)")
	fs.StringVar(&g.TLSKey, tlsKeyFlagName, "", "The client certificate's private key (PEM) ($NATS_KEY)")
	fs.StringVar(&g.TLSCA, tlsCAFlagName, "", "The CA certificate(s) (PEM) that signed the server's certificate ($NATS_CA)")
	fs.BoolVar(&g.TLSFirst, tlsFirstFlagName, false, "Start TLS before the server's greeting (servers with handshake_first)")
	fs.StringVar(&g.InboxPrefix, inboxPrefixFlagName, "", "The prefix of this connection's reply inboxes, e.g. _INBOX_ci, which NATS permissions can then grant alone ($NATS_INBOX_PREFIX; default _INBOX)")
	fs.StringVar(&g.Context, contextFlagName, "", "Take connection settings the flags and variables leave unset from this nats CLI context (~/.config/nats/context/NAME.json) or context file (NAME.json); the nats CLI's selected context is never used ($NATS_CONTEXT)")
	fs.StringVar(&g.ConnectionName, connectionNameFlagName, "", "The connection's name, as NATS monitoring shows it and as the registry records the pushes it makes (default \"natsrpc CLI\")")
	// The nats CLI's spellings, hidden so that --help shows ours.
	for alias, name := range natscliAliases {
		f := fs.Lookup(name)
		af := *f
		af.Name = alias
		af.Shorthand = ""
		af.Usage = "alias of --" + name
		af.Hidden = true
		fs.AddFlag(&af)
	}
}

// changed reports whether the flag name, or its nats CLI alias, was
// given.
func (g *Globals) changed(name string) bool {
	if g.fs == nil {
		return false
	}
	if g.fs.Changed(name) {
		return true
	}
	for alias, n := range natscliAliases {
		if n == name && g.fs.Changed(alias) {
			return true
		}
	}
	return false
}

func (g *Globals) env(name string) string {
	key, ok := envOf[name]
	if !ok {
		return ""
	}
	if g.getenv != nil {
		return g.getenv(key)
	}
	return os.Getenv(key)
}

// Options returns the nats.go options the settings ask for, and stores the
// resolved server URL in g.Server.
func (g *Globals) Options() ([]nats.Option, error) {
	s, err := g.resolve()
	if err != nil {
		return nil, err
	}
	g.Server = s.server.value
	return s.options()
}

// Connect connects to the NATS server the settings name. Its error says
// what to do when nothing listens there or the server refuses the
// connection, without any secret. The connection records the permission
// violations NATS reports on it: [RefusalInterceptor] turns them into
// immediate, explained failures of the calls they concern.
func (g *Globals) Connect(ctx context.Context) (*nats.Conn, error) {
	return g.ConnectWith(ctx)
}

// ConnectWith is [Globals.Connect] with extra options applied after the
// settings' (an extra error handler still sees every error).
func (g *Globals) ConnectWith(ctx context.Context, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := g.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, extra...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := nats.GetDefaultOptions()
	for _, opt := range append(opts, extra...) {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("connection settings: %w", err)
		}
	}
	o.Servers = splitServers(g.Server)
	r := watchRefusals(&o)
	nc, err := o.Connect()
	if err != nil {
		return nil, g.connectError(err)
	}
	r.attach(nc)
	return nc, nil
}

// connectError explains a failed connection.
func (g *Globals) connectError(err error) error {
	server := g.ServerRedacted()
	switch {
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("cannot connect to NATS at %q: %w; start a registry with `natsrpc registry serve --embedded`, or point --%s (or $NATS_URL, or --%s) at your NATS server", server, err, serverFlagName, contextFlagName)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired):
		return fmt.Errorf("NATS at %q refused this connection's credentials (%w): check --%s, --%s, --%s/--%s, --%s and their variables ($NATS_CREDS, ...)", server, err, credsFlagName, nkeyFlagName, userFlagName, passwordFlagName, tokenFlagName)
	case isTLSError(err):
		return fmt.Errorf("TLS with NATS at %q failed (%w): give the CA that signed the server's certificate with --%s and, where the server verifies clients, a certificate it trusts with --%s and --%s", server, err, tlsCAFlagName, tlsCertFlagName, tlsKeyFlagName)
	}
	return fmt.Errorf("cannot connect to NATS at %q: %w; check --%s, the credentials and the TLS flags", server, err, serverFlagName)
}

// isTLSError reports whether a connection failed in TLS: a handshake the
// server or the client refused (a missing or untrusted certificate shows
// as the server closing the connection right after the handshake).
func isTLSError(err error) bool {
	if errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "tls") || strings.Contains(msg, "x509") || strings.Contains(msg, "certificate")
}

func splitServers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ServerRedacted returns the server URL fit to print: without the
// passwords and tokens of its URLs (see [regctl.RedactURLs]).
func (g *Globals) ServerRedacted() string {
	if g.Server == "" {
		if s, err := g.resolve(); err == nil {
			return regctl.RedactURLs(s.server.value)
		}
	}
	return regctl.RedactURLs(g.Server)
}

// RegistryClient connects to NATS and returns a client of the registry's
// API and a function that closes the connection. A call the NATS server
// refuses for lack of permission fails at once with
// natsrpc.CodePermissionDenied, naming the registry right it lacks.
func (g *Globals) RegistryClient(ctx context.Context) (*client.Client, func(), error) {
	nc, err := g.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := client.New(nc, client.WithClientOptions(natsrpc.WithInterceptors(RefusalInterceptor(nc))), client.WithPushClaims(g.claims()))
	return c, nc.Close, nil
}

// GlobalsFrom returns the connection settings as cmd sees them: the
// persistent flags an ancestor bound with [Globals.Bind] (given ones stay
// given), or the defaults when none did.
func GlobalsFrom(cmd *cobra.Command) *Globals {
	g := &Globals{}
	fs := pflag.NewFlagSet("globals", pflag.ContinueOnError)
	g.Bind(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if cf := cmd.Flag(f.Name); cf != nil && cf.Changed {
			_ = fs.Set(f.Name, cf.Value.String())
		}
	})
	return g
}

// connectTimeout bounds the dial and the TLS handshake of one server.
const connectTimeout = 5 * time.Second

// ciVariables are the CI systems' variables that say which run pushes:
// names, commits and run ids, never a token.
var ciVariables = []string{
	"GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_REF", "GITHUB_ACTOR", "GITHUB_RUN_ID", "GITHUB_WORKFLOW",
	"CI_PROJECT_PATH", "CI_COMMIT_SHA", "CI_PIPELINE_ID", "GITLAB_USER_LOGIN",
	"BUILDKITE_PIPELINE_SLUG", "BUILDKITE_BUILD_NUMBER", "BUILDKITE_COMMIT",
	"JENKINS_URL", "BUILD_TAG", "GIT_COMMIT",
}

// claims is what the CLI says about itself when it pushes: the registry
// records it with the version as claimed, unverified.
func (g *Globals) claims() *registryv1.PushClaims {
	c := &registryv1.PushClaims{Client: "natsrpc " + natsrpc.Version}
	if s, err := g.resolve(); err == nil {
		c.ConnectionName = s.name
		if s.user.set() {
			if u, err := literal(s.user); err == nil {
				c.User = u
			}
		}
	}
	if u, err := user.Current(); err == nil {
		c.OsUser = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		c.Host = h
	}
	for _, k := range ciVariables {
		if v := os.Getenv(k); v != "" {
			if c.Ci == nil {
				c.Ci = map[string]string{}
			}
			c.Ci[k] = v
		}
	}
	return c
}
