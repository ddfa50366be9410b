package rpcctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

// templateDepth bounds how deep a template nests messages.
const templateDepth = 8

// Template returns a request skeleton for messages of md: the JSON of a
// message with every field set, which `natsrpc call -d` accepts as is.
// Scalars have their zero value; enums their first non-zero value (the
// zero value when there is none); repeated fields and maps one element;
// nested messages are filled too, except where a type recurs inside itself
// or nesting passes 8 levels (there the field is null). Of each oneof only
// the first member is set (protojson refuses two); notes name the other
// members, one line per oneof. doc is compact JSON.
func Template(md protoreflect.MessageDescriptor, types schema.Resolver) (doc []byte, notes []string, err error) {
	t := &templater{path: map[protoreflect.FullName]bool{}, noted: map[protoreflect.FullName]bool{}}
	m := dynamicpb.NewMessage(md)
	t.fill(m, 0)
	doc, err = protojson.MarshalOptions{EmitUnpopulated: true, Resolver: types}.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("template of %s: %w", md.FullName(), err)
	}
	// Compact: protojson's spacing varies between builds on purpose.
	var c bytes.Buffer
	if err := json.Compact(&c, doc); err != nil {
		return nil, nil, err
	}
	return c.Bytes(), t.notes, nil
}

type templater struct {
	path  map[protoreflect.FullName]bool
	noted map[protoreflect.FullName]bool
	notes []string
}

func (t *templater) fill(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Any":
		// An Any needs a type the reader can resolve: the empty message.
		m.Set(md.Fields().ByName("type_url"), protoreflect.ValueOfString("type.googleapis.com/google.protobuf.Empty"))
		return
	case "google.protobuf.FieldMask":
		return // "": no paths
	}
	t.path[md.FullName()] = true
	defer delete(t.path, md.FullName())
	wellKnown := strings.HasPrefix(string(md.FullName()), "google.protobuf.")
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		o := oneofs.Get(i)
		if o.IsSynthetic() || o.Fields().Len() < 2 || wellKnown || t.noted[o.FullName()] {
			continue
		}
		t.noted[o.FullName()] = true
		var others []string
		for j := 1; j < o.Fields().Len(); j++ {
			others = append(others, fmt.Sprintf("%q", o.Fields().Get(j).JSONName()))
		}
		t.notes = append(t.notes, fmt.Sprintf("oneof %s: the template sets %q; set one of %s instead to use another member", o.FullName(), o.Fields().Get(0).JSONName(), strings.Join(others, ", ")))
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(0) != fd {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			key := mapKey(fd.MapKey())
			if fd.MapValue().Message() != nil {
				v := mp.NewValue()
				if t.fillNested(v.Message(), depth) {
					mp.Set(key, v)
				}
				continue
			}
			mp.Set(key, scalar(fd.MapValue()))
		case fd.IsList():
			list := m.Mutable(fd).List()
			if fd.Message() != nil {
				v := list.NewElement()
				if t.fillNested(v.Message(), depth) {
					list.Append(v)
				}
				continue
			}
			list.Append(scalar(fd))
		case fd.Message() != nil:
			v := m.NewField(fd)
			if t.fillNested(v.Message(), depth) || fd.ContainingOneof() != nil {
				m.Set(fd, v)
			}
		default:
			m.Set(fd, scalar(fd))
		}
	}
}

// fillNested fills a nested message unless its type recurs or nesting is
// too deep; it reports whether the message should be set.
func (t *templater) fillNested(m protoreflect.Message, depth int) bool {
	if depth+1 >= templateDepth || t.path[m.Descriptor().FullName()] {
		return false
	}
	t.fill(m, depth+1)
	return true
}

// scalar returns the template value of a scalar or enum field.
func scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	if fd.Kind() == protoreflect.EnumKind {
		values := fd.Enum().Values()
		for i := 0; i < values.Len(); i++ {
			if values.Get(i).Number() != 0 {
				return protoreflect.ValueOfEnum(values.Get(i).Number())
			}
		}
		if values.Len() > 0 {
			return protoreflect.ValueOfEnum(values.Get(0).Number())
		}
		return protoreflect.ValueOfEnum(0)
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(false)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(0)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(0)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(0)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(0)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(0)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{})
	}
	return fd.Default()
}

// mapKey returns the template key of a map: "key" for strings, the zero
// value otherwise.
func mapKey(fd protoreflect.FieldDescriptor) protoreflect.MapKey {
	if fd.Kind() == protoreflect.StringKind {
		return protoreflect.ValueOfString("key").MapKey()
	}
	return scalar(fd).MapKey()
}
