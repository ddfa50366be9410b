package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/registry/client"
)

// DefaultListen is the address `natsrpc gateway` listens on by default:
// loopback only, like every natsrpc default.
const DefaultListen = "127.0.0.1:8080"

// RunConfig is what `natsrpc gateway` runs: the command only fills it
// from its flags.
type RunConfig struct {
	// Listen is the HTTP listener's HOST:PORT.
	Listen string
	// Connect connects to NATS.
	Connect func(context.Context) (*nats.Conn, error)
	// Modules narrows the registry's modules; empty serves every one.
	Modules []string
	// DescriptorSet is a FileDescriptorSet or buf image file to serve
	// instead of the registry's schemas.
	DescriptorSet string
	// HTTPRules is a rules file (package httprule).
	HTTPRules string
	// Bucket is the registry's KV bucket; empty for the default.
	Bucket string
	// SubjectPrefix is the runtime subject prefix of the services.
	SubjectPrefix string
	// MaxTimeout, MaxInFlight, ForwardHeaders and CORSOrigins are the
	// options of the same names; zero values keep the defaults.
	MaxTimeout     time.Duration
	MaxInFlight    int
	ForwardHeaders []string
	CORSOrigins    []string
	// Server configures the listener.
	Server ServerOptions
	// TLSCert and TLSKey, when set, serve HTTPS with this certificate and
	// key (PEM files); ClientCA then also requires client certificates
	// signed by these CAs.
	TLSCert, TLSKey, ClientCA string
	// Out receives the banner; Log the reloads and refusals.
	Out io.Writer
	Log *slog.Logger
}

// Run serves the gateway until ctx ends (SIGTERM or SIGINT in the
// command), then drains calls in progress and returns.
func Run(ctx context.Context, c RunConfig) error {
	if c.DescriptorSet != "" && len(c.Modules) > 0 {
		return errors.New("--module narrows the registry's schemas; --descriptor-set serves a file instead: give one of them")
	}
	var opts []Option
	if c.DescriptorSet != "" {
		set, err := ReadDescriptorSet(c.DescriptorSet)
		if err != nil {
			return err
		}
		opts = append(opts, WithDescriptorSet(set))
	}
	if len(c.Modules) > 0 {
		opts = append(opts, WithModules(c.Modules...))
	}
	if c.HTTPRules != "" {
		rules, err := httprule.Load(c.HTTPRules)
		if err != nil {
			return err
		}
		opts = append(opts, WithHTTPRules(rules))
	}
	if c.Bucket != "" {
		opts = append(opts, WithRegistryOptions(client.WithBucket(c.Bucket)))
	}
	if c.SubjectPrefix != "" {
		opts = append(opts, WithClientOptions(natsrpc.WithSubjectPrefix(c.SubjectPrefix)))
	}
	if c.MaxTimeout != 0 {
		opts = append(opts, WithMaxTimeout(c.MaxTimeout))
	}
	if c.MaxInFlight != 0 {
		opts = append(opts, WithMaxInFlight(c.MaxInFlight))
	}
	if c.Log != nil {
		opts = append(opts, WithLogger(c.Log))
	}
	opts = append(opts, WithForwardHeaders(c.ForwardHeaders...), WithCORSOrigins(c.CORSOrigins...))
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.TLSCert != "" || c.TLSKey != "" || c.ClientCA != "" {
		if c.ClientCA != "" && c.TLSCert == "" {
			return errors.New("--http-client-ca requires client certificates over HTTPS: give --http-tls-cert and --http-tls-key too")
		}
		cfg, err := TLSConfig(c.TLSCert, c.TLSKey, c.ClientCA)
		if err != nil {
			return err
		}
		c.Server.TLS = cfg
	}
	stopProfiles, err := startProfiles(c.Log)
	if err != nil {
		return err
	}
	defer stopProfiles()
	nc, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	g, err := New(nc, opts...)
	if err != nil {
		return err
	}
	if err := g.Start(ctx); err != nil {
		return err
	}
	defer g.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", c.Listen, err)
	}
	v := g.Versions()
	scheme, protocols, plaintext, curl := "http", "HTTP/1.1 and h2c", "-plaintext", "curl -s"
	if c.Server.TLS != nil {
		scheme, protocols, plaintext, curl = "https", "HTTP/1.1 and HTTP/2 over TLS", "-cacert CA.pem", "curl -s --cacert CA.pem"
		if c.ClientCA != "" {
			protocols += ", client certificates required"
			plaintext += " -cert CERT.pem -key KEY.pem"
			curl += " --cert CERT.pem --key KEY.pem"
		}
	}
	fmt.Fprintf(c.Out, "natsrpc gateway serving on %s://%s (%s: REST, Connect, gRPC, gRPC-Web)\n", scheme, ln.Addr(), protocols)
	switch {
	case c.DescriptorSet != "":
		fmt.Fprintf(c.Out, "routes from %s: %d services\n", c.DescriptorSet, countServices(v))
	case len(v.Modules) == 0:
		fmt.Fprintln(c.Out, "no routes yet: waiting for the registry (GET /readyz says 503 until then)")
	default:
		fmt.Fprintf(c.Out, "routes from the registry: %s (%d services), following new versions\n", joinModules(v), countServices(v))
	}
	fmt.Fprintf(c.Out, "\ntry:\n  grpcurl %s %s list\n  %s %s://%s/versions\n\npress Ctrl-C to stop\n", plaintext, ln.Addr(), curl, scheme, ln.Addr())
	err = Serve(ctx, ln, g, c.Server)
	fmt.Fprintln(c.Out, "natsrpc gateway stopped")
	return err
}

func countServices(v Versions) int {
	n := 0
	for _, m := range v.Modules {
		n += len(m.Services)
	}
	return n
}

func joinModules(v Versions) string {
	s := ""
	for i, m := range v.Modules {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s@%d", m.Module, m.Version)
	}
	return s
}

// The profiling variables: a CPU profile of the whole run, and an
// allocation profile written at its end, for `make bench`'s gateway rows
// (bench/README.md says how to read them). They are read only by Run, so
// that a process embedding the gateway profiles itself as it likes.
const (
	envCPUProfile = "NATSRPC_GATEWAY_CPUPROFILE"
	envMemProfile = "NATSRPC_GATEWAY_MEMPROFILE"
)

// startProfiles starts the profiles the environment asks for and returns
// the function that writes them.
func startProfiles(log *slog.Logger) (func(), error) {
	var stops []func()
	if path := os.Getenv(envCPUProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		stops = append(stops, func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		})
	}
	if path := os.Getenv(envMemProfile); path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
			if err != nil && log != nil {
				log.Error("gateway: cannot write the allocation profile", "error", err)
			}
		})
		runtime.MemProfileRate = 64 << 10
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}, nil
}
