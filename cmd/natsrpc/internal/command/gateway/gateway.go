// Package gateway implements `natsrpc gateway`: flags only, the gateway
// itself is github.com/natsrpc/natsrpc/gateway.
package gateway

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	gw "github.com/natsrpc/natsrpc/gateway"
)

type flags struct {
	Listen         string
	Modules        []string
	DescriptorSet  string
	HTTPRules      string
	Bucket         string
	SubjectPrefix  string
	MaxTimeout     time.Duration
	MaxInFlight    int
	ReadTimeout    time.Duration
	IdleTimeout    time.Duration
	DrainTimeout   time.Duration
	ForwardHeaders []string
	CORSOrigins    []string
	TLSCert        string
	TLSKey         string
	ClientCA       string
}

// Bind registers the flags.
func (f *flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Listen, "listen", gw.DefaultListen, "The HTTP address to serve on (HOST:PORT): REST, Connect, gRPC and gRPC-Web, HTTP/1.1 and h2c")
	fs.StringArrayVar(&f.Modules, "module", nil, "Serve only this registry module (repeatable); by default the latest version of every module")
	fs.StringVar(&f.DescriptorSet, "descriptor-set", "", "Serve the services of this FileDescriptorSet or buf image (buf build -o FILE.binpb) instead of the registry's")
	fs.StringVar(&f.HTTPRules, "http-rules", "", "REST routes for methods without google.api.http annotations: a rules file in Google's service-config format (http: rules: - selector: ... get: ...)")
	fs.StringVar(&f.Bucket, "bucket", "", "The registry's JetStream KV bucket (default natsrpc_registry)")
	fs.StringVar(&f.SubjectPrefix, "subject-prefix", "", "The runtime subject prefix the services were started with (natsrpc.WithSubjectPrefix)")
	fs.DurationVar(&f.MaxTimeout, "max-timeout", gw.DefaultMaxTimeout, "The longest deadline of a call: Connect-Timeout-Ms and grpc-timeout are honoured up to it")
	fs.IntVar(&f.MaxInFlight, "max-in-flight", gw.DefaultMaxInFlight, "Calls in progress beyond which calls are answered resource_exhausted (HTTP 429)")
	fs.DurationVar(&f.ReadTimeout, "read-timeout", 0, "The longest a request may take to arrive, body included (for client and bidi streams, the whole upload); 0 for no limit (headers always within 10s)")
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", 2*time.Minute, "Close keep-alive connections idle this long")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 30*time.Second, "On SIGTERM or SIGINT, how long calls in progress may take to finish")
	fs.StringArrayVar(&f.ForwardHeaders, "forward-header", nil, "Also pass this request header to services as call metadata (repeatable; a trailing * forwards a prefix, e.g. X-Game-*); traceparent, tracestate, baggage, X-Request-Id and X-Correlation-Id always pass")
	fs.StringArrayVar(&f.CORSOrigins, "cors-origin", nil, "Let browser pages at this origin call the gateway (repeatable; * for any)")
	fs.StringVar(&f.TLSCert, "http-tls-cert", "", "Serve HTTPS with this certificate (PEM); needs --http-tls-key")
	fs.StringVar(&f.TLSKey, "http-tls-key", "", "The private key (PEM) of --http-tls-cert")
	fs.StringVar(&f.ClientCA, "http-client-ca", "", "Require HTTPS clients to present a certificate signed by these CA certificates (PEM): mutual TLS")
}

// NewCommand returns the `gateway` command.
func NewCommand(name string, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Serve NATS services over HTTP, gRPC and Connect, with routes from the registry",
		Long: `Serve every NATS service over HTTP: REST routes (google.api.http annotations
or --http-rules), the Connect protocol, gRPC and gRPC-Web, and gRPC server
reflection, on one listener. Routes come from the registry, the latest
version of every module (--module narrows), and follow new versions as they
are pushed; --descriptor-set serves a file instead.

    natsrpc gateway --http-rules gateway/httprule/testdata/gaming.yaml
    grpcurl -plaintext 127.0.0.1:8080 list
    curl -s 127.0.0.1:8080/v1/players/p1/quests/q1`,
		Args: cli.ExactArgs(0, "no arguments (the flags say what to serve)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return gw.Run(cmd.Context(), gw.RunConfig{
				Listen:         f.Listen,
				Connect:        g.Connect,
				Modules:        f.Modules,
				DescriptorSet:  f.DescriptorSet,
				HTTPRules:      f.HTTPRules,
				Bucket:         f.Bucket,
				SubjectPrefix:  f.SubjectPrefix,
				MaxTimeout:     f.MaxTimeout,
				MaxInFlight:    f.MaxInFlight,
				ForwardHeaders: f.ForwardHeaders,
				CORSOrigins:    f.CORSOrigins,
				Server:         gw.ServerOptions{ReadTimeout: f.ReadTimeout, IdleTimeout: f.IdleTimeout, DrainTimeout: f.DrainTimeout},
				TLSCert:        f.TLSCert,
				TLSKey:         f.TLSKey,
				ClientCA:       f.ClientCA,
				Out:            cmd.OutOrStdout(),
				Log:            slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
			})
		},
	}
	f.Bind(cmd.Flags())
	return cmd
}
