package httprule

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// MaxTemplateBytes bounds a path template.
const MaxTemplateBytes = 2048

// Template is a parsed path template (google/api/http.proto):
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
type Template struct {
	// Segments are the path's segments, variables included.
	Segments []Segment
	// Verb is the custom verb after ":", if any.
	Verb string
}

// Segment is one segment of a template: a literal, "*", "**", or a
// variable (which covers one or more segments of its own).
type Segment struct {
	// Literal is the segment's text when it is a literal; "*" and "**"
	// are wildcards.
	Literal string
	// Variable is set when the segment is a variable.
	Variable *Variable
}

// Variable binds path segments to a field of the request.
type Variable struct {
	// FieldPath is the dotted path of the request field.
	FieldPath []string
	// Segments are what the variable matches; a lone "*" when the
	// template says only {field}.
	Segments []Segment
}

// String writes the template back in its canonical form.
func (t *Template) String() string {
	var b strings.Builder
	writeSegments(&b, t.Segments)
	if t.Verb != "" {
		b.WriteByte(':')
		b.WriteString(t.Verb)
	}
	return b.String()
}

func writeSegments(b *strings.Builder, segs []Segment) {
	for _, s := range segs {
		b.WriteByte('/')
		if s.Variable == nil {
			b.WriteString(s.Literal)
			continue
		}
		b.WriteByte('{')
		b.WriteString(strings.Join(s.Variable.FieldPath, "."))
		if !(len(s.Variable.Segments) == 1 && s.Variable.Segments[0].Literal == "*") {
			b.WriteByte('=')
			var inner strings.Builder
			writeSegments(&inner, s.Variable.Segments)
			b.WriteString(strings.TrimPrefix(inner.String(), "/"))
		}
		b.WriteByte('}')
	}
}

// Variables returns the template's variables in order.
func (t *Template) Variables() []*Variable {
	var out []*Variable
	for _, s := range t.Segments {
		if s.Variable != nil {
			out = append(out, s.Variable)
		}
	}
	return out
}

// ParseTemplate parses a path template, strictly: "**" only last, no
// nested or repeated variables, literals of URL path characters.
func ParseTemplate(s string) (*Template, error) {
	if len(s) > MaxTemplateBytes {
		return nil, fmt.Errorf("template is %d bytes; at most %d", len(s), MaxTemplateBytes)
	}
	if !strings.HasPrefix(s, "/") {
		return nil, errors.New("a path template starts with \"/\"")
	}
	p := &tparser{s: s, pos: 1}
	t := &Template{}
	segs, err := p.segments(false)
	if err != nil {
		return nil, err
	}
	t.Segments = segs
	if p.pos < len(s) && s[p.pos] == ':' {
		p.pos++
		verb := p.literal()
		if verb == "" {
			return nil, fmt.Errorf("at %d: a verb after \":\" is a literal, e.g. :cancel", p.pos)
		}
		t.Verb = verb
	}
	if p.pos != len(s) {
		return nil, fmt.Errorf("at %d: unexpected %q", p.pos, s[p.pos:])
	}
	// "**" matches the rest of the path: nothing may follow it.
	flat := flatten(t.Segments)
	for i, seg := range flat {
		if seg.Literal == "**" && i != len(flat)-1 {
			return nil, errors.New("\"**\" matches the rest of the path and must be the last segment")
		}
	}
	seen := map[string]bool{}
	for _, v := range t.Variables() {
		name := strings.Join(v.FieldPath, ".")
		if seen[name] {
			return nil, fmt.Errorf("field %q is bound twice", name)
		}
		seen[name] = true
	}
	return t, nil
}

func flatten(segs []Segment) []Segment {
	var out []Segment
	for _, s := range segs {
		if s.Variable != nil {
			out = append(out, flatten(s.Variable.Segments)...)
			continue
		}
		out = append(out, s)
	}
	return out
}

type tparser struct {
	s   string
	pos int
}

// segments parses Segments; inVar is true inside a variable's "=".
func (p *tparser) segments(inVar bool) ([]Segment, error) {
	var out []Segment
	for {
		seg, err := p.segment(inVar)
		if err != nil {
			return nil, err
		}
		out = append(out, seg)
		if p.pos < len(p.s) && p.s[p.pos] == '/' {
			p.pos++
			continue
		}
		return out, nil
	}
}

func (p *tparser) segment(inVar bool) (Segment, error) {
	if p.pos >= len(p.s) {
		return Segment{}, fmt.Errorf("at %d: empty segment (a template does not end with \"/\")", p.pos)
	}
	switch c := p.s[p.pos]; {
	case c == '*':
		if strings.HasPrefix(p.s[p.pos:], "**") {
			p.pos += 2
			return Segment{Literal: "**"}, nil
		}
		p.pos++
		return Segment{Literal: "*"}, nil
	case c == '{':
		if inVar {
			return Segment{}, fmt.Errorf("at %d: variables cannot nest", p.pos)
		}
		return p.variable()
	}
	lit := p.literal()
	if lit == "" {
		return Segment{}, fmt.Errorf("at %d: %q cannot start a segment: use a literal, \"*\", \"**\" or {field}", p.pos, p.s[p.pos:p.pos+1])
	}
	return Segment{Literal: lit}, nil
}

func (p *tparser) variable() (Segment, error) {
	start := p.pos
	p.pos++ // {
	v := &Variable{}
	for {
		id := p.ident()
		if id == "" {
			return Segment{}, fmt.Errorf("at %d: a variable names a field: {field} or {field.sub}", p.pos)
		}
		v.FieldPath = append(v.FieldPath, id)
		if p.pos < len(p.s) && p.s[p.pos] == '.' {
			p.pos++
			continue
		}
		break
	}
	if p.pos < len(p.s) && p.s[p.pos] == '=' {
		p.pos++
		segs, err := p.segments(true)
		if err != nil {
			return Segment{}, err
		}
		v.Segments = segs
	} else {
		v.Segments = []Segment{{Literal: "*"}}
	}
	if p.pos >= len(p.s) || p.s[p.pos] != '}' {
		return Segment{}, fmt.Errorf("at %d: variable opened at %d is not closed with \"}\"", p.pos, start)
	}
	p.pos++
	return Segment{Variable: v}, nil
}

func (p *tparser) ident() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (c >= '0' && c <= '9' && p.pos > start) {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

// literal reads URL path characters (RFC 3986 pchar without ":", which
// starts a verb) and percent-escapes.
func (p *tparser) literal() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~!$&'()+,;@", c) >= 0:
			p.pos++
		case c == '%' && p.pos+2 < len(p.s) && isHex(p.s[p.pos+1]) && isHex(p.s[p.pos+2]):
			p.pos += 3
		default:
			return p.s[start:p.pos]
		}
	}
	return p.s[start:p.pos]
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Pattern returns a rule's HTTP method and path template.
func Pattern(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// Matches reports whether selector applies to the method named full.
func Matches(selector string, full protoreflect.FullName) bool {
	if selector == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(selector, "*"); ok {
		return strings.HasPrefix(string(full), prefix)
	}
	return selector == string(full)
}

// Check checks rule (and its additional bindings) against md: every
// variable names a singular scalar field of the request (through
// singular message fields), body names a top-level request field and
// response_body a top-level response field.
func Check(rule *annotations.HttpRule, md protoreflect.MethodDescriptor) error {
	if err := checkBinding(rule, md); err != nil {
		return err
	}
	for _, b := range rule.GetAdditionalBindings() {
		if err := checkBinding(b, md); err != nil {
			return err
		}
	}
	return nil
}

func checkBinding(rule *annotations.HttpRule, md protoreflect.MethodDescriptor) error {
	verb, path := Pattern(rule)
	if verb == "" {
		return fmt.Errorf("rule for %q has no pattern", md.FullName())
	}
	t, err := ParseTemplate(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, path, err)
	}
	in := md.Input()
	for _, v := range t.Variables() {
		if err := checkFieldPath(in, v.FieldPath); err != nil {
			return fmt.Errorf("%s %s: {%s}: %w", verb, path, strings.Join(v.FieldPath, "."), err)
		}
	}
	if b := rule.GetBody(); b != "" && b != "*" {
		if in.Fields().ByName(protoreflect.Name(b)) == nil {
			return fmt.Errorf("%s %s: body %q is not a field of %s", verb, path, b, in.FullName())
		}
	}
	if b := rule.GetResponseBody(); b != "" {
		if md.Output().Fields().ByName(protoreflect.Name(b)) == nil {
			return fmt.Errorf("%s %s: response_body %q is not a field of %s", verb, path, b, md.Output().FullName())
		}
	}
	return nil
}

func checkFieldPath(msg protoreflect.MessageDescriptor, path []string) error {
	for i, name := range path {
		fd := msg.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return fmt.Errorf("%s has no field %q", msg.FullName(), name)
		}
		if fd.IsList() || fd.IsMap() {
			return fmt.Errorf("field %q is repeated: a path variable binds a single value", name)
		}
		last := i == len(path)-1
		switch {
		case last && fd.Message() != nil:
			return fmt.Errorf("field %q is a message: bind one of its scalar fields, e.g. {%s.id}", name, strings.Join(path, "."))
		case !last && fd.Message() == nil:
			return fmt.Errorf("field %q is not a message: %q cannot follow it", name, path[i+1])
		}
		if !last {
			msg = fd.Message()
		}
	}
	return nil
}

// MethodRule returns md's google.api.http annotation, or nil. Descriptors
// decoded without the annotation's extension linked in (a descriptor set
// read by another program, the registry's answers) keep it as unknown
// option bytes: MethodRule reads it from those too.
func MethodRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	if proto.HasExtension(opts, annotations.E_Http) {
		r, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		return r
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return nil
	}
	fresh := &descriptorpb.MethodOptions{}
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(b, fresh); err != nil {
		return nil
	}
	if !proto.HasExtension(fresh, annotations.E_Http) {
		return nil
	}
	r, _ := proto.GetExtension(fresh, annotations.E_Http).(*annotations.HttpRule)
	return r
}
