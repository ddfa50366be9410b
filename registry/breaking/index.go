package breaking

import (
	"fmt"
	"slices"
	"strings"
)

// index holds the lookups the rules share, built once per side.
type index struct {
	messages   map[string]*message
	enums      map[string]*enum
	services   map[string]*service
	extensions map[string]map[int32]*field // extendee -> number -> extension
}

func (s *side) index() (*index, error) {
	if s.ix != nil || s.ixErr != nil {
		return s.ix, s.ixErr
	}
	s.ix, s.ixErr = s.buildIndex()
	return s.ix, s.ixErr
}

func (s *side) buildIndex() (*index, error) {
	ix := &index{
		messages:   map[string]*message{},
		enums:      map[string]*enum{},
		services:   map[string]*service{},
		extensions: map[string]map[int32]*field{},
	}
	for _, f := range s.files {
		var err error
		f.forEachMessage(func(m *message) {
			if _, dup := ix.messages[m.full]; dup && err == nil {
				err = fmt.Errorf("duplicate message: %q", m.full)
			}
			ix.messages[m.full] = m
		})
		f.forEachEnum(func(e *enum) {
			if _, dup := ix.enums[e.full]; dup && err == nil {
				err = fmt.Errorf("duplicate enum: %q", e.full)
			}
			ix.enums[e.full] = e
		})
		f.forEachExtension(func(x *field) {
			byNum := ix.extensions[x.extendee]
			if byNum == nil {
				byNum = map[int32]*field{}
				ix.extensions[x.extendee] = byNum
			}
			if prev, dup := byNum[x.pb.GetNumber()]; dup && err == nil {
				err = fmt.Errorf("duplicate extension %d of %s: %s in %q and %s in %q",
					x.pb.GetNumber(), x.extendee, prev.full, prev.file.path, x.full, x.file.path)
			}
			byNum[x.pb.GetNumber()] = x
		})
		if err != nil {
			return nil, err
		}
		for _, sv := range f.services {
			if _, dup := ix.services[sv.full]; dup {
				return nil, fmt.Errorf("duplicate service: %q", sv.full)
			}
			ix.services[sv.full] = sv
		}
	}
	return ix, nil
}

// sortedKeys returns a map's keys in order, so that rules visit elements
// deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedNumbers[V any](m map[int32]V) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fieldsByNumber(m *message) (map[int32]*field, error) {
	out := make(map[int32]*field, len(m.fields))
	for _, f := range m.fields {
		if _, dup := out[f.pb.GetNumber()]; dup {
			return nil, fmt.Errorf("duplicate message field: %d", f.pb.GetNumber())
		}
		out[f.pb.GetNumber()] = f
	}
	return out, nil
}

// fieldsByNumberPair indexes both sides of a message pair, the previous
// side first.
func fieldsByNumberPair(cm, pm *message) (cur, prev map[int32]*field, err error) {
	if prev, err = fieldsByNumber(pm); err != nil {
		return nil, nil, err
	}
	cur, err = fieldsByNumber(cm)
	return cur, prev, err
}

// valuesByNumber maps each number of an enum to its values by name.
func valuesByNumber(e *enum) (map[int32]map[string]*enumValue, error) {
	out := map[int32]map[string]*enumValue{}
	for _, v := range e.values {
		byName := out[v.number]
		if byName == nil {
			byName = map[string]*enumValue{}
			out[v.number] = byName
		}
		if _, dup := byName[v.name]; dup {
			return nil, fmt.Errorf("duplicate enum value name for enum %q: %q", e.nested, v.name)
		}
		byName[v.name] = v
	}
	return out, nil
}

// valuesByNumberPair indexes both sides of an enum pair, the previous side
// first.
func valuesByNumberPair(ce, pe *enum) (cur, prev map[int32]map[string]*enumValue, err error) {
	if prev, err = valuesByNumber(pe); err != nil {
		return nil, nil, err
	}
	cur, err = valuesByNumber(ce)
	return cur, prev, err
}

func nestedMessages(f *file) map[string]*message {
	out := map[string]*message{}
	f.forEachMessage(func(m *message) { out[m.nested] = m })
	return out
}

func nestedEnums(f *file) map[string]*enum {
	out := map[string]*enum{}
	f.forEachEnum(func(e *enum) { out[e.nested] = e })
	return out
}

func nestedExtensions(f *file) map[string]*field {
	out := map[string]*field{}
	f.forEachExtension(func(x *field) { out[x.nested] = x })
	return out
}

// parentForDeleted finds, for a deleted element with the given nested
// name, the closest enclosing message that still exists in the current
// file, as buf attaches the finding to it. It returns nil when none does.
func parentForDeleted(msgs map[string]*message, nested string) *message {
	if !strings.Contains(nested, ".") {
		return nil
	}
	parts := strings.Split(nested, ".")
	for i := len(parts) - 1; i > 0; i-- {
		if m, ok := msgs[strings.Join(parts[:i], ".")]; ok {
			return m
		}
	}
	return nil
}
