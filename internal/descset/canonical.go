package descset

import (
	"cmp"
	"slices"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// emptyTypes resolves no extension, so that every custom option stays an
// unknown field of its options message, whatever extensions this binary
// links. That keeps the canonical form independent of the binary.
var emptyTypes = new(protoregistry.Types)

// Unmarshal parses a serialized FileDescriptorSet without resolving any
// extension: custom options stay unknown fields of their options messages,
// whatever extensions the program links, as [Canonicalize] expects.
func Unmarshal(data []byte) (*descriptorpb.FileDescriptorSet, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := (proto.UnmarshalOptions{Resolver: emptyTypes}).Unmarshal(data, set); err != nil {
		return nil, err
	}
	return set, nil
}

// optionsMessages are the descriptor.proto messages whose unknown fields
// are custom options (extensions), which are expected and kept.
var optionsMessages = map[protoreflect.FullName]bool{
	"google.protobuf.FileOptions":           true,
	"google.protobuf.MessageOptions":        true,
	"google.protobuf.FieldOptions":          true,
	"google.protobuf.OneofOptions":          true,
	"google.protobuf.EnumOptions":           true,
	"google.protobuf.EnumValueOptions":      true,
	"google.protobuf.ServiceOptions":        true,
	"google.protobuf.MethodOptions":         true,
	"google.protobuf.ExtensionRangeOptions": true,
	"google.protobuf.FeatureSet":            true,
}

// Canonicalize brings fd into canonical form in place: it checks fd for
// unknown fields outside options messages, removes buf's image extension
// (reporting its is_import marker), and sorts the unknown fields (custom
// options) of every options message by field number, keeping the order of
// repeated values, so that two compilers that order custom options
// differently produce the same bytes. Custom options must be unknown
// fields (decode with [Unmarshal], or convert linked descriptors with
// protodesc, which keeps them so). The error is an [*Error].
func Canonicalize(fd *descriptorpb.FileDescriptorProto) (isImport, hasMarker bool, err error) {
	m := fd.ProtoReflect()
	if u := m.GetUnknown(); len(u) > 0 {
		var rest []byte
		for len(u) > 0 {
			num, typ, n := protowire.ConsumeField(u)
			if n < 0 {
				return false, false, errorf("file %q: malformed unknown fields: %w", fd.GetName(), protowire.ParseError(n))
			}
			if num == BufImageExtensionField && typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(u[protowire.SizeTag(num):n])
				hasMarker = true
				isImport = bufIsImport(v)
			} else {
				rest = append(rest, u[:n]...)
			}
			u = u[n:]
		}
		if len(rest) > 0 {
			return false, false, errorf("file %q has unknown fields (numbers %v) in google.protobuf.FileDescriptorProto; the registry stores only descriptor fields it understands: send descriptors from protoc, buf or protocompile", fd.GetName(), UnknownNumbers(rest))
		}
		m.SetUnknown(nil)
	}
	if err := walkUnknown(m, fd.GetName(), false); err != nil {
		return false, false, err
	}
	return isImport, hasMarker, nil
}

func bufIsImport(ext []byte) bool {
	isImport := false
	for len(ext) > 0 {
		num, typ, n := protowire.ConsumeField(ext)
		if n < 0 {
			return isImport
		}
		if num == 1 && typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(ext[protowire.SizeTag(num):n])
			isImport = v != 0
		}
		ext = ext[n:]
	}
	return isImport
}

// walkUnknown visits every message below m. In options messages (and
// anything inside one) unknown fields are sorted; elsewhere they are an
// error.
func walkUnknown(m protoreflect.Message, file string, inOptions bool) error {
	var err error
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Message() == nil {
			return true
		}
		visit := func(sub protoreflect.Message) bool {
			opts := inOptions || optionsMessages[sub.Descriptor().FullName()]
			if u := sub.GetUnknown(); len(u) > 0 {
				if !opts {
					err = errorf("file %q has unknown fields (numbers %v) in %s; the registry stores only descriptor fields it understands: send descriptors from protoc, buf or protocompile", file, UnknownNumbers(u), sub.Descriptor().FullName())
					return false
				}
				sorted, serr := sortUnknown(u)
				if serr != nil {
					err = errorf("file %q: malformed custom options in %s: %w", file, sub.Descriptor().FullName(), serr)
					return false
				}
				sub.SetUnknown(sorted)
			}
			if e := walkUnknown(sub, file, opts); e != nil {
				err = e
				return false
			}
			return true
		}
		switch {
		case f.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if !visit(l.Get(i).Message()) {
					return false
				}
			}
			return true
		case f.IsMap():
			return true
		default:
			return visit(v.Message())
		}
	})
	return err
}

// UnknownNumbers returns the distinct field numbers of raw fields u, in
// order of first appearance; it stops at the first malformed field.
func UnknownNumbers(u []byte) []protowire.Number {
	var nums []protowire.Number
	for len(u) > 0 {
		num, _, n := protowire.ConsumeField(u)
		if n < 0 {
			break
		}
		if !slices.Contains(nums, num) {
			nums = append(nums, num)
		}
		u = u[n:]
	}
	return nums
}

// sortUnknown stably sorts raw fields by field number.
func sortUnknown(u []byte) (protoreflect.RawFields, error) {
	type field struct {
		num protowire.Number
		raw []byte
	}
	var fields []field
	for len(u) > 0 {
		num, _, n := protowire.ConsumeField(u)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		fields = append(fields, field{num, u[:n]})
		u = u[n:]
	}
	if slices.IsSortedFunc(fields, func(a, b field) int { return cmp.Compare(a.num, b.num) }) {
		var out []byte
		for _, f := range fields {
			out = append(out, f.raw...)
		}
		return out, nil
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].num < fields[j].num })
	var out []byte
	for _, f := range fields {
		out = append(out, f.raw...)
	}
	return out, nil
}
