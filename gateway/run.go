package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	fmt.Fprintf(c.Out, "natsrpc gateway serving on http://%s (HTTP/1.1 and h2c: REST, Connect, gRPC, gRPC-Web)\n", ln.Addr())
	switch {
	case c.DescriptorSet != "":
		fmt.Fprintf(c.Out, "routes from %s: %d services\n", c.DescriptorSet, countServices(v))
	case len(v.Modules) == 0:
		fmt.Fprintln(c.Out, "no routes yet: waiting for the registry (GET /readyz says 503 until then)")
	default:
		fmt.Fprintf(c.Out, "routes from the registry: %s (%d services), following new versions\n", joinModules(v), countServices(v))
	}
	fmt.Fprintf(c.Out, "\ntry:\n  grpcurl -plaintext %s list\n  curl -s http://%s/versions\n\npress Ctrl-C to stop\n", ln.Addr(), ln.Addr())
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
