package runtimetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// longText is kilobytes of prose, what compression is for (generated
// text, prompts, lore).
var longText = strings.Repeat("The wolves came down from the northern ridge at dusk, and the guard raised the horn. ", 200)

// TestCompressionUnary checks wire.md §15 for unary calls: a service with
// WithCompression compresses a large response for a caller that announces
// S2, and only for it; a client with WithCompression announces and decodes
// it; the answer is the same either way.
func TestCompressionUnary(t *testing.T) {
	t.Parallel()
	_, client, service := testConns(t)
	want := &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: "i-1", Summary: longText}}
	testService(t, service, []natsrpc.Handler{getItemHandler(func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		return want, nil
	})}, natsrpc.WithCompression(1024))
	plain, _ := proto.Marshal(want)
	req, _ := proto.Marshal(&natsrpctestv1.GetRequest{Id: "i-1"})

	// On the wire: compressed for a caller that announces s2, plain
	// otherwise.
	for _, announce := range []bool{true, false} {
		h := nats.Header{}
		if announce {
			h.Set("Nats-Rpc-Accept-Encoding", "gzip, s2")
		}
		resp, err := client.RequestMsg(&nats.Msg{Subject: getItemSubject, Header: h, Data: req}, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		enc := resp.Header.Get("Nats-Rpc-Encoding")
		switch {
		case announce && enc != "s2":
			t.Fatalf("announced s2: Nats-Rpc-Encoding = %q; want s2", enc)
		case announce:
			if len(resp.Data) >= len(plain)/4 {
				t.Errorf("compressed body is %d bytes for %d plain; want much smaller", len(resp.Data), len(plain))
			}
			got, err := s2.Decode(nil, resp.Data)
			if err != nil || string(got) != string(plain) {
				t.Fatalf("s2 body decodes to %d bytes (%v); want the %d-byte response", len(got), err, len(plain))
			}
		case enc != "":
			t.Fatalf("not announced: Nats-Rpc-Encoding = %q; want none", enc)
		case string(resp.Data) != string(plain):
			t.Fatalf("not announced: body differs from the plain response")
		}
	}

	// Through the clients: the same answer with and without compression.
	for _, opts := range [][]natsrpc.ClientOption{nil, {natsrpc.WithCompression(1)}} {
		var hdr nats.Header
		got, err := getItemClient(client, opts...).CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "i-1"}, natsrpc.WithResponseHeader(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("response differs (options %v)", opts)
		}
		if compressed := hdr.Get("Nats-Rpc-Encoding") == "s2"; compressed != (opts != nil) {
			t.Errorf("options %v: response compressed = %v; want %v", opts, compressed, opts != nil)
		}
	}
}

// TestCompressionEvents checks §15 for events: a publisher with
// WithCompression sends large events compressed with Nats-Rpc-Encoding,
// its handler gets the event decoded, and an event in an encoding the
// runtime does not decode is refused (never handed to the handler) and
// counted as an error naming the header.
func TestCompressionEvents(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	log := &eventLog{}
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamNotify, log.handler(nil))})
	subject := "natsrpctest.v1.StreamService.Notify"
	raw, err := cnc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Unsubscribe()
	if err := cnc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := natsrpc.NewEventClient[str](cnc, streamNotify, natsrpc.WithCompression(1024))
	if err := c.Publish(context.Background(), &str{Value: longText}); err != nil {
		t.Fatal(err)
	}
	m, err := raw.NextMsg(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if enc := m.Header.Get("Nats-Rpc-Encoding"); enc != "s2" || len(m.Data) >= len(longText)/4 {
		t.Fatalf("published event: Nats-Rpc-Encoding %q, %d bytes; want s2 and much smaller than %d", enc, len(m.Data), len(longText))
	}
	waitUntil(t, 3*time.Second, "the handler to get the event", func() bool { return log.len() == 1 })
	if got := log.values()[0]; got != longText {
		t.Fatalf("handler got %d bytes; want the %d-byte event", len(got), len(longText))
	}
	// A small event from the same publisher goes as it is.
	if err := c.Publish(context.Background(), &str{Value: "short"}); err != nil {
		t.Fatal(err)
	}
	if m, err = raw.NextMsg(3 * time.Second); err != nil || m.Header.Get("Nats-Rpc-Encoding") != "" {
		t.Fatalf("small event: %v, header %v; want no Nats-Rpc-Encoding", err, m.Header)
	}
	waitUntil(t, 3*time.Second, "the small event", func() bool { return log.len() == 2 })

	// An encoding the runtime does not decode: refused.
	if err := cnc.PublishMsg(&nats.Msg{Subject: subject, Header: nats.Header{"Nats-Rpc-Encoding": {"br"}}, Data: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*time.Second, "the refused event to be counted", func() bool {
		for _, e := range svc.Stats().Endpoints {
			if strings.Contains(e.LastError, "Nats-Rpc-Encoding") {
				return true
			}
		}
		return false
	})
	if n := log.len(); n != 2 {
		t.Errorf("handler called %d times; want 2 (the br event refused)", n)
	}
}

// TestCompressionDurableEvents checks §15 for durable events: a publisher
// with WithCompression stores a large event compressed, its handler gets
// it decoded, and an event in an encoding the runtime does not decode is
// parked at once as undecodable, with an error naming the header, without
// calling the handler.
func TestCompressionDurableEvents(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	var log eventLog
	svc := startService(t, snc, streamService, []natsrpc.Handler{natsrpc.NewEventHandler(streamRecord, log.handler(nil))})
	c := natsrpc.NewEventClient[str](cnc, streamRecord, natsrpc.WithCompression(1024))
	if err := c.Publish(t.Context(), &str{Value: longText}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the handler to get the event", func() bool { return log.len() == 1 })
	if got := log.values()[0]; got != longText {
		t.Fatalf("handler got %d bytes; want the %d-byte event", len(got), len(longText))
	}
	js, err := jetstream.New(cnc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(t.Context(), streamRecordStream)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := stream.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if enc := stored.Header.Get("Nats-Rpc-Encoding"); enc != "s2" || len(stored.Data) >= len(longText)/4 {
		t.Fatalf("stored event: Nats-Rpc-Encoding %q, %d bytes; want s2 and much smaller than %d", enc, len(stored.Data), len(longText))
	}

	if _, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: streamRecordSubject, Header: nats.Header{"Nats-Rpc-Encoding": {"zstd"}}, Data: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the zstd event parked", func() bool { return endpointData(t, svc, "Record").Parked == 1 })
	parked, err := js.Stream(t.Context(), streamRecordStream+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parked.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, e := m.Header.Get("Nats-Rpc-Parked-Reason"), m.Header.Get("Nats-Rpc-Parked-Error"); r != "undecodable" || !strings.Contains(e, "Nats-Rpc-Encoding") {
		t.Errorf("parked with reason %q, error %q; want undecodable and an error naming Nats-Rpc-Encoding", r, e)
	}
	if n := log.len(); n != 1 {
		t.Errorf("handler called %d times; want 1 (the zstd event parked)", n)
	}
}

// TestCompressionShadow checks that shadow traffic (WithShadow) compares
// messages, not wire bytes: a primary that compresses its response, or
// that gets a compressed request, mirrors the request decompressed and
// compares the response decompressed, so equal answers count as equal
// (not dropped as undecodable, not different).
func TestCompressionShadow(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	long := func(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Summary: longText}}, nil
	}
	testService(t, natstest.Connect(t, srv), []natsrpc.Handler{getItemHandler(long)}, natsrpc.WithSubjectPrefix("shadow"))
	svc := testService(t, snc, []natsrpc.Handler{getItemHandler(long)},
		natsrpc.WithCompression(1024), natsrpc.WithShadow(natsrpc.ShadowPolicy{Prefix: "shadow", Rate: 1, Timeout: 5 * time.Second}))

	// A compressed response.
	var hdr nats.Header
	res, err := getItemClient(cnc, natsrpc.WithCompression(1)).CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "i-1"}, natsrpc.WithResponseHeader(&hdr))
	if err != nil || res.GetItem().GetSummary() != longText {
		t.Fatalf("call: %v, %d bytes of summary", err, len(res.GetItem().GetSummary()))
	}
	if hdr.Get("Nats-Rpc-Encoding") != "s2" {
		t.Fatalf("response Nats-Rpc-Encoding = %q; want s2 (the test needs a compressed response)", hdr.Get("Nats-Rpc-Encoding"))
	}
	// A compressed request (no client of this runtime sends one; a
	// service decodes it).
	plain, _ := proto.Marshal(&natsrpctestv1.GetRequest{Id: "i-2", OwnerId: longText})
	if _, err := cnc.RequestMsg(&nats.Msg{Subject: getItemSubject, Header: nats.Header{"Nats-Rpc-Encoding": {"s2"}}, Data: s2.Encode(nil, plain)}, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both mirrored calls compared", func() bool {
		s := shadowOf(t, svc, "Get")
		return s.Equal+s.Different+s.CandidateErrors+s.Slow+s.Dropped == 2
	})
	if s := shadowOf(t, svc, "Get"); s.Equal != 2 {
		t.Fatalf("shadow stats %+v; want both answers equal", s)
	}
}

// TestCompressionStream checks §15 for server streams: a client with
// WithCompression announces s2 in the handshake, and a service with
// WithCompression then sends its large data frames compressed, with
// headers (Nats-Rpc-Seq, Nats-Rpc-Encoding), while small ones stay compact
// (no headers); a client that does not announce gets every frame plain.
// Both receive the same messages.
func TestCompressionStream(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	sent := []string{"tok", longText, "tok-2", longText + "!"}
	startService(t, snc, streamService, []natsrpc.Handler{watchHandler(func(_ context.Context, _ *str, s *natsrpc.HandlerSendStream[str]) error {
		for _, v := range sent {
			if err := s.Send(&str{Value: v}); err != nil {
				return err
			}
		}
		return nil
	})}, natsrpc.WithCompression(1024))
	snc2 := natstest.Connect(t, srv)
	sniff, err := snc2.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := snc2.Flush(); err != nil { // the subscription is in place before the first frame
		t.Fatal(err)
	}
	for _, announce := range []bool{true, false} {
		var opts []natsrpc.ClientOption
		if announce {
			opts = append(opts, natsrpc.WithCompression(1))
		}
		st, err := watchClient(cnc, opts...).CallServerStream(t.Context(), &str{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(t, st)
		if err != nil || strings.Join(got, "|") != strings.Join(sent, "|") {
			t.Fatalf("announce %v: received %d messages (%v); want the %d sent", announce, len(got), err, len(sent))
		}
		// The frames on the wire to the client's inbox.
		var compressed, compact int
		for {
			m, err := sniff.NextMsg(300 * time.Millisecond)
			if err != nil {
				break
			}
			switch {
			case len(m.Header) == 0:
				compact++
			case m.Header.Get("Nats-Rpc-Encoding") == "s2":
				compressed++
				if m.Header.Get("Nats-Rpc-Seq") == "" || len(m.Data) >= len(longText)/4 {
					t.Errorf("compressed frame: headers %v, %d bytes; want Nats-Rpc-Seq and a small body", m.Header, len(m.Data))
				}
			case m.Header.Get("Nats-Rpc-Encoding") != "":
				t.Errorf("frame with Nats-Rpc-Encoding %q", m.Header.Get("Nats-Rpc-Encoding"))
			}
		}
		want := map[bool][2]int{true: {2, 2}, false: {0, 4}}[announce]
		if compressed != want[0] || compact != want[1] {
			t.Errorf("announce %v: %d compressed and %d compact data frames; want %d and %d", announce, compressed, compact, want[0], want[1])
		}
	}
}
