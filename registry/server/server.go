// Package server serves a [store.Registry] over NATS, with the handler
// stubs protoc-gen-natsrpc generates, and relays the registry's new
// versions as VersionCreated events.
//
// The API is served by right, so that NATS permissions alone decide who
// may do what: RegistryReadService on natsrpc.registry.v1.read.<Method>,
// RegistryPushService on natsrpc.registry.v1.push.Push.<module> and
// RegistryPolicyService on natsrpc.registry.v1.policy.SetPolicy.<module>
// (a payload naming another module than the subject is refused with
// permission_denied), RegistryAdminService (package reservations) on
// natsrpc.registry.v1.admin.<Method>. RegistryService, the API before rights, is served
// too, for clients built against it; grant its subjects to administrators
// only (docs/registry.md).
//
// It is a thin layer: requests are converted to the registry's Go types,
// answers and errors back. Error kinds map onto natsrpc codes one to one
// (not found, invalid argument, conflict as aborted, unavailable,
// internal); a push refused for a policy reason is not an error but a
// PushResponse with outcome PUSH_OUTCOME_REFUSED and its violations.
//
// # Scaling
//
// A [Server] keeps no state of its own: every answer comes from JetStream
// through the registry (whose caches hold only immutable data or verified
// hints). Any number of servers, in any number of processes, can serve one
// registry bucket: the methods' subjects are subscribed in the default
// natsrpc queue group, so NATS hands each request to one of them.
//
// # Large payloads
//
// A descriptor set too large for one NATS message travels through the
// registry's Object Store buckets: a push names an object of the transfer
// bucket in PushRequest.upload, and a reply whose set exceeds the request's
// max_inline_bytes (or the connection's max payload) names an object
// instead of carrying the set inline. Package client implements the client
// side of both.
//
// # Events
//
// Each server relays new module heads as VersionCreated events on
// natsrpc.registry.v1.RegistryEventsService.VersionCreated (core NATS,
// broadcast, protobuf payload). See [Server] for how the instances share
// that work without a single point of failure.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// Server serves one registry over one NATS connection. Create it with
// [New]; it serves until [Server.Stop].
//
// Event relay: every Server watches the registry's module heads (a KV
// watch, which misses nothing and resumes after reconnects) and subscribes
// to the VersionCreated subject itself, so it knows which versions have
// been announced. The Server that committed a push announces the new
// version at once, before it answers the push. For a head it did not
// commit (a push through the Go API, a push whose Server died between
// commit and announcement, or the heads found when a Server starts), a
// Server waits a short, jittered delay and announces it only if nobody has
// by then. So in the normal case each version is announced exactly once,
// and as long as one Server runs, no version goes unannounced; a
// subscriber may still see an event twice and must treat (module, version)
// as idempotent.
type Server struct {
	reg   *store.Registry
	nc    *nats.Conn
	svcs  []*natsrpc.Service
	relay *relay
}

// Option configures a [Server].
type Option interface {
	apply(*config)
}

type config struct {
	prefix      string
	handlerOpts []natsrpc.HandlerOption
	relayDelay  time.Duration
	noRelay     bool
	log         *slog.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithSubjectPrefix serves the API and publishes events under prefix and a
// dot (see natsrpc.WithSubjectPrefix). Clients must use the same prefix.
func WithSubjectPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithHandlerOptions passes options to the natsrpc service, e.g.
// natsrpc.WithConcurrency or natsrpc.WithInterceptors.
func WithHandlerOptions(opts ...natsrpc.HandlerOption) Option {
	return optionFunc(func(c *config) { c.handlerOpts = append(c.handlerOpts, opts...) })
}

// WithRelayDelay sets how long a Server waits before announcing a head it
// did not commit itself (the actual wait is between d and 2d). By default,
// 500 milliseconds.
func WithRelayDelay(d time.Duration) Option {
	return optionFunc(func(c *config) { c.relayDelay = d })
}

// WithoutEventRelay turns the event relay off: the Server announces
// neither its own pushes nor anyone else's. For tests and for deployments
// that watch the KV bucket instead.
func WithoutEventRelay() Option {
	return optionFunc(func(c *config) { c.noRelay = true })
}

// WithLogger sets the logger for problems that have no caller to report
// to (a failed event publication, a broken watch). By default,
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.log = l })
}

// New starts serving reg over nc and, unless [WithoutEventRelay] is given,
// relaying its new versions.
func New(nc *nats.Conn, reg *store.Registry, opts ...Option) (*Server, error) {
	if nc == nil {
		return nil, errors.New("registry server: nats connection is nil")
	}
	if reg == nil {
		return nil, errors.New("registry server: registry is nil")
	}
	cfg := config{relayDelay: 500 * time.Millisecond, log: slog.Default()}
	for _, o := range opts {
		o.apply(&cfg)
	}
	s := &Server{reg: reg, nc: nc}
	if !cfg.noRelay {
		r, err := startRelay(nc, reg, cfg.prefix, cfg.relayDelay, cfg.log)
		if err != nil {
			return nil, err
		}
		s.relay = r
	}
	hopts := cfg.handlerOpts
	if cfg.prefix != "" {
		hopts = append([]natsrpc.HandlerOption{natsrpc.WithSubjectPrefix(cfg.prefix)}, hopts...)
	}
	// The API by right (read, push and set-policy per module), and the API
	// before rights for the clients built against it.
	with := func(extra ...natsrpc.HandlerOption) []natsrpc.HandlerOption {
		return append(append([]natsrpc.HandlerOption(nil), hopts...), extra...)
	}
	for _, register := range []func() (*natsrpc.Service, error){
		func() (*natsrpc.Service, error) {
			return registryv1natsrpc.RegisterRegistryReadServiceHandler(nc, s, with()...)
		},
		func() (*natsrpc.Service, error) {
			return registryv1natsrpc.RegisterRegistryPushServiceHandler(nc, pushAPI{s}, with(natsrpc.WithSubjectWildcard("Push"))...)
		},
		func() (*natsrpc.Service, error) {
			return registryv1natsrpc.RegisterRegistryPolicyServiceHandler(nc, policyAPI{s}, with(natsrpc.WithSubjectWildcard("SetPolicy"))...)
		},
		func() (*natsrpc.Service, error) {
			return registryv1natsrpc.RegisterRegistryAdminServiceHandler(nc, adminAPI{s}, with()...)
		},
		func() (*natsrpc.Service, error) {
			return registryv1natsrpc.RegisterRegistryServiceHandler(nc, s, with()...)
		},
	} {
		svc, err := register()
		if err != nil {
			_ = s.Stop(context.Background())
			return nil, fmt.Errorf("registry server: %w", err)
		}
		s.svcs = append(s.svcs, svc)
	}
	return s, nil
}

// Registry returns the registry the server serves.
func (s *Server) Registry() *store.Registry { return s.reg }

// Stop stops serving: it drains the API subscriptions and waits for the
// requests in flight (see natsrpc.Service.Stop), then stops the event
// relay. If ctx ends first, it returns ctx's error.
func (s *Server) Stop(ctx context.Context) error {
	var errs []error
	for _, svc := range s.svcs {
		errs = append(errs, svc.Stop(ctx))
	}
	if s.relay != nil {
		s.relay.stop()
	}
	return errors.Join(errs...)
}
