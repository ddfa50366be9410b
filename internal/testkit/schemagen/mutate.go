package schemagen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// mutation applies one change to a schema; ok is false when it found
// nothing to change.
type mutation struct {
	name string
	fn   func(g *Gen, files []*gFile) ([]*gFile, bool)
}

// mutate applies n random mutations and returns the new schema and the
// names of the mutations applied.
func (g *Gen) mutate(files []*gFile, n int) ([]*gFile, []string) {
	files = cloneFiles(files)
	var applied []string
	if g.forceOption != "" {
		if out, ok := fileOptionMutation.fn(g, files); ok {
			files = out
			applied = append(applied, fileOptionMutation.name)
		}
	}
	for tries := 0; len(applied) < n && tries < 50; tries++ {
		m := allMutations[g.r.IntN(len(allMutations))]
		out, ok := m.fn(g, files)
		if ok {
			files = out
			applied = append(applied, m.name)
		}
	}
	return files, applied
}

// ---------------------------------------------------------------- helpers

type msgRef struct {
	file   *gFile
	msg    *gMsg
	parent *gMsg // nil for top-level
	full   string
}

func allMessages(files []*gFile) []msgRef {
	var out []msgRef
	for _, f := range files {
		var walk func(prefix string, parent *gMsg, ms []*gMsg)
		walk = func(prefix string, parent *gMsg, ms []*gMsg) {
			for _, m := range ms {
				full := "." + qualifyG(f.pkg, prefix+m.name)
				out = append(out, msgRef{f, m, parent, full})
				walk(prefix+m.name+".", m, m.msgs)
			}
		}
		walk("", nil, f.msgs)
	}
	return out
}

type enumRef struct {
	file   *gFile
	enum   *gEnum
	parent *gMsg
	full   string
}

func allEnums(files []*gFile) []enumRef {
	var out []enumRef
	for _, mr := range allMessages(files) {
		for _, e := range mr.msg.enums {
			out = append(out, enumRef{mr.file, e, mr.msg, mr.full + "." + e.name})
		}
	}
	for _, f := range files {
		for _, e := range f.enums {
			out = append(out, enumRef{f, e, nil, "." + qualifyG(f.pkg, e.name)})
		}
	}
	return out
}

type fieldRef struct {
	file *gFile
	msg  *gMsg
	f    *gField
}

func allFields(files []*gFile) []fieldRef {
	var out []fieldRef
	for _, mr := range allMessages(files) {
		for _, f := range mr.msg.fields {
			out = append(out, fieldRef{mr.file, mr.msg, f})
		}
	}
	return out
}

func allExtensions(files []*gFile) []*gField {
	var out []*gField
	for _, f := range files {
		out = append(out, f.exts...)
	}
	for _, mr := range allMessages(files) {
		out = append(out, mr.msg.exts...)
	}
	return out
}

func pickOne[T any](g *Gen, xs []T) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	return xs[g.r.IntN(len(xs))], true
}

// renameRefs rewrites references to a type (and its nested types).
func renameRefs(files []*gFile, from, to string) {
	fix := func(s string) string {
		if s == from {
			return to
		}
		if strings.HasPrefix(s, from+".") {
			return to + s[len(from):]
		}
		return s
	}
	for _, fr := range allFields(files) {
		fr.f.typ = fix(fr.f.typ)
	}
	for _, x := range allExtensions(files) {
		x.typ = fix(x.typ)
		x.extendee = fix(x.extendee)
	}
	for _, f := range files {
		for _, s := range f.svcs {
			for _, m := range s.methods {
				m.in, m.out = fix(m.in), fix(m.out)
			}
		}
	}
}

func usedNumbers(m *gMsg) map[int32]bool {
	used := map[int32]bool{}
	for _, f := range m.fields {
		used[f.num] = true
	}
	return used
}

func numberFree(m *gMsg, n int32) bool {
	if n < 1 || n > 536870911 || (n >= 19000 && n <= 19999) || usedNumbers(m)[n] {
		return false
	}
	for _, r := range m.resRanges {
		if n >= r[0] && n <= r[1] {
			return false
		}
	}
	for _, r := range m.extRanges {
		if n >= r[0] && n <= r[1] {
			return false
		}
	}
	return true
}

func (g *Gen) freeNumber(m *gMsg) int32 {
	for {
		n := int32(1 + g.r.IntN(40))
		if numberFree(m, n) {
			return n
		}
	}
}

func setOpt(opts []gOpt, name, value string) []gOpt {
	out := slices.DeleteFunc(slices.Clone(opts), func(o gOpt) bool { return o.name == name })
	if value == "" {
		return out
	}
	return append(out, gOpt{name, value})
}

func optValue(opts []gOpt, name string) string {
	for _, o := range opts {
		if o.name == name {
			return o.value
		}
	}
	return ""
}

func fieldMut(name string, fn func(g *Gen, fr fieldRef, files []*gFile) bool) mutation {
	return mutation{name, func(g *Gen, files []*gFile) ([]*gFile, bool) {
		fr, ok := pickOne(g, allFields(files))
		if !ok {
			return files, false
		}
		return files, fn(g, fr, files)
	}}
}

func msgMut(name string, fn func(g *Gen, mr msgRef, files []*gFile) bool) mutation {
	return mutation{name, func(g *Gen, files []*gFile) ([]*gFile, bool) {
		mr, ok := pickOne(g, allMessages(files))
		if !ok {
			return files, false
		}
		return files, fn(g, mr, files)
	}}
}

func enumMut(name string, fn func(g *Gen, er enumRef, files []*gFile) bool) mutation {
	return mutation{name, func(g *Gen, files []*gFile) ([]*gFile, bool) {
		er, ok := pickOne(g, allEnums(files))
		if !ok {
			return files, false
		}
		return files, fn(g, er, files)
	}}
}

func fileMut(name string, fn func(g *Gen, f *gFile, files []*gFile) bool) mutation {
	return mutation{name, func(g *Gen, files []*gFile) ([]*gFile, bool) {
		f, ok := pickOne(g, files)
		if !ok {
			return files, false
		}
		return files, fn(g, f, files)
	}}
}

func methodMut(name string, fn func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool) mutation {
	return mutation{name, func(g *Gen, files []*gFile) ([]*gFile, bool) {
		type sm struct {
			s *gSvc
			m *gMethod
		}
		var all []sm
		for _, f := range files {
			for _, s := range f.svcs {
				for _, m := range s.methods {
					all = append(all, sm{s, m})
				}
			}
		}
		x, ok := pickOne(g, all)
		if !ok {
			return files, false
		}
		return files, fn(g, x.s, x.m, files)
	}}
}

func removeField(m *gMsg, f *gField) {
	m.fields = slices.DeleteFunc(m.fields, func(x *gField) bool { return x == f })
}

var fileOptionChoices = []struct {
	name   string
	values []string
}{
	{"go_package", []string{`"example.com/x"`, `"example.com/y;y"`}},
	{"java_package", []string{`"com.x"`, `"com.y"`}},
	{"java_outer_classname", []string{`"Outer"`, `"Other"`}},
	{"java_multiple_files", []string{"true"}},
	{"csharp_namespace", []string{`"X.Y"`, `"Z"`}},
	{"objc_class_prefix", []string{`"XYZ"`, `"ABC"`}},
	{"php_class_prefix", []string{`"Px"`, `"Py"`}},
	{"php_namespace", []string{`"X\\Y"`, `"Z"`}},
	{"php_metadata_namespace", []string{`"M\\N"`, `"O"`}},
	{"ruby_package", []string{`"X::Y"`, `"Z"`}},
	{"swift_prefix", []string{`"SW"`, `"SX"`}},
	{"optimize_for", []string{"CODE_SIZE"}},
	{"cc_generic_services", []string{"true"}},
	{"java_generic_services", []string{"true"}},
	{"py_generic_services", []string{"true"}},
	{"cc_enable_arenas", []string{"false"}},
	{"java_string_check_utf8", []string{"true"}},
	{"features.utf8_validation", []string{"NONE", "VERIFY"}},
	{"features.(pb.java).utf8_validation", []string{"VERIFY", "DEFAULT"}},
	{"features.json_format", []string{"LEGACY_BEST_EFFORT", "ALLOW"}},
}

// allMutations lists every mutation; file options appear several times to
// give each of the sixteen FILE_SAME_* rules a chance.
var allMutations = append(slices.Clone(mutations), mutationsRest...)

var mutations = []mutation{
	// ---- files
	{"delete-file", func(g *Gen, files []*gFile) ([]*gFile, bool) {
		if len(files) < 2 {
			return files, false
		}
		i := g.r.IntN(len(files))
		return slices.Delete(slices.Clone(files), i, i+1), true
	}},
	{"add-file", func(g *Gen, files []*gFile) ([]*gFile, bool) {
		f := &gFile{path: fmt.Sprintf("%s/added%d.proto", g.prefix, g.r.IntN(1000)), syntax: "proto3", pkg: g.prefix + ".added.v1"}
		if slices.ContainsFunc(files, func(x *gFile) bool { return x.path == f.path }) {
			return files, false
		}
		f.msgs = []*gMsg{{name: g.name("Added"), fields: []*gField{{name: "x", num: 1, card: "implicit", typ: "string"}}}}
		return append(files, f), true
	}},
	fileMut("change-package", func(g *Gen, f *gFile, files []*gFile) bool {
		old := f.pkg
		f.pkg = g.prefix + "." + g.pick("d.v1", "e.v2", "a.v1", "b.v1beta1")
		if f.pkg == old {
			return false
		}
		oldPrefix, newPrefix := "."+old, "."+f.pkg
		if old == "" {
			oldPrefix = ""
		}
		for _, m := range f.msgs {
			renameRefs(files, oldPrefix+"."+m.name, newPrefix+"."+m.name)
		}
		for _, e := range f.enums {
			renameRefs(files, oldPrefix+"."+e.name, newPrefix+"."+e.name)
		}
		return true
	}),
	fileMut("change-syntax", func(g *Gen, f *gFile, files []*gFile) bool {
		old := f.syntax
		f.syntax = g.pick("proto2", "proto3", "editions")
		return f.syntax != old
	}),
	fileOptionMutation,
	fileOptionMutation,
	fileOptionMutation,
	fileOptionMutation,
}

var fileOptionMutation = fileMut("file-option", func(g *Gen, f *gFile, files []*gFile) bool {
	if g.forceOption != "" {
		name := g.forceOption
		g.forceOption = ""
		for _, c := range fileOptionChoices {
			if c.name != name {
				continue
			}
			for _, file := range files {
				if file.syntax == "editions" {
					continue
				}
				old := optValue(file.opts, c.name)
				for _, v := range append(slices.Clone(c.values), "") {
					if v != old {
						file.opts = setOpt(file.opts, c.name, v)
						return true
					}
				}
			}
		}
		return false
	}
	c := fileOptionChoices[g.r.IntN(len(fileOptionChoices))]
	if g.r.IntN(3) > 0 {
		c = fileOptionChoices[(g.seq+g.n)%len(fileOptionChoices)]
		g.n++
	}
	v := c.values[g.r.IntN(len(c.values))]
	if g.r.IntN(4) == 0 {
		v = ""
	}
	if optValue(f.opts, c.name) == v {
		return false
	}
	f.opts = setOpt(f.opts, c.name, v)
	return true
})

var mutationsRest = []mutation{
	{"move-message", func(g *Gen, files []*gFile) ([]*gFile, bool) {
		if len(files) < 2 {
			return files, false
		}
		from, to := files[g.r.IntN(len(files))], files[g.r.IntN(len(files))]
		if from == to || len(from.msgs) == 0 {
			return files, false
		}
		i := g.r.IntN(len(from.msgs))
		m := from.msgs[i]
		from.msgs = slices.Delete(from.msgs, i, i+1)
		to.msgs = append(to.msgs, m)
		renameRefs(files, "."+qualifyG(from.pkg, m.name), "."+qualifyG(to.pkg, m.name))
		return files, true
	}},
	// ---- messages
	msgMut("delete-message", func(g *Gen, mr msgRef, files []*gFile) bool {
		if mr.parent != nil {
			mr.parent.msgs = slices.DeleteFunc(mr.parent.msgs, func(x *gMsg) bool { return x == mr.msg })
		} else {
			mr.file.msgs = slices.DeleteFunc(mr.file.msgs, func(x *gMsg) bool { return x == mr.msg })
		}
		return true
	}),
	msgMut("add-message", func(g *Gen, mr msgRef, files []*gFile) bool {
		mr.msg.msgs = append(mr.msg.msgs, &gMsg{name: g.name("New"), fields: []*gField{{name: "v", num: 1, card: "implicit", typ: "int64"}}})
		return true
	}),
	msgMut("rename-message", func(g *Gen, mr msgRef, files []*gFile) bool {
		old := mr.full
		mr.msg.name += "R"
		renameRefs(files, old, old+"R")
		return true
	}),
	msgMut("no-standard-descriptor-accessor", func(g *Gen, mr msgRef, files []*gFile) bool {
		v := g.pick("true", "false", "")
		if optValue(mr.msg.opts, "no_standard_descriptor_accessor") == v {
			return false
		}
		mr.msg.opts = setOpt(mr.msg.opts, "no_standard_descriptor_accessor", v)
		return true
	}),
	msgMut("message-json-format", func(g *Gen, mr msgRef, files []*gFile) bool {
		if mr.file.syntax != "editions" {
			mr.file.syntax = "editions"
		}
		v := g.pick("LEGACY_BEST_EFFORT", "ALLOW", "")
		mr.msg.opts = setOpt(mr.msg.opts, "features.json_format", v)
		return true
	}),
	msgMut("reserved-message", func(g *Gen, mr msgRef, files []*gFile) bool {
		m := mr.msg
		switch g.r.IntN(4) {
		case 0:
			if len(m.resRanges) == 0 {
				return false
			}
			m.resRanges = m.resRanges[1:]
		case 1:
			if len(m.resNames) == 0 {
				return false
			}
			m.resNames = m.resNames[1:]
		case 2:
			if len(m.resRanges) == 0 || m.resRanges[0][1] == m.resRanges[0][0] {
				return false
			}
			m.resRanges[0][1]--
		default:
			n := g.freeNumber(m)
			m.resRanges = append(m.resRanges, [2]int32{n, n})
			m.resNames = append(m.resNames, "gone_"+strconv.Itoa(int(n)))
		}
		return true
	}),
	msgMut("extension-range", func(g *Gen, mr msgRef, files []*gFile) bool {
		m := mr.msg
		if len(m.extRanges) == 0 {
			if mr.file.syntax == "proto3" {
				return false
			}
			m.extRanges = [][2]int32{{100, 199}}
			return true
		}
		if g.r.IntN(2) == 0 {
			m.extRanges = nil
		} else {
			m.extRanges[0][1] = 150
		}
		return true
	}),
	msgMut("add-required", func(g *Gen, mr msgRef, files []*gFile) bool {
		if mr.file.syntax == "proto3" {
			return false
		}
		mr.msg.fields = append(mr.msg.fields, &gField{name: "req" + strconv.Itoa(g.r.IntN(100)), num: g.freeNumber(mr.msg), card: "required", typ: "int32"})
		return true
	}),
	msgMut("delete-oneof", func(g *Gen, mr msgRef, files []*gFile) bool {
		var oneofs []string
		for _, f := range mr.msg.fields {
			if f.oneof != "" && !slices.Contains(oneofs, f.oneof) {
				oneofs = append(oneofs, f.oneof)
			}
		}
		o, ok := pickOne(g, oneofs)
		if !ok {
			return false
		}
		keep := g.r.IntN(2) == 0
		for _, f := range slices.Clone(mr.msg.fields) {
			if f.oneof == o {
				if keep {
					f.oneof = ""
				} else {
					removeField(mr.msg, f)
				}
			}
		}
		return true
	}),
	// ---- fields
	fieldMut("delete-field", func(g *Gen, fr fieldRef, files []*gFile) bool {
		removeField(fr.msg, fr.f)
		switch g.r.IntN(4) {
		case 0:
			fr.msg.resRanges = append(fr.msg.resRanges, [2]int32{fr.f.num, fr.f.num})
		case 1:
			fr.msg.resNames = append(fr.msg.resNames, fr.f.name)
		case 2:
			fr.msg.resRanges = append(fr.msg.resRanges, [2]int32{fr.f.num, fr.f.num})
			fr.msg.resNames = append(fr.msg.resNames, fr.f.name)
		}
		return true
	}),
	msgMut("add-field", func(g *Gen, mr msgRef, files []*gFile) bool {
		mr.msg.fields = append(mr.msg.fields, &gField{name: "added" + strconv.Itoa(g.r.IntN(1000)), num: g.freeNumber(mr.msg), card: g.pick("implicit", "explicit", "repeated"), typ: scalarTypes[g.r.IntN(len(scalarTypes))]})
		return true
	}),
	fieldMut("renumber-field", func(g *Gen, fr fieldRef, files []*gFile) bool {
		fr.f.num = g.freeNumber(fr.msg)
		return true
	}),
	fieldMut("retype-field", func(g *Gen, fr fieldRef, files []*gFile) bool {
		switch g.r.IntN(4) {
		case 0:
			var enums []string
			for _, er := range allEnums(files) {
				if er.file == fr.file {
					enums = append(enums, er.full)
				}
			}
			e, ok := pickOne(g, enums)
			if !ok {
				return false
			}
			fr.f.typ = e
		case 1:
			mr, ok := pickOne(g, allMessages([]*gFile{fr.file}))
			if !ok {
				return false
			}
			fr.f.typ = mr.full
		default:
			fr.f.typ = scalarTypes[g.r.IntN(len(scalarTypes))]
		}
		return true
	}),
	fieldMut("retype-compatible", func(g *Gen, fr fieldRef, files []*gFile) bool {
		groups := [][]string{
			{"int32", "int64", "uint32", "uint64", "bool"},
			{"sint32", "sint64"},
			{"fixed32", "sfixed32"},
			{"fixed64", "sfixed64"},
			{"string", "bytes"},
		}
		for _, grp := range groups {
			if slices.Contains(grp, fr.f.typ) {
				t := grp[g.r.IntN(len(grp))]
				if t == fr.f.typ {
					return false
				}
				fr.f.typ = t
				return true
			}
		}
		return false
	}),
	fieldMut("rename-field", func(g *Gen, fr fieldRef, files []*gFile) bool {
		fr.f.name += "_x"
		if g.r.IntN(3) == 0 {
			fr.f.opts = setOpt(fr.f.opts, "json_name", strconv.Quote("kept"+strconv.Itoa(int(fr.f.num))))
		}
		return true
	}),
	fieldMut("json-name", func(g *Gen, fr fieldRef, files []*gFile) bool {
		v := g.pick(strconv.Quote("jj"+strconv.Itoa(int(fr.f.num))), "")
		if optValue(fr.f.opts, "json_name") == v {
			return false
		}
		fr.f.opts = setOpt(fr.f.opts, "json_name", v)
		return true
	}),
	fieldMut("cardinality", func(g *Gen, fr fieldRef, files []*gFile) bool {
		c := g.pick("implicit", "explicit", "repeated", "required", "map")
		if c == fr.f.card || fr.f.oneof != "" {
			return false
		}
		fr.f.card = c
		if c == "map" {
			fr.f.key = g.pick("string", "int32", "bool")
		}
		return true
	}),
	fieldMut("oneof", func(g *Gen, fr fieldRef, files []*gFile) bool {
		if fr.f.card == "map" || fr.f.card == "repeated" || fr.f.card == "required" {
			return false
		}
		switch {
		case fr.f.oneof == "":
			var oneofs []string
			for _, f := range fr.msg.fields {
				if f.oneof != "" && !slices.Contains(oneofs, f.oneof) {
					oneofs = append(oneofs, f.oneof)
				}
			}
			o, ok := pickOne(g, oneofs)
			if !ok || g.r.IntN(2) == 0 {
				o = "moved_" + strings.ToLower(fr.f.name)
			}
			fr.f.oneof = o
			fr.f.card = "explicit"
			// Keep the oneof's members contiguous.
			removeField(fr.msg, fr.f)
			idx := len(fr.msg.fields)
			for i, f := range fr.msg.fields {
				if f.oneof == o {
					idx = i + 1
				}
			}
			fr.msg.fields = slices.Insert(fr.msg.fields, idx, fr.f)
		case g.r.IntN(2) == 0:
			fr.f.oneof = ""
		default:
			fr.f.oneof = "other_" + fr.f.oneof
		}
		return true
	}),
	fieldMut("default", func(g *Gen, fr fieldRef, files []*gFile) bool {
		v := g.defaultFor(fr.f.typ)
		if g.r.IntN(3) == 0 {
			v = ""
		}
		if optValue(fr.f.opts, "default") == v {
			return false
		}
		fr.f.opts = setOpt(fr.f.opts, "default", v)
		return true
	}),
	fieldMut("jstype", func(g *Gen, fr fieldRef, files []*gFile) bool {
		v := g.pick("JS_STRING", "JS_NUMBER", "JS_NORMAL", "")
		if optValue(fr.f.opts, "jstype") == v {
			return false
		}
		fr.f.opts = setOpt(fr.f.opts, "jstype", v)
		if g.r.IntN(2) == 0 {
			fr.f.typ = g.pick("int64", "uint64", "fixed64", "sint64", "sfixed64")
		}
		return true
	}),
	{"ctype", func(g *Gen, files []*gFile) ([]*gFile, bool) {
		var strs []fieldRef
		for _, fr := range allFields(files) {
			if (fr.f.typ == "string" || fr.f.typ == "bytes") && fr.f.card != "map" {
				strs = append(strs, fr)
			}
		}
		fr, ok := pickOne(g, strs)
		if !ok {
			return files, false
		}
		if fr.file.syntax == "editions" && g.r.IntN(2) == 0 {
			fr.f.opts = setOpt(fr.f.opts, "features.(pb.cpp).string_type", g.pick("CORD", "STRING", "VIEW", ""))
			fr.f.opts = setOpt(fr.f.opts, "ctype", "")
			return files, true
		}
		v := g.pick("CORD", "STRING_PIECE", "STRING", "")
		if optValue(fr.f.opts, "ctype") == v {
			return files, false
		}
		fr.f.opts = setOpt(fr.f.opts, "ctype", v)
		fr.f.opts = setOpt(fr.f.opts, "features.(pb.cpp).string_type", "")
		return files, true
	}},
	fieldMut("utf8-validation", func(g *Gen, fr fieldRef, files []*gFile) bool {
		fr.f.typ = "string"
		if g.r.IntN(2) == 0 {
			fr.file.syntax = g.pick("proto2", "proto3", "editions")
			return true
		}
		fr.file.syntax = "editions"
		fr.f.opts = setOpt(fr.f.opts, "features.utf8_validation", g.pick("NONE", "VERIFY", ""))
		return true
	}),
	fieldMut("java-utf8", func(g *Gen, fr fieldRef, files []*gFile) bool {
		fr.f.typ = "string"
		if g.r.IntN(2) == 0 {
			fr.file.opts = setOpt(fr.file.opts, "java_string_check_utf8", g.pick("true", "false", ""))
			return true
		}
		fr.file.syntax = "editions"
		fr.f.opts = setOpt(fr.f.opts, "features.(pb.java).utf8_validation", g.pick("VERIFY", "DEFAULT", ""))
		return true
	}),
	fieldMut("delimited", func(g *Gen, fr fieldRef, files []*gFile) bool {
		if strings.HasPrefix(fr.f.typ, ".") && fr.f.card != "map" {
			fr.file.syntax = "editions"
			v := g.pick("DELIMITED", "LENGTH_PREFIXED", "")
			fr.f.opts = setOpt(fr.f.opts, "features.message_encoding", v)
			return true
		}
		return false
	}),
	// ---- enums
	enumMut("delete-enum", func(g *Gen, er enumRef, files []*gFile) bool {
		if er.parent != nil {
			er.parent.enums = slices.DeleteFunc(er.parent.enums, func(x *gEnum) bool { return x == er.enum })
		} else {
			er.file.enums = slices.DeleteFunc(er.file.enums, func(x *gEnum) bool { return x == er.enum })
		}
		return true
	}),
	enumMut("rename-enum", func(g *Gen, er enumRef, files []*gFile) bool {
		er.enum.name += "R"
		renameRefs(files, er.full, er.full+"R")
		return true
	}),
	enumMut("delete-enum-value", func(g *Gen, er enumRef, files []*gFile) bool {
		e := er.enum
		if len(e.vals) < 2 {
			return false
		}
		i := 1 + g.r.IntN(len(e.vals)-1)
		v := e.vals[i]
		e.vals = slices.Delete(e.vals, i, i+1)
		switch g.r.IntN(4) {
		case 0:
			e.resRanges = append(e.resRanges, [2]int32{v.num, v.num})
		case 1:
			e.resNames = append(e.resNames, v.name)
		case 2:
			e.resRanges = append(e.resRanges, [2]int32{v.num, v.num})
			e.resNames = append(e.resNames, v.name)
		}
		return true
	}),
	enumMut("rename-enum-value", func(g *Gen, er enumRef, files []*gFile) bool {
		e := er.enum
		i := g.r.IntN(len(e.vals))
		if g.r.IntN(2) == 0 {
			e.opts = setOpt(e.opts, "allow_alias", "true")
			e.vals = append(e.vals, gVal{e.vals[i].name + "_ALIAS", e.vals[i].num})
		} else {
			e.vals[i].name += "_RENAMED"
		}
		return true
	}),
	enumMut("renumber-enum-value", func(g *Gen, er enumRef, files []*gFile) bool {
		e := er.enum
		if len(e.vals) < 2 {
			return false
		}
		i := 1 + g.r.IntN(len(e.vals)-1)
		n := int32(50 + g.r.IntN(50))
		for _, v := range e.vals {
			if v.num == n {
				return false
			}
		}
		for _, r := range e.resRanges {
			if n >= r[0] && n <= r[1] {
				return false
			}
		}
		e.vals[i].num = n
		return true
	}),
	enumMut("add-enum-value", func(g *Gen, er enumRef, files []*gFile) bool {
		e := er.enum
		n := int32(200 + g.r.IntN(50))
		for _, v := range e.vals {
			if v.num == n {
				return false
			}
		}
		e.vals = append(e.vals, gVal{strings.ToUpper(e.name) + "_N" + strconv.Itoa(int(n)), n})
		return true
	}),
	enumMut("enum-type", func(g *Gen, er enumRef, files []*gFile) bool {
		er.file.syntax = "editions"
		er.enum.opts = setOpt(er.enum.opts, "features.enum_type", g.pick("CLOSED", "OPEN", ""))
		return true
	}),
	enumMut("enum-json-format", func(g *Gen, er enumRef, files []*gFile) bool {
		er.file.syntax = "editions"
		er.enum.opts = setOpt(er.enum.opts, "features.json_format", g.pick("LEGACY_BEST_EFFORT", "ALLOW", ""))
		return true
	}),
	enumMut("reserved-enum", func(g *Gen, er enumRef, files []*gFile) bool {
		e := er.enum
		switch g.r.IntN(3) {
		case 0:
			if len(e.resRanges) == 0 {
				return false
			}
			e.resRanges = e.resRanges[1:]
		case 1:
			if len(e.resNames) == 0 {
				return false
			}
			e.resNames = e.resNames[1:]
		default:
			if len(e.resRanges) == 0 || e.resRanges[0][0] == e.resRanges[0][1] {
				return false
			}
			e.resRanges[0][0]++
		}
		return true
	}),
	// ---- services
	{"delete-service", func(g *Gen, files []*gFile) ([]*gFile, bool) {
		for _, f := range files {
			if len(f.svcs) > 0 {
				f.svcs = f.svcs[1:]
				return files, true
			}
		}
		return files, false
	}},
	methodMut("delete-method", func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool {
		s.methods = slices.DeleteFunc(s.methods, func(x *gMethod) bool { return x == m })
		return true
	}),
	methodMut("rename-method", func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool {
		m.name += "V2"
		return true
	}),
	methodMut("streaming", func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool {
		if g.r.IntN(2) == 0 {
			m.cs = !m.cs
		} else {
			m.ss = !m.ss
		}
		return true
	}),
	methodMut("method-types", func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool {
		mr, ok := pickOne(g, allMessages(files))
		if !ok {
			return false
		}
		if g.r.IntN(2) == 0 {
			m.in = mr.full
		} else {
			m.out = mr.full
		}
		return true
	}),
	methodMut("idempotency", func(g *Gen, s *gSvc, m *gMethod, files []*gFile) bool {
		v := g.pick("NO_SIDE_EFFECTS", "IDEMPOTENT", "IDEMPOTENCY_UNKNOWN", "")
		if optValue(m.opts, "idempotency_level") == v {
			return false
		}
		m.opts = setOpt(m.opts, "idempotency_level", v)
		return true
	}),
	// ---- extensions
	extensionMutation,
	extensionMutation,
	fileMut("cc-enable-arenas", func(g *Gen, f *gFile, files []*gFile) bool {
		if optValue(f.opts, "cc_enable_arenas") == "false" {
			f.opts = setOpt(f.opts, "cc_enable_arenas", "")
		} else {
			f.opts = setOpt(f.opts, "cc_enable_arenas", "false")
		}
		return true
	}),
}

var extensionMutation = mutation{"extension", func(g *Gen, files []*gFile) ([]*gFile, bool) {
	exts := allExtensions(files)
	x, ok := pickOne(g, exts)
	if !ok {
		return files, false
	}
	switch g.r.IntN(4) {
	case 0:
		for _, f := range files {
			f.exts = slices.DeleteFunc(f.exts, func(y *gField) bool { return y == x })
		}
		for _, mr := range allMessages(files) {
			mr.msg.exts = slices.DeleteFunc(mr.msg.exts, func(y *gField) bool { return y == x })
		}
	case 1:
		x.typ = scalarTypes[g.r.IntN(len(scalarTypes))]
	case 2:
		x.name += "_x"
	default:
		x.card = g.pick("explicit", "repeated")
	}
	return files, true
}}
