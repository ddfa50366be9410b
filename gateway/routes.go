package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/gateway/internal/jsonwire"
	"github.com/natsrpc/natsrpc/internal/spec"
)

// Module is one schema the gateway routes: a module version from the
// registry, or a descriptor set given as a file.
type Module struct {
	// Name is the module's name ("" for a descriptor set file).
	Name string
	// Version is the module version (0 for a file).
	Version uint64
	// Digest is the registry's digest of the version.
	Digest string
	// Set holds the files, their imports included.
	Set *descriptorpb.FileDescriptorSet
	// Own lists the files whose services are routed; empty means every
	// file of Set.
	Own []string
}

// restStreamPackage starts the package of the synthetic services that
// carry REST routes of server-streaming methods (see buildRESTStreams).
// Their paths are never routed from outside.
const restStreamPackage = "natsrpc.gateway.rest."

// route is one method the gateway serves.
type route struct {
	module    *Module
	method    *spec.Method
	desc      protoreflect.MethodDescriptor
	client    *natsrpc.DynamicClient
	procedure string
	types     *dynamicpb.Types
	// codec transcodes the method's JSON on the fast path (fastpath.go).
	codec *jsonwire.Transcoder
	// rest is set on the synthetic method carrying a server stream's REST
	// routes: the route it streams from.
	restOf *route
}

// routeSet is everything one generation of routes needs; the gateway
// swaps whole sets atomically, so a request sees one generation from
// start to end.
type routeSet struct {
	modules  []*Module
	handler  http.Handler // the transcoder
	routes   map[string]*route
	services []string
	files    []*protoregistry.Files // one per module, in module order
	warnings []string
	built    time.Time
}

// buildConfig is what building routes needs from the gateway.
type buildConfig struct {
	newClient  func(md protoreflect.MethodDescriptor) *natsrpc.DynamicClient
	rules      []*annotations.HttpRule
	handlers   *handlerFactory
	unknown    http.Handler
	maxMessage int
}

// buildRoutes builds a route set from modules (sorted by name by the
// caller). Any problem refuses the whole set: the caller keeps the last
// good one.
func buildRoutes(cfg *buildConfig, modules []*Module) (*routeSet, error) {
	rs := &routeSet{modules: modules, routes: map[string]*route{}, built: time.Now()}
	var services []*vanguard.Service
	var rules []*annotations.HttpRule
	subjects := map[string]string{}
	serviceOwner := map[string]string{}
	var all []*route
	for mi, mod := range modules {
		name := moduleLabel(mod)
		set, streamRules, warn, err := normalizeSet(mod.Set)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rs.warnings = append(rs.warnings, prefixAll(name, warn)...)
		files, err := protodesc.NewFiles(set)
		if err != nil {
			return nil, fmt.Errorf("%s: descriptors are invalid: %w", name, err)
		}
		rs.files = append(rs.files, files)
		types := dynamicpb.NewTypes(files)
		resolver := typeResolver{types}
		codec := jsonwire.New(resolver)
		own := mod.Own
		if len(own) == 0 {
			for _, f := range set.GetFile() {
				own = append(own, f.GetName())
			}
		}
		var modRoutes []*route
		var modServices []protoreflect.ServiceDescriptor
		for _, path := range own {
			fd, err := files.FindFileByPath(path)
			if err != nil {
				return nil, fmt.Errorf("%s: file %q is not in the module's descriptors", name, path)
			}
			for i := 0; i < fd.Services().Len(); i++ {
				sd := fd.Services().Get(i)
				s, err := spec.ForService(sd)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				if s.Skip {
					continue
				}
				if prev, ok := serviceOwner[s.FullName]; ok {
					return nil, fmt.Errorf("service %q is defined by both %s and %s; a service is routed from one module", s.FullName, prev, name)
				}
				serviceOwner[s.FullName] = name
				rs.services = append(rs.services, s.FullName)
				modServices = append(modServices, sd)
				for _, m := range s.Methods {
					if m.Skip {
						continue
					}
					if prev, ok := subjects[m.Subject]; ok {
						return nil, fmt.Errorf("methods %q and %q both listen on NATS subject %q", prev, m.Desc.FullName(), m.Subject)
					}
					subjects[m.Subject] = string(m.Desc.FullName())
					rt := &route{module: mod, method: m, desc: m.Desc, procedure: m.Procedure, types: types, codec: codec}
					rt.client = cfg.newClient(m.Desc)
					modRoutes = append(modRoutes, rt)
					rs.routes[rt.procedure] = rt
				}
			}
		}
		all = append(all, modRoutes...)
		// REST routes from annotations: checked here, added by vanguard.
		for _, rt := range modRoutes {
			if rule := methodRule(rt.desc); rule != nil {
				if err := httprule.Check(rule, rt.desc); err != nil {
					return nil, fmt.Errorf("%s: google.api.http of %q: %w", name, rt.desc.FullName(), err)
				}
			}
		}
		// REST routes of server streams, from annotations: synthetic
		// methods (see buildRESTStreams).
		byName := map[protoreflect.FullName]*route{}
		for _, rt := range modRoutes {
			byName[rt.desc.FullName()] = rt
		}
		var streamRoutes []streamRule
		for _, sr := range streamRules {
			if rt, ok := byName[sr.method]; ok {
				streamRoutes = append(streamRoutes, streamRule{route: rt, rule: sr.rule})
			}
		}
		for _, rule := range cfg.rules {
			for _, rt := range modRoutes {
				if !httprule.Matches(rule.GetSelector(), rt.desc.FullName()) {
					continue
				}
				if err := httprule.Check(rule, rt.desc); err != nil {
					return nil, fmt.Errorf("%s: HTTP rule %q for %q: %w", name, rule.GetSelector(), rt.desc.FullName(), err)
				}
				r := proto.CloneOf(rule)
				r.Selector = string(rt.desc.FullName())
				switch rt.method.Kind {
				case spec.KindUnary, spec.KindEvent:
					rules = append(rules, r)
				case spec.KindServerStream:
					streamRoutes = append(streamRoutes, streamRule{route: rt, rule: r})
				default:
					rs.warnings = append(rs.warnings, fmt.Sprintf("HTTP rule %q: %s is a %s and has no REST route (use gRPC or Connect)", rule.GetSelector(), rt.desc.FullName(), rt.method.Kind))
				}
			}
		}
		for _, sd := range modServices {
			services = append(services, vanguard.NewServiceWithSchema(sd, cfg.handlers.serviceHandler(rs, sd),
				vanguard.WithTypeResolver(resolver),
				vanguard.WithTargetProtocols(vanguard.ProtocolConnect, vanguard.ProtocolGRPC, vanguard.ProtocolGRPCWeb),
				vanguard.WithTargetCodecs(vanguard.CodecProto),
				// Between vanguard and the handlers, in one process:
				// compressing would only burn CPU.
				vanguard.WithNoTargetCompression(),
				vanguard.WithMaxMessageBufferBytes(uint32(min(cfg.maxMessage, 1<<31))),
			))
		}
		if len(streamRoutes) > 0 {
			svc, synthRules, err := buildRESTStreams(cfg, rs, mi, files, streamRoutes, resolver)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			services = append(services, svc)
			rules = append(rules, synthRules...)
		}
	}
	// Rules that matched no method are reported, not fatal: the method
	// may come with the next version of a schema.
	for _, rule := range cfg.rules {
		matched := false
		for _, rt := range all {
			if httprule.Matches(rule.GetSelector(), rt.desc.FullName()) {
				matched = true
				break
			}
		}
		if !matched {
			rs.warnings = append(rs.warnings, fmt.Sprintf("HTTP rule %q matches no routed method", rule.GetSelector()))
		}
	}
	slices.Sort(rs.services)
	if len(services) == 0 {
		rs.handler = cfg.unknown
		return rs, nil
	}
	t, err := vanguard.NewTranscoder(services,
		vanguard.WithCodec(newClientJSONCodec),
		vanguard.WithCodec(newProtoCodec),
		vanguard.WithRules(rules...),
		vanguard.WithUnknownHandler(cfg.unknown),
	)
	if err != nil {
		return nil, fmt.Errorf("REST routes: %w", err)
	}
	rs.handler = t
	return rs, nil
}

type streamRule struct {
	route *route
	rule  *annotations.HttpRule
}

type methodStreamRule struct {
	method protoreflect.FullName
	rule   *annotations.HttpRule
}

// normalizeSet returns a copy of set whose options are parsed with this
// binary's extensions (google.api.http among them), whatever resolver
// decoded it, and with the google.api.http option removed from streaming
// methods: vanguard cannot carry streams over REST (it answers them only
// with google.api.HttpBody), so the gateway routes server streams itself
// and reports client and bidi streams' rules.
func normalizeSet(set *descriptorpb.FileDescriptorSet) (*descriptorpb.FileDescriptorSet, []methodStreamRule, []string, error) {
	out := &descriptorpb.FileDescriptorSet{}
	var streams []methodStreamRule
	var warnings []string
	for _, f := range set.GetFile() {
		b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(f)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("file %q: %w", f.GetName(), err)
		}
		fresh := &descriptorpb.FileDescriptorProto{}
		if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(b, fresh); err != nil {
			return nil, nil, nil, fmt.Errorf("file %q: %w", f.GetName(), err)
		}
		for _, s := range fresh.GetService() {
			for _, m := range s.GetMethod() {
				if !m.GetClientStreaming() && !m.GetServerStreaming() {
					continue
				}
				opts := m.GetOptions()
				if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
					continue
				}
				rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
				proto.ClearExtension(opts, annotations.E_Http)
				full := protoreflect.FullName(fresh.GetPackage() + "." + s.GetName() + "." + m.GetName())
				if fresh.GetPackage() == "" {
					full = protoreflect.FullName(s.GetName() + "." + m.GetName())
				}
				if m.GetClientStreaming() {
					warnings = append(warnings, fmt.Sprintf("google.api.http of %s ignored: a client or bidi stream has no REST route (use gRPC or Connect)", full))
					continue
				}
				if rule != nil {
					r := proto.CloneOf(rule)
					r.Selector = string(full)
					streams = append(streams, methodStreamRule{method: full, rule: r})
				}
			}
		}
		out.File = append(out.File, fresh)
	}
	return out, streams, warnings, nil
}

// methodRule returns md's google.api.http rule, or nil.
func methodRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil
	}
	r, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	return r
}

// buildRESTStreams carries the REST routes of server-streaming methods.
// Vanguard serves a server stream over REST only when its responses are
// google.api.HttpBody, whose data it writes to the response as they come.
// So each such method gets a synthetic twin that takes the same request
// and streams HttpBody: vanguard binds the path, query and body to the
// request as for any REST route, and the twin's handler calls the real
// method on NATS and writes each response as a line of NDJSON or a
// Server-Sent Event, then the final status.
func buildRESTStreams(cfg *buildConfig, rs *routeSet, index int, files *protoregistry.Files, streams []streamRule, resolver typeResolver) (*vanguard.Service, []*annotations.HttpRule, error) {
	pkg := restStreamPackage + "m" + strconv.Itoa(index)
	deps := map[string]bool{"google/api/httpbody.proto": true}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("ServerStreams")}
	for i, s := range streams {
		deps[s.route.desc.Input().ParentFile().Path()] = true
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:            proto.String("M" + strconv.Itoa(i)),
			InputType:       proto.String("." + string(s.route.desc.Input().FullName())),
			OutputType:      proto.String(".google.api.HttpBody"),
			ServerStreaming: proto.Bool(true),
		})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("natsrpc/gateway/rest/m" + strconv.Itoa(index) + ".proto"),
		Package:    proto.String(pkg),
		Dependency: sortedKeys(deps),
		Syntax:     proto.String("proto3"),
		Service:    []*descriptorpb.ServiceDescriptorProto{svc},
	}
	fd, err := protodesc.NewFile(fdp, chainResolver{files, protoregistry.GlobalFiles})
	if err != nil {
		return nil, nil, fmt.Errorf("REST routes of server streams: %w", err)
	}
	sd := fd.Services().Get(0)
	var rules []*annotations.HttpRule
	for i, s := range streams {
		md := sd.Methods().Get(i)
		synth := &route{module: s.route.module, method: s.route.method, desc: md, client: s.route.client,
			procedure: "/" + string(sd.FullName()) + "/" + string(md.Name()), types: s.route.types, restOf: s.route}
		rs.routes[synth.procedure] = synth
		r := proto.CloneOf(s.rule)
		r.Selector = string(md.FullName())
		r.ResponseBody = ""
		for _, b := range r.GetAdditionalBindings() {
			b.ResponseBody = ""
		}
		rules = append(rules, r)
	}
	types := chainTypes{resolver, typeResolver{dynamicpb.NewTypes(protoregistry.GlobalFiles)}}
	return vanguard.NewServiceWithSchema(sd, cfg.handlers.serviceHandler(rs, sd),
		vanguard.WithTypeResolver(types),
		vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
		vanguard.WithTargetCodecs(vanguard.CodecProto),
		vanguard.WithNoTargetCompression(),
		vanguard.WithMaxMessageBufferBytes(uint32(min(cfg.maxMessage, 1<<31))),
	), rules, nil
}

// typeResolver resolves a module's message and extension types, and the
// ones this binary links (well-known types) after them.
type typeResolver struct{ types *dynamicpb.Types }

func (r typeResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	mt, err := r.types.FindMessageByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindMessageByName(name)
	}
	return mt, err
}

func (r typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := r.types.FindMessageByURL(url)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindMessageByURL(url)
	}
	return mt, err
}

func (r typeResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	xt, err := r.types.FindExtensionByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByName(name)
	}
	return xt, err
}

func (r typeResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	xt, err := r.types.FindExtensionByNumber(message, field)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
	}
	return xt, err
}

// chainTypes tries each resolver in turn.
type chainTypes []vanguard.TypeResolver

func (c chainTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	for _, r := range c {
		if mt, err := r.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c chainTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	for _, r := range c {
		if mt, err := r.FindMessageByURL(url); err == nil {
			return mt, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c chainTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	for _, r := range c {
		if xt, err := r.FindExtensionByName(name); err == nil {
			return xt, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c chainTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	for _, r := range c {
		if xt, err := r.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return nil, protoregistry.NotFound
}

// chainResolver finds files and descriptors in each registry in turn.
type chainResolver []*protoregistry.Files

func (c chainResolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	for _, f := range c {
		if fd, err := f.FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c chainResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, f := range c {
		if d, err := f.FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

func moduleLabel(m *Module) string {
	if m.Name == "" {
		return "descriptor set"
	}
	return fmt.Sprintf("module %s@%d", m.Name, m.Version)
}

func prefixAll(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + ": " + s
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isRESTStreamPath reports a path of the synthetic services, which only
// vanguard's REST routing may reach.
func isRESTStreamPath(path string) bool {
	return strings.HasPrefix(path, "/"+restStreamPackage)
}
