package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/shadow"
	"github.com/natsrpc/natsrpc/gateway"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/internal/spec"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// RunConfig is what `natsrpc bridge` runs: the command only fills it from
// its flags.
type RunConfig struct {
	// Service is the full name of the service to bridge.
	Service string
	// HTTP is the HTTP service's base URL.
	HTTP string
	// HTTPRules is a rules file (package httprule), optional.
	HTTPRules string
	// DescriptorSet is a FileDescriptorSet or buf image to take the
	// service from instead of the registry; Bucket the registry's bucket.
	DescriptorSet string
	Bucket        string
	// Connect connects to NATS.
	Connect func(context.Context) (*nats.Conn, error)
	// SubjectPrefix is the runtime subject prefix the bridge serves under.
	SubjectPrefix string
	// Strict, JSONNames, EmitDefaults, MaxInFlight and ForwardHeaders are
	// New's options.
	Strict, JSONNames, EmitDefaults bool
	MaxInFlight                     int
	ForwardHeaders                  []string
	// MaxTimeout bounds a call's deadline (natsrpc.WithMaxTimeout).
	MaxTimeout time.Duration
	// ShadowPrefix turns shadow traffic on: calls are mirrored to the
	// candidate serving under it. ShadowRate is the share of the
	// NO_SIDE_EFFECTS methods' calls mirrored (the rules file's
	// natsrpc.shadow entries set others); ShadowTimeout bounds the
	// candidate's answer.
	ShadowPrefix  string
	ShadowRate    float64
	ShadowTimeout time.Duration
	// DrainTimeout is how long calls in flight may take to finish when ctx
	// ends.
	DrainTimeout time.Duration
	// Out receives the banner; Log the warnings.
	Out io.Writer
	Log *slog.Logger
}

// Run serves the bridge until ctx ends (SIGTERM or SIGINT in the command),
// then stops taking calls and lets those in flight finish.
func Run(ctx context.Context, c RunConfig) error {
	if c.Service == "" {
		return errors.New("--service is required: the full name of the service to bridge, e.g. gaming.quest_system.v1.QuestSystemService")
	}
	if c.HTTP == "" {
		return errors.New("--http is required: the HTTP service's base URL, e.g. http://127.0.0.1:8000")
	}
	if c.ShadowPrefix == "" && (c.ShadowRate != 0 || c.ShadowTimeout != 0) {
		return errors.New("--shadow-rate and --shadow-timeout need --shadow-prefix: the subject prefix the candidate serves under")
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	rules := &httprule.Config{}
	if c.HTTPRules != "" {
		var err error
		if rules, err = httprule.LoadConfig(c.HTTPRules); err != nil {
			return err
		}
	}
	nc, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	sd, source, err := LoadService(ctx, nc, c.DescriptorSet, c.Bucket, c.Service)
	if err != nil {
		return err
	}
	var hopts []natsrpc.HandlerOption
	if c.SubjectPrefix != "" {
		hopts = append(hopts, natsrpc.WithSubjectPrefix(c.SubjectPrefix))
	}
	if c.MaxTimeout > 0 {
		hopts = append(hopts, natsrpc.WithMaxTimeout(c.MaxTimeout))
	}
	var rec *shadow.Recorder
	if c.ShadowPrefix != "" {
		policy, err := ShadowPolicy(sd, rules, c.ShadowPrefix, c.ShadowRate)
		if err != nil {
			return err
		}
		policy.Timeout = c.ShadowTimeout
		js, err := jetstream.New(nc)
		if err == nil {
			rec, err = shadow.NewRecorder(ctx, js)
		}
		if err != nil {
			c.Log.Warn("bridge: differences will be counted, not kept", "error", err)
		} else {
			policy.Recorder = rec
		}
		hopts = append(hopts, natsrpc.WithShadow(policy))
	}
	opts := []Option{WithRules(rules), WithHandlerOptions(hopts...), WithForwardHeaders(c.ForwardHeaders...), WithLogger(c.Log)}
	if c.Strict {
		opts = append(opts, WithStrict())
	}
	if c.JSONNames {
		opts = append(opts, WithJSONNames())
	}
	if c.EmitDefaults {
		opts = append(opts, WithEmitDefaults())
	}
	if c.MaxInFlight > 0 {
		opts = append(opts, WithMaxInFlight(c.MaxInFlight))
	}
	b, err := New(nc, sd, c.HTTP, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "natsrpc bridge serving %s on NATS (%s) by calling %s, descriptors from %s\n", c.Service, nc.ConnectedUrlRedacted(), c.HTTP, source)
	WriteRoutes(c.Out, b.Routes())
	if c.ShadowPrefix != "" {
		fmt.Fprintf(c.Out, "shadow traffic to the candidate under %q:", c.ShadowPrefix)
		for name, s := range b.Service().ShadowStats() {
			fmt.Fprintf(c.Out, " %s %g", name, s.Rate)
		}
		fmt.Fprintln(c.Out, "\n(natsrpc shadow report --service "+c.Service+")")
	}
	fmt.Fprintln(c.Out, "press Ctrl-C to stop")
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), max(c.DrainTimeout, time.Second))
	defer cancel()
	err = b.Stop(dctx)
	if rec != nil {
		_ = rec.Flush(dctx)
	}
	fmt.Fprintln(c.Out, "natsrpc bridge stopped")
	return err
}

// WriteRoutes prints one line per method: its HTTP request and where it
// comes from, or why it is not bridged.
func WriteRoutes(w io.Writer, routes []Route) {
	for _, r := range routes {
		name := r.Method[strings.LastIndex(r.Method, ".")+1:]
		if r.Skipped != "" {
			fmt.Fprintf(w, "  %-24s not bridged: %s\n", name, r.Skipped)
			continue
		}
		line := fmt.Sprintf("  %-24s %s %s", name, r.HTTPMethod, r.Path)
		if r.Body != "" {
			line += " (body " + r.Body + ")"
		}
		line += "  [" + r.Source + "]"
		if r.Kind == natsrpc.MethodKindEvent {
			line += " event"
		}
		fmt.Fprintln(w, line)
		for _, wn := range r.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", wn)
		}
	}
}

// LoadService finds the service named name in the descriptor set file
// (a FileDescriptorSet or buf image), or, without one, in the registry
// over nc (bucket "" for the default). It also says where it found it.
func LoadService(ctx context.Context, nc *nats.Conn, file, bucket, name string) (protoreflect.ServiceDescriptor, string, error) {
	if file != "" {
		set, err := gateway.ReadDescriptorSet(file)
		if err != nil {
			return nil, "", err
		}
		sd, err := FindService(set, name)
		return sd, file, err
	}
	var opts []client.Option
	if bucket != "" {
		opts = append(opts, client.WithBucket(bucket))
	}
	res, set, err := client.New(nc, opts...).ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: name, ExcludeSourceInfo: true})
	if err != nil {
		return nil, "", fmt.Errorf("find %q in the registry: %w", name, err)
	}
	sd, err := FindService(set, name)
	return sd, fmt.Sprintf("the registry (module %s, version %d)", res.GetModule(), res.GetVersion()), err
}

// CutoverConfig is what `natsrpc cutover` runs.
type CutoverConfig struct {
	Cutover
	// ServiceName, DescriptorSet and Bucket find the service (as for
	// Run); Connect is called only when the registry is needed.
	ServiceName, DescriptorSet, Bucket string
	Connect                            func(context.Context) (*nats.Conn, error)
}

// RunCutover returns the nats-server configuration block of a cutover.
func RunCutover(ctx context.Context, c CutoverConfig) (string, error) {
	if c.ServiceName == "" {
		return "", errors.New("--service is required: the full name of the service to move, e.g. gaming.quest_system.v1.QuestSystemService")
	}
	var nc *nats.Conn
	if c.DescriptorSet == "" {
		var err error
		if nc, err = c.Connect(ctx); err != nil {
			return "", err
		}
		defer nc.Close()
	}
	sd, _, err := LoadService(ctx, nc, c.DescriptorSet, c.Bucket, c.ServiceName)
	if err != nil {
		return "", err
	}
	c.Service = sd
	p, err := c.Cutover.Plan()
	if err != nil {
		return "", err
	}
	return p.Config(), nil
}

// FindService returns the service named name from set.
func FindService(set *descriptorpb.FileDescriptorSet, name string) (protoreflect.ServiceDescriptor, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the descriptors are invalid: %w", err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("no service %q in the descriptors: give the service's full name, e.g. gaming.quest_system.v1.QuestSystemService", name)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%q is not a service", name)
	}
	return sd, nil
}

// ShadowPolicy builds the bridge's shadow policy: rate for the
// NO_SIDE_EFFECTS methods, and the rules file's natsrpc.shadow entries.
// An entry whose selector is a wildcard applies to NO_SIDE_EFFECTS methods
// only: a method that may have side effects is mirrored only when an entry
// names it in full.
func ShadowPolicy(sd protoreflect.ServiceDescriptor, rules *httprule.Config, prefix string, rate float64) (natsrpc.ShadowPolicy, error) {
	if !(rate >= 0 && rate <= 1) {
		return natsrpc.ShadowPolicy{}, fmt.Errorf("--shadow-rate %g: the share of calls mirrored, from 0 to 1", rate)
	}
	p := natsrpc.ShadowPolicy{Prefix: prefix, Rate: rate, Methods: map[string]natsrpc.ShadowMethod{}}
	sp, err := spec.ForService(sd)
	if err != nil {
		return natsrpc.ShadowPolicy{}, err
	}
	for _, m := range sp.Methods {
		md := m.Desc
		if m.Kind != spec.KindUnary {
			continue // streams and events are not mirrored
		}
		r := rules.ShadowFor(md.FullName())
		if r == nil {
			continue
		}
		exact := r.Selector == string(md.FullName())
		if !exact && !noSideEffects(md) {
			continue
		}
		p.Methods[string(md.Name())] = natsrpc.ShadowMethod{Rate: r.Rate, Ignore: r.Ignore, Unordered: r.Unordered}
	}
	return p, nil
}

func noSideEffects(md protoreflect.MethodDescriptor) bool {
	o, ok := md.Options().(*descriptorpb.MethodOptions)
	return ok && o.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}
