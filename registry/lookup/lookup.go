// Package lookup resolves protobuf descriptors at run time through the
// schema registry's NATS API, with a local cache that the registry's
// VersionCreated events keep fresh.
//
// A [Client] is a protoregistry-style resolver: pass it to
// protojson.UnmarshalOptions, proto.UnmarshalOptions or anypb to decode
// messages, and Any values, of types the program was never compiled with:
//
//	lc, err := lookup.New(ctx, nc)
//	...
//	mt, err := lc.FindMessageByName("gaming.quest_system.v1.Quest")
//	msg := mt.New().Interface() // a dynamicpb message
//	err = protojson.UnmarshalOptions{Resolver: lc}.Unmarshal(data, msg)
//
// # Cache
//
// The unit of caching is a module version: the first lookup of a symbol or
// file asks the registry which module owns it, then loads that module's
// latest version whole (without source info) and answers every later
// lookup in the module locally, with no request at all.
//
// # Freshness
//
// The client never answers from a version older than the latest one it
// knows of, and it learns of new versions without polling:
//
//   - Every VersionCreated event raises the module's known head; the
//     module's cached version is then stale and is reloaded on its next
//     lookup.
//   - NATS core events can be missed: while the connection is down, when
//     the subscription drops messages (slow consumer), or when an event
//     skips versions the client had not seen (a gap). Each of these marks
//     the cache unsynchronised. The client then re-lists every module's
//     head (one ListModules call) as soon as it can, after re-subscribing;
//     heads that changed invalidate their modules, modules that vanished
//     (a registry reset) are dropped.
//   - While unsynchronised, a lookup first resynchronises, and fails
//     rather than answer from a cache it cannot vouch for.
//
// The registry's own servers relay every new head (see package server),
// so an event reaches a connected client even when the server that
// committed the push died before announcing it.
package lookup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/internal/flight"
)

// Interfaces the client implements, so that it plugs into protodesc,
// protojson, proto.UnmarshalOptions and anypb.
var (
	_ protodesc.Resolver                  = (*Client)(nil)
	_ protoregistry.MessageTypeResolver   = (*Client)(nil)
	_ protoregistry.ExtensionTypeResolver = (*Client)(nil)
)

// Client resolves descriptors through the registry. It is safe for
// concurrent use. Close it when done.
type Client struct {
	api     *client.Client
	nc      *nats.Conn
	timeout time.Duration

	mu       sync.RWMutex
	heads    map[string]head    // module -> latest version known
	mods     map[string]*module // loaded modules
	pkgs     map[string]string  // package -> module, for loaded modules
	paths    map[string]string  // own file path -> module, for loaded modules
	subjects map[string]subjectEntry
	missing  map[string]bool // names and paths the registry does not know
	builtin  *protoregistry.Files
	synced   bool
	epoch    uint64 // bumped whenever events may have been missed
	seq      uint64 // bumped by every event that moves a head
	dropped  uint64
	closed   bool
	msgTypes map[protoreflect.FullName]msgType // the fast path of MessageType

	loads   flight.Group[*module]
	syncing flight.Group[struct{}]

	sub     *nats.Subscription
	status  chan nats.Status
	stopped chan struct{}
	done    chan struct{}

	stats stats
}

type head struct {
	version uint64
	digest  string
	seq     uint64 // the event that set it; 0 when set by a listing or a reply
}

type module struct {
	name    string
	version uint64
	digest  string
	files   *protoregistry.Files
	types   *dynamicpb.Types
	own     map[string]bool
	pkgs    []string
}

// msgType is a message type of a loaded module; it is valid while its
// module is the cached and fresh version.
type msgType struct {
	mod *module
	mt  protoreflect.MessageType
}

type subjectEntry struct {
	module  string
	version uint64
	method  protoreflect.FullName
}

// Option configures a [Client].
type Option interface {
	apply(*config)
}

type config struct {
	timeout    time.Duration
	clientOpts []client.Option
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTimeout bounds the lookups made through the methods that take no
// context (the protoregistry-style ones). By default, 10 seconds.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithClientOptions configures the underlying registry API client: its
// bucket, subject prefix and natsrpc client options.
func WithClientOptions(opts ...client.Option) Option {
	return optionFunc(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// emptyClient returns a client with empty caches and no connection.
func emptyClient() *Client {
	return &Client{
		heads:    map[string]head{},
		mods:     map[string]*module{},
		pkgs:     map[string]string{},
		paths:    map[string]string{},
		subjects: map[string]subjectEntry{},
		missing:  map[string]bool{},
		msgTypes: map[protoreflect.FullName]msgType{},
	}
}

// New returns a client that resolves through the registry reachable over
// nc. It subscribes to the registry's events and lists the modules' heads;
// when no registry answers yet, it still returns a client, which lists the
// heads on its first lookup.
func New(ctx context.Context, nc *nats.Conn, opts ...Option) (*Client, error) {
	if nc == nil {
		return nil, errors.New("lookup: nats connection is nil")
	}
	cfg := config{timeout: 10 * time.Second}
	for _, o := range opts {
		o.apply(&cfg)
	}
	c := emptyClient()
	c.api = client.New(nc, cfg.clientOpts...)
	c.nc = nc
	c.timeout = cfg.timeout
	c.stopped = make(chan struct{})
	c.done = make(chan struct{})
	c.status = nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	sub, err := nc.Subscribe(c.api.EventSubject(), c.onEvent)
	if err != nil {
		nc.RemoveStatusListener(c.status)
		return nil, fmt.Errorf("lookup: subscribe to registry events on %q: %w", c.api.EventSubject(), err)
	}
	c.sub = sub
	go c.watchConnection()
	// The subscription must be in place before the listing, so that
	// every head after the listing arrives as an event.
	if err := c.flush(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("lookup: subscribe to registry events: %w", err)
	}
	_ = c.resync(ctx) // best effort: lookups retry
	return c, nil
}

// Close unsubscribes from the registry's events. Lookups after Close
// fail.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stopped)
	_ = c.sub.Unsubscribe()
	c.nc.RemoveStatusListener(c.status)
	<-c.done
}

var errClosed = errors.New("lookup: client is closed")
