package regctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// Description is a symbol's definition as the registry holds it.
type Description struct {
	// Symbol is the fully-qualified name, without a leading dot.
	Symbol string
	// Kind is what the symbol is: "package", "message", "field", "oneof",
	// "enum", "enum value", "service", "method" or "extension".
	Kind string
	// Module and Version are where it was found; "" and 0 for the files
	// built into the registry.
	Module  string
	Version uint64
	// File is the file that defines it (for a package, the first file
	// that declares it).
	File string
	// Definition is the definition in .proto syntax, comments included.
	Definition string
}

// String returns the header line naming what the symbol is and where it
// is defined, then the definition, as `grpcurl describe` does.
func (d *Description) String() string {
	where := d.File
	if d.Module != "" {
		where = fmt.Sprintf("%s@%d, %s", d.Module, d.Version, d.File)
	}
	return fmt.Sprintf("%s is %s (%s):\n", d.Symbol, article(d.Kind), where) + d.Definition
}

// Document returns the description's `--format json` document.
func (d *Description) Document() DescriptionDoc {
	return DescriptionDoc{Symbol: d.Symbol, Kind: d.Kind, Module: d.Module, Version: d.Version, File: d.File, Definition: d.Definition}
}

// Describe resolves a fully-qualified symbol in the registry (in the
// module that owns it, or in ref's module and version when ref.Module is
// set) and returns its definition in .proto syntax, comments included.
func Describe(ctx context.Context, c *client.Client, symbol string, ref ModuleRef) (*Description, error) {
	symbol = strings.TrimPrefix(symbol, ".")
	if ref.Version != 0 && ref.Module == "" {
		return nil, fmt.Errorf("a version needs a module: give --module too")
	}
	res, set, err := c.ResolveSymbol(ctx, &registryv1.ResolveSymbolRequest{Symbol: symbol, Module: ref.Module, Version: ref.Version})
	if err != nil {
		return nil, err
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the registry's files for %q do not link: %w", symbol, err)
	}
	desc := &Description{Symbol: symbol, Module: res.GetModule(), Version: res.GetVersion(), File: res.GetFile()}
	p := &printer{types: dynamicpb.NewTypes(files)}
	if res.GetKind() == registryv1.SymbolKind_SYMBOL_KIND_PACKAGE {
		desc.Kind = "package"
		p.pkg(files, protoreflect.FullName(symbol))
		desc.Definition = p.b.String()
		return desc, nil
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(symbol))
	if err != nil {
		return nil, fmt.Errorf("symbol %q is not in the files the registry returned: %w", symbol, err)
	}
	desc.Kind = kindName(d)
	p.descriptor(d)
	desc.Definition = p.b.String()
	return desc, nil
}

func article(s string) string {
	if strings.IndexByte("aeiou", s[0]) >= 0 {
		return "an " + s
	}
	return "a " + s
}

func kindName(d protoreflect.Descriptor) string {
	switch d := d.(type) {
	case protoreflect.MessageDescriptor:
		return "message"
	case protoreflect.FieldDescriptor:
		if d.IsExtension() {
			return "extension"
		}
		return "field"
	case protoreflect.OneofDescriptor:
		return "oneof"
	case protoreflect.EnumDescriptor:
		return "enum"
	case protoreflect.EnumValueDescriptor:
		return "enum value"
	case protoreflect.ServiceDescriptor:
		return "service"
	case protoreflect.MethodDescriptor:
		return "method"
	case protoreflect.FileDescriptor:
		return "file"
	}
	return "symbol"
}

// printer writes descriptors in .proto syntax.
type printer struct {
	b      strings.Builder
	indent int
	// types resolves the custom options the descriptors' own files
	// define, which the program does not link.
	types *dynamicpb.Types
}

func (p *printer) linef(format string, args ...any) {
	if format != "" {
		p.b.WriteString(strings.Repeat("  ", p.indent))
		fmt.Fprintf(&p.b, format, args...)
	}
	p.b.WriteByte('\n')
}

func (p *printer) comments(d protoreflect.Descriptor) {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	text := strings.TrimSuffix(loc.LeadingComments, "\n")
	if text == "" {
		return
	}
	for l := range strings.SplitSeq(text, "\n") {
		p.linef("//%s", l)
	}
}

func (p *printer) trailing(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	t := strings.TrimSpace(loc.TrailingComments)
	if t == "" || strings.Contains(t, "\n") {
		return ""
	}
	return " //" + strings.TrimRight(loc.TrailingComments, "\n")
}

func (p *printer) descriptor(d protoreflect.Descriptor) {
	switch d := d.(type) {
	case protoreflect.MessageDescriptor:
		p.message(d)
	case protoreflect.FieldDescriptor:
		if d.IsExtension() {
			p.extension(d)
			return
		}
		p.field(d)
	case protoreflect.OneofDescriptor:
		p.oneof(d)
	case protoreflect.EnumDescriptor:
		p.enum(d)
	case protoreflect.EnumValueDescriptor:
		p.enumValue(d)
	case protoreflect.ServiceDescriptor:
		p.service(d)
	case protoreflect.MethodDescriptor:
		p.method(d)
	}
}

// pkg lists every top-level declaration of a package.
func (p *printer) pkg(files *protoregistry.Files, pkg protoreflect.FullName) {
	files.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		p.linef("")
		p.linef("// %s", fd.Path())
		for i := 0; i < fd.Messages().Len(); i++ {
			p.linef("message %s", fd.Messages().Get(i).FullName())
		}
		for i := 0; i < fd.Enums().Len(); i++ {
			p.linef("enum %s", fd.Enums().Get(i).FullName())
		}
		for i := 0; i < fd.Services().Len(); i++ {
			p.linef("service %s", fd.Services().Get(i).FullName())
		}
		for i := 0; i < fd.Extensions().Len(); i++ {
			x := fd.Extensions().Get(i)
			p.linef("extend %s { %s }", typeRef(x.ContainingMessage().FullName()), x.FullName())
		}
		return true
	})
}

func (p *printer) message(md protoreflect.MessageDescriptor) {
	p.comments(md)
	p.linef("message %s {", md.Name())
	p.indent++
	p.options(md.Options())
	seenOneofs := map[protoreflect.FullName]bool{}
	for i := 0; i < md.Fields().Len(); i++ {
		f := md.Fields().Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if !seenOneofs[o.FullName()] {
				seenOneofs[o.FullName()] = true
				p.oneof(o)
			}
			continue
		}
		p.field(f)
	}
	for i := 0; i < md.Messages().Len(); i++ {
		if nested := md.Messages().Get(i); !nested.IsMapEntry() {
			p.message(nested)
		}
	}
	for i := 0; i < md.Enums().Len(); i++ {
		p.enum(md.Enums().Get(i))
	}
	for i := 0; i < md.Extensions().Len(); i++ {
		p.extension(md.Extensions().Get(i))
	}
	if r := md.ExtensionRanges(); r.Len() > 0 {
		p.linef("extensions %s;", ranges(r.Len(), func(i int) (int, int) { a := r.Get(i); return int(a[0]), int(a[1]) - 1 }))
	}
	if r := md.ReservedRanges(); r.Len() > 0 {
		p.linef("reserved %s;", ranges(r.Len(), func(i int) (int, int) { a := r.Get(i); return int(a[0]), int(a[1]) - 1 }))
	}
	if n := md.ReservedNames(); n.Len() > 0 {
		p.linef("reserved %s;", reservedNames(n))
	}
	p.indent--
	p.linef("}")
}

func (p *printer) oneof(o protoreflect.OneofDescriptor) {
	p.comments(o)
	p.linef("oneof %s {", o.Name())
	p.indent++
	p.options(o.Options())
	for i := 0; i < o.Fields().Len(); i++ {
		p.field(o.Fields().Get(i))
	}
	p.indent--
	p.linef("}")
}

// extension writes an extension in its own extend block.
func (p *printer) extension(x protoreflect.FieldDescriptor) {
	p.comments(x)
	p.linef("extend %s {", typeRef(x.ContainingMessage().FullName()))
	p.indent++
	p.fieldLine(x)
	p.indent--
	p.linef("}")
}

func (p *printer) field(f protoreflect.FieldDescriptor) {
	p.comments(f)
	p.fieldLine(f)
}

func (p *printer) fieldLine(f protoreflect.FieldDescriptor) {
	label := ""
	switch {
	case f.IsMap():
	case f.Cardinality() == protoreflect.Repeated:
		label = "repeated "
	case f.Cardinality() == protoreflect.Required:
		label = "required "
	case f.HasOptionalKeyword():
		label = "optional "
	}
	var opts []string
	if f.HasDefault() {
		opts = append(opts, "default = "+defaultValue(f))
	}
	if !f.IsExtension() && f.HasJSONName() && f.JSONName() != descset.DefaultJSONName(string(f.Name())) {
		opts = append(opts, "json_name = "+strconv.Quote(f.JSONName()))
	}
	opts = append(opts, p.optionList(f.Options())...)
	suffix := ""
	if len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	p.linef("%s%s %s = %d%s;%s", label, typeName(f), f.Name(), f.Number(), suffix, p.trailing(f))
}

func (p *printer) enum(e protoreflect.EnumDescriptor) {
	p.comments(e)
	p.linef("enum %s {", e.Name())
	p.indent++
	p.options(e.Options())
	for i := 0; i < e.Values().Len(); i++ {
		p.enumValue(e.Values().Get(i))
	}
	if r := e.ReservedRanges(); r.Len() > 0 {
		p.linef("reserved %s;", ranges(r.Len(), func(i int) (int, int) { a := r.Get(i); return int(a[0]), int(a[1]) }))
	}
	if n := e.ReservedNames(); n.Len() > 0 {
		p.linef("reserved %s;", reservedNames(n))
	}
	p.indent--
	p.linef("}")
}

func (p *printer) enumValue(v protoreflect.EnumValueDescriptor) {
	p.comments(v)
	suffix := ""
	if opts := p.optionList(v.Options()); len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	p.linef("%s = %d%s;%s", v.Name(), v.Number(), suffix, p.trailing(v))
}

func (p *printer) service(s protoreflect.ServiceDescriptor) {
	p.comments(s)
	p.linef("service %s {", s.Name())
	p.indent++
	p.options(s.Options())
	for i := 0; i < s.Methods().Len(); i++ {
		p.method(s.Methods().Get(i))
	}
	p.indent--
	p.linef("}")
}

func (p *printer) method(m protoreflect.MethodDescriptor) {
	p.comments(m)
	in, out := typeRef(m.Input().FullName()), typeRef(m.Output().FullName())
	if m.IsStreamingClient() {
		in = "stream " + in
	}
	if m.IsStreamingServer() {
		out = "stream " + out
	}
	opts := p.optionList(m.Options())
	if len(opts) == 0 {
		p.linef("rpc %s ( %s ) returns ( %s );", m.Name(), in, out)
		return
	}
	p.linef("rpc %s ( %s ) returns ( %s ) {", m.Name(), in, out)
	p.indent++
	for _, o := range opts {
		p.linef("option %s;", o)
	}
	p.indent--
	p.linef("}")
}

// options writes "option name = value;" lines.
func (p *printer) options(opts proto.Message) {
	for _, o := range p.optionList(opts) {
		p.linef("option %s;", o)
	}
}

// optionList renders the options set in an options message as
// "name = value", custom options as "(full.name) = value". Options the
// program does not link are resolved with the descriptors' own files.
func (p *printer) optionList(opts proto.Message) []string {
	if opts == nil {
		return nil
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return nil
	}
	if len(m.GetUnknown()) > 0 && p.types != nil {
		if b, err := proto.Marshal(opts); err == nil {
			re := m.New().Interface()
			if err := (proto.UnmarshalOptions{Resolver: p.types}).Unmarshal(b, re); err == nil {
				m = re.ProtoReflect()
			}
		}
	}
	var out []string
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Name() == "uninterpreted_option" {
			return true
		}
		name := string(f.Name())
		if f.IsExtension() {
			name = "(" + string(f.FullName()) + ")"
		}
		if f.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				out = append(out, name+" = "+optionValue(f, l.Get(i)))
			}
			return true
		}
		out = append(out, name+" = "+optionValue(f, v))
		return true
	})
	slices.Sort(out)
	return out
}

func optionValue(f protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch f.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := f.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		b, err := prototext.MarshalOptions{}.Marshal(v.Message().Interface())
		if err != nil {
			return "{ }"
		}
		return "{ " + strings.Join(strings.Fields(string(b)), " ") + " }"
	default:
		return v.String()
	}
}

func typeName(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return fmt.Sprintf("map<%s, %s>", typeName(f.MapKey()), typeName(f.MapValue()))
	}
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return typeRef(f.Message().FullName())
	case protoreflect.EnumKind:
		return typeRef(f.Enum().FullName())
	default:
		return f.Kind().String()
	}
}

func typeRef(name protoreflect.FullName) string { return "." + string(name) }

func defaultValue(f protoreflect.FieldDescriptor) string {
	v := f.Default()
	switch f.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := f.DefaultEnumValue(); ev != nil {
			return string(ev.Name())
		}
	}
	return v.String()
}

func ranges(n int, get func(int) (int, int)) string {
	parts := make([]string, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := get(i)
		switch {
		case lo == hi:
			parts = append(parts, strconv.Itoa(lo))
		case hi >= 536870911:
			parts = append(parts, fmt.Sprintf("%d to max", lo))
		default:
			parts = append(parts, fmt.Sprintf("%d to %d", lo, hi))
		}
	}
	return strings.Join(parts, ", ")
}

func reservedNames(n protoreflect.Names) string {
	parts := make([]string, 0, n.Len())
	for i := 0; i < n.Len(); i++ {
		parts = append(parts, strconv.Quote(string(n.Get(i))))
	}
	return strings.Join(parts, ", ")
}
