package runtimetest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
)

// The idle-stream tests keep one side of a stream, or both, silent for
// several liveness periods: heartbeats, not data, must keep the stream
// alive (docs/wire.md, 11.6). LLM work is slow: a handler waiting seconds
// for its first token, or a client waiting in Recv, must not be given up.
// With a heartbeat every 50ms and a peer given up after 500ms of silence,
// a side that sends no heartbeats is given up long before an idle phase of
// three liveness periods ends.
const (
	idleHeartbeat = 50 * time.Millisecond
	idleLiveness  = 500 * time.Millisecond
	idlePhase     = 3 * idleLiveness
)

var idleHeartbeats = natsrpc.WithHeartbeat(idleHeartbeat, idleLiveness)

// idle waits out an idle phase in a handler; it fails if the handler's
// context ends first (the runtime gave the client up).
func idle(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("the handler's context ended during its idle phase: %w", context.Cause(ctx))
	case <-time.After(idlePhase):
		return nil
	}
}

// idleStream is what one idle-stream case shares between its handler and
// its client.
type idleStream struct {
	handlerDone chan error         // what the handler returned
	blocked     chan time.Duration // how long a Send waited for credit
}

func (s *idleStream) done(err error) error {
	s.handlerDone <- err
	return err
}

// timedSend runs send and reports how long it took on s.blocked.
func (s *idleStream) timedSend(send func() error) error {
	start := time.Now()
	err := send()
	s.blocked <- time.Since(start)
	return err
}

// wantBlocked checks that the Send the case expected to wait for credit
// did wait for the peer's idle phase: otherwise the case tested nothing
// about a side blocked on credit.
func (s *idleStream) wantBlocked(t *testing.T, who string) {
	t.Helper()
	if d := within(t, 2*time.Second, who+"'s Send finishing", s.blocked); d < idlePhase/2 {
		t.Errorf("%s's Send waited %s for credit; want it blocked through the peer's idle phase of %s", who, d, idlePhase)
	}
}

func echoAll(s *natsrpc.HandlerBidiStream[str, str]) error {
	for m, err := range s.All() {
		if err != nil {
			return err
		}
		if err := s.Send(&str{Value: "echo " + m.GetValue()}); err != nil {
			return err
		}
	}
	return nil
}

func chatRecv(t *testing.T, chat *natsrpc.ClientBidiStream[str, str], want string) {
	t.Helper()
	m, err := chat.Recv()
	if err != nil {
		t.Fatalf("Recv (want %q): %v", want, err)
	}
	if m.GetValue() != want {
		t.Fatalf("Recv = %q; want %q", m.GetValue(), want)
	}
}

func chatEnd(t *testing.T, chat *natsrpc.ClientBidiStream[str, str]) {
	t.Helper()
	if m, err := chat.Recv(); err != io.EOF {
		t.Fatalf("Recv = %v, %v; want the end of the stream", m, err)
	}
}

func mustSend(t *testing.T, send func(*str) error, v string) {
	t.Helper()
	if err := send(&str{Value: v}); err != nil {
		t.Fatalf("Send(%q): %v", v, err)
	}
}

// TestStreamIdle keeps the handler, the client or both silent for three
// liveness periods in every kind of stream: the stream must survive on
// heartbeats alone. It fails when either side stops sending heartbeats
// (the service's, when the handler sleeps or waits for credit; the
// client's, when it waits in Recv, waits for credit or does nothing).
func TestStreamIdle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// handlerWindow is the flow-control window of the client's
		// messages, when the case blocks the client on credit (0: the
		// default). The cases that block the handler set the client's.
		handlerWindow int
		handlers      func(*idleStream) []natsrpc.Handler
		client        func(t *testing.T, ctx context.Context, nc *nats.Conn, s *idleStream)
	}{
		{
			name: "server stream, handler silent before its first Send, client waiting in Recv",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{watchHandler(func(ctx context.Context, _ *str, st *natsrpc.HandlerSendStream[str]) error {
					if err := idle(ctx); err != nil {
						return s.done(err)
					}
					return s.done(countTo(ctx, &str{Value: "2"}, st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				st, err := watchClient(nc, idleHeartbeats).CallServerStream(ctx, &str{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0,1" {
					t.Fatalf("received %q, then %v; want 0,1 and the end", got, err)
				}
			},
		},
		{
			name: "server stream, handler blocked on credit, client silent",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{watchHandler(func(_ context.Context, _ *str, st *natsrpc.HandlerSendStream[str]) error {
					if err := st.Send(&str{Value: "0"}); err != nil {
						return s.done(err)
					}
					// The client's window is one message: this Send waits
					// until the client reads the first.
					if err := s.timedSend(func() error { return st.Send(&str{Value: "1"}) }); err != nil {
						return s.done(err)
					}
					return s.done(nil)
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, s *idleStream) {
				st, err := watchClient(nc, idleHeartbeats, natsrpc.WithStreamWindow(1, 1<<20)).CallServerStream(ctx, &str{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				time.Sleep(idlePhase)
				if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0,1" {
					t.Fatalf("received %q, then %v; want 0,1 and the end", got, err)
				}
				s.wantBlocked(t, "the handler")
			},
		},
		{
			name: "server stream, both silent",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{watchHandler(func(ctx context.Context, _ *str, st *natsrpc.HandlerSendStream[str]) error {
					if err := idle(ctx); err != nil {
						return s.done(err)
					}
					return s.done(countTo(ctx, &str{Value: "1"}, st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				st, err := watchClient(nc, idleHeartbeats).CallServerStream(ctx, &str{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				time.Sleep(idlePhase) // not in Recv either
				if got, err := recvAll(t, st); err != nil || strings.Join(got, ",") != "0" {
					t.Fatalf("received %q, then %v; want 0 and the end", got, err)
				}
			},
		},
		{
			name: "client stream, handler silent before its response, client waiting in CloseAndRecv",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewClientStreamHandler(streamUpload, func(ctx context.Context, st *natsrpc.HandlerRecvStream[str]) (*str, error) {
					got, err := joinAll(st)
					if err != nil {
						return nil, s.done(err)
					}
					if err := idle(ctx); err != nil {
						return nil, s.done(err)
					}
					return &str{Value: got}, s.done(nil)
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				up := uploadCall(t, ctx, nc)
				mustSend(t, up.Send, "a")
				mustSend(t, up.Send, "b")
				if res, err := up.CloseAndRecv(); err != nil || res.GetValue() != "ab" {
					t.Fatalf("CloseAndRecv = %v, %v; want ab", res, err)
				}
			},
		},
		{
			name:          "client stream, handler silent before reading, client blocked on credit",
			handlerWindow: 1,
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewClientStreamHandler(streamUpload, func(ctx context.Context, st *natsrpc.HandlerRecvStream[str]) (*str, error) {
					if err := idle(ctx); err != nil {
						return nil, s.done(err)
					}
					got, err := joinAll(st)
					if err != nil {
						return nil, s.done(err)
					}
					return &str{Value: got}, s.done(nil)
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, s *idleStream) {
				up := uploadCall(t, ctx, nc)
				mustSend(t, up.Send, "a")
				// The handler's window is one message: this Send waits
				// until the handler reads the first.
				if err := s.timedSend(func() error { return up.Send(&str{Value: "b"}) }); err != nil {
					t.Fatalf("Send(b): %v", err)
				}
				s.wantBlocked(t, "the client")
				if res, err := up.CloseAndRecv(); err != nil || res.GetValue() != "ab" {
					t.Fatalf("CloseAndRecv = %v, %v; want ab", res, err)
				}
			},
		},
		{
			name: "client stream, client silent between messages, handler waiting in Recv",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewClientStreamHandler(streamUpload, func(_ context.Context, st *natsrpc.HandlerRecvStream[str]) (*str, error) {
					got, err := joinAll(st)
					if err != nil {
						return nil, s.done(err)
					}
					return &str{Value: got}, s.done(nil)
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				up := uploadCall(t, ctx, nc)
				mustSend(t, up.Send, "a")
				time.Sleep(idlePhase)
				mustSend(t, up.Send, "b")
				if res, err := up.CloseAndRecv(); err != nil || res.GetValue() != "ab" {
					t.Fatalf("CloseAndRecv = %v, %v; want ab", res, err)
				}
			},
		},
		{
			name: "bidi stream, handler silent before its first Send, client waiting in Recv",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(ctx context.Context, st *natsrpc.HandlerBidiStream[str, str]) error {
					m, err := st.Recv()
					if err != nil {
						return s.done(err)
					}
					if err := idle(ctx); err != nil {
						return s.done(err)
					}
					if err := st.Send(&str{Value: "echo " + m.GetValue()}); err != nil {
						return s.done(err)
					}
					return s.done(echoAll(st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				chat := chatCall(t, ctx, nc)
				mustSend(t, chat.Send, "a")
				chatRecv(t, chat, "echo a")
				if err := chat.CloseSend(); err != nil {
					t.Fatal(err)
				}
				chatEnd(t, chat)
			},
		},
		{
			name: "bidi stream, handler blocked on credit, client silent",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(_ context.Context, st *natsrpc.HandlerBidiStream[str, str]) error {
					m, err := st.Recv()
					if err != nil {
						return s.done(err)
					}
					if err := st.Send(&str{Value: "1 " + m.GetValue()}); err != nil {
						return s.done(err)
					}
					// The client's window is one message.
					if err := s.timedSend(func() error { return st.Send(&str{Value: "2 " + m.GetValue()}) }); err != nil {
						return s.done(err)
					}
					return s.done(echoAll(st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, s *idleStream) {
				chat := chatCall(t, ctx, nc, natsrpc.WithStreamWindow(1, 1<<20))
				mustSend(t, chat.Send, "a")
				if err := chat.CloseSend(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(idlePhase)
				chatRecv(t, chat, "1 a")
				chatRecv(t, chat, "2 a")
				chatEnd(t, chat)
				s.wantBlocked(t, "the handler")
			},
		},
		{
			name: "bidi stream, client silent, handler waiting in Recv",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(_ context.Context, st *natsrpc.HandlerBidiStream[str, str]) error {
					return s.done(echoAll(st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				chat := chatCall(t, ctx, nc)
				mustSend(t, chat.Send, "a")
				chatRecv(t, chat, "echo a")
				time.Sleep(idlePhase)
				mustSend(t, chat.Send, "b")
				chatRecv(t, chat, "echo b")
				if err := chat.CloseSend(); err != nil {
					t.Fatal(err)
				}
				chatEnd(t, chat)
			},
		},
		{
			name: "bidi stream, both silent",
			handlers: func(s *idleStream) []natsrpc.Handler {
				return []natsrpc.Handler{natsrpc.NewBidiStreamHandler(streamChat, func(ctx context.Context, st *natsrpc.HandlerBidiStream[str, str]) error {
					m, err := st.Recv()
					if err != nil {
						return s.done(err)
					}
					if err := st.Send(&str{Value: "echo " + m.GetValue()}); err != nil {
						return s.done(err)
					}
					if err := idle(ctx); err != nil {
						return s.done(err)
					}
					return s.done(echoAll(st))
				})}
			},
			client: func(t *testing.T, ctx context.Context, nc *nats.Conn, _ *idleStream) {
				chat := chatCall(t, ctx, nc)
				mustSend(t, chat.Send, "a")
				chatRecv(t, chat, "echo a")
				time.Sleep(idlePhase) // while the handler idles too
				mustSend(t, chat.Send, "b")
				chatRecv(t, chat, "echo b")
				if err := chat.CloseSend(); err != nil {
					t.Fatal(err)
				}
				chatEnd(t, chat)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cnc, snc := testConns(t)
			s := &idleStream{handlerDone: make(chan error, 1), blocked: make(chan time.Duration, 1)}
			hopts := []natsrpc.HandlerOption{idleHeartbeats}
			if c.handlerWindow > 0 {
				hopts = append(hopts, natsrpc.WithStreamWindow(c.handlerWindow, 1<<20))
			}
			startService(t, snc, streamService, c.handlers(s), hopts...)
			// Bounds the case if a broken side never gives up.
			ctx, cancel := context.WithTimeout(t.Context(), idlePhase+10*time.Second)
			defer cancel()
			t.Cleanup(func() {
				if !t.Failed() {
					return
				}
				// Say which side gave the other up: a service that stops
				// hearing from its client cancels the handler and falls
				// silent, so the client then reports the service gone.
				select {
				case err := <-s.handlerDone:
					t.Logf("the handler returned %v", err)
				case <-time.After(time.Second):
				}
			})
			start := time.Now()
			c.client(t, ctx, cnc, s)
			if err := within(t, 2*time.Second, "the handler returning", s.handlerDone); err != nil {
				t.Errorf("handler: %v", err)
			}
			if d := time.Since(start); d < idlePhase {
				t.Errorf("the stream ended after %s; the case should have kept a side idle for %s", d, idlePhase)
			}
		})
	}
}

func joinAll(st *natsrpc.HandlerRecvStream[str]) (string, error) {
	var b strings.Builder
	for m, err := range st.All() {
		if err != nil {
			return "", err
		}
		b.WriteString(m.GetValue())
	}
	return b.String(), nil
}

func uploadCall(t *testing.T, ctx context.Context, nc *nats.Conn) *natsrpc.ClientSendStream[str, str] {
	t.Helper()
	up, err := natsrpc.NewClientStreamClient[str, str](nc, streamUpload, idleHeartbeats).CallClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() })
	return up
}

func chatCall(t *testing.T, ctx context.Context, nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.ClientBidiStream[str, str] {
	t.Helper()
	chat, err := natsrpc.NewBidiStreamClient[str, str](nc, streamChat, append([]natsrpc.ClientOption{idleHeartbeats}, opts...)...).CallBidiStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chat.Close() })
	return chat
}
