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
	return c.filePairs(func(cf, pf *file) error {
		cur := nestedEnums(cf)
		var msgs map[string]*message
		prev := nestedEnums(pf)
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
			c.add(l, prev[name].location(), cf.path, `Previously present enum %q was deleted from file.`, name)
		}
		return nil
	})
}

func ruleExtensionNoDelete(c *checker) error {
	return c.filePairs(func(cf, pf *file) error {
		cur := nestedExtensions(cf)
		prev := nestedExtensions(pf)
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
			c.add(l, prev[name].location(), cf.path, `Previously present extension %q was deleted from file.`, name)
		}
		return nil
	})
}

func ruleMessageNoDelete(c *checker) error {
	return c.filePairs(func(cf, pf *file) error {
		cur := nestedMessages(cf)
		prev := nestedMessages(pf)
		for _, name := range sortedKeys(prev) {
			if _, ok := cur[name]; ok {
				continue
			}
			var l *loc
			if m := parentForDeleted(cur, name); m != nil {
				l = m.location()
			}
			c.add(l, prev[name].location(), cf.path, `Previously present message %q was deleted from file.`, name)
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
		prev, err := fieldsByNumber(pm)
		if err != nil {
			return nil, err
		}
		cur, err := fieldsByNumber(cm)
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

// enumPairs calls fn for every previous enum that still exists, by full
// name.
func (c *checker) enumPairs(fn func(cur, prev *enum) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, e := range p.enums {
		if err := fn(e[0], e[1]); err != nil {
			return err
		}
	}
	return nil
}

// messagePairs calls fn for every previous message that still exists, by
// full name.
func (c *checker) messagePairs(fn func(cur, prev *message) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, m := range p.messages {
		if err := fn(m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

// fieldPairs calls fn for every previous field that still exists by
// number in the same message, then for every previous extension that
// still exists by extendee and number.
func (c *checker) fieldPairs(fn func(cur, prev *field) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, f := range p.fields {
		if err := fn(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// servicePairs calls fn for every previous service that still exists.
func (c *checker) servicePairs(fn func(cur, prev *service) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, s := range p.services {
		if err := fn(s[0], s[1]); err != nil {
			return err
		}
	}
	return nil
}

// methodPairs calls fn for every previous method that still exists in the
// same service.
func (c *checker) methodPairs(fn func(cur, prev *method) error) error {
	p, err := c.pairs()
	if err != nil {
		return err
	}
	for _, m := range p.methods {
		if err := fn(m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

func enumValueNoDelete(allowNumberReserved, allowNameReserved bool) func(*checker) error {
	return func(c *checker) error {
		return c.enumPairs(func(ce, pe *enum) error {
			prev, err := valuesByNumber(pe)
			if err != nil {
				return err
			}
			cur, err := valuesByNumber(ce)
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
			prev, err := fieldsByNumber(pm)
			if err != nil {
				return err
			}
			cur, err := fieldsByNumber(cm)
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
		var prev, cur []tagRange
		for _, r := range pm.pb.GetExtensionRange() {
			prev = append(prev, tagRange{int64(r.GetStart()), int64(r.GetEnd()) - 1})
		}
		for _, r := range cm.pb.GetExtensionRange() {
			cur = append(cur, tagRange{int64(r.GetStart()), int64(r.GetEnd()) - 1})
		}
		c.checkRanges("extension", cm.location(), pm.location(), cm.file.path, "message", cm.name,
			messageMax(cm), messageMax(pm), prev, cur)
		return nil
	})
}

func ruleReservedMessageNoDelete(c *checker) error {
	return c.messagePairs(func(cm, pm *message) error {
		var prev, cur []tagRange
		for _, r := range pm.pb.GetReservedRange() {
			prev = append(prev, tagRange{int64(r.GetStart()), int64(r.GetEnd()) - 1})
		}
		for _, r := range cm.pb.GetReservedRange() {
			cur = append(cur, tagRange{int64(r.GetStart()), int64(r.GetEnd()) - 1})
		}
		c.checkRanges("reserved", cm.location(), pm.location(), cm.file.path, "message", cm.name,
			messageMax(cm), messageMax(pm), prev, cur)
		names := map[string]bool{}
		for _, n := range cm.pb.GetReservedName() {
			names[n] = true
		}
		for _, n := range uniqueSorted(pm.pb.GetReservedName()) {
			if !names[n] {
				c.add(cm.location(), pm.location(), cm.file.path,
					`Previously present reserved name %q on message %q was deleted.`, n, cm.name)
			}
		}
		return nil
	})
}

func ruleReservedEnumNoDelete(c *checker) error {
	return c.enumPairs(func(ce, pe *enum) error {
		var prev, cur []tagRange
		for _, r := range pe.pb.GetReservedRange() {
			prev = append(prev, tagRange{int64(r.GetStart()), int64(r.GetEnd())})
		}
		for _, r := range ce.pb.GetReservedRange() {
			cur = append(cur, tagRange{int64(r.GetStart()), int64(r.GetEnd())})
		}
		c.checkRanges("reserved", ce.location(), pe.location(), ce.file.path, "enum", ce.name,
			enumRangeMax, enumRangeMax, prev, cur)
		names := map[string]bool{}
		for _, n := range ce.pb.GetReservedName() {
			names[n] = true
		}
		for _, n := range uniqueSorted(pe.pb.GetReservedName()) {
			if !names[n] {
				c.add(ce.location(), pe.location(), ce.file.path,
					`Previously present reserved name %q on enum %q was deleted.`, n, ce.name)
			}
		}
		return nil
	})
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

func packageEnums(s *side) map[string]map[string]*enum {
	out := map[string]map[string]*enum{}
	for _, f := range s.files {
		f.forEachEnum(func(e *enum) {
			if out[f.pkg] == nil {
				out[f.pkg] = map[string]*enum{}
			}
			out[f.pkg][e.nested] = e
		})
	}
	return out
}

func packageMessages(s *side) map[string]map[string]*message {
	out := map[string]map[string]*message{}
	for _, f := range s.files {
		f.forEachMessage(func(m *message) {
			if out[f.pkg] == nil {
				out[f.pkg] = map[string]*message{}
			}
			out[f.pkg][m.nested] = m
		})
	}
	return out
}

func packageExtensions(s *side) map[string]map[string]*field {
	out := map[string]map[string]*field{}
	for _, f := range s.files {
		f.forEachExtension(func(x *field) {
			if out[f.pkg] == nil {
				out[f.pkg] = map[string]*field{}
			}
			out[f.pkg][x.nested] = x
		})
	}
	return out
}

func rulePackageEnumNoDelete(c *checker) error {
	prev, cur := packageEnums(c.prev), packageEnums(c.cur)
	for _, pkg := range sortedKeys(prev) {
		curEnums, ok := cur[pkg]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(prev[pkg]) {
			if _, ok := curEnums[name]; ok {
				continue
			}
			pe := prev[pkg][name]
			var l *loc
			fileName := ""
			if cf, ok := c.cur.byPath[pe.file.path]; ok {
				fileName = cf.path
				if m := parentForDeleted(nestedMessages(cf), name); m != nil {
					l = m.location()
					fileName = m.file.path
				}
			}
			c.add(l, pe.location(), fileName, `Previously present enum %q was deleted from package %q.`, name, pkg)
		}
	}
	return nil
}

func rulePackageExtensionNoDelete(c *checker) error {
	prev, cur := packageExtensions(c.prev), packageExtensions(c.cur)
	for _, pkg := range sortedKeys(prev) {
		curExts, ok := cur[pkg]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(prev[pkg]) {
			if _, ok := curExts[name]; ok {
				continue
			}
			px := prev[pkg][name]
			var l *loc
			fileName := ""
			if cf, ok := c.cur.byPath[px.file.path]; ok {
				fileName = cf.path
				if m := parentForDeleted(nestedMessages(cf), name); m != nil {
					l = m.location()
					fileName = m.file.path
				}
			}
			c.add(l, px.location(), fileName, `Previously present extension %q was deleted from package %q.`, name, pkg)
		}
	}
	return nil
}

func rulePackageMessageNoDelete(c *checker) error {
	prev, cur := packageMessages(c.prev), packageMessages(c.cur)
	for _, pkg := range sortedKeys(prev) {
		curMsgs, ok := cur[pkg]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(prev[pkg]) {
			if _, ok := curMsgs[name]; ok {
				continue
			}
			pm := prev[pkg][name]
			var l *loc
			fileName := ""
			if cf, ok := c.cur.byPath[pm.file.path]; ok {
				fileName = cf.path
				if m := parentForDeleted(curMsgs, name); m != nil {
					l = m.location()
					fileName = m.file.path
				}
			}
			c.add(l, pm.location(), fileName, `Previously present message %q was deleted from package %q.`, name, pkg)
		}
	}
	return nil
}

func rulePackageServiceNoDelete(c *checker) error {
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
	prev, cur := byPkg(c.prev), byPkg(c.cur)
	for _, pkg := range sortedKeys(prev) {
		curSvcs, ok := cur[pkg]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(prev[pkg]) {
			if _, ok := curSvcs[name]; ok {
				continue
			}
			ps := prev[pkg][name]
			fileName := ""
			if cf, ok := c.cur.byPath[ps.file.path]; ok {
				fileName = cf.path
			}
			c.add(nil, ps.location(), fileName, `Previously present service %q was deleted from package %q.`, name, pkg)
		}
	}
	return nil
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
