package schemagen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type gOpt struct{ name, value string }

type gFile struct {
	path   string
	syntax string // proto2, proto3, editions
	pkg    string
	opts   []gOpt
	msgs   []*gMsg
	enums  []*gEnum
	svcs   []*gSvc
	exts   []*gField
}

type gMsg struct {
	name      string
	fields    []*gField
	msgs      []*gMsg
	enums     []*gEnum
	exts      []*gField
	resRanges [][2]int32
	resNames  []string
	extRanges [][2]int32
	opts      []gOpt
}

type gField struct {
	name     string
	num      int32
	card     string // implicit, explicit, repeated, required, map
	typ      string // scalar keyword or ".full.Name"
	key      string // map key type
	oneof    string
	opts     []gOpt
	extendee string
}

type gEnum struct {
	name      string
	vals      []gVal
	resRanges [][2]int32
	resNames  []string
	opts      []gOpt
}

type gVal struct {
	name string
	num  int32
}

type gSvc struct {
	name    string
	methods []*gMethod
}

type gMethod struct {
	name, in, out string
	cs, ss        bool
	opts          []gOpt
}

var scalarTypes = []string{"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes", "float", "double"}
var mapKeyTypes = []string{"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string"}

func isScalar(t string) bool { return slices.Contains(scalarTypes, t) }

// ---------------------------------------------------------------- cloning

func (f *gFile) clone() *gFile {
	c := *f
	c.opts = slices.Clone(f.opts)
	c.msgs = cloneMsgs(f.msgs)
	c.enums = cloneEnums(f.enums)
	c.svcs = nil
	for _, s := range f.svcs {
		s2 := &gSvc{name: s.name}
		for _, m := range s.methods {
			m2 := *m
			m2.opts = slices.Clone(m.opts)
			s2.methods = append(s2.methods, &m2)
		}
		c.svcs = append(c.svcs, s2)
	}
	c.exts = cloneFields(f.exts)
	return &c
}

func cloneMsgs(ms []*gMsg) []*gMsg {
	var out []*gMsg
	for _, m := range ms {
		c := *m
		c.fields = cloneFields(m.fields)
		c.msgs = cloneMsgs(m.msgs)
		c.enums = cloneEnums(m.enums)
		c.exts = cloneFields(m.exts)
		c.resRanges = slices.Clone(m.resRanges)
		c.resNames = slices.Clone(m.resNames)
		c.extRanges = slices.Clone(m.extRanges)
		c.opts = slices.Clone(m.opts)
		out = append(out, &c)
	}
	return out
}

func cloneFields(fs []*gField) []*gField {
	var out []*gField
	for _, f := range fs {
		c := *f
		c.opts = slices.Clone(f.opts)
		out = append(out, &c)
	}
	return out
}

func cloneEnums(es []*gEnum) []*gEnum {
	var out []*gEnum
	for _, e := range es {
		c := *e
		c.vals = slices.Clone(e.vals)
		c.resRanges = slices.Clone(e.resRanges)
		c.resNames = slices.Clone(e.resNames)
		c.opts = slices.Clone(e.opts)
		out = append(out, &c)
	}
	return out
}

func cloneFiles(fs []*gFile) []*gFile {
	var out []*gFile
	for _, f := range fs {
		out = append(out, f.clone())
	}
	return out
}

// ---------------------------------------------------------------- symbols

type gSym struct {
	kind   string // message, enum
	file   *gFile
	msg    *gMsg
	enum   *gEnum
	closed bool
}

func symbols(files []*gFile) map[string]*gSym {
	out := map[string]*gSym{}
	for _, f := range files {
		var walk func(prefix string, ms []*gMsg, es []*gEnum)
		walk = func(prefix string, ms []*gMsg, es []*gEnum) {
			for _, e := range es {
				closed := f.syntax == "proto2"
				for _, o := range e.opts {
					if o.name == "features.enum_type" && f.syntax == "editions" {
						closed = o.value == "CLOSED"
					}
				}
				out["."+prefix+e.name] = &gSym{kind: "enum", file: f, enum: e, closed: closed}
			}
			for _, m := range ms {
				out["."+prefix+m.name] = &gSym{kind: "message", file: f, msg: m}
				walk(prefix+m.name+".", m.msgs, m.enums)
			}
		}
		p := ""
		if f.pkg != "" {
			p = f.pkg + "."
		}
		walk(p, f.msgs, f.enums)
	}
	return out
}

// ---------------------------------------------------------------- printing

type printer struct {
	b      strings.Builder
	file   *gFile
	syms   map[string]*gSym
	indent int
}

func (p *printer) line(format string, args ...any) {
	p.b.WriteString(strings.Repeat("  ", p.indent))
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteByte('\n')
}

// render prints every file of a schema; files whose references no longer
// resolve are repaired first by sanitize.
func render(files []*gFile) map[string]string {
	syms := symbols(files)
	out := map[string]string{}
	for _, f := range files {
		p := &printer{file: f, syms: syms}
		out[f.path] = p.print()
	}
	return out
}

func (p *printer) print() string {
	f := p.file
	if f.syntax == "editions" {
		p.line(`edition = "2023";`)
	} else {
		p.line(`syntax = %q;`, f.syntax)
	}
	p.line("")
	if f.pkg != "" {
		p.line("package %s;", f.pkg)
		p.line("")
	}
	imports := p.imports()
	for _, imp := range imports {
		p.line("import %q;", imp)
	}
	if len(imports) > 0 {
		p.line("")
	}
	for _, o := range f.opts {
		if !p.optAllowed(o, "") {
			continue
		}
		p.line("option %s = %s;", o.name, o.value)
	}
	if len(f.opts) > 0 {
		p.line("")
	}
	for _, m := range f.msgs {
		p.message(m)
	}
	for _, e := range f.enums {
		p.enum(e)
	}
	for _, s := range f.svcs {
		p.service(s)
	}
	p.extends(f.exts)
	return p.b.String()
}

func (p *printer) imports() []string {
	set := map[string]bool{}
	add := func(t string) {
		if s, ok := p.syms[t]; ok && s.file != p.file {
			set[s.file.path] = true
		}
		if t == ".google.protobuf.Empty" {
			set["google/protobuf/empty.proto"] = true
		}
	}
	var walk func(ms []*gMsg)
	fieldRefs := func(fs []*gField) {
		for _, f := range fs {
			add(f.typ)
			add(f.extendee)
			for _, o := range f.opts {
				if strings.Contains(o.name, "(pb.cpp)") {
					set["google/protobuf/cpp_features.proto"] = true
				}
				if strings.Contains(o.name, "(pb.java)") {
					set["google/protobuf/java_features.proto"] = true
				}
			}
		}
	}
	walk = func(ms []*gMsg) {
		for _, m := range ms {
			fieldRefs(m.fields)
			fieldRefs(m.exts)
			walk(m.msgs)
		}
	}
	walk(p.file.msgs)
	fieldRefs(p.file.exts)
	for _, s := range p.file.svcs {
		for _, m := range s.methods {
			for _, t := range []string{m.in, m.out} {
				if sym, ok := p.syms[t]; ok && sym.kind == "message" {
					add(t)
				} else {
					add(".google.protobuf.Empty")
				}
			}
		}
	}
	for _, o := range p.file.opts {
		if strings.Contains(o.name, "(pb.java)") {
			set["google/protobuf/java_features.proto"] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// optAllowed drops options the file's syntax or the field's type does not
// allow, so that syntax and type mutations keep files compiling.
func (p *printer) optAllowed(o gOpt, fieldType string) bool {
	ed := p.file.syntax == "editions"
	if strings.HasPrefix(o.name, "features.") && !ed {
		return false
	}
	switch o.name {
	case "jstype":
		return slices.Contains([]string{"int64", "uint64", "sint64", "fixed64", "sfixed64"}, fieldType)
	case "ctype":
		return fieldType == "string" || fieldType == "bytes"
	case "features.(pb.cpp).string_type":
		return fieldType == "string" || fieldType == "bytes"
	case "features.utf8_validation":
		return fieldType == "string" || fieldType == ""
	case "features.(pb.java).utf8_validation":
		return fieldType == "string" || fieldType == ""
	case "features.message_encoding":
		s, ok := p.syms[fieldType]
		return ok && s.kind == "message"
	case "java_string_check_utf8":
		return !ed
	}
	return true
}

func (p *printer) message(m *gMsg) {
	p.line("message %s {", m.name)
	p.indent++
	p.optionsAndReserved(m.opts, m.resRanges, m.resNames)
	if len(m.extRanges) > 0 && p.file.syntax != "proto3" {
		p.line("extensions %s;", rangesString(m.extRanges))
	}
	printed := map[string]bool{}
	for _, f := range m.fields {
		if f.oneof == "" {
			p.field(f, false)
			continue
		}
		if printed[f.oneof] {
			continue
		}
		printed[f.oneof] = true
		p.line("oneof %s {", f.oneof)
		p.indent++
		for _, g := range m.fields {
			if g.oneof == f.oneof {
				p.field(g, true)
			}
		}
		p.indent--
		p.line("}")
	}
	for _, n := range m.msgs {
		p.message(n)
	}
	for _, e := range m.enums {
		p.enum(e)
	}
	p.extends(m.exts)
	p.indent--
	p.line("}")
}

func (p *printer) namesString(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		if p.file.syntax == "editions" {
			parts[i] = n
		} else {
			parts[i] = strconv.Quote(n)
		}
	}
	return strings.Join(parts, ", ")
}

func rangesString(rs [][2]int32) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		switch {
		case r[0] == r[1]:
			parts[i] = strconv.Itoa(int(r[0]))
		case r[1] == 536870911 || r[1] == 2147483647:
			parts[i] = fmt.Sprintf("%d to max", r[0])
		default:
			parts[i] = fmt.Sprintf("%d to %d", r[0], r[1])
		}
	}
	return strings.Join(parts, ", ")
}

func (p *printer) typeOf(f *gField) string {
	if isScalar(f.typ) {
		return f.typ
	}
	if _, ok := p.syms[f.typ]; ok || f.typ == ".google.protobuf.Empty" {
		return f.typ
	}
	return "int32"
}

func (p *printer) field(f *gField, inOneof bool) {
	typ := p.typeOf(f)
	sym := p.syms[typ]
	isMsg := sym != nil && sym.kind == "message"
	var opts []string
	label := ""
	switch {
	case f.card == "map":
		key := f.key
		if key == "" {
			key = "string"
		}
		typ = fmt.Sprintf("map<%s, %s>", key, typ)
	case inOneof:
	case f.card == "repeated":
		label = "repeated "
	case p.file.syntax == "proto2":
		if f.card == "required" {
			label = "required "
		} else {
			label = "optional "
		}
	case p.file.syntax == "proto3":
		if f.card == "explicit" || (f.extendee != "") {
			label = "optional "
		}
	case p.file.syntax == "editions":
		if f.card == "implicit" && !isMsg && f.extendee == "" && !(sym != nil && sym.closed) {
			opts = append(opts, "features.field_presence = IMPLICIT")
		}
		if f.card == "required" && f.extendee == "" {
			opts = append(opts, "features.field_presence = LEGACY_REQUIRED")
		}
	}
	if p.file.syntax == "proto3" && sym != nil && sym.kind == "enum" && sym.closed {
		typ = "int32"
		sym = nil
	}
	realType := typ
	if f.card == "map" {
		realType = ""
	}
	for _, o := range f.opts {
		if o.name == "default" {
			if p.file.syntax == "proto3" || inOneof || f.card == "repeated" || f.card == "map" || isMsg ||
				(p.file.syntax == "editions" && f.card == "implicit") {
				continue
			}
			if !defaultMatches(o.value, typ, sym) {
				continue
			}
		}
		if o.name == "json_name" && f.extendee != "" {
			continue
		}
		if o.name == "features.message_encoding" && (f.card == "map") {
			continue
		}
		if (o.name == "features.utf8_validation" || o.name == "features.(pb.java).utf8_validation") && realType != "string" {
			continue
		}
		if !p.optAllowed(o, realType) {
			continue
		}
		if o.name == "ctype" && hasOpt(f.opts, "features.(pb.cpp).string_type") && p.file.syntax == "editions" {
			continue
		}
		opts = append(opts, o.name+" = "+o.value)
	}
	suffix := ""
	if len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	p.line("%s%s %s = %d%s;", label, typ, f.name, f.num, suffix)
}

func hasOpt(opts []gOpt, name string) bool {
	return slices.ContainsFunc(opts, func(o gOpt) bool { return o.name == name })
}

func defaultMatches(v, typ string, sym *gSym) bool {
	switch typ {
	case "string":
		return strings.HasPrefix(v, `"`)
	case "bytes":
		return strings.HasPrefix(v, `"`)
	case "bool":
		return v == "true" || v == "false"
	case "float", "double":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil || v == "inf" || v == "-inf" || v == "nan"
	case "int32", "sint32", "sfixed32":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	case "int64", "sint64", "sfixed64":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "uint32", "fixed32":
		_, err := strconv.ParseUint(v, 10, 32)
		return err == nil
	case "uint64", "fixed64":
		_, err := strconv.ParseUint(v, 10, 64)
		return err == nil
	}
	if sym != nil && sym.kind == "enum" {
		for _, ev := range sym.enum.vals {
			if ev.name == v {
				return true
			}
		}
	}
	return false
}

// optionsAndReserved prints the option and reserved statements that open
// a message or enum body.
func (p *printer) optionsAndReserved(opts []gOpt, resRanges [][2]int32, resNames []string) {
	for _, o := range opts {
		if p.optAllowed(o, "") {
			p.line("option %s = %s;", o.name, o.value)
		}
	}
	if len(resRanges) > 0 {
		p.line("reserved %s;", rangesString(resRanges))
	}
	if len(resNames) > 0 {
		p.line("reserved %s;", p.namesString(resNames))
	}
}

func (p *printer) enum(e *gEnum) {
	p.line("enum %s {", e.name)
	p.indent++
	p.optionsAndReserved(e.opts, e.resRanges, e.resNames)
	for _, v := range e.vals {
		p.line("%s = %d;", v.name, v.num)
	}
	p.indent--
	p.line("}")
}

func (p *printer) service(s *gSvc) {
	p.line("service %s {", s.name)
	p.indent++
	for _, m := range s.methods {
		in, out := m.in, m.out
		if _, ok := p.syms[in]; !ok && in != ".google.protobuf.Empty" {
			in = ".google.protobuf.Empty"
		}
		if _, ok := p.syms[out]; !ok && out != ".google.protobuf.Empty" {
			out = ".google.protobuf.Empty"
		}
		if s, ok := p.syms[in]; ok && s.kind != "message" {
			in = ".google.protobuf.Empty"
		}
		if s, ok := p.syms[out]; ok && s.kind != "message" {
			out = ".google.protobuf.Empty"
		}
		cs, ss := "", ""
		if m.cs {
			cs = "stream "
		}
		if m.ss {
			ss = "stream "
		}
		if len(m.opts) == 0 {
			p.line("rpc %s(%s%s) returns (%s%s);", m.name, cs, in, ss, out)
			continue
		}
		p.line("rpc %s(%s%s) returns (%s%s) {", m.name, cs, in, ss, out)
		p.indent++
		for _, o := range m.opts {
			p.line("option %s = %s;", o.name, o.value)
		}
		p.indent--
		p.line("}")
	}
	p.indent--
	p.line("}")
}

func (p *printer) extends(exts []*gField) {
	if p.file.syntax == "proto3" {
		return
	}
	var order []string
	by := map[string][]*gField{}
	for _, x := range exts {
		s, ok := p.syms[x.extendee]
		if !ok || s.kind != "message" || s.file.syntax == "proto3" || !inExtRanges(s.msg, x.num) {
			continue
		}
		if _, ok := by[x.extendee]; !ok {
			order = append(order, x.extendee)
		}
		by[x.extendee] = append(by[x.extendee], x)
	}
	for _, e := range order {
		p.line("extend %s {", e)
		p.indent++
		for _, x := range by[e] {
			p.field(x, false)
		}
		p.indent--
		p.line("}")
	}
}

func inExtRanges(m *gMsg, n int32) bool {
	for _, r := range m.extRanges {
		if n >= r[0] && n <= r[1] {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- generation

// Gen generates and mutates schemas.
type Gen struct {
	r      *rand.Rand
	prefix string
	n      int
	// seq numbers the pairs of a run; some mutations use it to spread
	// their choices evenly instead of leaving them to chance.
	seq int
	// forceOption, when set, makes the next file-option mutation change
	// that file option, so that every FILE_SAME_* rule is exercised.
	forceOption string
}

func (g *Gen) name(kind string) string {
	g.n++
	return fmt.Sprintf("%s%d", kind, g.n)
}

func (g *Gen) pick(ss ...string) string { return ss[g.r.IntN(len(ss))] }

// schema generates a random, valid schema of one to three files.
func (g *Gen) schema() []*gFile {
	nFiles := 1 + g.r.IntN(3)
	var files []*gFile
	pkgs := []string{"a.v1", "b.v1", "c.v1beta1", "a.v1"}
	for i := 0; i < nFiles; i++ {
		syntax := g.pick("proto3", "proto3", "proto2", "editions")
		pkg := g.prefix + "." + pkgs[g.r.IntN(len(pkgs))]
		if g.r.IntN(12) == 0 {
			pkg = ""
		}
		f := &gFile{path: fmt.Sprintf("%s/f%d.proto", g.prefix, i), syntax: syntax, pkg: pkg}
		files = append(files, f)
	}
	// Package-less files would clash across pairs; keep their names unique.
	for _, f := range files {
		if g.r.IntN(3) == 0 {
			f.opts = append(f.opts, gOpt{"go_package", strconv.Quote("example.com/" + strings.ReplaceAll(f.path, ".proto", ""))})
		}
		if g.r.IntN(4) == 0 {
			f.opts = append(f.opts, gOpt{"java_package", strconv.Quote("com.example." + g.prefix)})
		}
		for _, c := range fileOptionChoices {
			if g.r.IntN(10) == 0 {
				f.opts = setOpt(f.opts, c.name, c.values[g.r.IntN(len(c.values))])
			}
		}
		for j := 0; j < 1+g.r.IntN(2); j++ {
			f.enums = append(f.enums, g.enum(f))
		}
		for j := 0; j < 1+g.r.IntN(3); j++ {
			f.msgs = append(f.msgs, g.message(f, 0))
		}
	}
	syms := symbols(files)
	var msgNames []string
	for n, s := range syms {
		if s.kind == "message" {
			msgNames = append(msgNames, n)
		}
	}
	sort.Strings(msgNames)
	// Fill references now that every type exists. A file only refers to
	// messages of itself and of earlier files, so imports never cycle.
	for i, f := range files {
		var allowed []string
		for _, n := range msgNames {
			if slices.Index(files, syms[n].file) <= i {
				allowed = append(allowed, n)
			}
		}
		g.fillRefs(f, syms, allowed)
		if g.r.IntN(2) == 0 {
			s := &gSvc{name: g.name("Svc")}
			for k := 0; k < 1+g.r.IntN(3); k++ {
				m := &gMethod{name: g.name("Rpc"), in: g.localMessage(f, syms, msgNames), out: g.localMessage(f, syms, msgNames)}
				m.cs, m.ss = g.r.IntN(4) == 0, g.r.IntN(4) == 0
				if g.r.IntN(3) == 0 {
					m.opts = append(m.opts, gOpt{"idempotency_level", g.pick("NO_SIDE_EFFECTS", "IDEMPOTENT")})
				}
				s.methods = append(s.methods, m)
			}
			f.svcs = append(f.svcs, s)
		}
		if f.syntax != "proto3" {
			for _, m := range f.msgs {
				if len(m.extRanges) == 0 {
					continue
				}
				for k := int32(0); k < int32(g.r.IntN(3)); k++ {
					x := &gField{name: g.name("ext"), num: m.extRanges[0][0] + k, card: g.pick("explicit", "repeated"), typ: g.pick("int32", "string", "int64"), extendee: "." + qualifyG(f.pkg, m.name)}
					if g.r.IntN(2) == 0 {
						f.exts = append(f.exts, x)
					} else {
						m.exts = append(m.exts, x)
					}
				}
			}
		}
	}
	return files
}

func qualifyG(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

func (g *Gen) localMessage(f *gFile, syms map[string]*gSym, all []string) string {
	var local []string
	for _, n := range all {
		if syms[n].file == f {
			local = append(local, n)
		}
	}
	if len(local) == 0 || g.r.IntN(6) == 0 {
		return ".google.protobuf.Empty"
	}
	return local[g.r.IntN(len(local))]
}

func (g *Gen) enum(f *gFile) *gEnum {
	e := &gEnum{name: g.name("Enum")}
	up := strings.ToUpper(e.name)
	e.vals = append(e.vals, gVal{up + "_UNSPECIFIED", 0})
	n := int32(0)
	for k := 0; k < 1+g.r.IntN(4); k++ {
		n += 1 + int32(g.r.IntN(2))
		e.vals = append(e.vals, gVal{fmt.Sprintf("%s_V%d", up, n), n})
	}
	if g.r.IntN(3) == 0 {
		e.resRanges = append(e.resRanges, [2]int32{n + 2, n + 3 + int32(g.r.IntN(3))})
	}
	if g.r.IntN(3) == 0 {
		e.resNames = append(e.resNames, up+"_OLD")
	}
	if f.syntax == "editions" && g.r.IntN(3) == 0 {
		e.opts = append(e.opts, gOpt{"features.enum_type", "CLOSED"})
	}
	return e
}

func (g *Gen) message(f *gFile, depth int) *gMsg {
	m := &gMsg{name: g.name("Msg")}
	num := int32(0)
	nFields := 1 + g.r.IntN(6)
	var oneof string
	for k := 0; k < nFields; k++ {
		num += 1 + int32(g.r.IntN(2))
		fl := &gField{name: strings.ToLower(g.name("f")) + "_" + g.pick("id", "name", "count", "value", "data"), num: num, typ: scalarTypes[g.r.IntN(len(scalarTypes))]}
		switch g.r.IntN(8) {
		case 0:
			fl.card = "repeated"
		case 1:
			fl.card = "explicit"
		case 2:
			fl.card = "map"
			fl.key = mapKeyTypes[g.r.IntN(len(mapKeyTypes))]
		case 3:
			if oneof == "" {
				oneof = strings.ToLower(g.name("choice"))
			}
			fl.oneof = oneof
			fl.card = "explicit"
		case 4:
			fl.typ = "?ref"
			fl.card = g.pick("explicit", "implicit", "repeated")
		default:
			fl.card = "implicit"
			if f.syntax == "proto2" && g.r.IntN(6) == 0 {
				fl.card = "required"
			}
		}
		g.fieldOptions(f, fl)
		m.fields = append(m.fields, fl)
	}
	if g.r.IntN(3) == 0 {
		m.resRanges = append(m.resRanges, [2]int32{num + 2, num + 3 + int32(g.r.IntN(4))})
	}
	if g.r.IntN(3) == 0 {
		m.resNames = append(m.resNames, "old_"+strings.ToLower(m.name))
	}
	if f.syntax != "proto3" && g.r.IntN(2) == 0 {
		m.extRanges = append(m.extRanges, [2]int32{100, 199})
	}
	if depth == 0 && g.r.IntN(3) == 0 {
		m.msgs = append(m.msgs, g.message(f, depth+1))
	}
	if g.r.IntN(4) == 0 {
		m.enums = append(m.enums, g.enum(f))
	}
	if f.syntax == "editions" && g.r.IntN(5) == 0 {
		m.opts = append(m.opts, gOpt{"features.json_format", "LEGACY_BEST_EFFORT"})
	}
	return m
}

func (g *Gen) fieldOptions(f *gFile, fl *gField) {
	if g.r.IntN(8) == 0 {
		fl.opts = append(fl.opts, gOpt{"json_name", strconv.Quote("j" + strings.ReplaceAll(fl.name, "_", ""))})
	}
	switch fl.typ {
	case "int64", "uint64", "sint64", "fixed64", "sfixed64":
		if g.r.IntN(4) == 0 {
			fl.opts = append(fl.opts, gOpt{"jstype", g.pick("JS_STRING", "JS_NUMBER", "JS_NORMAL")})
		}
	case "string", "bytes":
		if g.r.IntN(5) == 0 {
			fl.opts = append(fl.opts, gOpt{"ctype", g.pick("CORD", "STRING_PIECE", "STRING")})
		}
		if f.syntax == "editions" && g.r.IntN(5) == 0 && fl.typ == "string" {
			fl.opts = append(fl.opts, gOpt{"features.utf8_validation", "NONE"})
		}
	}
	if g.r.IntN(6) == 0 && fl.card != "map" && fl.card != "repeated" {
		if d := g.defaultFor(fl.typ); d != "" {
			fl.opts = append(fl.opts, gOpt{"default", d})
		}
	}
}

func (g *Gen) defaultFor(typ string) string {
	switch typ {
	case "string", "bytes":
		return strconv.Quote(g.pick("x", "hello", ""))
	case "bool":
		return g.pick("true", "false")
	case "float", "double":
		return g.pick("1.5", "0", "-2.25", "inf")
	case "int32", "int64", "sint32", "sint64", "sfixed32", "sfixed64":
		return g.pick("0", "7", "-3")
	case "uint32", "uint64", "fixed32", "fixed64":
		return g.pick("0", "9")
	}
	return ""
}

func (g *Gen) fillRefs(f *gFile, syms map[string]*gSym, msgNames []string) {
	var enums []string
	for n, s := range syms {
		if s.kind == "enum" && s.file == f {
			enums = append(enums, n)
		}
	}
	sort.Strings(enums)
	var walk func(ms []*gMsg)
	walk = func(ms []*gMsg) {
		for _, m := range ms {
			for _, fl := range m.fields {
				if fl.typ != "?ref" {
					continue
				}
				if len(enums) > 0 && g.r.IntN(2) == 0 {
					fl.typ = enums[g.r.IntN(len(enums))]
					if g.r.IntN(4) == 0 && fl.card != "repeated" {
						e := syms[fl.typ].enum
						fl.opts = append(fl.opts, gOpt{"default", e.vals[g.r.IntN(len(e.vals))].name})
					}
				} else {
					fl.typ = msgNames[g.r.IntN(len(msgNames))]
					if f.syntax == "editions" && g.r.IntN(4) == 0 {
						fl.opts = append(fl.opts, gOpt{"features.message_encoding", "DELIMITED"})
					}
				}
			}
			walk(m.msgs)
		}
	}
	walk(f.msgs)
}
