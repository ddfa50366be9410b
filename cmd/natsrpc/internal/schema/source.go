package schema

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// Origin says where descriptors came from.
type Origin struct {
	// Module and Version name a registry module version.
	Module  string
	Version uint64
	// File is a descriptor set file (--descriptor-set).
	File string
	// Instance is "<name> <id>" of the service instance that served its
	// schema.
	Instance string
}

// String returns "gaming@3", the file name, or "instance <name> <id>".
func (o Origin) String() string {
	switch {
	case o.Module != "":
		return o.Module + "@" + strconv.FormatUint(o.Version, 10)
	case o.File != "":
		return o.File
	case o.Instance != "":
		return "instance " + o.Instance
	}
	return "-"
}

// Service is a service with its NATS mapping and where its descriptors
// came from.
type Service struct {
	*spec.Service
	// Origin says where the descriptors came from.
	Origin Origin
	// Types resolves the messages and extensions of the files the service
	// came with (and the well-known types), for Any values.
	Types Resolver
}

// Method is a method to call or watch.
type Method struct {
	*spec.Method
	// Origin says where the descriptors came from.
	Origin Origin
	// Prefix is the runtime subject prefix in front of the method's
	// subject when the METHOD argument was a subject with one; "" otherwise.
	Prefix string
	// Types resolves Any values (see Service.Types).
	Types Resolver
}

// Source finds services and methods.
type Source interface {
	// Method resolves a METHOD argument.
	Method(ctx context.Context, ref MethodRef) (*Method, error)
	// Service returns the service with a full name.
	Service(ctx context.Context, name string) (*Service, error)
	// Services returns every service the source knows, sorted by name.
	Services(ctx context.Context) ([]*Service, error)
}

// Resolver resolves message and extension types for protojson and Any:
// the types of a set of files, then the program's (the well-known types).
type Resolver struct {
	types *dynamicpb.Types
}

// NewResolver returns a resolver of files' types.
func NewResolver(files *protoregistry.Files) Resolver {
	return Resolver{types: dynamicpb.NewTypes(files)}
}

// FindMessageByName implements protoregistry.MessageTypeResolver.
func (r Resolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if r.types != nil {
		if mt, err := r.types.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

// FindMessageByURL implements protoregistry.MessageTypeResolver.
func (r Resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if r.types != nil {
		if mt, err := r.types.FindMessageByURL(url); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

// FindExtensionByName implements protoregistry.ExtensionTypeResolver.
func (r Resolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if r.types != nil {
		if xt, err := r.types.FindExtensionByName(field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

// FindExtensionByNumber implements protoregistry.ExtensionTypeResolver.
func (r Resolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if r.types != nil {
		if xt, err := r.types.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// NotFoundError says that a source has no such service or method.
type NotFoundError struct {
	// What is what was looked for, e.g. `method "x.S/M"`.
	What string
	// Where is where it was looked for, e.g. "the registry".
	Where string
	// Hint says what to try.
	Hint string
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("%s is not in %s", e.What, e.Where)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// local is a set of linked files: a descriptor set file, a pinned registry
// version, or what instances served. It answers everything from memory.
type local struct {
	files  *protoregistry.Files
	types  Resolver
	origin Origin
	// own lists the files whose services count; nil means every file but
	// the built-in ones.
	own      map[string]bool
	where    string
	services []*spec.Service // every service of the own files, by name
	specErrs map[string]error
}

// newLocal links set and maps its services.
func newLocal(set *descriptorpb.FileDescriptorSet, own []string, origin Origin, where string) (*local, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the descriptors of %s do not link: %w", where, err)
	}
	l := &local{files: files, types: NewResolver(files), origin: origin, where: where, specErrs: map[string]error{}}
	if own != nil {
		l.own = map[string]bool{}
		for _, p := range own {
			l.own[p] = true
		}
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if (l.own != nil && !l.own[fd.Path()]) || (l.own == nil && descset.IsBuiltinFile(fd.Path())) {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			s, err := spec.ForService(sd)
			if err != nil {
				l.specErrs[string(sd.FullName())] = err
				continue
			}
			l.services = append(l.services, s)
		}
		return true
	})
	slices.SortFunc(l.services, func(a, b *spec.Service) int { return strings.Compare(a.FullName, b.FullName) })
	return l, nil
}

func (l *local) service(name string) (*Service, error) {
	i, ok := slices.BinarySearchFunc(l.services, name, func(s *spec.Service, n string) int { return strings.Compare(s.FullName, n) })
	if !ok {
		if err := l.specErrs[name]; err != nil {
			return nil, fmt.Errorf("service %q in %s cannot be called over NATS: %w", name, l.where, err)
		}
		return nil, &NotFoundError{What: fmt.Sprintf("service %q", name), Where: l.where, Hint: "`natsrpc services` lists the services"}
	}
	return &Service{Service: l.services[i], Origin: l.origin, Types: l.types}, nil
}

func (l *local) allServices() []*Service {
	out := make([]*Service, len(l.services))
	for i, s := range l.services {
		out[i] = &Service{Service: s, Origin: l.origin, Types: l.types}
	}
	return out
}

// method resolves ref: by name, then by subject (exact, then with leading
// tokens taken as a runtime prefix).
func (l *local) method(ref MethodRef) (*Method, error) {
	if ref.ByName() {
		if svc, err := l.service(ref.Service); err == nil {
			for _, m := range svc.Methods {
				if m.Name == ref.Method {
					return &Method{Method: m, Origin: l.origin, Types: l.types}, nil
				}
			}
			if ref.Subject == "" {
				return nil, &NotFoundError{What: fmt.Sprintf("method %q", ref.FullName()), Where: l.where, Hint: fmt.Sprintf("`natsrpc services %s` lists its methods", ref.Service)}
			}
		} else if ref.Subject == "" {
			return nil, err
		}
	}
	if m, prefix := l.bySubject(ref.Subject); m != nil {
		return &Method{Method: m, Origin: l.origin, Prefix: prefix, Types: l.types}, nil
	}
	return nil, &NotFoundError{What: fmt.Sprintf("method %q (as a name or a NATS subject)", ref.Raw), Where: l.where, Hint: "`natsrpc services` lists the services and `natsrpc services SERVICE` their methods and subjects"}
}

// bySubject finds the method listening on subject, or on subject without
// some leading tokens (a runtime prefix, returned).
func (l *local) bySubject(subject string) (*spec.Method, string) {
	for prefix, rest := "", subject; ; {
		for _, s := range l.services {
			for _, m := range s.Methods {
				if m.Subject == rest {
					return m, prefix
				}
			}
		}
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil, ""
		}
		if prefix != "" {
			prefix += "."
		}
		prefix, rest = prefix+rest[:i], rest[i+1:]
	}
}
