package runtimetest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// TestStreamHostileClient: a client that opens a server stream and then
// never grants credit, keeping the stream alive with heartbeats, or
// falls silent, or vanishes mid-stream, holds the handler's Send only
// until the stream's deadline or the service's liveness timeout ends: the
// handler returns, its stream slot is freed (streams_active back to 0, and
// both slots of WithMaxStreams(2) serve again), and other callers are
// served all along.
func TestStreamHostileClient(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// timeout is the stream's Nats-Rpc-Timeout; "" for none.
		timeout string
		// credit is the initial credit; the client never grants more.
		credit string
		// heartbeats: the client keeps the stream alive while it grants
		// nothing.
		heartbeats bool
		// vanish: the client's connection closes after the first message.
		vanish bool
		// min and max bound how long after the open the handler's Send
		// fails.
		min, max time.Duration
		code     natsrpc.Code
	}{
		{name: "alive without credit until the deadline", timeout: "800", credit: "1", heartbeats: true, min: 700 * time.Millisecond, max: 3 * time.Second, code: natsrpc.CodeDeadlineExceeded},
		{name: "silent without credit", credit: "1", max: 3 * time.Second, code: natsrpc.CodeCanceled},
		{name: "vanishes mid-stream", credit: "3", vanish: true, max: 3 * time.Second, code: natsrpc.CodeCanceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, cnc, snc := testConns(t)
			type release struct {
				err  error
				sent int
				at   time.Time
			}
			released := make(chan release, 1)
			handler := func(ctx context.Context, req *str, s *natsrpc.HandlerSendStream[str]) error {
				if req.GetValue() != "hostile" {
					return countTo(ctx, req, s)
				}
				for i := 0; ; i++ {
					if err := s.Send(&str{Value: "tick"}); err != nil {
						released <- release{err, i, time.Now()}
						return err
					}
				}
			}
			svc := startService(t, snc, streamService, []natsrpc.Handler{watchHandler(handler)}, fastHeartbeat, natsrpc.WithMaxStreams(2))

			hnc := cnc
			if c.vanish {
				hnc = natstest.Connect(t, srv)
			}
			inbox := nats.NewInbox()
			sub, err := hnc.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := proto.Marshal(&str{Value: "hostile"})
			h := nats.Header{
				"Nats-Rpc-Stream":       {"1"},
				"Nats-Rpc-Credit":       {c.credit},
				"Nats-Rpc-Credit-Bytes": {"1000000"},
				"Nats-Rpc-Heartbeat":    {"50"},
			}
			if c.timeout != "" {
				h.Set("Nats-Rpc-Timeout", c.timeout)
			}
			opened := time.Now()
			if err := hnc.PublishMsg(&nats.Msg{Subject: streamWatchSubject, Reply: inbox, Data: body, Header: h}); err != nil {
				t.Fatal(err)
			}
			open, err := sub.NextMsg(2 * time.Second)
			if err != nil || open.Header.Get("Nats-Rpc-Frame") != "open" {
				t.Fatalf("no open frame: %v %v", open, err)
			}
			control := open.Header.Get("Nats-Rpc-Control")
			stopBeats := make(chan struct{})
			defer close(stopBeats)
			if c.heartbeats {
				go func() {
					tick := time.NewTicker(50 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stopBeats:
							return
						case <-tick.C:
							_ = publishFrame(cnc, control, "Nats-Rpc-Frame", "heartbeat", "Nats-Rpc-Seq", "0")
						}
					}
				}()
			}
			if c.vanish {
				if _, err := sub.NextMsg(2 * time.Second); err != nil {
					t.Fatal(err)
				}
				hnc.Close()
			}

			// While the hostile stream holds its slot, others are served.
			for i := range 3 {
				// The previous call's slot is freed just after its end frame
				// reaches the client: retry resource_exhausted briefly, as
				// the error says to.
				st, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: "3"})
				for try := 0; err != nil && natsrpc.CodeOf(err) == natsrpc.CodeResourceExhausted && try < 50; try++ {
					time.Sleep(20 * time.Millisecond)
					st, err = watchClient(cnc).CallServerStream(t.Context(), &str{Value: "3"})
				}
				if err != nil {
					t.Fatalf("call %d while the hostile stream runs: %v", i, err)
				}
				if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0,1,2" {
					t.Fatalf("call %d while the hostile stream runs: %q, %v", i, got, err)
				}
			}
			select {
			case r := <-released:
				if c.min > 0 {
					t.Fatalf("the handler's Send failed after %s (%v); the client kept the stream alive, so it should block until the deadline", r.at.Sub(opened), r.err)
				}
				released <- r
			default:
			}

			r := within(t, c.max+time.Second, "the handler's Send to fail", released)
			d := r.at.Sub(opened)
			if d < c.min || d > c.max {
				t.Errorf("the handler's Send failed %s after the open; want between %s and %s", d.Round(time.Millisecond), c.min, c.max)
			}
			if got := natsrpc.CodeOf(r.err); got != c.code {
				t.Errorf("Send's error %v (%s); want %s", r.err, got, c.code)
			}
			if credit, _ := strconv.Atoi(c.credit); r.sent > credit {
				t.Errorf("the handler sent %d messages; the client granted %d", r.sent, credit)
			}
			t.Logf("released after %s with %v, %d sent", d.Round(time.Millisecond), r.err, r.sent)
			if c.code == natsrpc.CodeDeadlineExceeded {
				// The client, still there, is told so.
				for {
					m, err := sub.NextMsg(2 * time.Second)
					if err != nil {
						t.Fatalf("no end frame after the deadline: %v", err)
					}
					if m.Header.Get("Nats-Rpc-Frame") == "end" {
						if got := m.Header.Get("Nats-Rpc-Code"); got != "deadline_exceeded" {
							t.Errorf("end frame with code %q; want deadline_exceeded", got)
						}
						break
					}
				}
			}

			// The slot is free: both of the two serve at once.
			waitFor(t, "streams_active to drop to 0", func() bool { return endpointData(t, svc, "Watch").StreamsActive == 0 })
			a, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: "2"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: "2"})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []*natsrpc.ClientRecvStream[str]{a, b} {
				if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0,1" {
					t.Errorf("a stream after the release: %q, %v", got, err)
				}
			}
		})
	}
}
