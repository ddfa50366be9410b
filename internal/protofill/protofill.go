// Package protofill builds fully populated protobuf messages of any type:
// every field set, nested messages filled, two entries in every list and
// map, and one member of every oneof (chosen by a variant number, so that a
// caller can cover every member by asking for several variants).
//
// Tests use it to round-trip every request and response of the 22 services
// and benchmarks use it for realistic payload sizes. Values are valid for
// the binary and the JSON encoding alike: finite floats, UTF-8 strings,
// timestamps and durations in range, Any values that resolve.
package protofill

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxDepth bounds recursion through self-referencing types such as
// google.protobuf.Struct.
const maxDepth = 6

// Fill sets every field of m and returns it. variant selects which member
// of each oneof is set (variant modulo the number of members) and varies the
// values, so that Fill(m, 0) and Fill(m, 1) differ.
func Fill(m proto.Message, variant int) proto.Message {
	f := filler{variant: variant}
	f.message(m.ProtoReflect(), 0)
	return m
}

// MaxOneofMembers returns the largest number of members of any oneof
// reachable from md, so that variants 0..n-1 together set every member.
func MaxOneofMembers(md protoreflect.MessageDescriptor) int {
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor) int
	walk = func(md protoreflect.MessageDescriptor) int {
		if seen[md.FullName()] {
			return 1
		}
		seen[md.FullName()] = true
		n := 1
		oneofs := md.Oneofs()
		for i := 0; i < oneofs.Len(); i++ {
			if o := oneofs.Get(i); !o.IsSynthetic() && o.Fields().Len() > n {
				n = o.Fields().Len()
			}
		}
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			if fd.Message() != nil {
				if k := walk(fd.Message()); k > n {
					n = k
				}
			}
		}
		return n
	}
	return walk(md)
}

type filler struct {
	variant int
	counter int
}

func (f *filler) next() int {
	f.counter++
	return f.counter + f.variant*1000
}

func (f *filler) message(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		n := f.next()
		proto.Merge(m.Interface(), &timestamppb.Timestamp{Seconds: 1_700_000_000 + int64(n)*3607, Nanos: int32(n%1000) * 1000})
		return
	case "google.protobuf.Duration":
		n := f.next()
		proto.Merge(m.Interface(), &durationpb.Duration{Seconds: int64(n % 86400), Nanos: int32(n%1000) * 1000})
		return
	case "google.protobuf.Any":
		inner := &durationpb.Duration{Seconds: int64(f.next())}
		a, err := anypb.New(inner)
		if err != nil {
			panic(fmt.Sprintf("protofill: pack Any: %v", err))
		}
		proto.Merge(m.Interface(), a)
		return
	case "google.protobuf.FieldMask":
		paths := md.Fields().ByName("paths")
		l := m.Mutable(paths).List()
		l.Append(protoreflect.ValueOfString("display_name"))
		l.Append(protoreflect.ValueOfString("meta.request_id"))
		return
	case "google.protobuf.Value":
		f.value(m, depth)
		return
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if od.Fields().Get(f.variant%od.Fields().Len()) != fd {
				continue
			}
		}
		if fd.Message() != nil && depth >= maxDepth && !fd.IsList() && !fd.IsMap() {
			continue
		}
		switch {
		case fd.IsList():
			if fd.Message() != nil && depth >= maxDepth {
				continue
			}
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				if fd.Message() != nil {
					e := l.NewElement()
					f.message(e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(f.scalar(fd))
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil && depth >= maxDepth {
				continue
			}
			mp := m.Mutable(fd).Map()
			for j := 0; j < 2; j++ {
				k := f.scalar(fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					f.message(v.Message(), depth+1)
					mp.Set(k, v)
				} else {
					mp.Set(k, f.scalar(fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			f.message(m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

// value fills a google.protobuf.Value: nested structs and lists until the
// depth limit, then plain numbers and strings.
func (f *filler) value(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	kinds := []protoreflect.Name{"string_value", "number_value", "bool_value", "struct_value", "list_value"}
	if depth >= maxDepth-1 {
		kinds = kinds[:3]
	}
	name := kinds[(f.next()+f.variant)%len(kinds)]
	fd := md.Fields().ByName(name)
	if fd.Message() != nil {
		f.message(m.Mutable(fd).Message(), depth+1)
		return
	}
	m.Set(fd, f.scalar(fd))
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	n := f.next()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if values.Len() == 1 {
			return protoreflect.ValueOfEnum(values.Get(0).Number())
		}
		// Skip the zero value so that the field is present in proto3.
		return protoreflect.ValueOfEnum(values.Get(1 + n%(values.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n%100000 + 1))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(n)*1_000_003 + 1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n%100000 + 1))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n)*1_000_003 + 1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n%1000) + 0.5)
	case protoreflect.DoubleKind:
		v := float64(n%100000)/8 + 0.25
		if math.IsInf(v, 0) || math.IsNaN(v) {
			v = 1
		}
		return protoreflect.ValueOfFloat64(v)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d-é", fd.Name(), n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fmt.Sprintf("\x00\xff%s-%d", fd.Name(), n)))
	}
	panic(fmt.Sprintf("protofill: unsupported kind %v of %s", fd.Kind(), fd.FullName()))
}

// Missing returns the paths of fields that Fill(m, variant) should have set
// but that are unset in m: every field, except oneof members other than the
// variant's choice and message fields below the recursion limit. Tests use it
// to prove that a message is fully populated.
func Missing(m proto.Message, variant int) []string {
	var out []string
	var walk func(m protoreflect.Message, path string, depth int)
	walk = func(m protoreflect.Message, path string, depth int) {
		md := m.Descriptor()
		switch md.FullName() {
		case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Any",
			"google.protobuf.FieldMask", "google.protobuf.Value", "google.protobuf.Struct",
			"google.protobuf.ListValue":
			if !hasAny(m) {
				out = append(out, path)
			}
			return
		}
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && od.Fields().Get(variant%od.Fields().Len()) != fd {
				continue
			}
			if fd.Message() != nil && depth >= maxDepth {
				continue
			}
			p := path + "." + string(fd.Name())
			if !m.Has(fd) {
				out = append(out, p)
				continue
			}
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := m.Get(fd).List()
				for j := 0; j < l.Len(); j++ {
					walk(l.Get(j).Message(), fmt.Sprintf("%s[%d]", p, j), depth+1)
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					walk(v.Message(), fmt.Sprintf("%s[%v]", p, k.Interface()), depth+1)
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(m.Get(fd).Message(), p, depth+1)
			}
		}
	}
	walk(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()), 0)
	return out
}

func hasAny(m protoreflect.Message) bool {
	found := false
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		found = true
		return false
	})
	return found
}
