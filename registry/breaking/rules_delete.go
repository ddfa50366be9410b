package breaking

import (
	"fmt"
	"slices"
	"strings"
)

// ruleFuncs maps each non-deprecated rule ID to its implementation.
var ruleFuncs = map[string]func(*checker) error{}

func init() {
	for id, fn := range map[string]func(*checker) error{
		"ENUM_NO_DELETE":                              ruleEnumNoDelete,
		"EXTENSION_NO_DELETE":                         ruleExtensionNoDelete,
		"FILE_NO_DELETE":                              ruleFileNoDelete,
		"MESSAGE_NO_DELETE":                           ruleMessageNoDelete,
		"SERVICE_NO_DELETE":                           ruleServiceNoDelete,
		"ENUM_VALUE_NO_DELETE":                        enumValueNoDelete(false, false),
		"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED":   enumValueNoDelete(false, true),
		"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED": enumValueNoDelete(true, false),
		"FIELD_NO_DELETE":                             fieldNoDelete(false, false),
		"FIELD_NO_DELETE_UNLESS_NAME_RESERVED":        fieldNoDelete(false, true),
		"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED":      fieldNoDelete(true, false),
		"ONEOF_NO_DELETE":                             ruleOneofNoDelete,
		"RPC_NO_DELETE":                               ruleRPCNoDelete,
		"EXTENSION_MESSAGE_NO_DELETE":                 ruleExtensionMessageNoDelete,
		"RESERVED_ENUM_NO_DELETE":                     ruleReservedEnumNoDelete,
		"RESERVED_MESSAGE_NO_DELETE":                  ruleReservedMessageNoDelete,
		"PACKAGE_NO_DELETE":                           rulePackageNoDelete,
		"PACKAGE_ENUM_NO_DELETE":                      rulePackageEnumNoDelete,
		"PACKAGE_MESSAGE_NO_DELETE":                   rulePackageMessageNoDelete,
		"PACKAGE_EXTENSION_NO_DELETE":                 rulePackageExtensionNoDelete,
		"PACKAGE_SERVICE_NO_DELETE":                   rulePackageServiceNoDelete,
	} {
		ruleFuncs[id] = fn
	}
}

// filePairs calls fn for every previous file that still exists.
func (c *checker) filePairs(fn func(cur, prev *file) error) error {
	for _, pf := range c.prev.files {
		if cf, ok := c.cur.byPath[pf.path]; ok {
			if err := fn(cf, pf); err != nil {
				return err
			}
		}
	}
	return nil
}

func ruleFileNoDelete(c *checker) error {
	for _, pf := range c.prev.files {
		if _, ok := c.cur.byPath[pf.path]; !ok {
			c.addAgainstFile(pf.path, `Previously present file %q was deleted.`, pf.path)
		}
	}
	return nil
}

func ruleEnumNoDelete(c *checker) error {
	return deletedFromFile(c, "enum", nestedEnums)
}

func ruleExtensionNoDelete(c *checker) error {
	return deletedFromFile(c, "extension", nestedExtensions)
}

func ruleMessageNoDelete(c *checker) error {
	return deletedFromFile(c, "message", nestedMessages)
}

// deletedFromFile reports every element of a previous file, by nested
// name, that the current file no longer has, attached to the closest
// enclosing message that remains.
func deletedFromFile[T deletable](c *checker, kind string, nested func(*file) map[string]T) error {
	return c.filePairs(func(cf, pf *file) error {
		cur, prev := nested(cf), nested(pf)
		var msgs map[string]*message
		for _, name := range sortedKeys(prev) {
			if _, ok := cur[name]; ok {
				continue
			}
			if msgs == nil {
				msgs = nestedMessages(cf)
			}
			var l *loc
			if m := parentForDeleted(msgs, name); m != nil {
				l = m.location()
			}
			c.add(l, prev[name].location(), cf.path, `Previously present %s %q was deleted from file.`, kind, name)
		}
		return nil
	})
}

func ruleServiceNoDelete(c *checker) error {
	return c.filePairs(func(cf, pf *file) error {
		cur := map[string]bool{}
		for _, s := range cf.services {
			cur[s.name] = true
		}
		for _, s := range pf.services {
			if !cur[s.name] {
				c.add(nil, s.location(), cf.path, `Previously present service %q was deleted from file.`, s.name)
			}
		}
		return nil
	})
}

// pairs are the elements present on both sides, computed once per check.
type pairs struct {
	enums    [][2]*enum
	messages [][2]*message
	fields   [][2]*field
	services [][2]*service
	methods  [][2]*method
}

func (c *checker) pairs() (*pairs, error) {
	if c.pairCache != nil {
		return c.pairCache, nil
	}
	cix, err := c.cur.index()
	if err != nil {
		return nil, err
	}
	pix, err := c.prev.index()
	if err != nil {
		return nil, err
	}
	p := &pairs{}
	for _, name := range sortedKeys(pix.enums) {
		if ce, ok := cix.enums[name]; ok {
			p.enums = append(p.enums, [2]*enum{ce, pix.enums[name]})
		}
	}
	for _, name := range sortedKeys(pix.messages) {
		cm, ok := cix.messages[name]
		if !ok {
			continue
		}
		pm := pix.messages[name]
		p.messages = append(p.messages, [2]*message{cm, pm})
		cur, prev, err := fieldsByNumberPair(cm, pm)
		if err != nil {
			return nil, err
		}
		for _, n := range sortedNumbers(prev) {
			if cf, ok := cur[n]; ok {
				p.fields = append(p.fields, [2]*field{cf, prev[n]})
			}
		}
	}
	for _, extendee := range sortedKeys(pix.extensions) {
		prev := pix.extensions[extendee]
		cur := cix.extensions[extendee]
		for _, n := range sortedNumbers(prev) {
			if cf, ok := cur[n]; ok {
				p.fields = append(p.fields, [2]*field{cf, prev[n]})
			}
		}
	}
	for _, name := range sortedKeys(pix.services) {
		cs, ok := cix.services[name]
		if !ok {
			continue
		}
		ps := pix.services[name]
		p.services = append(p.services, [2]*service{cs, ps})
		cur := map[string]*method{}
		for _, m := range cs.methods {
			if _, dup := cur[m.name]; dup {
				return nil, fmt.Errorf("duplicate method: %q", m.name)
			}
			cur[m.name] = m
		}
		for _, pm := range ps.methods {
			if cm, ok := cur[pm.name]; ok {
				p.methods = append(p.methods, [2]*method{cm, pm})
			}
		}
	}
	c.pairCache = p
	return p, nil
}

// eachPair calls fn for every pair that sel picks from c.pairs().
func eachPair[T any](c *checker, sel func(*pairs) [][2]*T, fn func(cur, prev *T) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, x := range sel(p) {
		if err := fn(x[0], x[1]); err != nil {
			return err
		}
	}
	return nil
}

// enumPairs calls fn for every previous enum that still exists, by full
// name.
func (c *checker) enumPairs(fn func(cur, prev *enum) error) error {
	return eachPair(c, func(p *pairs) [][2]*enum { return p.enums }, fn)
}

// messagePairs calls fn for every previous message that still exists, by
// full name.
func (c *checker) messagePairs(fn func(cur, prev *message) error) error {
	return eachPair(c, func(p *pairs) [][2]*message { return p.messages }, fn)
}

// fieldPairs calls fn for every previous field that still exists by
// number in the same message, then for every previous extension that
// still exists by extendee and number.
func (c *checker) fieldPairs(fn func(cur, prev *field) error) error {
	return eachPair(c, func(p *pairs) [][2]*field { return p.fields }, fn)
}

// servicePairs calls fn for every previous service that still exists.
func (c *checker) servicePairs(fn func(cur, prev *service) error) error {
	return eachPair(c, func(p *pairs) [][2]*service { return p.services }, fn)
}

// methodPairs calls fn for every previous method that still exists in the
// same service.
func (c *checker) methodPairs(fn func(cur, prev *method) error) error {
	return eachPair(c, func(p *pairs) [][2]*method { return p.methods }, fn)
}

func enumValueNoDelete(allowNumberReserved, allowNameReserved bool) func(*checker) error {
	return func(c *checker) error {
		return c.enumPairs(func(ce, pe *enum) error {
			cur, prev, err := valuesByNumberPair(ce, pe)
			if err != nil {
				return err
			}
			for _, n := range sortedNumbers(prev) {
				if _, ok := cur[n]; ok {
					continue
				}
				names := sortedKeys(prev[n])
				allowed := false
				switch {
				case allowNumberReserved:
					allowed = enumNumberReserved(ce, n)
				case allowNameReserved:
					allowed = true
					for _, name := range names {
						if !slices.Contains(ce.pb.GetReservedName(), name) {
							allowed = false
						}
					}
				}
				if allowed {
					continue
				}
				suffix := ""
				if allowNumberReserved {
					suffix = fmt.Sprintf(` without reserving the number "%d"`, n)
				}
				if allowNameReserved {
					s := ""
					if len(names) > 1 {
						s = "s"
					}
					suffix = fmt.Sprintf(` without reserving the name%s %s`, s, joinQuoted(names))
				}
				c.add(ce.location(), pe.location(), pe.file.path,
					`Previously present enum value "%d" on enum %q was deleted%s.`, n, ce.name, suffix)
			}
			return nil
		})
	}
}

func enumNumberReserved(e *enum, n int32) bool {
	for _, r := range e.pb.GetReservedRange() {
		if n >= r.GetStart() && n <= r.GetEnd() {
			return true
		}
	}
	return false
}

func messageNumberReserved(m *message, n int32) bool {
	for _, r := range m.pb.GetReservedRange() {
		// Message reserved ranges are end-exclusive in descriptors.
		if int64(n) >= int64(r.GetStart()) && int64(n) <= int64(r.GetEnd())-1 {
			return true
		}
	}
	return false
}

func joinQuoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func fieldNoDelete(allowNumberReserved, allowNameReserved bool) func(*checker) error {
	return func(c *checker) error {
		return c.messagePairs(func(cm, pm *message) error {
			cur, prev, err := fieldsByNumberPair(cm, pm)
			if err != nil {
				return err
			}
			for _, n := range sortedNumbers(prev) {
				if _, ok := cur[n]; ok {
					continue
				}
				pf := prev[n]
				if (allowNumberReserved && messageNumberReserved(cm, n)) ||
					(allowNameReserved && slices.Contains(cm.pb.GetReservedName(), pf.name)) {
					continue
				}
				suffix := ""
				if allowNumberReserved {
					suffix = fmt.Sprintf(` without reserving the number "%d"`, n)
				}
				if allowNameReserved {
					suffix = fmt.Sprintf(` without reserving the name %q`, pf.name)
				}
				d := fieldDescription(pf)
				d = strings.ToLower(d[:1]) + d[1:]
				c.add(cm.location(), pm.location(), cm.file.path, `Previously present %s was deleted%s.`, d, suffix)
			}
			return nil
		})
	}
}

func ruleOneofNoDelete(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		cur := map[string]bool{}
		for _, o := range cm.oneofs {
			cur[o.name] = true
		}
		for _, o := range pm.oneofs {
			if cur[o.name] || o.od.IsSynthetic() {
				continue
			}
			c.add(cm.location(), pm.location(), cm.file.path,
				`Previously present oneof %q on message %q was deleted.`, o.name, cm.name)
		}
		return nil
	})
}

func ruleRPCNoDelete(c *checker) error {
	return c.servicePairs(func(cs, ps *service) error {
		cur := map[string]bool{}
		for _, m := range cs.methods {
			cur[m.name] = true
		}
		for _, m := range ps.methods {
			if !cur[m.name] {
				c.add(cs.location(), ps.location(), cs.file.path,
					`Previously present RPC %q on service %q was deleted.`, m.name, cs.name)
			}
		}
		return nil
	})
}

// tagRange is an inclusive range of numbers.
type tagRange struct{ start, end int64 }

func ruleExtensionMessageNoDelete(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		c.checkRanges("extension", cm.location(), pm.location(), cm.file.path, "message", cm.name,
			messageMax(cm), messageMax(pm), tagRanges(pm.pb.GetExtensionRange(), -1), tagRanges(cm.pb.GetExtensionRange(), -1))
		return nil
	})
}

func ruleReservedMessageNoDelete(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		c.checkRanges("reserved", cm.location(), pm.location(), cm.file.path, "message", cm.name,
			messageMax(cm), messageMax(pm), tagRanges(pm.pb.GetReservedRange(), -1), tagRanges(cm.pb.GetReservedRange(), -1))
		c.checkReservedNames(cm.location(), pm.location(), cm.file.path, "message", cm.name,
			pm.pb.GetReservedName(), cm.pb.GetReservedName())
		return nil
	})
}

func ruleReservedEnumNoDelete(c *checker) error {
	return c.enumPairs(func(ce, pe *enum) error {
		c.checkRanges("reserved", ce.location(), pe.location(), ce.file.path, "enum", ce.name,
			enumRangeMax, enumRangeMax, tagRanges(pe.pb.GetReservedRange(), 0), tagRanges(ce.pb.GetReservedRange(), 0))
		c.checkReservedNames(ce.location(), pe.location(), ce.file.path, "enum", ce.name,
			pe.pb.GetReservedName(), ce.pb.GetReservedName())
		return nil
	})
}

// tagRanges converts descriptor ranges to inclusive ones: endAdjust is -1
// for messages, whose ranges are end-exclusive, and 0 for enums.
func tagRanges[R interface {
	GetStart() int32
	GetEnd() int32
}](rs []R, endAdjust int64) []tagRange {
	var out []tagRange
	for _, r := range rs {
		out = append(out, tagRange{int64(r.GetStart()), int64(r.GetEnd()) + endAdjust})
	}
	return out
}

// checkReservedNames reports every previously reserved name that the
// current element no longer reserves.
func (c *checker) checkReservedNames(l, al *loc, fileName, elementKind, elementName string, prev, cur []string) {
	names := map[string]bool{}
	for _, n := range cur {
		names[n] = true
	}
	for _, n := range uniqueSorted(prev) {
		if !names[n] {
			c.add(l, al, fileName, `Previously present reserved name %q on %s %q was deleted.`, n, elementKind, elementName)
		}
	}
}

func uniqueSorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

const (
	messageRangeMax    = 536870911         // 2^29-1
	messageSetRangeMax = 2147483647 - 1    // math.MaxInt32 - 1
	enumRangeMax       = int64(2147483647) // math.MaxInt32
)

func messageMax(m *message) int64 {
	if m.pb.GetOptions().GetMessageSetWireFormat() {
		return messageSetRangeMax
	}
	return messageRangeMax
}

// checkRanges reports every previous range that the current ranges no
// longer cover, naming the missing parts.
func (c *checker) checkRanges(kind string, l, al *loc, fileName, elementKind, elementName string, curMax, prevMax int64, prev, cur []tagRange) {
	if len(prev) == 0 {
		return
	}
	collapsed := collapse(cur)
	for _, p := range prev {
		missing := findMissing(p.start, p.end, collapsed)
		if len(missing) == 0 {
			continue
		}
		c.add(l, al, fileName, `Previously present %s range %q on %s %q is missing values: %s were removed.`,
			kind, rangeString(p, prevMax), elementKind, elementName, missingString(curMax, missing))
	}
}

func rangeString(r tagRange, max int64) string {
	switch {
	case r.start == r.end:
		return fmt.Sprintf("[%d]", r.start)
	case r.end == max:
		return fmt.Sprintf("[%d,max]", r.start)
	default:
		return fmt.Sprintf("[%d,%d]", r.start, r.end)
	}
}

func missingString(max int64, missing []tagRange) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		switch {
		case m.start == m.end:
			parts[i] = fmt.Sprintf("[%d]", m.start)
		case m.end == max:
			parts[i] = fmt.Sprintf("[%d,max]", m.start)
		default:
			parts[i] = fmt.Sprintf("[%d,%d]", m.start, m.end)
		}
	}
	return strings.Join(parts, ", ")
}

func collapse(ranges []tagRange) []tagRange {
	if len(ranges) == 0 {
		return nil
	}
	s := slices.Clone(ranges)
	slices.SortFunc(s, func(a, b tagRange) int {
		if a.start != b.start {
			if a.start < b.start {
				return -1
			}
			return 1
		}
		switch {
		case a.end < b.end:
			return -1
		case a.end > b.end:
			return 1
		}
		return 0
	})
	j := 0
	for i := 1; i < len(s); i++ {
		if s[i].start <= s[j].end+1 {
			if s[i].end > s[j].end {
				s[j].end = s[i].end
			}
			continue
		}
		j++
		s[j] = s[i]
	}
	return s[:j+1]
}

func findMissing(start, end int64, collapsed []tagRange) []tagRange {
	idx, _ := slices.BinarySearchFunc(collapsed, start, func(r tagRange, t int64) int {
		if r.end < t {
			return -1
		}
		return 1
	})
	if idx >= len(collapsed) || collapsed[idx].start > end {
		return []tagRange{{start, end}}
	}
	var missing []tagRange
	entryStart, entryEnd := collapsed[idx].start, collapsed[idx].end
	for {
		if start < entryStart {
			if end < entryStart {
				missing = append(missing, tagRange{start, end})
			} else {
				missing = append(missing, tagRange{start, entryStart - 1})
			}
		}
		start = entryEnd + 1
		idx++
		if idx >= len(collapsed) || entryEnd >= end {
			break
		}
		entryStart, entryEnd = collapsed[idx].start, collapsed[idx].end
	}
	if end > entryEnd {
		missing = append(missing, tagRange{entryEnd + 1, end})
	}
	return missing
}

func rulePackageNoDelete(c *checker) error {
	cur := map[string]bool{}
	for _, f := range c.cur.files {
		cur[f.pkg] = true
	}
	prev := map[string][]string{}
	for _, f := range c.prev.files {
		prev[f.pkg] = append(prev[f.pkg], f.path)
	}
	for _, pkg := range sortedKeys(prev) {
		if cur[pkg] {
			continue
		}
		paths := slices.Clone(prev[pkg])
		slices.Sort(paths)
		c.addAgainstFile(paths[0], `Previously present package %q was deleted.`, pkg)
	}
	return nil
}

// A deletable element is one that the delete rules report by name.
type deletable interface {
	location() *loc
	filePath() string
}

func (e *enum) filePath() string    { return e.file.path }
func (m *message) filePath() string { return m.file.path }
func (f *field) filePath() string   { return f.file.path }
func (s *service) filePath() string { return s.file.path }

// byPackage maps each package that has elements to its elements by nested
// name.
func byPackage[T any](s *side, forEach func(*file, func(T)), nested func(T) string) map[string]map[string]T {
	out := map[string]map[string]T{}
	for _, f := range s.files {
		forEach(f, func(x T) {
			if out[f.pkg] == nil {
				out[f.pkg] = map[string]T{}
			}
			out[f.pkg][nested(x)] = x
		})
	}
	return out
}

func rulePackageEnumNoDelete(c *checker) error {
	enums := func(s *side) map[string]map[string]*enum {
		return byPackage(s, (*file).forEachEnum, func(e *enum) string { return e.nested })
	}
	deletedFromPackage(c, "enum", enums(c.prev), enums(c.cur), sameFileMessages)
	return nil
}

func rulePackageExtensionNoDelete(c *checker) error {
	exts := func(s *side) map[string]map[string]*field {
		return byPackage(s, (*file).forEachExtension, func(x *field) string { return x.nested })
	}
	deletedFromPackage(c, "extension", exts(c.prev), exts(c.cur), sameFileMessages)
	return nil
}

func rulePackageMessageNoDelete(c *checker) error {
	msgs := func(s *side) map[string]map[string]*message {
		return byPackage(s, (*file).forEachMessage, func(m *message) string { return m.nested })
	}
	prev, cur := msgs(c.prev), msgs(c.cur)
	// A deleted message's parent may be in any file of the package.
	deletedFromPackage(c, "message", prev, cur, func(_ *file, pkg string) map[string]*message { return cur[pkg] })
	return nil
}

func sameFileMessages(cf *file, _ string) map[string]*message { return nestedMessages(cf) }

func rulePackageServiceNoDelete(c *checker) error {
	// Unlike the other package maps, every package is present, even one
	// without services.
	byPkg := func(s *side) map[string]map[string]*service {
		out := map[string]map[string]*service{}
		for _, f := range s.files {
			if out[f.pkg] == nil {
				out[f.pkg] = map[string]*service{}
			}
			for _, sv := range f.services {
				out[f.pkg][sv.name] = sv
			}
		}
		return out
	}
	deletedFromPackage(c, "service", byPkg(c.prev), byPkg(c.cur), nil)
	return nil
}

// deletedFromPackage reports every previous element of a package that is
// still present but no longer has it. When parents is set, the finding is
// attached to the closest enclosing message, among parents(file, package),
// that remains.
func deletedFromPackage[T deletable](c *checker, kind string, prev, cur map[string]map[string]T,
	parents func(cf *file, pkg string) map[string]*message) {
	for _, pkg := range sortedKeys(prev) {
		curElems, ok := cur[pkg]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(prev[pkg]) {
			if _, ok := curElems[name]; ok {
				continue
			}
			p := prev[pkg][name]
			var l *loc
			fileName := ""
			if cf, ok := c.cur.byPath[p.filePath()]; ok {
				fileName = cf.path
				if parents != nil {
					if m := parentForDeleted(parents(cf, pkg), name); m != nil {
						l = m.location()
						fileName = m.file.path
					}
				}
			}
			c.add(l, p.location(), fileName, `Previously present %s %q was deleted from package %q.`, kind, name, pkg)
		}
	}
}

// fieldDescription names a field or extension the way buf's messages do.
func fieldDescription(f *field) string {
	name := f.name
	if f.isExt {
		name = f.full
	}
	return fieldDescriptionWithName(f, name)
}

func fieldDescriptionWithName(f *field, name string) string {
	if name != "" {
		name = fmt.Sprintf(" with name %q", name)
	}
	kind, msg := "Field", ""
	if f.isExt {
		kind, msg = "Extension", f.extendee
	} else if f.parent != nil {
		msg = f.parent.name
	}
	return fmt.Sprintf("%s %q%s on message %q", kind, fmt.Sprint(f.pb.GetNumber()), name, msg)
}
