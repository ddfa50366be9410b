package tap

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
	"github.com/natsrpc/natsrpc/internal/spec"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// testMethods returns natsrpctest.v1.TestService's methods (one of every
// kind) as tap knows them, by subject.
func testMethods(t testing.TB) map[string]*watched {
	t.Helper()
	svc, err := spec.ForService(natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*watched{}
	for _, m := range svc.Methods {
		out[m.Subject] = &watched{m: &method{subject: m.Subject, name: strings.TrimPrefix(m.Procedure, "/"), m: &schema.Method{Method: m, Types: schema.NewResolver(protoregistry.GlobalFiles)}}}
	}
	return out
}

// parseHeader reads "Key: value" lines.
func parseHeader(s string) nats.Header {
	h := nats.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

// FuzzDecode feeds the decoder a handshake or request of each kind, then
// a message with arbitrary headers and body on the caller's inbox and on
// a stream's control inbox: it never panics, and every line it prints is
// a JSON document with a direction. Seeds in testdata/fuzz.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), "", []byte{0x0a, 0x03, 'q', '-', '1'})
	f.Add(uint8(1), "Nats-Rpc-Frame: open\nNats-Rpc-Seq: 0\nNats-Rpc-Control: _INBOX.s.1", []byte{})
	f.Add(uint8(1), "", []byte{0x01, 0x08, 0x01})
	f.Add(uint8(2), "Nats-Rpc-Frame: end\nNats-Rpc-Seq: 1\nNats-Rpc-Code: aborted\nNats-Service-Error: x", []byte{})
	f.Add(uint8(3), "Nats-Rpc-Seq: 1\nContent-Type: application/json", []byte(`{"value":"x"}`))
	f.Add(uint8(4), "", []byte(`{"stream":"S","seq":1}`))
	f.Add(uint8(0), "Nats-Service-Error-Code: 404\nNats-Service-Error: nope", []byte{0xff})
	f.Add(uint8(1), "", []byte{0x80})
	f.Fuzz(func(t *testing.T, kind uint8, header string, body []byte) {
		methods := testMethods(t)
		subjects := []string{"natsrpctest.v1.TestService.Get", "natsrpctest.v1.TestService.Watch", "natsrpctest.v1.TestService.Upload", "natsrpctest.v1.TestService.Chat", "natsrpctest.v1.TestService.Notify"}
		var out bytes.Buffer
		d := newDecoder(&out, true, "_INBOX.tap_x")
		d.setMethods(methods)
		now := time.Unix(1, 0)
		subject := subjects[int(kind)%len(subjects)]
		h := parseHeader(header)
		d.handle(&nats.Msg{Subject: subject, Reply: "_INBOX.c", Header: nats.Header{"Nats-Rpc-Stream": {"1"}}, Data: body}, now)
		d.handle(&nats.Msg{Subject: "_INBOX.c", Header: h, Data: body}, now.Add(time.Millisecond))
		d.handle(&nats.Msg{Subject: "_INBOX.c", Header: nats.Header{"Nats-Rpc-Frame": {"open"}, "Nats-Rpc-Seq": {"0"}, "Nats-Rpc-Control": {"_INBOX.s.1"}}}, now)
		d.handle(&nats.Msg{Subject: "_INBOX.s.1", Header: h, Data: body}, now.Add(2*time.Millisecond))
		d.handle(&nats.Msg{Subject: subject, Header: h, Data: body}, now)
		d.purge(now.Add(time.Hour))
		for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
			if line == "" {
				continue
			}
			var l Line
			if err := json.Unmarshal([]byte(line), &l); err != nil || l.Direction == "" || l.Method == "" {
				t.Fatalf("printed %q (%v)", line, err)
			}
			if l.Undecodable == "" && len(l.Body) > 0 && !json.Valid(l.Body) {
				t.Fatalf("body %q is not JSON", l.Body)
			}
		}
		if len(d.pending)+len(d.streams)+len(d.controls) != 0 {
			t.Fatalf("after an hour tap still follows %d calls, %d streams, %d controls", len(d.pending), len(d.streams), len(d.controls))
		}
	})
}

// TestMatchSubject pins NATS wildcard matching.
func TestMatchSubject(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"a.b", "a.b", true},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "a", true},
		{"*.b.>", "x.b.y", true},
		{"a.b", "a.c", false},
		{"a.b.c", "a.b", false},
	} {
		if got := MatchSubject(c.filter, c.subject); got != c.want {
			t.Errorf("MatchSubject(%q, %q) = %v", c.filter, c.subject, got)
		}
	}
}
