package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/gateway/internal/jsonwire"
)

// Where a route comes from.
const (
	SourceAnnotation = "google.api.http"
	SourceRules      = "rules file"
	SourceDefault    = "default"
)

// Route says how the bridge calls the HTTP service for one method.
type Route struct {
	// Method is the method's full name; Kind how it travels on NATS.
	Method string
	Kind   natsrpc.MethodKind
	// HTTPMethod and Path are the HTTP request: "GET" and a path template
	// ("/v1/players/{player_id}/quests/{quest_id}"), relative to the
	// bridge's base URL.
	HTTPMethod, Path string
	// Body is "*" (the request, less the fields in the path), a field
	// name, or "" (no body: the fields not in the path go in the query
	// string); ResponseBody names the response field the HTTP answer
	// fills, "" for the whole response.
	Body, ResponseBody string
	// Source is where the route comes from: SourceAnnotation,
	// SourceRules or SourceDefault.
	Source string
	// Status holds the rules file's status overrides.
	Status map[int]natsrpc.Code
	// Skipped says why the method is not bridged ("" when it is).
	Skipped string
	// Warnings are what the bridge cannot carry, e.g. a map field that
	// would have to travel in a query string.
	Warnings []string
}

// route is a Route ready to build requests.
type route struct {
	Route
	desc     protoreflect.MethodDescriptor
	tmpl     *httprule.Template
	inPath   map[string]bool // field paths bound by the template
	respWrap string          // the response_body field's name, or ""
	marshal  protojson.MarshalOptions
	decode   protojson.UnmarshalOptions
	wire     *jsonwire.Transcoder
	camel    bool
}

// ruleFor picks md's HTTP rule: its annotation, else the rules file's most
// specific rule, else nil.
func ruleFor(md protoreflect.MethodDescriptor, rules []*annotations.HttpRule) (*annotations.HttpRule, string) {
	if r := httprule.MethodRule(md); r != nil {
		return r, SourceAnnotation
	}
	var best *annotations.HttpRule
	for _, r := range rules {
		if httprule.Matches(r.GetSelector(), md.FullName()) && (best == nil || httprule.Specificity(r.GetSelector()) > httprule.Specificity(best.GetSelector())) {
			best = r
		}
	}
	if best != nil {
		return best, SourceRules
	}
	return nil, ""
}

// newRoute builds md's route from rule (nil: the default route).
func newRoute(md protoreflect.MethodDescriptor, rule *annotations.HttpRule, source string, o *options) (*route, error) {
	rt := &route{desc: md, camel: o.camel}
	rt.Method = string(md.FullName())
	rt.Source = source
	if rule == nil {
		rule = &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/" + string(md.Parent().FullName()) + "/" + string(md.Name())}, Body: "*"}
		rt.Source = SourceDefault
	}
	if err := httprule.Check(rule, md); err != nil {
		return nil, fmt.Errorf("%s of %s: %w", rt.Source, md.FullName(), err)
	}
	rt.HTTPMethod, rt.Path = httprule.Pattern(rule)
	rt.Body, rt.ResponseBody = rule.GetBody(), rule.GetResponseBody()
	t, err := httprule.ParseTemplate(rt.Path)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %s %s: %w", rt.Source, md.FullName(), rt.HTTPMethod, rt.Path, err)
	}
	for _, s := range t.Segments {
		if s.Variable == nil && (s.Literal == "*" || s.Literal == "**") {
			return nil, fmt.Errorf("%s of %s: %s %s: the segment %q binds no field, so the bridge cannot fill it in: bind a field, e.g. {name=%s}", rt.Source, md.FullName(), rt.HTTPMethod, rt.Path, s.Literal, s.Literal)
		}
	}
	rt.tmpl = t
	rt.inPath = map[string]bool{}
	for _, v := range t.Variables() {
		rt.inPath[strings.Join(v.FieldPath, ".")] = true
	}
	if rt.ResponseBody != "" {
		rt.respWrap = rt.ResponseBody
	}
	rt.marshal = protojson.MarshalOptions{UseProtoNames: !o.camel, EmitUnpopulated: o.emitDefaults, Resolver: o.types}
	rt.decode = protojson.UnmarshalOptions{DiscardUnknown: !o.strict, Resolver: o.types}
	rt.wire = o.wire
	if rt.Body != "*" {
		rt.Warnings = queryWarnings(md.Input(), "", rt)
	}
	return rt, nil
}

// queryWarnings names the fields that would go in the query string but
// cannot: maps and repeated messages.
func queryWarnings(md protoreflect.MessageDescriptor, prefix string, rt *route) []string {
	var out []string
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		path := prefix + string(fd.Name())
		if rt.inPath[path] || (prefix == "" && string(fd.Name()) == rt.Body) {
			continue
		}
		switch {
		case fd.IsMap(), fd.IsList() && fd.Message() != nil:
			out = append(out, fmt.Sprintf("%s %s: field %s cannot travel in a query string and is not sent", rt.HTTPMethod, rt.Path, path))
		case fd.Message() != nil && !isWellKnown(fd.Message()) && prefix == "":
			out = append(out, queryWarnings(fd.Message(), path+".", rt)...)
		}
	}
	return out
}

func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == "google.protobuf"
}

// path builds the request's URL path from the template.
func (rt *route) path(msg protoreflect.Message) (string, *natsrpc.Error) {
	var b strings.Builder
	for _, s := range rt.tmpl.Segments {
		b.WriteByte('/')
		if s.Variable == nil {
			b.WriteString(s.Literal)
			continue
		}
		name := strings.Join(s.Variable.FieldPath, ".")
		v, fd := fieldValue(msg, s.Variable.FieldPath)
		text := ""
		if fd != nil {
			text = scalarText(fd, v)
		}
		if text == "" {
			return "", errorf(natsrpc.CodeInvalidArgument, "%s is required: it is part of the URL path %s", name, rt.Path)
		}
		if len(s.Variable.Segments) == 1 && s.Variable.Segments[0].Literal == "*" {
			// One segment: any value, its slashes escaped.
			b.WriteString(url.PathEscape(text))
			continue
		}
		parts := strings.Split(text, "/")
		if !matchSegments(s.Variable.Segments, parts) {
			return "", errorf(natsrpc.CodeInvalidArgument, "%s %q does not match the URL path template %s", name, text, rt.Path)
		}
		for i, p := range parts {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(url.PathEscape(p))
		}
	}
	if rt.tmpl.Verb != "" {
		b.WriteByte(':')
		b.WriteString(rt.tmpl.Verb)
	}
	return b.String(), nil
}

// matchSegments reports whether the value's parts fit a variable's
// segments: literals equal, "*" one non-empty part, "**" the rest.
func matchSegments(segs []httprule.Segment, parts []string) bool {
	for i, s := range segs {
		if s.Literal == "**" {
			return true
		}
		if i >= len(parts) || parts[i] == "" {
			return false
		}
		if s.Literal != "*" && s.Literal != parts[i] {
			return false
		}
	}
	return len(parts) == len(segs)
}

// fieldValue follows path through singular message fields.
func fieldValue(msg protoreflect.Message, path []string) (protoreflect.Value, protoreflect.FieldDescriptor) {
	for i, name := range path {
		fd := msg.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return protoreflect.Value{}, nil
		}
		if i == len(path)-1 {
			return msg.Get(fd), fd
		}
		msg = msg.Get(fd).Message()
	}
	return protoreflect.Value{}, nil
}

// scalarText writes a scalar as a URL path or query value: strings as
// they are, enums by name, bytes in URL-safe base64, numbers in decimal.
func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.URLEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return ""
}

// query writes the fields neither in the path nor in the body as query
// parameters: dotted names through messages, one parameter per element of
// a repeated scalar, well-known types in their JSON form. Maps and
// repeated messages cannot travel there (the route's warnings say so).
func (rt *route) query(msg protoreflect.Message) (url.Values, error) {
	q := url.Values{}
	err := rt.addQuery(q, "", msg)
	return q, err
}

func (rt *route) addQuery(q url.Values, prefix string, msg protoreflect.Message) error {
	var err error
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		if rt.inPath[path] || (prefix == "" && string(fd.Name()) == rt.Body) {
			return true
		}
		name := prefix + rt.paramName(fd)
		switch {
		case fd.IsMap(), fd.IsList() && fd.Message() != nil:
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				q.Add(name, scalarText(fd, l.Get(i)))
			}
		case fd.Message() != nil && isWellKnown(fd.Message()):
			var s string
			if s, err = wellKnownText(v.Message().Interface()); err != nil {
				return false
			}
			q.Add(name, s)
		case fd.Message() != nil:
			if err = rt.addQuery(q, path+".", v.Message()); err != nil {
				return false
			}
		default:
			q.Add(name, scalarText(fd, v))
		}
		return true
	})
	return err
}

func (rt *route) paramName(fd protoreflect.FieldDescriptor) string {
	if rt.camel {
		return fd.JSONName()
	}
	return string(fd.Name())
}

// wellKnownText is a well-known type's JSON form as a query value: a
// JSON string unquoted, anything else as JSON text.
func wellKnownText(m proto.Message) (string, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s, nil
	}
	return string(b), nil
}

// body encodes the request body: the message without the fields in the
// path ("*"), or one field's JSON value.
func (rt *route) body(msg protoreflect.Message) ([]byte, error) {
	switch rt.Body {
	case "":
		return nil, nil
	case "*":
		if len(rt.inPath) > 0 {
			c := proto.Clone(msg.Interface()).ProtoReflect()
			for p := range rt.inPath {
				clearPath(c, strings.Split(p, "."))
			}
			msg = c
		}
		return rt.marshal.Marshal(msg.Interface())
	}
	fd := msg.Descriptor().Fields().ByName(protoreflect.Name(rt.Body))
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return rt.marshal.Marshal(msg.Get(fd).Message().Interface())
	}
	// A scalar, list or map field: its JSON value, cut out of a message
	// holding it alone.
	only := dynamicpb.NewMessage(msg.Descriptor())
	if msg.Has(fd) {
		only.Set(fd, msg.Get(fd))
	}
	opts := rt.marshal
	opts.EmitUnpopulated = true
	b, err := opts.Marshal(only)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	return fields[rt.jsonKey(fd)], nil
}

func (rt *route) jsonKey(fd protoreflect.FieldDescriptor) string {
	if rt.marshal.UseProtoNames {
		return string(fd.Name())
	}
	return fd.JSONName()
}

// clearPath clears the field at path, through set message fields.
func clearPath(m protoreflect.Message, path []string) {
	for i, name := range path {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !m.Has(fd) {
			return
		}
		if i == len(path)-1 {
			m.Clear(fd)
			return
		}
		m = m.Mutable(fd).Message()
	}
}

// responseWire transcodes an HTTP answer's JSON into the response's
// binary encoding: the whole message, or its response_body field. The
// gateway's transcoder (package jsonwire) does it without building a
// message, for what it handles; protojson decodes the rest (fields the
// response lacks, which it ignores or, strict, refuses; spellings jsonwire
// declines) into a dynamic message.
func (rt *route) responseWire(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if rt.respWrap != "" {
		wrapped := make([]byte, 0, len(body)+len(rt.respWrap)+8)
		wrapped = append(wrapped, `{"`...)
		wrapped = append(wrapped, rt.respWrap...)
		wrapped = append(wrapped, `":`...)
		wrapped = append(wrapped, body...)
		wrapped = append(wrapped, '}')
		body = wrapped
	}
	if out, ok := rt.wire.ToWire(nil, rt.desc.Output(), body); ok {
		return out, nil
	}
	out := dynamicpb.NewMessage(rt.desc.Output())
	if err := rt.decode.Unmarshal(body, out); err != nil {
		return nil, err
	}
	return proto.MarshalOptions{AllowPartial: true}.Marshal(out)
}

func errorf(code natsrpc.Code, format string, args ...any) *natsrpc.Error {
	return natsrpc.NewError(code, fmt.Errorf(format, args...))
}
