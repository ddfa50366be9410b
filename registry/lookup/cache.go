package lookup

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// The cache: module versions loaded from the registry, what they define,
// and the names known to be missing.

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
