package natsrpc

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/proto"

	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// Fuzz targets for everything a server or client parses from the network.
// Seeds live in testdata/fuzz/<target>/ and run as ordinary tests with
// `go test`; `go test -fuzz <target>` explores from them.

// FuzzParseTimeout checks that the Nats-Rpc-Timeout parser accepts exactly
// one to ten ASCII digits and agrees with the encoder.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"0", "1", "5000", "9999999999", "12345678901", "-1", "1.5", "", "٣", "0005"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseTimeout(s)
		digits := len(s) >= 1 && len(s) <= maxTimeoutDigits && strings.Trim(s, "0123456789") == ""
		if ok != digits {
			t.Fatalf("parseTimeout(%q) ok = %v; want %v", s, ok, digits)
		}
		if !ok {
			return
		}
		if d < 0 {
			t.Fatalf("parseTimeout(%q) = %v; want a non-negative duration", s, d)
		}
		if trimmed := strings.TrimLeft(s, "0"); trimmed != "" {
			if got := encodeTimeout(d); got != trimmed {
				t.Fatalf("encodeTimeout(parseTimeout(%q)) = %q", s, got)
			}
		}
	})
}

// FuzzParseContentType checks that only protobuf and JSON media types are
// accepted, whatever their case and parameters.
func FuzzParseContentType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/protobuf", "APPLICATION/JSON; charset=utf-8", "text/plain", ";", "application/x-protobuf;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseContentType(s)
		if !ok {
			return
		}
		mt, _, _ := strings.Cut(s, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		switch c {
		case codecJSON:
			if mt != contentTypeJSON {
				t.Fatalf("parseContentType(%q) = JSON", s)
			}
		case codecProto:
			if mt != "" && !strings.Contains(mt, "proto") {
				t.Fatalf("parseContentType(%q) = protobuf", s)
			}
		}
	})
}

// FuzzCode checks that every code name round-trips.
func FuzzCode(f *testing.F) {
	for _, s := range []string{"ok", "not_found", "unauthenticated", "code_17", "code_0", "NOT_FOUND", "code_", "code_007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c Code
		if err := c.UnmarshalText([]byte(s)); err != nil {
			return
		}
		text, _ := c.MarshalText()
		var again Code
		if err := again.UnmarshalText(text); err != nil || again != c {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, c, text, again, err)
		}
	})
}

// FuzzDecodeError feeds arbitrary error headers and bodies to the client's
// error decoder, and checks that what it decodes survives being sent again.
func FuzzDecodeError(f *testing.F) {
	e := NewError(CodeNotFound, nil)
	_ = e.AddDetail(&questsystemv1.GetQuestRequest{QuestId: "q"})
	_, status := encodeError(e, codecProto)
	_, jsonStatus := encodeError(e, codecJSON)
	f.Add("not_found", "404", "no such quest", "", status)
	f.Add("not_found", "404", "no such quest", "application/json", jsonStatus)
	f.Add("", "503", "down", "", []byte(nil))
	f.Add("", "NOT_FOUND", "toyz style", "", []byte(nil))
	f.Add("bogus", "", "", "", []byte{0x1a, 0xff})
	f.Add("ok", "", "", "", []byte(nil))
	f.Add("code_99", "999", "\xff", "application/json", []byte(`{"details":[{"type":"x","value":"!!"}]}`))
	f.Fuzz(func(t *testing.T, rpcCode, svcCode, message, contentType string, body []byte) {
		h := nats.Header{}
		for k, v := range map[string]string{headerCode: rpcCode, micro.ErrorCodeHeader: svcCode, micro.ErrorHeader: message, headerContentType: contentType} {
			if v != "" {
				h.Set(k, v)
			}
		}
		got := decodeError(&nats.Msg{Header: h, Data: body})
		if got == nil {
			if (rpcCode != "" && rpcCode != "ok") || svcCode != "" {
				t.Fatalf("error headers %v decoded as success", h)
			}
			return
		}
		if got.Code() == 0 {
			t.Fatalf("decoded an error with code 0 from %v", h)
		}
		c, _ := parseContentType(contentType)
		h2, body2 := encodeError(got, c)
		again := decodeError(&nats.Msg{Header: h2, Data: body2})
		if again == nil || again.Code() != got.Code() || again.Message() != sanitizeMessage(got.Message()) || len(again.Details()) != len(got.Details()) {
			t.Fatalf("re-sent %v (%d details) came back as %v", got, len(got.Details()), again)
		}
		if v := h2.Get(micro.ErrorCodeHeader); v == "" || strings.Trim(v, "0123456789") != "" {
			t.Fatalf("Nats-Service-Error-Code %q is not a number", v)
		}
		if v := h2.Get(micro.ErrorHeader); v == "" || strings.ContainsAny(v, "\r\n") {
			t.Fatalf("Nats-Service-Error %q is empty or spans lines", v)
		}
	})
}

// newFuzzHandler binds a GenerateQuest handler that echoes the player level.
func newFuzzHandler(tb testing.TB) *boundHandler {
	tb.Helper()
	md := questsystemv1.File_gaming_quest_system_v1_quest_system_proto.Services().ByName("QuestSystemService").Methods().ByName("GenerateQuest")
	m, err := methodSpec(md)
	if err != nil {
		tb.Fatal(err)
	}
	h := NewUnaryHandler(md, func(_ context.Context, req *questsystemv1.GenerateQuestRequest) (*questsystemv1.GenerateQuestResponse, error) {
		return &questsystemv1.GenerateQuestResponse{Quest: &questsystemv1.Quest{RecommendedLevel: req.GetPlayerLevel()}}, nil
	})
	bound, err := h.bind(m, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return bound
}

// FuzzDecodeRequest feeds arbitrary bodies to a handler's request decoding,
// in both encodings: it must answer invalid_argument or call the handler,
// never panic, and what it accepts must survive re-encoding.
func FuzzDecodeRequest(f *testing.F) {
	full := &questsystemv1.GenerateQuestRequest{PlayerId: "p-1", PlayerLevel: 12, RegionId: "r", Hints: map[string]string{"mood": "grim"}, ExcludedQuestIds: []string{"a", "b"}}
	bin, _ := proto.Marshal(full)
	js, _ := jsonMarshal.Marshal(full)
	f.Add(bin, false)
	f.Add(js, true)
	f.Add([]byte{}, false)
	f.Add([]byte(`{}`), true)
	f.Add([]byte(`{"playerLevel": "12"}`), true)
	f.Add([]byte(`{"playerLevel": 1e40}`), true)
	f.Add([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false)
	f.Add([]byte{0x42, 0x04, 0x0a, 0x02, 0xff, 0xfe}, false)
	h := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		c := codecProto
		if json {
			c = codecJSON
		}
		res, err := h.unary(context.Background(), c, body)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("decoding %q failed with %v; want invalid_argument", body, err)
			}
			return
		}
		req := &questsystemv1.GenerateQuestRequest{}
		if err := c.unmarshal(body, req); err != nil {
			t.Fatalf("handler accepted %q but it does not decode: %v", body, err)
		}
		if got := res.(*questsystemv1.GenerateQuestResponse).GetQuest().GetRecommendedLevel(); got != req.GetPlayerLevel() {
			t.Fatalf("handler saw level %d; decoded %d", got, req.GetPlayerLevel())
		}
		again, err := c.marshal(nil, req)
		if err != nil {
			t.Fatalf("re-encode %v: %v", req, err)
		}
		back := &questsystemv1.GenerateQuestRequest{}
		if err := c.unmarshal(again, back); err != nil || !proto.Equal(back, req) {
			t.Fatalf("%v did not survive re-encoding: %v, %v", req, back, err)
		}
	})
}
