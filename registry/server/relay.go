package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// relay announces new module heads as VersionCreated events; see [Server]
// for the protocol the instances follow.
type relay struct {
	nc      *nats.Conn
	reg     *store.Registry
	events  registryv1natsrpc.RegistryEventsServiceClient
	subject string
	delay   time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	announced map[string]uint64      // module -> highest version seen announced
	timers    map[string]*time.Timer // module -> pending fallback announcement
	stopped   bool

	sub    *nats.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func startRelay(nc *nats.Conn, reg *store.Registry, prefix string, delay time.Duration, log *slog.Logger) (*relay, error) {
	subject := registryv1natsrpc.RegistryEventsServiceVersionCreatedSubject
	var copts []natsrpc.ClientOption
	if prefix != "" {
		subject = prefix + "." + subject
		copts = append(copts, natsrpc.WithSubjectPrefix(prefix))
	}
	r := &relay{
		nc:        nc,
		reg:       reg,
		events:    registryv1natsrpc.NewRegistryEventsServiceClient(nc, copts...),
		subject:   subject,
		delay:     delay,
		log:       log,
		announced: map[string]uint64{},
		timers:    map[string]*time.Timer{},
		done:      make(chan struct{}),
	}
	sub, err := nc.Subscribe(subject, r.observe)
	if err != nil {
		return nil, fmt.Errorf("registry server: subscribe to %q: %w", subject, err)
	}
	r.sub = sub
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// observe records an announcement, whoever made it.
func (r *relay) observe(msg *nats.Msg) {
	ev, err := client.DecodeVersionCreated(msg)
	if err != nil {
		return
	}
	r.mark(ev.GetVersion().GetModule(), ev.GetVersion().GetVersion())
}

func (r *relay) mark(module string, version uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if version > r.announced[module] {
		r.announced[module] = version
	}
}

// run follows the module heads and schedules fallback announcements,
// re-opening the watch if it ever ends before the relay stops.
func (r *relay) run() {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	for {
		events, err := r.reg.Watch(r.ctx, store.WatchOptions{IncludeCurrent: true})
		if err == nil {
			backoff = 100 * time.Millisecond
			for ev := range events {
				r.schedule(ev.Module, ev.Version)
			}
		}
		if r.ctx.Err() != nil {
			return
		}
		if err != nil {
			r.log.Warn("registry event relay: watch module heads; retrying", "error", err, "retry_in", backoff)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// schedule announces module@version after the relay delay (plus jitter)
// unless someone announces it (or a later version) first.
func (r *relay) schedule(module string, version uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.announced[module] >= version {
		return
	}
	if t := r.timers[module]; t != nil {
		t.Stop() // a later head supersedes the pending one
	}
	wait := r.delay + rand.N(r.delay+1)
	r.timers[module] = time.AfterFunc(wait, func() { r.fallback(module, version) })
}

func (r *relay) fallback(module string, version uint64) {
	r.mu.Lock()
	if r.stopped || r.announced[module] >= version {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	vs, _, err := r.reg.ListVersions(ctx, module, store.ListOptions{PageSize: 1, PageToken: strconv.FormatUint(version-1, 10)})
	if err == nil && len(vs) == 0 {
		err = errors.New("version not listed")
	}
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("registry event relay: read the new version", "module", module, "version", version, "error", err)
		}
		return
	}
	if r.ctx.Err() != nil {
		return
	}
	r.announce(moduleVersion(vs[0]))
}

// committed announces a version this server has just committed.
func (r *relay) committed(v *registryv1.ModuleVersion) {
	r.announce(v)
}

func (r *relay) announce(v *registryv1.ModuleVersion) {
	if err := publishVersionCreated(r.ctx, r.events, v); err != nil {
		r.log.Warn("registry event relay: publish VersionCreated", "module", v.GetModule(), "version", v.GetVersion(), "error", err)
		return
	}
	r.mark(v.GetModule(), v.GetVersion())
}

func (r *relay) stop() {
	r.mu.Lock()
	r.stopped = true
	for _, t := range r.timers {
		t.Stop()
	}
	r.mu.Unlock()
	r.cancel()
	<-r.done
	_ = r.sub.Unsubscribe()
}

// publishVersionCreated publishes one VersionCreated event with the
// generated RegistryEventsService client: core NATS, broadcast, the
// VersionCreatedRequest as the body (wire contract, events), with
// "<module>@<version>" as its idempotency key (Nats-Msg-Id) for
// subscribers that deduplicate.
func publishVersionCreated(ctx context.Context, events registryv1natsrpc.RegistryEventsServiceClient, v *registryv1.ModuleVersion) error {
	key := fmt.Sprintf("%s@%d", v.GetModule(), v.GetVersion())
	return events.VersionCreated(ctx, &registryv1.VersionCreatedRequest{Version: v}, natsrpc.WithIdempotencyKey(key))
}
