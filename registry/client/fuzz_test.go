package client

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeVersionCreated decodes arbitrary event bodies, binary or JSON
// by the Content-Type header, as every cache and registry server
// subscribed to the events does: a body decodes or fails with an error,
// and what decodes survives being sent again in the same encoding.
// Seeds live in testdata/fuzz/FuzzDecodeVersionCreated/.
func FuzzDecodeVersionCreated(f *testing.F) {
	f.Add([]byte{0x0a, 0x07, 0x0a, 0x01, 'm', 0x10, 0x03}, "")
	f.Add([]byte(`{"version":{"module":"m","version":"3","digest":"sha256:ab"}}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"version":{"module":"m","version":3,"unknown":true}}`), "APPLICATION/JSON")
	f.Add([]byte{0x0a, 0xff, 0x01}, "application/protobuf")
	f.Add([]byte(`{"version":{"version":"-1"}}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		msg := &nats.Msg{Data: body, Header: nats.Header{}}
		if contentType != "" {
			msg.Header.Set("Content-Type", contentType)
		}
		ev, err := DecodeVersionCreated(msg)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		var again []byte
		ct, _, _ := strings.Cut(msg.Header.Get("Content-Type"), ";")
		if strings.EqualFold(strings.TrimSpace(ct), "application/json") {
			again, err = protojson.Marshal(ev)
		} else {
			again, err = proto.Marshal(ev)
		}
		if err != nil {
			return // invalid UTF-8 that proto.Unmarshal let through as unknown bytes cannot be re-sent as JSON
		}
		msg.Data = again
		back, err := DecodeVersionCreated(msg)
		if err != nil || !proto.Equal(back, ev) {
			t.Fatalf("event %v re-sent as %q decodes as %v, %v", ev, again, back, err)
		}
	})
}
