package natsrpc

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// rawMessage is a message kept in its binary protobuf encoding: what the
// Bytes methods of [DynamicClient] send and receive, through the same
// client machinery as every other message. The codecs write and read its
// bytes as they are; interceptors see it as a message of its type whose
// fields are all unknown fields (a view built on demand), so that
// proto.Marshal of the view gives the same bytes.
type rawMessage struct {
	desc protoreflect.MessageDescriptor
	// out is the response type, for a request: a unary call decodes its
	// response into a rawMessage of this type.
	out  protoreflect.MessageDescriptor
	data []byte
	// view is the reflective view, built by ProtoReflect; a change made
	// through it wins over data.
	view *dynamicpb.Message
}

// ProtoReflect returns a view of the message whose fields are all unknown
// fields holding its encoding.
func (m *rawMessage) ProtoReflect() protoreflect.Message {
	if m.view == nil {
		m.view = dynamicpb.NewMessage(m.desc)
		if len(m.data) > 0 {
			m.view.SetUnknown(m.data)
		}
	}
	return m.view
}

// bytes returns the message's binary encoding.
func (m *rawMessage) bytes() ([]byte, error) {
	if m.view == nil {
		return m.data, nil
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m.view)
	if err != nil {
		return nil, NewError(CodeInternal, fmt.Errorf("encode %q: %w", m.desc.FullName(), err))
	}
	return b, nil
}

// marshal appends the message's encoding in codec c to b.
func (m *rawMessage) marshal(b []byte, c codec) ([]byte, error) {
	if c == codecProto {
		if m.view == nil {
			return append(b, m.data...), nil
		}
		return proto.MarshalOptions{AllowPartial: true}.MarshalAppend(b, m.view)
	}
	// JSON on the wire (WithJSON): decode the bytes to write them as JSON.
	msg := dynamicpb.NewMessage(m.desc)
	data, err := m.bytes()
	if err != nil {
		return nil, err
	}
	if err := protoUnmarshal.Unmarshal(data, msg); err != nil {
		return nil, err
	}
	return jsonMarshal.MarshalAppend(b, msg)
}

// unmarshal sets the message from its encoding b in codec c. Protobuf is
// kept as it is (b belongs to the message from now on).
func (m *rawMessage) unmarshal(b []byte, c codec) error {
	m.view = nil
	if c == codecProto {
		m.data = b
		return nil
	}
	msg := dynamicpb.NewMessage(m.desc)
	if len(b) > 0 {
		if err := jsonUnmarshal.Unmarshal(b, msg); err != nil {
			return err
		}
	}
	data, err := protoMarshal.Marshal(msg)
	if err != nil {
		return err
	}
	m.data = data
	return nil
}

// maxWireDepth is protobuf-go's default recursion limit, so that
// validateWire refuses what proto.Unmarshal refuses.
const maxWireDepth = 10000

// validateWire reports whether b decodes as a message of type desc: it
// accepts exactly what proto.Unmarshal with AllowPartial accepts into a
// message of that type (the fuzz target FuzzValidateWire holds it to
// that), without building the message. Fields of the wrong wire type are
// unknown fields, as protobuf-go treats them; proto2 required fields are
// left to the service's decoder.
func validateWire(b []byte, desc protoreflect.MessageDescriptor) error {
	return validateMessage(b, desc, 0)
}

var errTooDeep = errors.New("message nesting is deeper than protobuf's limit of 10000")

func validateMessage(b []byte, desc protoreflect.MessageDescriptor, depth int) error {
	if depth >= maxWireDepth {
		return errTooDeep
	}
	fields := desc.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("field number %d is above the largest valid one", num)
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if fd == nil {
			if typ == protowire.EndGroupType {
				return errors.New("unexpected end of group")
			}
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
			}
			b = b[m:]
			continue
		}
		m, err := validateField(b, fd, num, typ, depth)
		if err != nil {
			return fmt.Errorf("field %q: %w", fd.Name(), err)
		}
		b = b[m:]
	}
	return nil
}

// validateField checks the value of known field fd at the start of b and
// returns its length.
func validateField(b []byte, fd protoreflect.FieldDescriptor, num protowire.Number, typ protowire.Type, depth int) (int, error) {
	want := wireTypeOf(fd.Kind())
	if typ == protowire.EndGroupType {
		return 0, errors.New("unexpected end of group")
	}
	if typ != want {
		if typ == protowire.BytesType && fd.IsList() && want != protowire.BytesType && want != protowire.StartGroupType {
			// A packed repeated scalar.
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, protowire.ParseError(n)
			}
			for len(v) > 0 {
				m := protowire.ConsumeFieldValue(num, want, v)
				if m < 0 {
					return 0, protowire.ParseError(m)
				}
				v = v[m:]
			}
			return n, nil
		}
		// protobuf-go keeps a value of the wrong wire type as an unknown
		// field.
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, protowire.ParseError(m)
		}
		return m, nil
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if enforceUTF8(fd) && !utf8.Valid(v) {
			return 0, errors.New("string is not valid UTF-8")
		}
		return n, nil
	case protoreflect.MessageKind:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if err := validateMessage(v, fd.Message(), depth+1); err != nil {
			return 0, err
		}
		return n, nil
	case protoreflect.GroupKind:
		v, n := protowire.ConsumeGroup(num, b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if err := validateMessage(v, fd.Message(), depth+1); err != nil {
			return 0, err
		}
		return n, nil
	}
	m := protowire.ConsumeFieldValue(num, typ, b)
	if m < 0 {
		return 0, protowire.ParseError(m)
	}
	return m, nil
}

// wireTypeOf is the wire type of a field of kind k.
func wireTypeOf(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default: // string, bytes, message
		return protowire.BytesType
	}
}

// enforceUTF8 reports whether protobuf-go checks string field fd for valid
// UTF-8: always in proto3, never in proto2, and in editions unless the
// utf8_validation feature says NONE on the field, its message(s) or file.
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	switch fd.ParentFile().Syntax() {
	case protoreflect.Proto3:
		return true
	case protoreflect.Proto2:
		return false
	}
	for d := protoreflect.Descriptor(fd); d != nil; d = d.Parent() {
		var f *descriptorpb.FeatureSet
		switch o := d.Options().(type) {
		case *descriptorpb.FieldOptions:
			f = o.GetFeatures()
		case *descriptorpb.MessageOptions:
			f = o.GetFeatures()
		case *descriptorpb.FileOptions:
			f = o.GetFeatures()
		}
		if f != nil && f.Utf8Validation != nil {
			return f.GetUtf8Validation() == descriptorpb.FeatureSet_VERIFY
		}
	}
	return true
}
