package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/registry/client"
)

const (
	serverFlagName      = "server"
	serverFlagShortName = "s"
	credsFlagName       = "creds"
	tlsCertFlagName     = "tls-cert"
	tlsKeyFlagName      = "tls-key"
	tlsCAFlagName       = "tls-ca"
)

// DefaultServer is the NATS URL used when neither --server nor $NATS_URL
// is given.
const DefaultServer = "nats://127.0.0.1:4222"

// Globals are the connection flags every command that talks to NATS
// shares. Bind them once on the root command's persistent flags.
type Globals struct {
	Server  string
	Creds   string
	TLSCert string
	TLSKey  string
	TLSCA   string
}

// Bind registers the flags. The default server is $NATS_URL when set.
func (g *Globals) Bind(fs *pflag.FlagSet) {
	def := os.Getenv("NATS_URL")
	if def == "" {
		def = DefaultServer
	}
	fs.StringVarP(&g.Server, serverFlagName, serverFlagShortName, def, "The NATS server URL(s), comma-separated; $NATS_URL when set")
	// --help prints the default: never with the password or token of
	// $NATS_URL.
	fs.Lookup(serverFlagName).DefValue = regctl.RedactURLs(def)
	fs.StringVar(&g.Creds, credsFlagName, "", "The NATS user credentials file (JWT and NKey seed)")
	fs.StringVar(&g.TLSCert, tlsCertFlagName, "", "The client certificate (PEM) for mutual TLS; needs --"+tlsKeyFlagName)
	fs.StringVar(&g.TLSKey, tlsKeyFlagName, "", "The client private key (PEM) for mutual TLS")
	fs.StringVar(&g.TLSCA, tlsCAFlagName, "", "The CA certificate(s) (PEM) that signed the server's certificate")
}

// Options returns the nats.go options the flags ask for.
func (g *Globals) Options() ([]nats.Option, error) {
	opts := []nats.Option{nats.Name("natsrpc CLI"), nats.Timeout(5 * time.Second)}
	if g.Creds != "" {
		if _, err := os.Stat(g.Creds); err != nil {
			return nil, fmt.Errorf("--%s %q: %w", credsFlagName, g.Creds, err)
		}
		opts = append(opts, nats.UserCredentials(g.Creds))
	}
	switch {
	case g.TLSCert != "" && g.TLSKey != "":
		opts = append(opts, nats.ClientCert(g.TLSCert, g.TLSKey))
	case g.TLSCert != "" || g.TLSKey != "":
		return nil, fmt.Errorf("--%s and --%s go together: give both for mutual TLS", tlsCertFlagName, tlsKeyFlagName)
	}
	if g.TLSCA != "" {
		opts = append(opts, nats.RootCAs(g.TLSCA))
	}
	return opts, nil
}

// Connect connects to the NATS server the flags name. Its error says what
// to do when nothing listens there.
func (g *Globals) Connect(ctx context.Context) (*nats.Conn, error) {
	return g.ConnectWith(ctx)
}

// ConnectWith is [Globals.Connect] with extra options after the flags'.
func (g *Globals) ConnectWith(ctx context.Context, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := g.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, extra...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(g.Server, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("cannot connect to NATS at %q: %w; start a registry with `natsrpc registry serve --embedded`, or point --%s (or $NATS_URL) at your NATS server", g.ServerRedacted(), err, serverFlagName)
		}
		return nil, fmt.Errorf("cannot connect to NATS at %q: %w; check --%s, --%s and the TLS flags", g.ServerRedacted(), err, serverFlagName, credsFlagName)
	}
	return nc, nil
}

// ServerRedacted returns --server fit to print: without the passwords and
// tokens of its URLs (see [regctl.RedactURLs]).
func (g *Globals) ServerRedacted() string {
	return regctl.RedactURLs(g.Server)
}

// RegistryClient connects to NATS and returns a client of the registry's
// API and a function that closes the connection.
func (g *Globals) RegistryClient(ctx context.Context) (*client.Client, func(), error) {
	nc, err := g.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	return client.New(nc), nc.Close, nil
}

// GlobalsFrom returns the connection flags as cmd sees them: the values of
// the persistent flags an ancestor bound with [Globals.Bind], or their
// defaults when none did (a command tree built without them).
func GlobalsFrom(cmd *cobra.Command) *Globals {
	g := &Globals{}
	g.Bind(pflag.NewFlagSet("defaults", pflag.ContinueOnError))
	for name, dst := range map[string]*string{
		serverFlagName:  &g.Server,
		credsFlagName:   &g.Creds,
		tlsCertFlagName: &g.TLSCert,
		tlsKeyFlagName:  &g.TLSKey,
		tlsCAFlagName:   &g.TLSCA,
	} {
		if f := cmd.Flag(name); f != nil {
			*dst = f.Value.String()
		}
	}
	return g
}
