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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
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

// ----- events and synchronisation -----

// onEvent applies a VersionCreated event.
func (c *Client) onEvent(msg *nats.Msg) {
	ev, err := client.DecodeVersionCreated(msg)
	if err != nil || ev.GetVersion().GetModule() == "" {
		return
	}
	c.stats.events.Add(1)
	name, v, digest := ev.GetVersion().GetModule(), ev.GetVersion().GetVersion(), ev.GetVersion().GetDigest()
	var missed bool
	if n, err := msg.Sub.Dropped(); err == nil && uint64(n) > c.dropped {
		c.dropped = uint64(n) // only this callback's goroutine touches it
		missed = true
	}
	c.mu.Lock()
	h := c.heads[name]
	if c.synced && v > h.version+1 {
		missed = true // a gap: versions between were never announced to us
	}
	if v > h.version || (v == h.version && digest != h.digest) {
		c.seq++
		c.heads[name] = head{version: v, digest: digest, seq: c.seq}
		clear(c.missing)
		c.stats.invalidations.Add(1)
	}
	if missed {
		c.unsyncLocked()
	}
	c.mu.Unlock()
	if missed {
		go c.resyncLoop()
	}
}

// flush makes a round trip to the server, bounded by ctx or, when ctx
// has no deadline, by the client's timeout.
func (c *Client) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}

// unsyncLocked records that events may have been missed.
func (c *Client) unsyncLocked() {
	c.synced = false
	c.epoch++
}

// watchConnection follows the connection's status: a disconnect means
// events may be missed; a reconnect means the subscription is back and the
// heads must be listed again.
func (c *Client) watchConnection() {
	defer close(c.done)
	for {
		select {
		case <-c.stopped:
			return
		case st, ok := <-c.status:
			if !ok {
				return
			}
			switch st {
			case nats.DISCONNECTED, nats.RECONNECTING:
				c.mu.Lock()
				c.unsyncLocked()
				c.mu.Unlock()
			case nats.CONNECTED:
				go c.resyncLoop()
			case nats.CLOSED:
				return
			}
		}
	}
}

// resyncLoop resynchronises, retrying with backoff until it succeeds, the
// client closes or the connection drops again (the next reconnect starts a
// new loop).
func (c *Client) resyncLoop() {
	backoff := 50 * time.Millisecond
	for {
		c.mu.Lock()
		epoch, done := c.epoch, c.synced || c.closed
		c.mu.Unlock()
		if done || !c.nc.IsConnected() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := c.resync(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-c.stopped:
			return
		case <-time.After(backoff):
		}
		c.mu.Lock()
		changed := c.epoch != epoch
		c.mu.Unlock()
		if changed {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// resync lists every module's head and applies them, unless the client is
// synchronised already. Concurrent calls share one listing. It returns nil
// only once the client is synchronised: a listing during which events may
// have been missed again (a disconnect, a gap) is repeated.
func (c *Client) resync(ctx context.Context) error {
	_, err := c.syncing.Do(ctx, "", func() (struct{}, error) {
		for attempt := 1; ; attempt++ {
			done, err := c.listHeads(ctx)
			if err != nil || done {
				return struct{}{}, err
			}
			if attempt == 3 {
				return struct{}{}, errors.New("lookup: events kept being missed while listing the registry's modules; retry")
			}
		}
	})
	return err
}

// listHeads makes one listing of the heads and applies it. It reports
// whether the client is synchronised afterwards.
func (c *Client) listHeads(ctx context.Context) (bool, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false, errClosed
	}
	if c.synced {
		c.mu.Unlock()
		return true, nil
	}
	epoch, seq := c.epoch, c.seq
	c.mu.Unlock()
	// Round trip to the server first: after a reconnect it makes sure the
	// server has our subscription again before we list.
	if err := c.flush(ctx); err != nil {
		return false, fmt.Errorf("lookup: reach NATS: %w", err)
	}
	mods, err := c.api.ListModules(ctx)
	if err != nil {
		return false, fmt.Errorf("lookup: list the registry's modules: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	listed := make(map[string]bool, len(mods))
	for _, m := range mods {
		listed[m.GetName()] = true
		h := c.heads[m.GetName()]
		if h.seq > seq && h.version >= m.GetLatestVersion() {
			continue // an event during the listing already said as much
		}
		if h.version != m.GetLatestVersion() || h.digest != m.GetLatestDigest() {
			c.stats.invalidations.Add(1)
		}
		c.heads[m.GetName()] = head{version: m.GetLatestVersion(), digest: m.GetLatestDigest()}
	}
	for name, h := range c.heads {
		if !listed[name] && h.seq <= seq {
			delete(c.heads, name)
			c.dropModuleLocked(name)
		}
	}
	clear(c.missing)
	c.stats.resyncs.Add(1)
	if c.epoch != epoch {
		return false, nil
	}
	c.synced = true
	return true, nil
}

// ----- modules -----

// fresh reports whether m is the latest version the client knows of.
func (c *Client) freshLocked(m *module) bool {
	h, ok := c.heads[m.name]
	return ok && h.version == m.version && (h.digest == "" || h.digest == m.digest)
}

// ensureSynced resynchronises when needed.
func (c *Client) ensureSynced(ctx context.Context) error {
	c.mu.RLock()
	closed, synced := c.closed, c.synced
	c.mu.RUnlock()
	if closed {
		return errClosed
	}
	if synced {
		return nil
	}
	return c.resync(ctx)
}

// module returns the latest version of a module, loading it when it is
// not cached or stale.
func (c *Client) module(ctx context.Context, name string) (*module, error) {
	if err := c.ensureSynced(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c.mu.RLock()
		m := c.mods[name]
		if m != nil && c.freshLocked(m) {
			c.mu.RUnlock()
			c.stats.hits.Add(1)
			return m, nil
		}
		c.mu.RUnlock()
		m, err := c.loads.Do(ctx, name, func() (*module, error) { return c.load(ctx, name) })
		if err != nil {
			return nil, err
		}
		c.mu.RLock()
		fresh := c.freshLocked(m)
		c.mu.RUnlock()
		// A head announced while loading makes the load stale at once;
		// load again, but never loop on a registry that keeps moving.
		if fresh || attempt == 2 {
			return m, nil
		}
	}
}

// load fetches a module's latest version and installs it.
func (c *Client) load(ctx context.Context, name string) (*module, error) {
	c.stats.loads.Add(1)
	mv, set, err := c.api.GetModuleVersion(ctx, &registryv1.GetModuleVersionRequest{Module: name, ExcludeSourceInfo: true})
	if err != nil {
		return nil, fmt.Errorf("lookup: load module %q: %w", name, err)
	}
	m, err := newModule(name, mv, set)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.heads[name]; m.version > h.version {
		c.heads[name] = head{version: m.version, digest: m.digest}
	}
	if old := c.mods[name]; old != nil && old.version > m.version {
		return old, nil // a concurrent load got a later version
	}
	c.dropModuleLocked(name)
	c.mods[name] = m
	for _, p := range m.pkgs {
		c.pkgs[p] = name
	}
	for p := range m.own {
		c.paths[p] = name
	}
	return m, nil
}

// newModule builds a module from a GetModuleVersion reply.
func newModule(name string, mv *registryv1.ModuleVersion, set *descriptorpb.FileDescriptorSet) (*module, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("lookup: module %s@%d does not link: %w", name, mv.GetVersion(), err)
	}
	m := &module{
		name:    name,
		version: mv.GetVersion(),
		digest:  mv.GetDigest(),
		files:   files,
		types:   dynamicpb.NewTypes(files),
		own:     map[string]bool{},
	}
	pkgs := map[string]bool{}
	for _, p := range mv.GetFiles() {
		m.own[p] = true
		if fd, err := files.FindFileByPath(p); err == nil {
			pkgs[string(fd.Package())] = true
		}
	}
	for p := range pkgs {
		m.pkgs = append(m.pkgs, p)
	}
	return m, nil
}

func (c *Client) dropModuleLocked(name string) {
	old := c.mods[name]
	if old == nil {
		return
	}
	delete(c.mods, name)
	for n, e := range c.msgTypes {
		if e.mod == old {
			delete(c.msgTypes, n)
		}
	}
	for _, p := range old.pkgs {
		if c.pkgs[p] == name {
			delete(c.pkgs, p)
		}
	}
	for p := range old.own {
		if c.paths[p] == name {
			delete(c.paths, p)
		}
	}
}

// noteVersion records a version the registry reported in a reply.
func (c *Client) noteVersion(name string, version uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.heads[name]; version > h.version {
		c.heads[name] = head{version: version}
	}
}

// ownerOf returns the loaded module that owns name's package, if any.
func (c *Client) ownerOf(name protoreflect.FullName) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for p := string(name); p != ""; {
		if m, ok := c.pkgs[p]; ok {
			return m
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

func (c *Client) isMissing(key string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.missing[key]
}

func (c *Client) setMissing(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.missing[key] = true
}

func notFound(what string, err error) error {
	return fmt.Errorf("lookup: %s: %w (%w)", what, protoregistry.NotFound, err)
}

func isBuiltinName(name protoreflect.FullName) bool {
	return strings.HasPrefix(string(name), "google.protobuf.")
}

func isBuiltinPath(path string) bool {
	return strings.HasPrefix(path, "google/protobuf/")
}

// ----- context-aware lookups -----

// DescriptorByName returns the descriptor of a fully-qualified name: a
// message, field, oneof, enum, enum value, extension, service or method.
// The well-known types come from the program's own registry.
func (c *Client) DescriptorByName(ctx context.Context, name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if isBuiltinName(name) {
		if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	if err := c.ensureSynced(ctx); err != nil {
		return nil, err
	}
	if owner := c.ownerOf(name); owner != "" {
		m, err := c.module(ctx, owner)
		if err != nil {
			return nil, err
		}
		if d, err := m.files.FindDescriptorByName(name); err == nil && m.own[d.ParentFile().Path()] {
			return d, nil
		}
		// The package may have moved to another module: ask the registry.
	}
	key := "sym:" + string(name)
	if c.isMissing(key) {
		return nil, notFound(fmt.Sprintf("symbol %q", name), errors.New("not in the registry"))
	}
	c.stats.resolves.Add(1)
	res, set, err := c.api.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: string(name), ExcludeSourceInfo: true})
	if err != nil {
		if natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
			c.setMissing(key)
			return nil, notFound(fmt.Sprintf("symbol %q", name), err)
		}
		return nil, fmt.Errorf("lookup: resolve symbol %q: %w", name, err)
	}
	if res.GetModule() == "" {
		files, err := c.addBuiltin(set)
		if err != nil {
			return nil, err
		}
		return files.FindDescriptorByName(name)
	}
	c.noteVersion(res.GetModule(), res.GetVersion())
	m, err := c.module(ctx, res.GetModule())
	if err != nil {
		return nil, err
	}
	d, err := m.files.FindDescriptorByName(name)
	if err != nil {
		return nil, notFound(fmt.Sprintf("symbol %q in %s@%d", name, m.name, m.version), err)
	}
	return d, nil
}

// FileByPath returns a file by its import path, e.g.
// "gaming/common/v1/common.proto".
func (c *Client) FileByPath(ctx context.Context, path string) (protoreflect.FileDescriptor, error) {
	if isBuiltinPath(path) {
		if fd, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	if err := c.ensureSynced(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	owner := c.paths[path]
	c.mu.Unlock()
	if owner != "" {
		m, err := c.module(ctx, owner)
		if err != nil {
			return nil, err
		}
		if m.own[path] {
			return m.files.FindFileByPath(path)
		}
	}
	key := "file:" + path
	if c.isMissing(key) {
		return nil, notFound(fmt.Sprintf("file %q", path), errors.New("not in the registry"))
	}
	c.stats.resolves.Add(1)
	res, set, err := c.api.ResolveFile(ctx, &registryv1.ResolveFileRequest{File: path, ExcludeSourceInfo: true})
	if err != nil {
		if natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
			c.setMissing(key)
			return nil, notFound(fmt.Sprintf("file %q", path), err)
		}
		return nil, fmt.Errorf("lookup: resolve file %q: %w", path, err)
	}
	if res.GetModule() == "" {
		files, err := c.addBuiltin(set)
		if err != nil {
			return nil, err
		}
		return files.FindFileByPath(path)
	}
	c.noteVersion(res.GetModule(), res.GetVersion())
	m, err := c.module(ctx, res.GetModule())
	if err != nil {
		return nil, err
	}
	return m.files.FindFileByPath(path)
}

// addBuiltin keeps built-in files the registry served that this program
// does not link.
func (c *Client) addBuiltin(set *descriptorpb.FileDescriptorSet) (*protoregistry.Files, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.builtin == nil {
		c.builtin = new(protoregistry.Files)
	}
	for _, fdp := range set.GetFile() {
		if _, err := c.builtin.FindFileByPath(fdp.GetName()); err == nil {
			continue
		}
		fd, err := protodesc.NewFile(fdp, c.builtin)
		if err != nil {
			return nil, fmt.Errorf("lookup: built-in file %q: %w", fdp.GetName(), err)
		}
		if err := c.builtin.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("lookup: built-in file %q: %w", fdp.GetName(), err)
		}
	}
	return c.builtin, nil
}

// MessageType returns a message type for a fully-qualified message name:
// the program's generated type for the well-known types, a dynamicpb type
// otherwise.
func (c *Client) MessageType(ctx context.Context, name protoreflect.FullName) (protoreflect.MessageType, error) {
	if isBuiltinName(name) {
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	if mt, ok := c.cachedMessageType(name); ok {
		return mt, nil
	}
	d, err := c.DescriptorByName(ctx, name)
	if err != nil {
		return nil, err
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, notFound(fmt.Sprintf("message %q", name), fmt.Errorf("it is a %T", d))
	}
	mt := dynamicpb.NewMessageType(md)
	c.mu.Lock()
	if m := c.mods[c.pkgs[string(md.ParentFile().Package())]]; m != nil && m.own[md.ParentFile().Path()] {
		c.msgTypes[name] = msgType{mod: m, mt: mt}
	}
	c.mu.Unlock()
	return mt, nil
}

// cachedMessageType is the fast path of [Client.MessageType]: a type made
// earlier from its module's cached version, which is still the latest
// known. It takes no context and makes no request.
func (c *Client) cachedMessageType(name protoreflect.FullName) (protoreflect.MessageType, bool) {
	c.mu.RLock()
	e, ok := c.msgTypes[name]
	ok = ok && c.synced && c.mods[e.mod.name] == e.mod && c.freshLocked(e.mod)
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	c.stats.hits.Add(1)
	return e.mt, true
}

// ExtensionType returns the extension type of a fully-qualified extension
// name.
func (c *Client) ExtensionType(ctx context.Context, name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if isBuiltinName(name) {
		if xt, err := protoregistry.GlobalTypes.FindExtensionByName(name); err == nil {
			return xt, nil
		}
	}
	d, err := c.DescriptorByName(ctx, name)
	if err != nil {
		return nil, err
	}
	xd, ok := d.(protoreflect.ExtensionDescriptor)
	if !ok || !xd.IsExtension() {
		return nil, notFound(fmt.Sprintf("extension %q", name), fmt.Errorf("it is a %T", d))
	}
	return dynamicpb.NewExtensionType(xd), nil
}

// ExtensionTypeByNumber returns the extension of message with the given
// field number. It searches the module that defines message, then every
// module loaded so far; the extensions of the well-known types' options
// that this program links come first.
func (c *Client) ExtensionTypeByNumber(ctx context.Context, message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if isBuiltinName(message) {
		if xt, err := protoregistry.GlobalTypes.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	} else if _, err := c.DescriptorByName(ctx, message); err != nil {
		return nil, err
	}
	if err := c.ensureSynced(ctx); err != nil {
		return nil, err
	}
	owner := c.ownerOf(message)
	if owner != "" {
		m, err := c.module(ctx, owner)
		if err != nil {
			return nil, err
		}
		if xt, err := m.types.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	c.mu.Lock()
	mods := make([]*module, 0, len(c.mods))
	for _, m := range c.mods {
		if m.name != owner && c.freshLocked(m) {
			mods = append(mods, m)
		}
	}
	c.mu.Unlock()
	for _, m := range mods {
		if xt, err := m.types.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return nil, notFound(fmt.Sprintf("extension %d of %q", field, message), errors.New("not in the modules loaded"))
}

// MethodBySubject returns the service method that listens on a NATS
// subject (a deployment prefix in front of the method's subject is
// allowed), as the registry's ResolveSubject finds it.
func (c *Client) MethodBySubject(ctx context.Context, subject string) (protoreflect.MethodDescriptor, error) {
	if err := c.ensureSynced(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.subjects[subject]
	if ok {
		if h := c.heads[e.module]; h.version != e.version {
			ok = false
		}
	}
	c.mu.Unlock()
	if !ok {
		c.stats.resolves.Add(1)
		res, _, err := c.api.ResolveSubject(ctx, &registryv1.ResolveSubjectRequest{Subject: subject})
		if err != nil {
			if natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
				return nil, notFound(fmt.Sprintf("subject %q", subject), err)
			}
			return nil, fmt.Errorf("lookup: resolve subject %q: %w", subject, err)
		}
		c.noteVersion(res.GetModule(), res.GetVersion())
		e = subjectEntry{module: res.GetModule(), version: res.GetVersion(), method: protoreflect.FullName(res.GetService() + "." + res.GetMethod())}
		c.mu.Lock()
		c.subjects[subject] = e
		c.mu.Unlock()
	}
	m, err := c.module(ctx, e.module)
	if err != nil {
		return nil, err
	}
	d, err := m.files.FindDescriptorByName(e.method)
	if err != nil {
		return nil, notFound(fmt.Sprintf("method %q in %s@%d", e.method, m.name, m.version), err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return nil, notFound(fmt.Sprintf("method %q", e.method), fmt.Errorf("it is a %T", d))
	}
	return md, nil
}

// Head returns the latest version of a module the client knows of, and
// whether it knows the module at all.
func (c *Client) Head(module string) (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.heads[module]
	return h.version, ok
}

// Synced reports whether the client's knowledge of the heads is
// complete: false after a disconnect, dropped events or a gap, until the
// next listing.
func (c *Client) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// ----- protoregistry-style methods (bounded by WithTimeout) -----

func (c *Client) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// FindDescriptorByName is [Client.DescriptorByName] with the client's
// timeout, for protodesc.Resolver.
func (c *Client) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.DescriptorByName(ctx, name)
}

// FindFileByPath is [Client.FileByPath] with the client's timeout, for
// protodesc.Resolver.
func (c *Client) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.FileByPath(ctx, path)
}

// FindMessageByName is [Client.MessageType] with the client's timeout.
func (c *Client) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, ok := c.cachedMessageType(name); ok {
		return mt, nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return c.MessageType(ctx, name)
}

// FindMessageByURL resolves a type URL such as
// "type.googleapis.com/gaming.quest_system.v1.Quest" (everything up to the
// last "/" is ignored), as Any values carry them.
func (c *Client) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	name := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		name = url[i+1:]
	}
	return c.FindMessageByName(protoreflect.FullName(name))
}

// FindExtensionByName is [Client.ExtensionType] with the client's
// timeout.
func (c *Client) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.ExtensionType(ctx, field)
}

// FindExtensionByNumber is [Client.ExtensionTypeByNumber] with the
// client's timeout.
func (c *Client) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.ExtensionTypeByNumber(ctx, message, field)
}

// ----- stats -----

// Stats counts what a client did, for monitoring and tests.
type Stats struct {
	// Hits are lookups answered from a cached module.
	Hits uint64
	// Loads are module versions fetched.
	Loads uint64
	// Resolves are ResolveSymbol, ResolveFile and ResolveSubject calls.
	Resolves uint64
	// Events are VersionCreated events received.
	Events uint64
	// Invalidations are heads that moved, by event or listing.
	Invalidations uint64
	// Resyncs are successful listings of the heads.
	Resyncs uint64
}

type stats struct {
	hits, loads, resolves, events, invalidations, resyncs atomic.Uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Hits:          c.stats.hits.Load(),
		Loads:         c.stats.loads.Load(),
		Resolves:      c.stats.resolves.Load(),
		Events:        c.stats.events.Load(),
		Invalidations: c.stats.invalidations.Load(),
		Resyncs:       c.stats.resyncs.Load(),
	}
}
