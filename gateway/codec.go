package gateway

import (
	"fmt"
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
	r, ok := m.(*rawBody)
	if !ok {
		return nil, fmt.Errorf("gateway codec: cannot marshal %T", m)
	}
	return r.b, nil
}

// MarshalAppend lets connect-go write into its pooled buffer.
func (rawCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	r, ok := m.(*rawBody)
	if !ok {
		return nil, fmt.Errorf("gateway codec: cannot marshal %T", m)
	}
	return append(dst, r.b...), nil
}

// Unmarshal copies data: connect-go reuses its buffers.
func (rawCodec) Unmarshal(data []byte, m any) error {
	r, ok := m.(*rawBody)
	if !ok {
		return fmt.Errorf("gateway codec: cannot unmarshal into %T", m)
	}
	r.b = append(r.b[:0], data...)
	return nil
}
