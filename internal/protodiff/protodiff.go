// Package protodiff compares two protobuf messages of one type field by
// field and names the fields that differ, for shadow traffic: the answer
// of a service still in use (the primary) against the answer of its
// replacement (the candidate). Unlike proto.Equal it says where two
// messages differ, leaves out fields the caller names (timestamps, ids),
// and can compare repeated fields as multisets, so that a candidate that
// returns the same items in another order is not reported.
//
// Rules, chosen for answers that may have travelled through JSON:
//   - an unset message field equals an empty one (JSON's null, {} and a
//     missing key all decode to one of the two);
//   - scalars compare by value (NaN equals NaN), fields with explicit
//     presence by presence too;
//   - maps compare by key, whatever their order;
//   - repeated fields compare in order, or as multisets when listed as
//     unordered;
//   - unknown fields are left out (a newer schema's fields are not a
//     difference).
package protodiff

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxPaths bounds the paths one comparison reports: past it, Diff stops
// looking.
const MaxPaths = 64

// Options say what a comparison leaves out and how it compares repeated
// fields. Paths are dotted proto field names from the compared message,
// e.g. "quest.created_at"; a path through a repeated or map field applies
// to every element ("quests.updated_at").
type Options struct {
	// Ignore lists fields left out of the comparison.
	Ignore []string
	// Unordered lists repeated fields compared as multisets.
	Unordered []string
}

// Comparer compares messages of one type. Build it with [New]; it is safe
// for concurrent use.
type Comparer struct {
	desc protoreflect.MessageDescriptor
	root *node
}

// node is the options that apply at one field path.
type node struct {
	ignore    bool
	unordered bool
	children  map[protoreflect.Name]*node
}

func (n *node) child(name protoreflect.Name) *node {
	if n == nil {
		return nil
	}
	return n.children[name]
}

// New returns a comparer for messages of type desc. A path that does not
// name a field of desc (through message, repeated and map fields) is an
// error that names the missing field; an unordered path must end at a
// repeated field that is not a map.
func New(desc protoreflect.MessageDescriptor, o Options) (*Comparer, error) {
	c := &Comparer{desc: desc, root: &node{}}
	for _, p := range o.Ignore {
		n, _, err := c.add(p)
		if err != nil {
			return nil, fmt.Errorf("ignore %q: %w", p, err)
		}
		n.ignore = true
	}
	for _, p := range o.Unordered {
		n, fd, err := c.add(p)
		if err != nil {
			return nil, fmt.Errorf("unordered %q: %w", p, err)
		}
		if !fd.IsList() {
			return nil, fmt.Errorf("unordered %q: field %q is not repeated (maps are always compared by key)", p, fd.Name())
		}
		n.unordered = true
	}
	return c, nil
}

// add walks path from the root, creating nodes, and returns the last one
// and its field.
func (c *Comparer) add(path string) (*node, protoreflect.FieldDescriptor, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("empty path: name a field, e.g. %q", firstField(c.desc))
	}
	md := c.desc
	n := c.root
	var fd protoreflect.FieldDescriptor
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if md == nil {
			return nil, nil, fmt.Errorf("field %q is not a message: %q cannot follow it", parts[i-1], part)
		}
		fd = md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return nil, nil, fmt.Errorf("%s has no field %q", md.FullName(), part)
		}
		if n.children == nil {
			n.children = map[protoreflect.Name]*node{}
		}
		next := n.children[fd.Name()]
		if next == nil {
			next = &node{}
			n.children[fd.Name()] = next
		}
		n = next
		switch {
		case fd.IsMap():
			md = fd.MapValue().Message()
		default:
			md = fd.Message()
		}
	}
	return n, fd, nil
}

func firstField(md protoreflect.MessageDescriptor) string {
	if md.Fields().Len() == 0 {
		return "field"
	}
	return string(md.Fields().Get(0).Name())
}

// Diff returns the paths of the fields where a and b differ, in field
// number order, at most [MaxPaths]; none when they are equal. Elements
// are written with their index ("objectives[2].description") and map
// entries with their key ("progress[\"o1\"].count"); a repeated field
// whose lengths differ, or an unordered one whose elements do not pair
// up, is one path without index. a and b must be of the comparer's type.
func (c *Comparer) Diff(a, b protoreflect.Message) []string {
	d := &differ{}
	d.message(c.root, "", a, b)
	return d.paths
}

// Equal reports whether Diff finds nothing.
func (c *Comparer) Equal(a, b protoreflect.Message) bool {
	d := &differ{limit: 1}
	d.message(c.root, "", a, b)
	return len(d.paths) == 0
}

type differ struct {
	paths []string
	limit int
}

func (d *differ) full() bool {
	limit := d.limit
	if limit == 0 {
		limit = MaxPaths
	}
	return len(d.paths) >= limit
}

func (d *differ) add(path string) {
	if !d.full() {
		d.paths = append(d.paths, path)
	}
}

func join(prefix string, name protoreflect.Name) string {
	if prefix == "" {
		return string(name)
	}
	return prefix + "." + string(name)
}

// message compares a and b, either of which may be nil (an unset
// message, equal to an empty one).
func (d *differ) message(n *node, prefix string, a, b protoreflect.Message) {
	var md protoreflect.MessageDescriptor
	switch {
	case a != nil:
		md = a.Descriptor()
	case b != nil:
		md = b.Descriptor()
	default:
		return
	}
	fields := md.Fields()
	for i := 0; i < fields.Len() && !d.full(); i++ {
		fd := fields.Get(i)
		cn := n.child(fd.Name())
		if cn != nil && cn.ignore {
			continue
		}
		hasA := a != nil && a.Has(fd)
		hasB := b != nil && b.Has(fd)
		if !hasA && !hasB {
			continue
		}
		path := join(prefix, fd.Name())
		switch {
		case fd.IsMap():
			d.mapField(cn, path, fd, get(a, fd, hasA), get(b, fd, hasB))
		case fd.IsList():
			d.list(cn, path, fd, get(a, fd, hasA), get(b, fd, hasB))
		case fd.Message() != nil:
			d.message(cn, path, msgOf(a, fd, hasA), msgOf(b, fd, hasB))
		default:
			if hasA != hasB && fd.HasPresence() {
				d.add(path)
				continue
			}
			if !scalarEqual(fd, value(a, fd), value(b, fd)) {
				d.add(path)
			}
		}
	}
}

// get returns the field's value when set, else an invalid value.
func get(m protoreflect.Message, fd protoreflect.FieldDescriptor, has bool) protoreflect.Value {
	if !has {
		return protoreflect.Value{}
	}
	return m.Get(fd)
}

// value returns the field's value, its default when m is nil.
func value(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.Value {
	if m == nil {
		return fd.Default()
	}
	return m.Get(fd)
}

func msgOf(m protoreflect.Message, fd protoreflect.FieldDescriptor, has bool) protoreflect.Message {
	if !has {
		return nil
	}
	return m.Get(fd).Message()
}

func (d *differ) list(n *node, path string, fd protoreflect.FieldDescriptor, a, b protoreflect.Value) {
	var la, lb protoreflect.List
	if a.IsValid() {
		la = a.List()
	}
	if b.IsValid() {
		lb = b.List()
	}
	na, nb := listLen(la), listLen(lb)
	if n != nil && n.unordered {
		if na != nb || !d.multisetEqual(n, fd, la, lb) {
			d.add(path)
		}
		return
	}
	if na != nb {
		d.add(path)
		return
	}
	for i := 0; i < na && !d.full(); i++ {
		d.element(n, path+"["+strconv.Itoa(i)+"]", fd, la.Get(i), lb.Get(i))
	}
}

func listLen(l protoreflect.List) int {
	if l == nil {
		return 0
	}
	return l.Len()
}

// element compares one list element or map value.
func (d *differ) element(n *node, path string, fd protoreflect.FieldDescriptor, a, b protoreflect.Value) {
	if fd.Message() != nil && !fd.IsMap() || fd.IsMap() && fd.MapValue().Message() != nil {
		d.message(n, path, a.Message(), b.Message())
		return
	}
	kind := fd
	if fd.IsMap() {
		kind = fd.MapValue()
	}
	if !scalarEqual(kind, a, b) {
		d.add(path)
	}
}

// multisetEqual pairs every element of a with an equal element of b.
func (d *differ) multisetEqual(n *node, fd protoreflect.FieldDescriptor, a, b protoreflect.List) bool {
	na := listLen(a)
	used := make([]bool, na)
	for j := 0; j < listLen(b); j++ {
		found := false
		for i := 0; i < na; i++ {
			if used[i] {
				continue
			}
			sub := &differ{limit: 1}
			sub.element(n, "", fd, a.Get(i), b.Get(j))
			if len(sub.paths) == 0 {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (d *differ) mapField(n *node, path string, fd protoreflect.FieldDescriptor, a, b protoreflect.Value) {
	var ma, mb protoreflect.Map
	if a.IsValid() {
		ma = a.Map()
	}
	if b.IsValid() {
		mb = b.Map()
	}
	keys := map[string]protoreflect.MapKey{}
	collect := func(m protoreflect.Map) {
		if m == nil {
			return
		}
		m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys[k.String()] = k
			return true
		})
	}
	collect(ma)
	collect(mb)
	for _, ks := range sortedKeys(keys, fd.MapKey().Kind()) {
		if d.full() {
			return
		}
		k := keys[ks]
		p := path + "[" + keyString(fd.MapKey().Kind(), k) + "]"
		hasA := ma != nil && ma.Has(k)
		hasB := mb != nil && mb.Has(k)
		if hasA != hasB {
			d.add(p)
			continue
		}
		d.element(n, p, fd, ma.Get(k), mb.Get(k))
	}
}

// sortedKeys orders map keys deterministically: numbers by value, strings
// and bools by text.
func sortedKeys(keys map[string]protoreflect.MapKey, kind protoreflect.Kind) []string {
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y string) int {
		kx, ky := keys[x], keys[y]
		switch kind {
		case protoreflect.StringKind, protoreflect.BoolKind:
			return strings.Compare(x, y)
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			return cmp.Compare(kx.Uint(), ky.Uint())
		default:
			return cmp.Compare(kx.Int(), ky.Int())
		}
	})
	return out
}

func keyString(kind protoreflect.Kind, k protoreflect.MapKey) string {
	if kind == protoreflect.StringKind {
		return strconv.Quote(k.String())
	}
	return k.String()
}

func scalarEqual(fd protoreflect.FieldDescriptor, a, b protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return a.Bool() == b.Bool()
	case protoreflect.EnumKind:
		return a.Enum() == b.Enum()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return a.Int() == b.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return a.Uint() == b.Uint()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case protoreflect.StringKind:
		return a.String() == b.String()
	case protoreflect.BytesKind:
		return bytes.Equal(a.Bytes(), b.Bytes())
	}
	return false
}
