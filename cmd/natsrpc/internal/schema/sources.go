package schema

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/input"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/regctl"
	"github.com/natsrpc/natsrpc/internal/descset"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// File returns the source of a descriptor set file: a binary
// FileDescriptorSet or buf image (`buf build -o FILE.binpb`, `protoc
// --include_imports -o FILE`, `natsrpc get`), or one in JSON (.json) or
// text format (.txtpb). Its services are those of every file but the
// built-in ones (buf marks imports, which are left out).
func File(path string) (Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--descriptor-set: %w", err)
	}
	format := input.FormatBinpb
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		format = input.FormatJSON
	case ".txtpb", ".textproto":
		format = input.FormatTxtpb
	}
	files, err := input.DecodeImage(data, format)
	if err != nil {
		return nil, fmt.Errorf("--descriptor-set %q: %w; build one with `buf build -o FILE.binpb`, `protoc --include_imports -o FILE` or `natsrpc get MODULE -o FILE.binpb`", path, err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	var own []string
	marked := false
	for _, f := range files {
		set.File = append(set.File, f.Proto)
		marked = marked || f.Import
		if !f.Import && !descset.IsBuiltinFile(f.Path) {
			own = append(own, f.Path)
		}
	}
	if !marked {
		own = nil // every file but the built-in ones
	}
	l, err := newLocal(set, own, Origin{File: filepath.Base(path)}, fmt.Sprintf("descriptor set %q", path))
	if err != nil {
		return nil, err
	}
	return &fileSource{l}, nil
}

type fileSource struct{ l *local }

func (s *fileSource) Method(_ context.Context, ref MethodRef) (*Method, error) {
	return s.l.method(ref)
}

func (s *fileSource) Service(_ context.Context, name string) (*Service, error) {
	return s.l.service(name)
}

func (s *fileSource) Services(context.Context) ([]*Service, error) {
	return s.l.allServices(), nil
}

// Registry returns the source of the schema registry: the latest version
// of every module, or, when pin names a module, that module's version
// (the latest when pin has none).
func Registry(c *client.Client, pin regctl.ModuleRef, server string) Source {
	return &registrySource{c: c, pin: pin, server: server}
}

type registrySource struct {
	c      *client.Client
	pin    regctl.ModuleRef
	server string

	mu     sync.Mutex
	pinned *local
}

func (s *registrySource) explain(err error) error { return regctl.Explain(err, s.server) }

func (s *registrySource) pinnedSet(ctx context.Context) (*local, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pinned != nil {
		return s.pinned, nil
	}
	mv, set, err := regctl.Fetch(ctx, s.c, s.pin)
	if err != nil {
		return nil, s.explain(err)
	}
	l, err := newLocal(set, mv.GetFiles(), Origin{Module: mv.GetModule(), Version: mv.GetVersion()}, mv.GetModule()+"@"+fmt.Sprint(mv.GetVersion()))
	if err != nil {
		return nil, err
	}
	s.pinned = l
	return l, nil
}

func (s *registrySource) Method(ctx context.Context, ref MethodRef) (*Method, error) {
	if s.pin.Module != "" {
		l, err := s.pinnedSet(ctx)
		if err != nil {
			return nil, err
		}
		return l.method(ref)
	}
	if ref.ByName() {
		svc, err := s.Service(ctx, ref.Service)
		if err == nil {
			for _, m := range svc.Methods {
				if m.Name == ref.Method {
					return &Method{Method: m, Origin: svc.Origin, Types: svc.Types}, nil
				}
			}
		}
		var nf *NotFoundError
		if err != nil && (ref.Subject == "" || !errors.As(err, &nf)) {
			return nil, err
		}
		if ref.Subject == "" {
			return nil, &NotFoundError{What: fmt.Sprintf("method %q", ref.FullName()), Where: svc.Origin.String(), Hint: fmt.Sprintf("`natsrpc services %s` lists its methods", ref.Service)}
		}
	}
	res, set, err := s.c.ResolveSubject(ctx, &registryv1.ResolveSubjectRequest{Subject: ref.Subject, IncludeFiles: true, ExcludeSourceInfo: true})
	if natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
		return nil, &NotFoundError{What: fmt.Sprintf("method %q (as a name or a NATS subject)", ref.Raw), Where: "the registry's latest versions", Hint: "`natsrpc services` lists the services; pin another version with --module MODULE@VERSION"}
	}
	if err != nil {
		return nil, s.explain(err)
	}
	l, err := newLocal(set, []string{res.GetFile()}, Origin{Module: res.GetModule(), Version: res.GetVersion()}, res.GetModule()+"@"+fmt.Sprint(res.GetVersion()))
	if err != nil {
		return nil, err
	}
	svc, err := l.service(res.GetService())
	if err != nil {
		return nil, err
	}
	for _, m := range svc.Methods {
		if m.Name == res.GetMethod() {
			return &Method{Method: m, Origin: l.origin, Prefix: res.GetPrefix(), Types: l.types}, nil
		}
	}
	return nil, fmt.Errorf("the registry resolved %q to %s/%s, which its own files do not define", ref.Raw, res.GetService(), res.GetMethod())
}

func (s *registrySource) Service(ctx context.Context, name string) (*Service, error) {
	if s.pin.Module != "" {
		l, err := s.pinnedSet(ctx)
		if err != nil {
			return nil, err
		}
		return l.service(name)
	}
	res, set, err := s.c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: name, ExcludeSourceInfo: true})
	if natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
		return nil, &NotFoundError{What: fmt.Sprintf("service %q", name), Where: "the registry's latest versions", Hint: "`natsrpc services` lists the services; pin another version with --module MODULE@VERSION"}
	}
	if err != nil {
		return nil, s.explain(err)
	}
	if res.GetKind() != registryv1.SymbolKind_SYMBOL_KIND_SERVICE {
		return nil, fmt.Errorf("%q is a %s in %s@%d, not a service", name, strings.ToLower(strings.TrimPrefix(res.GetKind().String(), "SYMBOL_KIND_")), res.GetModule(), res.GetVersion())
	}
	l, err := newLocal(set, []string{res.GetFile()}, Origin{Module: res.GetModule(), Version: res.GetVersion()}, res.GetModule()+"@"+fmt.Sprint(res.GetVersion()))
	if err != nil {
		return nil, err
	}
	return l.service(name)
}

func (s *registrySource) Services(ctx context.Context) ([]*Service, error) {
	if s.pin.Module != "" {
		l, err := s.pinnedSet(ctx)
		if err != nil {
			return nil, err
		}
		return l.allServices(), nil
	}
	mods, err := s.c.ListModules(ctx)
	if err != nil {
		return nil, s.explain(err)
	}
	var out []*Service
	for _, m := range mods {
		mv, set, err := regctl.Fetch(ctx, s.c, regctl.ModuleRef{Module: m.GetName(), Version: m.GetLatestVersion()})
		if err != nil {
			return nil, s.explain(err)
		}
		l, err := newLocal(set, mv.GetFiles(), Origin{Module: mv.GetModule(), Version: mv.GetVersion()}, m.GetName())
		if err != nil {
			return nil, err
		}
		out = append(out, l.allServices()...)
	}
	slices.SortFunc(out, func(a, b *Service) int { return strings.Compare(a.FullName, b.FullName) })
	return out, nil
}

// Instances returns the source of the running instances: each service's
// schema as its instances serve it ($SRV.SCHEMA), found through discovery.
func Instances(nc *nats.Conn, gather fleet.Gather, timeout time.Duration) Source {
	return &instanceSource{nc: nc, gather: gather, timeout: timeout, cache: map[string]*local{}}
}

type instanceSource struct {
	nc      *nats.Conn
	gather  fleet.Gather
	timeout time.Duration

	mu    sync.Mutex
	cache map[string]*local // by micro name and instance id ("name id")
}

// fromInstance returns the schema of the service with micro name name,
// as instance id (or any instance when id is "") serves it.
func (s *instanceSource) fromInstance(ctx context.Context, name, id string) (*local, error) {
	key := name + " " + id
	s.mu.Lock()
	l := s.cache[key]
	s.mu.Unlock()
	if l != nil {
		return l, nil
	}
	res, err := fleet.Schema(ctx, s.nc, name, id, s.timeout)
	if err != nil {
		return nil, err
	}
	set, err := descset.Unmarshal(res.FileDescriptorSet)
	if err != nil {
		return nil, fmt.Errorf("instance %s %s sent a schema that does not decode: %w", res.Name, res.ID, err)
	}
	l, err = newLocal(set, []string{res.File}, Origin{Instance: res.Name + " " + res.ID}, fmt.Sprintf("the schema of instance %s %s", res.Name, res.ID))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[key] = l
	s.mu.Unlock()
	return l, nil
}

// MicroName returns the NATS micro name of a service: its full name with
// dots replaced by underscores.
func MicroName(service string) string { return strings.ReplaceAll(service, ".", "_") }

func (s *instanceSource) Service(ctx context.Context, name string) (*Service, error) {
	l, err := s.fromInstance(ctx, MicroName(name), "")
	if err != nil {
		return nil, err
	}
	return l.service(name)
}

func (s *instanceSource) Method(ctx context.Context, ref MethodRef) (*Method, error) {
	var byName error
	if ref.ByName() {
		l, err := s.fromInstance(ctx, MicroName(ref.Service), "")
		if err == nil {
			m, err := l.method(MethodRef{Raw: ref.Raw, Service: ref.Service, Method: ref.Method})
			if err == nil || ref.Subject == "" {
				return m, err
			}
		} else if ref.Subject == "" {
			return nil, err
		}
		byName = err
	}
	// A subject: find the instance whose endpoint listens on it.
	instances, err := s.gather.Infos(ctx, s.nc, "")
	if err != nil {
		return nil, err
	}
	for _, in := range instances {
		for _, ep := range in.Info.Endpoints {
			if ep.Subject != ref.Subject {
				continue
			}
			l, err := s.fromInstance(ctx, in.Name(), in.ID())
			if err != nil {
				return nil, err
			}
			m, prefix := l.bySubject(ref.Subject)
			if m == nil {
				return nil, fmt.Errorf("instance %s %s listens on %q, but its schema has no method there", in.Name(), in.ID(), ref.Subject)
			}
			return &Method{Method: m, Origin: l.origin, Prefix: prefix, Types: l.types}, nil
		}
	}
	if byName != nil {
		return nil, byName
	}
	return nil, &NotFoundError{What: fmt.Sprintf("method %q (as a name or a NATS subject)", ref.Raw), Where: "the running instances' schemas", Hint: "no instance answering $SRV.INFO serves it; is the service running?"}
}

func (s *instanceSource) Services(ctx context.Context) ([]*Service, error) {
	instances, err := s.gather.Infos(ctx, s.nc, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []*Service
	for _, in := range instances {
		if in.Service() == "" || seen[in.Name()] {
			continue
		}
		seen[in.Name()] = true
		l, err := s.fromInstance(ctx, in.Name(), in.ID())
		if err != nil {
			return nil, err
		}
		svc, err := l.service(in.Service())
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	slices.SortFunc(out, func(a, b *Service) int { return strings.Compare(a.FullName, b.FullName) })
	return out, nil
}

// Fallback returns a source that asks primary and, when no registry
// answers at all (nothing listens on its subjects), the running instances,
// calling notice once to say so.
func Fallback(primary, instances Source, notice func(string)) Source {
	return &fallbackSource{primary: primary, instances: instances, notice: notice}
}

type fallbackSource struct {
	primary, instances Source
	notice             func(string)
	once               sync.Once
	useInstances       bool
}

// noRegistry reports whether err says that nothing answers on the
// registry's subjects.
func noRegistry(err error) bool {
	return natsrpc.CodeOf(err) == natsrpc.CodeUnavailable && errors.Is(err, nats.ErrNoResponders)
}

func (s *fallbackSource) switched(err error) bool {
	if s.useInstances {
		return true
	}
	if err == nil || !noRegistry(err) {
		return false
	}
	s.useInstances = true
	s.once.Do(func() {
		if s.notice != nil {
			s.notice("no schema registry answers; using the schemas the running instances serve ($SRV.SCHEMA)")
		}
	})
	return true
}

func (s *fallbackSource) Method(ctx context.Context, ref MethodRef) (*Method, error) {
	if !s.useInstances {
		m, err := s.primary.Method(ctx, ref)
		if !s.switched(err) {
			return m, err
		}
	}
	return s.instances.Method(ctx, ref)
}

func (s *fallbackSource) Service(ctx context.Context, name string) (*Service, error) {
	if !s.useInstances {
		svc, err := s.primary.Service(ctx, name)
		if !s.switched(err) {
			return svc, err
		}
	}
	return s.instances.Service(ctx, name)
}

func (s *fallbackSource) Services(ctx context.Context) ([]*Service, error) {
	if !s.useInstances {
		svcs, err := s.primary.Services(ctx)
		if !s.switched(err) {
			return svcs, err
		}
	}
	return s.instances.Services(ctx)
}
