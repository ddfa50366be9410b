package tap

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// TestDecodeCompressed: a reply whose body is S2-compressed (wire §15)
// shows decoded like any other, and one marked with an encoding tap cannot
// read shows as undecodable with the reason, not as a wrong message.
func TestDecodeCompressed(t *testing.T) {
	res, err := proto.Marshal(&natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: "q-1", Title: strings.Repeat("a lantern ", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, encoding string
		body           []byte
		want           string // in the line's body, or in its reason
	}{
		{"s2", "s2", s2.Encode(nil, res), `"title":"a lantern a lantern`},
		{"unknown encoding", "zstd", res, "unsupported Nats-Rpc-Encoding"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			d := newDecoder(&out, true, "_INBOX.tap_x")
			d.setMethods(testMethods(t))
			now := time.Unix(1, 0)
			d.handle(&nats.Msg{Subject: "natsrpctest.v1.TestService.Get", Reply: "_INBOX.c", Data: []byte{0x0a, 0x03, 'q', '-', '1'}}, now)
			d.handle(&nats.Msg{Subject: "_INBOX.c", Header: nats.Header{"Nats-Rpc-Encoding": {c.encoding}}, Data: c.body}, now.Add(time.Millisecond))
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("printed %q", out.String())
			}
			var l Line
			if err := json.Unmarshal([]byte(lines[1]), &l); err != nil {
				t.Fatal(err)
			}
			if l.Direction != DirReply || !strings.Contains(string(l.Body)+l.Undecodable, c.want) {
				t.Fatalf("reply line %s; want %q in it", lines[1], c.want)
			}
			if c.encoding != "s2" && l.Undecodable == "" {
				t.Fatalf("reply line %s: not marked undecodable", lines[1])
			}
		})
	}
}
