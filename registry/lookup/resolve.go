package lookup

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
)

// The lookups, with a context: descriptors, files, message and extension
// types, and methods by NATS subject.

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
