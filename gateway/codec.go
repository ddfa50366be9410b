package gateway

import (
	"fmt"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// rawBody is a message in binary protobuf, carried through connect-go's
// handlers untouched: the gateway forwards protobuf bodies to NATS as they
// came and answers with the service's bytes as they came.
type rawBody struct {
	b []byte
}

// rawCodec is connect-go's "proto" codec for rawBody: it copies bytes in
// and out and decodes nothing. (Vanguard, in front, transcodes JSON and
// REST requests to binary protobuf before they reach it.)
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(m any) ([]byte, error) {
	return rawCodec{}.MarshalAppend(nil, m)
}

// MarshalAppend lets connect-go write into its pooled buffer. Messages
// other than rawBody (connect-go's own, such as the google.rpc.Status of
// grpc-status-details-bin) are marshaled as usual.
func (rawCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	switch v := m.(type) {
	case *rawBody:
		return append(dst, v.b...), nil
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(dst, v)
	}
	return nil, fmt.Errorf("gateway codec: cannot marshal %T", m)
}

// Unmarshal copies data: connect-go reuses its buffers.
func (rawCodec) Unmarshal(data []byte, m any) error {
	switch v := m.(type) {
	case *rawBody:
		v.b = append(v.b[:0], data...)
		return nil
	case proto.Message:
		return proto.Unmarshal(data, v)
	}
	return fmt.Errorf("gateway codec: cannot unmarshal into %T", m)
}

// clientJSONCodec is vanguard's JSON codec whose decoding errors are the
// client's: invalid_argument (HTTP 400), where vanguard would answer
// unknown (500) for a body it cannot decode. The gateway's JSON is only
// ever decoded from requests (its handlers answer in binary protobuf).
type clientJSONCodec struct {
	vanguard.JSONCodec
}

func newClientJSONCodec(res vanguard.TypeResolver) vanguard.Codec {
	c := vanguard.NewJSONCodec(res)
	// Required fields (proto2 only) are the service's to check, as
	// validateWire leaves them; checking them walks every field of a
	// dynamic message, a third of the transcoding's cost.
	c.MarshalOptions.AllowPartial = true
	c.UnmarshalOptions.AllowPartial = true
	// Connect's JSON (and protojson's default): zero values are left out,
	// as connect-go writes them; writing every unset field of a dynamic
	// message was a tenth of the gateway's CPU and doubles small answers.
	c.MarshalOptions.EmitUnpopulated = false
	return clientJSONCodec{*c}
}

// protoCodec is vanguard's binary codec without the check of required
// fields, for the same reason; its output is what proto.Marshal writes.
type protoCodec struct {
	marshal   proto.MarshalOptions
	stable    proto.MarshalOptions
	unmarshal proto.UnmarshalOptions
}

func newProtoCodec(res vanguard.TypeResolver) vanguard.Codec {
	return &protoCodec{
		marshal:   proto.MarshalOptions{AllowPartial: true},
		stable:    proto.MarshalOptions{AllowPartial: true, Deterministic: true},
		unmarshal: proto.UnmarshalOptions{AllowPartial: true, Resolver: res},
	}
}

func (c *protoCodec) Name() string { return vanguard.CodecProto }

func (c *protoCodec) IsBinary() bool { return true }

func (c *protoCodec) MarshalAppend(b []byte, msg proto.Message) ([]byte, error) {
	return c.marshal.MarshalAppend(b, msg)
}

func (c *protoCodec) MarshalAppendStable(b []byte, msg proto.Message) ([]byte, error) {
	return c.stable.MarshalAppend(b, msg)
}

func (c *protoCodec) Unmarshal(data []byte, msg proto.Message) error {
	return c.unmarshal.Unmarshal(data, msg)
}

func (c clientJSONCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.JSONCodec.Unmarshal(data, msg); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("request body is not a valid %s in JSON: %w", msg.ProtoReflect().Descriptor().FullName(), err))
	}
	return nil
}

func (c clientJSONCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	if err := c.JSONCodec.UnmarshalField(data, msg, field); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("request body is not a valid %s (field %s of %s) in JSON: %w", field.Kind(), field.Name(), msg.ProtoReflect().Descriptor().FullName(), err))
	}
	return nil
}
