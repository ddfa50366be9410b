// Package gateway makes every NATS service reachable over HTTP, gRPC and
// Connect, with routes loaded live from the schema registry (or from a
// descriptor set).
//
// On one listener it serves the Connect protocol (JSON and binary,
// unary and streaming), gRPC and gRPC-Web (HTTP/2 without TLS through
// h2c), REST routes from google.api.http annotations or an HTTP rules
// file (package httprule), and gRPC server reflection v1 and v1alpha. The
// transcoding between them is connectrpc.com/vanguard's; behind it,
// connect-go handlers with a pass-through codec forward each binary
// protobuf body to the method's NATS subject through the runtime's
// [natsrpc.DynamicClient], so protobuf bodies are never decoded and
// re-encoded and JSON is transcoded once. Subjects, kinds, timeouts and
// retries come from the same descriptors and options as the generated
// clients'.
//
// Routes are a generation swapped atomically: a request uses the routes it
// started with, a new schema version becomes routable as soon as it is
// built (the registry announces versions; a push is routable within a
// second), and a version whose routes cannot be built (invalid options,
// a conflicting service, subject or REST route) is refused while the last
// good routes stay.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// Defaults of the options.
const (
	// DefaultMaxTimeout bounds every call: the runtime's handler maximum,
	// past which a reply could be refused anyway.
	DefaultMaxTimeout = natsrpc.DefaultMaxTimeout
	// DefaultMaxInFlight bounds concurrent calls.
	DefaultMaxInFlight = 4096
	// resyncInterval is how often the registry's heads are listed even
	// without an announcement (one may be missed while disconnected).
	resyncInterval = 30 * time.Second
)

// Option configures a [Gateway].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	set            *descriptorpb.FileDescriptorSet
	modules        []string
	registryOpts   []client.Option
	rules          []*annotations.HttpRule
	maxTimeout     time.Duration
	maxInFlight    int
	forward        []string
	corsOrigins    []string
	clientOpts     []natsrpc.ClientOption
	logger         *slog.Logger
	registry       *prometheus.Registry
	resyncInterval time.Duration
	noFastPath     bool // tests compare the fast path with the slow one
}

// WithDescriptorSet serves the services of set (a FileDescriptorSet or a
// buf image read with [ReadDescriptorSet]) instead of the registry's.
func WithDescriptorSet(set *descriptorpb.FileDescriptorSet) Option {
	return optionFunc(func(c *config) { c.set = set })
}

// WithModules narrows the registry's modules to these; by default the
// latest version of every module is served.
func WithModules(modules ...string) Option {
	return optionFunc(func(c *config) { c.modules = append(c.modules, modules...) })
}

// WithRegistryOptions configures the registry client (bucket, subject
// prefix).
func WithRegistryOptions(opts ...client.Option) Option {
	return optionFunc(func(c *config) { c.registryOpts = append(c.registryOpts, opts...) })
}

// WithHTTPRules adds REST routes to methods the rules select (read them
// with httprule.Load), besides google.api.http annotations.
func WithHTTPRules(rules []*annotations.HttpRule) Option {
	return optionFunc(func(c *config) { c.rules = append(c.rules, rules...) })
}

// WithMaxTimeout caps every call's deadline: Connect-Timeout-Ms and
// grpc-timeout are honoured up to it, and calls without one get the
// schema's timeout up to it. Default [DefaultMaxTimeout].
func WithMaxTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxTimeout = d })
}

// WithMaxInFlight bounds the calls in progress; beyond it calls are
// answered resource_exhausted (HTTP 429) at once. Default
// [DefaultMaxInFlight].
func WithMaxInFlight(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight = n })
}

// WithForwardHeaders adds request headers that become call metadata, to
// [DefaultForwardHeaders]: a name, or a prefix ending with "*".
func WithForwardHeaders(names ...string) Option {
	return optionFunc(func(c *config) { c.forward = append(c.forward, names...) })
}

// WithCORSOrigins lets browsers at these origins call the gateway ("*"
// for any).
func WithCORSOrigins(origins ...string) Option {
	return optionFunc(func(c *config) { c.corsOrigins = append(c.corsOrigins, origins...) })
}

// WithClientOptions passes options to every method's client, e.g.
// natsrpc.WithSubjectPrefix.
func WithClientOptions(opts ...natsrpc.ClientOption) Option {
	return optionFunc(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// WithLogger logs reloads and refusals; by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMetricsRegistry registers the gateway's metrics in reg, which
// /metrics then serves; by default a registry of its own, with the Go and
// process collectors.
func WithMetricsRegistry(reg *prometheus.Registry) Option {
	return optionFunc(func(c *config) { c.registry = reg })
}

// Gateway serves NATS services over HTTP. It is an http.Handler; serve it
// with [Serve] (h2c and graceful shutdown) or any HTTP/2-capable server.
type Gateway struct {
	nc       *nats.Conn
	cfg      config
	factory  *handlerFactory
	metrics  *metrics
	sem      chan struct{}
	current  atomic.Pointer[routeSet]
	draining atomic.Bool
	// fastCalls counts the calls the fast path answered (for tests).
	fastCalls atomic.Int64
	log       *slog.Logger
	mux       *http.ServeMux // the gateway's own endpoints and reflection
	cors      *corsPolicy

	mu      sync.Mutex // serializes loads
	good    map[string]*Module
	refused map[string]Refusal
	loaded  bool

	startOnce sync.Once
	stop      chan struct{}
	stopped   sync.WaitGroup
	sub       *nats.Subscription
	kick      chan struct{}
	reg       *client.Client
}

// New returns a gateway over nc. Options are checked here; routes are
// loaded by [Gateway.Start].
func New(nc *nats.Conn, opts ...Option) (*Gateway, error) {
	cfg := config{maxTimeout: DefaultMaxTimeout, maxInFlight: DefaultMaxInFlight, resyncInterval: resyncInterval}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if nc == nil {
		return nil, errors.New("gateway: the NATS connection is nil")
	}
	if cfg.maxTimeout <= 0 {
		return nil, fmt.Errorf("gateway: max timeout %s: must be positive", cfg.maxTimeout)
	}
	if cfg.maxInFlight <= 0 {
		return nil, fmt.Errorf("gateway: max in flight %d: must be at least 1", cfg.maxInFlight)
	}
	if cfg.set != nil && len(cfg.modules) > 0 {
		return nil, errors.New("gateway: modules narrow the registry's schemas; a descriptor set has no modules (give one or the other)")
	}
	policy, err := parseForwardHeaders(append(slices.Clone(DefaultForwardHeaders), cfg.forward...))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cors, err := newCORSPolicy(cfg.corsOrigins, policy)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.registry == nil {
		cfg.registry = prometheus.NewRegistry()
		cfg.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	readMax := int(nc.MaxPayload())
	if readMax <= 0 {
		readMax = 1 << 20
	}
	g := &Gateway{
		nc:      nc,
		cfg:     cfg,
		factory: &handlerFactory{forward: policy, maxTimeout: cfg.maxTimeout, readMax: readMax},
		metrics: newMetrics(cfg.registry),
		sem:     make(chan struct{}, cfg.maxInFlight),
		log:     cfg.logger,
		cors:    cors,
		good:    map[string]*Module{},
		refused: map[string]Refusal{},
		stop:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	g.mux.HandleFunc("GET /readyz", g.serveReady)
	g.mux.HandleFunc("GET /versions", g.serveVersions)
	g.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.registry, promhttp.HandlerOpts{}))
	reflector := grpcreflect.NewReflector(grpcreflect.NamerFunc(g.serviceNames),
		grpcreflect.WithDescriptorResolver(liveResolver{g}),
		grpcreflect.WithExtensionResolver(liveExtensions{g}))
	g.mux.Handle(grpcreflect.NewHandlerV1(reflector))
	g.mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return g, nil
}

// buildConfig is the configuration of one route build.
func (g *Gateway) buildConfig() *buildConfig {
	return &buildConfig{
		newClient: func(md protoreflect.MethodDescriptor) *natsrpc.DynamicClient {
			return natsrpc.NewDynamicClient(g.nc, md, g.cfg.clientOpts...)
		},
		rules:      g.cfg.rules,
		handlers:   g.factory,
		unknown:    http.HandlerFunc(unknownRoute),
		maxMessage: 8 * g.factory.readMax, // JSON is larger than protobuf
	}
}

// Start loads the routes: the descriptor set's, at once (an error is
// returned), or the registry's, then follows its announcements until
// Close. Without a registry answering yet, Start returns and the gateway
// keeps trying; /readyz says 503 until routes are loaded.
func (g *Gateway) Start(ctx context.Context) error {
	var err error
	g.startOnce.Do(func() {
		if g.cfg.set != nil {
			err = g.load([]*Module{{Set: g.cfg.set}})
			return
		}
		g.reg = client.New(g.nc, g.cfg.registryOpts...)
		g.sub, err = g.nc.Subscribe(g.reg.EventSubject(), func(*nats.Msg) { g.trigger() })
		if err != nil {
			err = fmt.Errorf("gateway: subscribe to the registry's announcements: %w", err)
			return
		}
		g.nc.SetReconnectHandler(chainReconnect(g.nc, g.trigger))
		g.stopped.Add(1)
		go g.watch()
		g.syncRegistry(ctx)
	})
	return err
}

// Close stops following the registry. Calls in progress are not affected.
func (g *Gateway) Close() {
	select {
	case <-g.stop:
		return
	default:
	}
	close(g.stop)
	if g.sub != nil {
		_ = g.sub.Unsubscribe()
	}
	g.stopped.Wait()
}

func (g *Gateway) trigger() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

func chainReconnect(nc *nats.Conn, f func()) nats.ConnHandler {
	prev := nc.Opts.ReconnectedCB
	return func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		f()
	}
}

// watch resynchronises on each announcement, reconnect and tick; every
// second while no routes are loaded yet (the registry was not answering).
func (g *Gateway) watch() {
	defer g.stopped.Done()
	for {
		wait := g.cfg.resyncInterval
		if g.current.Load() == nil {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-g.stop:
			t.Stop()
			return
		case <-g.kick:
			t.Stop()
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		g.syncRegistry(ctx)
		cancel()
	}
}

// Refusal is a module version whose routes could not be built.
type Refusal struct {
	Module  string `json:"module"`
	Version uint64 `json:"version"`
	Error   string `json:"error"`
}

// syncRegistry lists the registry's modules and loads every version the
// gateway does not have yet.
func (g *Gateway) syncRegistry(ctx context.Context) {
	mods, err := g.reg.ListModules(ctx)
	if err != nil {
		g.log.Warn("gateway: cannot list the registry's modules; keeping the routes", "error", err)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := map[string]bool{}
	changed := false
	next := map[string]*Module{}
	for k, v := range g.good {
		next[k] = v
	}
	var fetched []*Module
	for _, m := range mods {
		name := m.GetName()
		if len(g.cfg.modules) > 0 && !slices.Contains(g.cfg.modules, name) {
			continue
		}
		want[name] = true
		latest := m.GetLatestVersion()
		if cur, ok := g.good[name]; ok && cur.Version == latest {
			continue
		}
		if r, ok := g.refused[name]; ok && r.Version == latest {
			continue
		}
		mv, set, err := g.reg.GetModuleVersion(ctx, registryRequest(name, latest))
		if err != nil {
			g.log.Warn("gateway: cannot fetch a module version; keeping its routes", "module", name, "version", latest, "error", err)
			continue
		}
		mod := &Module{Name: name, Version: mv.GetVersion(), Digest: mv.GetDigest(), Set: set, Own: mv.GetFiles()}
		next[name] = mod
		fetched = append(fetched, mod)
		changed = true
	}
	for name := range g.good {
		if !want[name] {
			delete(next, name) // the module is gone from the registry
			changed = true
		}
	}
	if !changed {
		if !g.loaded && len(g.cfg.modules) == 0 {
			g.install(&routeSet{handler: http.HandlerFunc(unknownRoute), routes: map[string]*route{}, built: time.Now()}, nil)
		}
		return
	}
	// Build with every new version; when that fails, find the versions
	// to blame by adding them one at a time to the last good set.
	if rs, err := g.build(next); err == nil {
		for _, m := range fetched {
			delete(g.refused, m.Name)
		}
		g.install(rs, next)
		return
	}
	base := map[string]*Module{}
	for k, v := range g.good {
		if want[k] {
			base[k] = v
		}
	}
	for _, m := range fetched {
		try := map[string]*Module{}
		for k, v := range base {
			try[k] = v
		}
		try[m.Name] = m
		if _, err := g.build(try); err != nil {
			g.refused[m.Name] = Refusal{Module: m.Name, Version: m.Version, Error: err.Error()}
			g.metrics.reloads.WithLabelValues("refused").Inc()
			g.log.Error("gateway: refused a module version; its last good routes stay", "module", m.Name, "version", m.Version, "error", err)
			continue
		}
		delete(g.refused, m.Name)
		base = try
	}
	if rs, err := g.build(base); err == nil {
		g.install(rs, base)
	}
}

func (g *Gateway) build(mods map[string]*Module) (*routeSet, error) {
	names := make([]string, 0, len(mods))
	for k := range mods {
		names = append(names, k)
	}
	slices.Sort(names)
	list := make([]*Module, 0, len(names))
	for _, n := range names {
		list = append(list, mods[n])
	}
	return buildRoutes(g.buildConfig(), list)
}

// load builds routes from modules and installs them, or fails.
func (g *Gateway) load(mods []*Module) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs, err := buildRoutes(g.buildConfig(), mods)
	if err != nil {
		g.metrics.reloads.WithLabelValues("refused").Inc()
		return fmt.Errorf("gateway: %w", err)
	}
	g.install(rs, nil)
	return nil
}

// install swaps rs in; good, when not nil, becomes the last good modules.
func (g *Gateway) install(rs *routeSet, good map[string]*Module) {
	if good != nil {
		g.good = good
	}
	g.current.Store(rs)
	g.loaded = true
	g.metrics.reloads.WithLabelValues("ok").Inc()
	n := 0
	for _, rt := range rs.routes {
		if rt.restOf == nil {
			n++
		}
	}
	g.metrics.routes.Set(float64(n))
	for _, w := range rs.warnings {
		g.log.Warn("gateway: " + w)
	}
	g.log.Info("gateway: routes loaded", "services", len(rs.services), "methods", n, "modules", moduleNames(rs.modules))
}

func moduleNames(mods []*Module) []string {
	var out []string
	for _, m := range mods {
		if m.Name == "" {
			out = append(out, "descriptor set")
			continue
		}
		out = append(out, fmt.Sprintf("%s@%d", m.Name, m.Version))
	}
	return out
}

// Drain marks the gateway as shutting down: /readyz answers 503 so that
// load balancers stop sending, while calls in progress finish.
func (g *Gateway) Drain() { g.draining.Store(true) }

// Ready reports whether the gateway routes calls: connected to NATS,
// routes loaded, not draining.
func (g *Gateway) Ready() (bool, string) {
	switch {
	case g.draining.Load():
		return false, "shutting down"
	case !g.nc.IsConnected():
		return false, "not connected to NATS (" + g.nc.Status().String() + ")"
	case g.current.Load() == nil:
		return false, "routes not loaded yet"
	}
	return true, "ok"
}

func (g *Gateway) serveReady(w http.ResponseWriter, _ *http.Request) {
	ok, why := g.Ready()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(why + "\n"))
}

// Versions describes the loaded routes, as /versions serves them.
type Versions struct {
	// Source is "registry" or "descriptor-set".
	Source string `json:"source"`
	// Modules are the module versions whose routes are loaded.
	Modules []ModuleVersion `json:"modules"`
	// Refused are the newest versions that could not be built.
	Refused []Refusal `json:"refused"`
	// Warnings are rules that route nothing, annotations ignored.
	Warnings []string `json:"warnings"`
	// LoadedAt is when the routes were built (RFC 3339).
	LoadedAt string `json:"loaded_at,omitempty"`
}

// ModuleVersion is one loaded module version.
type ModuleVersion struct {
	Module   string   `json:"module,omitempty"`
	Version  uint64   `json:"version,omitempty"`
	Digest   string   `json:"digest,omitempty"`
	Services []string `json:"services"`
}

// Versions returns what /versions serves.
func (g *Gateway) Versions() Versions {
	v := Versions{Source: "registry", Modules: []ModuleVersion{}, Refused: []Refusal{}, Warnings: []string{}}
	if g.cfg.set != nil {
		v.Source = "descriptor-set"
	}
	rs := g.current.Load()
	if rs != nil {
		v.LoadedAt = rs.built.UTC().Format(time.RFC3339Nano)
		v.Warnings = append(v.Warnings, rs.warnings...)
		for _, m := range rs.modules {
			mv := ModuleVersion{Module: m.Name, Version: m.Version, Digest: m.Digest, Services: []string{}}
			seen := map[string]bool{}
			for _, rt := range rs.routes {
				if rt.module == m && rt.restOf == nil && !seen[rt.method.Service.FullName] {
					seen[rt.method.Service.FullName] = true
					mv.Services = append(mv.Services, rt.method.Service.FullName)
				}
			}
			slices.Sort(mv.Services)
			v.Modules = append(v.Modules, mv)
		}
	}
	g.mu.Lock()
	for _, r := range g.refused {
		v.Refused = append(v.Refused, r)
	}
	g.mu.Unlock()
	slices.SortFunc(v.Refused, func(a, b Refusal) int { return strings.Compare(a.Module, b.Module) })
	return v
}

func (g *Gateway) serveVersions(w http.ResponseWriter, _ *http.Request) {
	b, _ := json.MarshalIndent(g.Versions(), "", "  ")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

func (g *Gateway) serviceNames() []string {
	if rs := g.current.Load(); rs != nil {
		return rs.services
	}
	return nil
}

// ServeHTTP routes a request: the gateway's own endpoints, CORS, the
// in-flight bound, then the current routes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cors != nil && g.cors.handle(w, r) {
		return
	}
	if !g.isRoute(r.URL.Path) {
		if h, pattern := g.mux.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
	}
	start := time.Now()
	proto := classify(r)
	obs := &observation{accept: r.Header.Get("Accept")}
	// A Connect call with a unary content type is a unary call.
	rec := &statusRecorder{ResponseWriter: w, unary: proto == protoConnect}
	defer func() { g.metrics.record(obs, proto, rec.status, start) }()
	if isRESTStreamPath(r.URL.Path) {
		unknownRoute(rec, r)
		return
	}
	select {
	case g.sem <- struct{}{}:
	default:
		g.metrics.rejected.Inc()
		writeError(rec, r, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("the gateway is at its limit of %d calls in progress; retry later", cap(g.sem))))
		return
	}
	g.metrics.inFlight.Inc()
	defer func() {
		<-g.sem
		g.metrics.inFlight.Dec()
	}()
	rs := g.current.Load()
	if rs == nil {
		writeError(rec, r, connect.NewError(connect.CodeUnavailable, errors.New("the gateway has not loaded its routes yet")))
		return
	}
	if r.Method == http.MethodPost && proto == protoConnect && r.Header.Get("Connect-Protocol-Version") == "" {
		if _, ok := rs.routes[r.URL.Path]; ok {
			// A Connect unary call without the protocol header, as curl
			// sends it following Connect's documentation. Vanguard reads
			// such a POST as REST; the path names a routed method, so it
			// is Connect.
			r.Header.Set("Connect-Protocol-Version", "1")
		}
	}
	// Responses are not compressed: compressing costs the gateway more
	// CPU than the whole rest of a call, and its callers are near (a
	// compressing proxy in front serves far ones). Compressed requests
	// are still read.
	r.Header.Del("Accept-Encoding")
	r.Header.Del("Connect-Accept-Encoding")
	r.Header.Del("Grpc-Accept-Encoding")
	if g.fastUnary(rec, r, rs, obs) {
		return
	}
	ctx := context.WithValue(r.Context(), observationKey{}, obs)
	rs.handler.ServeHTTP(rec, r.WithContext(ctx))
}

// isRoute reports a path that names a routed method, which none of the
// gateway's own endpoints (mux) can match: looking it up in the mux costs
// a fifth of a call's allocations.
func (g *Gateway) isRoute(path string) bool {
	rs := g.current.Load()
	return rs != nil && rs.routes[path] != nil && !strings.HasPrefix(path, "/grpc.reflection.")
}

// unknownRoute answers a request no route takes: 404 with not_found, or
// unimplemented in gRPC's terms for gRPC clients.
func unknownRoute(w http.ResponseWriter, r *http.Request) {
	var err *connect.Error
	switch classify(r) {
	case protoGRPC, protoGRPCWeb:
		err = connect.NewError(connect.CodeUnimplemented, fmt.Errorf("no route for %s: the gateway serves no such method", r.URL.Path))
	default:
		err = connect.NewError(connect.CodeNotFound, fmt.Errorf("no route for %s %s", r.Method, r.URL.Path))
	}
	if o, _ := r.Context().Value(observationKey{}).(*observation); o != nil {
		o.done(err)
	}
	writeError(w, r, err)
}

func registryRequest(module string, version uint64) *registryv1.GetModuleVersionRequest {
	return &registryv1.GetModuleVersionRequest{Module: module, Version: version}
}

func registerExtensions(t *protoregistry.Types, xs protoreflect.ExtensionDescriptors) {
	for i := 0; i < xs.Len(); i++ {
		_ = t.RegisterExtension(dynamicpb.NewExtensionType(xs.Get(i)))
	}
}

func registerNested(t *protoregistry.Types, md protoreflect.MessageDescriptor) {
	registerExtensions(t, md.Extensions())
	for i := 0; i < md.Messages().Len(); i++ {
		registerNested(t, md.Messages().Get(i))
	}
}

// liveResolver resolves descriptors in the current routes, for
// reflection.
type liveResolver struct{ g *Gateway }

func (l liveResolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	rs := l.g.current.Load()
	if rs == nil {
		return nil, protoregistry.NotFound
	}
	return chainResolver(append(slices.Clone(rs.files), protoregistry.GlobalFiles)).FindFileByPath(path)
}

func (l liveResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	rs := l.g.current.Load()
	if rs == nil || strings.HasPrefix(string(name), restStreamPackage) {
		return nil, protoregistry.NotFound
	}
	return chainResolver(append(slices.Clone(rs.files), protoregistry.GlobalFiles)).FindDescriptorByName(name)
}

// liveExtensions resolves extensions in the current routes' schemas, then
// in this binary's.
type liveExtensions struct{ g *Gateway }

func (l liveExtensions) types() []*protoregistry.Types {
	rs := l.g.current.Load()
	if rs == nil {
		return nil
	}
	var out []*protoregistry.Types
	for _, f := range rs.files {
		t := new(protoregistry.Types)
		f.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			registerExtensions(t, fd.Extensions())
			for i := 0; i < fd.Messages().Len(); i++ {
				registerNested(t, fd.Messages().Get(i))
			}
			return true
		})
		out = append(out, t)
	}
	return out
}

func (l liveExtensions) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	for _, t := range l.types() {
		if xt, err := t.FindExtensionByName(field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

func (l liveExtensions) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	for _, t := range l.types() {
		if xt, err := t.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

func (l liveExtensions) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	seen := map[protoreflect.FieldNumber]bool{}
	visit := func(xt protoreflect.ExtensionType) bool {
		n := xt.TypeDescriptor().Number()
		if seen[n] {
			return true
		}
		seen[n] = true
		return f(xt)
	}
	for _, t := range l.types() {
		t.RangeExtensionsByMessage(message, visit)
	}
	protoregistry.GlobalTypes.RangeExtensionsByMessage(message, visit)
}
