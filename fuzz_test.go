package natsrpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/proto"

	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
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
	_ = e.AddDetail(&natsrpctestv1.GetRequest{Id: "q"})
	_, status := encodeError(e, codecProto)
	_, jsonStatus := encodeError(e, codecJSON)
	f.Add("not_found", "404", "no such item", "", status)
	f.Add("not_found", "404", "no such item", "application/json", jsonStatus)
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

// newFuzzHandler binds a handler of the test schema's Generate that echoes
// the requested level.
func newFuzzHandler(tb testing.TB) *boundHandler {
	tb.Helper()
	md := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService").Methods().ByName("Generate")
	m, err := methodSpec(md)
	if err != nil {
		tb.Fatal(err)
	}
	h := NewUnaryHandler(md, func(_ context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
		return &natsrpctestv1.GenerateResponse{Item: &natsrpctestv1.Item{Level: req.GetLevel()}}, nil
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
	full := &natsrpctestv1.GenerateRequest{OwnerId: "p-1", Level: 12, RegionId: "r", Hints: map[string]string{"mood": "grim"}, ExcludedIds: []string{"a", "b"}}
	bin, _ := proto.Marshal(full)
	js, _ := jsonMarshal.Marshal(full)
	f.Add(bin, false)
	f.Add(js, true)
	f.Add([]byte{}, false)
	f.Add([]byte(`{}`), true)
	f.Add([]byte(`{"level": "12"}`), true)
	f.Add([]byte(`{"level": 1e40}`), true)
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
		req := &natsrpctestv1.GenerateRequest{}
		if err := c.unmarshal(body, req); err != nil {
			t.Fatalf("handler accepted %q but it does not decode: %v", body, err)
		}
		if got := res.(*natsrpctestv1.GenerateResponse).GetItem().GetLevel(); got != req.GetLevel() {
			t.Fatalf("handler saw level %d; decoded %d", got, req.GetLevel())
		}
		again, err := c.marshal(nil, req)
		if err != nil {
			t.Fatalf("re-encode %v: %v", req, err)
		}
		back := &natsrpctestv1.GenerateRequest{}
		if err := c.unmarshal(again, back); err != nil || !proto.Equal(back, req) {
			t.Fatalf("%v did not survive re-encoding: %v, %v", req, back, err)
		}
	})
}

// FuzzParseFrame feeds arbitrary stream control headers to the frame
// parser: it must never panic, and what it accepts must be a well-formed
// frame that survives being written and parsed again.
func FuzzParseFrame(f *testing.F) {
	f.Add("", "1", "", "", "", "")
	f.Add("open", "0", "64", "8388608", "_INBOX.abc.1", "1000")
	f.Add("heartbeat", "17", "80", "9000000", "", "")
	f.Add("credit", "0", "128", "16777216", "", "")
	f.Add("end", "42", "", "", "", "")
	f.Add("cancel", "3", "", "", "", "")
	f.Add("", "0", "", "", "", "")
	f.Add("open", "0", "", "", "_INBOX.>", "1000")
	f.Add("open", "0", "", "", "a..b", "0")
	f.Add("credit", "1", "12", "", "", "")
	f.Add("DATA", "99999999999999999999", "-1", "1e9", "x y", "+5")
	f.Fuzz(func(t *testing.T, kind, seq, credit, creditBytes, control, heartbeat string) {
		h := nats.Header{}
		for k, v := range map[string]string{headerFrame: kind, headerSeq: seq, headerCredit: credit, headerCreditBytes: creditBytes, headerControl: control, headerHeartbeat: heartbeat} {
			if v != "" {
				h.Set(k, v)
			}
		}
		fr, err := parseFrame(h)
		if err != nil {
			return
		}
		if fr.kind == frameData && fr.seq == 0 {
			t.Fatalf("accepted a data frame numbered 0: %v", h)
		}
		if fr.hasCredit != (credit != "" || creditBytes != "") {
			t.Fatalf("credit %q/%q parsed as hasCredit=%v", credit, creditBytes, fr.hasCredit)
		}
		if fr.kind == frameOpen && (!validInbox(fr.control) || fr.heartbeat <= 0) {
			t.Fatalf("accepted an open frame without a usable control inbox or heartbeat: %v", h)
		}
		if strings.ContainsAny(fr.control, " \t\r\n*>") && fr.kind == frameOpen {
			t.Fatalf("accepted control subject %q", fr.control)
		}
		// Write the frame as the runtime does and parse it again.
		h2 := nats.Header{headerSeq: formatCount(fr.seq)}
		if fr.kind != frameData {
			h2[headerFrame] = frameValues[fr.kind]
		}
		if fr.hasCredit {
			for k, v := range creditHeader(fr.credit, fr.creditBytes) {
				h2[k] = v
			}
		}
		if fr.kind == frameOpen {
			h2[headerControl] = []string{fr.control}
			h2[headerHeartbeat] = []string{encodeTimeout(fr.heartbeat)}
		}
		again, err := parseFrame(h2)
		if err != nil || again != fr {
			t.Fatalf("%+v written as %v came back as %+v, %v", fr, h2, again, err)
		}
	})
}

// FuzzReadCompactFrame feeds arbitrary payloads, as compact data frames
// (no headers), to the frame reader: it must never panic, and what it
// accepts must be a data frame numbered from 1 whose payload, written back
// as the runtime writes it, is the same bytes.
func FuzzReadCompactFrame(f *testing.F) {
	f.Add([]byte{1, 0x0a, 0x01, 'a'})
	f.Add([]byte{0x80, 0x01})
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0x81, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Fuzz(func(t *testing.T, payload []byte) {
		m := &nats.Msg{Data: slices.Clone(payload)}
		fr, err := readFrame(m)
		if err != nil {
			return
		}
		if fr.kind != frameData || fr.seq == 0 || fr.hasCredit {
			t.Fatalf("% x read as %+v", payload, fr)
		}
		again := append(binary.AppendUvarint(nil, fr.seq), m.Data...)
		if !bytes.Equal(again, payload) {
			t.Fatalf("% x read as frame %d with % x, which writes back as % x", payload, fr.seq, m.Data, again)
		}
	})
}

// FuzzParseStreamRequest feeds arbitrary handshake headers to the service's
// stream admission: it must never panic and only accept a request that
// grants credit and declares a heartbeat.
func FuzzParseStreamRequest(f *testing.F) {
	f.Add("1", "64", "8388608", "1000")
	f.Add("", "64", "8388608", "1000")
	f.Add("2", "64", "8388608", "1000")
	f.Add("1", "0", "8388608", "1000")
	f.Add("1", "64", "", "1000")
	f.Add("1", "64", "8388608", "0")
	f.Add("1", "18446744073709551615", "1", "9999999999")
	f.Fuzz(func(t *testing.T, version, credit, creditBytes, heartbeat string) {
		h := nats.Header{}
		for k, v := range map[string]string{headerStream: version, headerCredit: credit, headerCreditBytes: creditBytes, headerHeartbeat: heartbeat} {
			if v != "" {
				h.Set(k, v)
			}
		}
		r, err := parseStreamRequest(h)
		if err != nil {
			return
		}
		if version != streamProtocolVersion || r.credit == 0 || r.creditBytes == 0 || r.heartbeat <= 0 {
			t.Fatalf("accepted %v as %+v", h, r)
		}
		if liveness := livenessTimeout(DefaultLiveness, r.heartbeat); liveness > livenessFactor*maxPeerHeartbeat {
			t.Fatalf("heartbeat %s sets a liveness of %s", r.heartbeat, liveness)
		}
	})
}

// FuzzInbound drives a stream's receiving side with arbitrary frames and
// reads: whatever a peer sends, the queue never holds more than the credit
// granted, messages come out in order, and a broken sequence ends the
// direction with data_loss or internal.
func FuzzInbound(f *testing.F) {
	f.Add([]byte{1, 2, 3, 0, 0, 4, 0x82, 5})
	f.Add([]byte{1, 3})
	f.Add([]byte{1, 1, 0x80})
	f.Add([]byte{0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49})
	f.Fuzz(func(t *testing.T, ops []byte) {
		in := newInbound(streamSettings{window: 4, windowBytes: 64})
		var sent, read uint64
		for _, op := range ops {
			switch {
			case op == 0: // the application reads one
				in.mu.Lock()
				queued := len(in.queue) - in.head
				in.mu.Unlock()
				if queued == 0 {
					continue
				}
				m, _, err := in.next(context.Background(), nil, nil)
				if err != nil {
					if CodeOf(err) != CodeDataLoss && CodeOf(err) != CodeInternal {
						t.Fatalf("next: %v", err)
					}
					return
				}
				read++
				if got, _ := parseCount(m.Header.Get(headerSeq)); got != read {
					t.Fatalf("read message %d as number %d", got, read)
				}
			case op&0x80 != 0: // an end frame claiming op&0x7f messages
				e := in.onEnd(&nats.Msg{}, uint64(op&0x7f), nil, publicHeader)
				if e == nil && uint64(op&0x7f) != sent {
					t.Fatalf("end claiming %d accepted after %d", op&0x7f, sent)
				}
				return
			default: // a data frame numbered op&0x3f with op>>6 times 10 bytes
				seq := uint64(op & 0x3f)
				m := &nats.Msg{Header: nats.Header{headerSeq: formatCount(seq)}, Data: make([]byte, 10*int(op>>6))}
				if e := in.onData(m, seq, publicHeader); e != nil {
					if c := e.Code(); c != CodeDataLoss && c != CodeInternal {
						t.Fatalf("onData: %v", e)
					}
					return
				}
				sent++
				if seq != sent {
					t.Fatalf("accepted message %d as the %dth", seq, sent)
				}
				in.mu.Lock()
				over := in.received > in.grantSeq
				in.mu.Unlock()
				if over {
					t.Fatalf("queued beyond the credit")
				}
			}
		}
	})
}

// FuzzDecodeBody checks the decoder of compressed bodies (wire.md §15): a
// body without Nats-Rpc-Encoding comes back as it is; an s2 body decodes
// to what was compressed, or fails with an error, never a panic and never
// more than MaxDecompressedSize; any other encoding is refused; and what
// compress produces always decodes back.
func FuzzDecodeBody(f *testing.F) {
	long := bytes.Repeat([]byte("the guard raised the horn "), 100)
	compressed, _ := compress(long, 1)
	f.Add("", []byte("plain"))
	f.Add("s2", compressed)
	f.Add("S2", compressed)
	f.Add("s2", []byte{0xff, 0xff, 0xff, 0xff, 0x0f})       // claims 4 GB
	f.Add("s2", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80}) // bad varint
	f.Add("br", []byte{1, 2, 3})
	f.Add("s2,s2", compressed)
	f.Fuzz(func(t *testing.T, enc string, body []byte) {
		h := nats.Header{}
		if enc != "" {
			h[headerEncoding] = []string{enc}
		}
		out, err := decodeBody(h, body)
		switch {
		case enc == "":
			if err != nil || !bytes.Equal(out, body) {
				t.Fatalf("no encoding: got %q, %v; want the body as it is", out, err)
			}
		case !strings.EqualFold(enc, "s2"):
			if err == nil || !strings.Contains(err.Error(), headerEncoding) {
				t.Fatalf("encoding %q: err = %v; want a refusal naming %s", enc, err, headerEncoding)
			}
		case err == nil && len(out) > MaxDecompressedSize:
			t.Fatalf("decoded %d bytes, over MaxDecompressedSize", len(out))
		}
		// Whatever compress produces decodes back.
		if c, ok := compress(body, 1); ok {
			got, err := decodeBody(nats.Header{headerEncoding: {"s2"}}, c)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("compress then decode: %v; want the %d-byte body back", err, len(body))
			}
		}
	})
}

// FuzzAcceptsS2 checks the reader of Nats-Rpc-Accept-Encoding: a list of
// encodings separated by commas, spaces around items ignored, case
// ignored; "s2" must be a whole item.
func FuzzAcceptsS2(f *testing.F) {
	for _, s := range []string{"s2", "S2", "gzip, s2", " s2 ,zstd", "s22", "xs2", "", ",", "s2,", "gzip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want := false
		for _, item := range strings.Split(v, ",") {
			// ASCII case only: header tokens are ASCII, and Unicode folding
			// would take "ſ2" (long s) for "s2".
			if t := strings.Trim(item, " \t"); t == "s2" || t == "S2" {
				want = true
			}
		}
		if got := acceptsS2(nats.Header{headerAcceptEncoding: {v}}); got != want {
			t.Fatalf("acceptsS2(%q) = %v; want %v", v, got, want)
		}
	})
}
