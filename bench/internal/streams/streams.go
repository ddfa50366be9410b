// Package streams benchmarks natsrpc's streams and durable events against
// the floor the same NATS server gives without natsrpc:
//
//   - a server stream (the generated client and handler) against raw
//     nats.go publish/subscribe of the same messages: the publisher
//     marshals and publishes, the subscriber receives and unmarshals, with
//     no headers, numbering, flow control or liveness;
//   - durable events: publishing with the generated event client against
//     raw JetStream publish (both wait for JetStream's acknowledgement),
//     and consuming with a generated handler (which confirms its acks)
//     against a raw JetStream pull consumer.
package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/bench/internal/payload"
	aiv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
)

// Message is one kind of streamed message.
type Message struct {
	// Name is the message's row label.
	Name string
	// Msg is the message every stream sends.
	Msg *aiv1.StreamGenerateResponse
	// Size is its binary encoding's size.
	Size int
}

// Messages are the streamed messages measured: an LLM token (the
// ai-integration stream's hot path, 40 bytes) and a kilobyte of narration
// text (story-teller's streamed narration, state watches).
var Messages = func() []*Message {
	token := &aiv1.StreamGenerateResponse{GenerationId: "gen_3f9a1c2e7b5d4e10", Sequence: 117,
		Event: &aiv1.StreamGenerateResponse_Delta{Delta: &aiv1.TokenDelta{Text: " traveller", TokenCount: 1}}}
	chunk := &aiv1.StreamGenerateResponse{GenerationId: "gen_3f9a1c2e7b5d4e10", Sequence: 4}
	text := ""
	for len(text) < 1000 {
		text += "The wolves came down from the northern ridge at dusk, and the guard raised the horn. "
	}
	chunk.Event = &aiv1.StreamGenerateResponse_Delta{Delta: &aiv1.TokenDelta{Text: text[:1000], TokenCount: 212}}
	var out []*Message
	for _, m := range []struct {
		name string
		msg  *aiv1.StreamGenerateResponse
	}{{"token", token}, {"1 KB chunk", chunk}} {
		out = append(out, &Message{Name: m.name, Msg: m.msg, Size: proto.Size(m.msg)})
	}
	return out
}()

// Streamer streams n messages from a server connection to a client
// connection and returns when the client has decoded the last one.
type Streamer struct {
	Name   string
	Stream func(ctx context.Context, n int) error
	Close  func()
}

const countHeader = "X-Bench-Count"

type tokenHandler struct {
	aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler
	msg *aiv1.StreamGenerateResponse
}

func (h tokenHandler) StreamGenerate(ctx context.Context, _ *aiv1.StreamGenerateRequest, s *natsrpc.HandlerSendStream[aiv1.StreamGenerateResponse]) error {
	n, err := strconv.Atoi(s.RequestHeader().Get(countHeader))
	if err != nil {
		return natsrpc.NewError(natsrpc.CodeInvalidArgument, err)
	}
	for range n {
		if err := s.Send(h.msg); err != nil {
			return err
		}
	}
	return nil
}

// NewNatsrpcStreamer streams with the generated AIIntegrationService
// client and handler (StreamGenerate), default options, one connection
// each.
func NewNatsrpcStreamer(server, client *nats.Conn, m *Message, opts ...natsrpc.ClientOption) (*Streamer, error) {
	svc, err := aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(server, tokenHandler{msg: m.Msg})
	if err != nil {
		return nil, err
	}
	c := aiintegrationv1natsrpc.NewAIIntegrationServiceClient(client, opts...)
	req := &aiv1.StreamGenerateRequest{Feature: "bench"}
	return &Streamer{
		Name: "natsrpc",
		Stream: func(ctx context.Context, n int) error {
			st, err := c.StreamGenerate(ctx, req, natsrpc.WithHeader(countHeader, strconv.Itoa(n)))
			if err != nil {
				return err
			}
			got := 0
			for res, err := range st.All() {
				if err != nil {
					return err
				}
				if res.GetGenerationId() != m.Msg.GetGenerationId() {
					return errors.New("natsrpc stream: wrong message")
				}
				got++
			}
			if got != n {
				return fmt.Errorf("natsrpc stream: %d messages; want %d", got, n)
			}
			return nil
		},
		Close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = svc.Stop(ctx)
		},
	}, nil
}

// NewRawStreamer is the floor: on a trigger, a plain subscription callback
// on the server connection marshals and publishes n messages to the
// client's inbox; the client's subscription callback unmarshals each.
func NewRawStreamer(server, client *nats.Conn, m *Message) (*Streamer, error) {
	return newRawStreamer(server, client, m, false)
}

// NewRawSeqHeaderStreamer is the floor plus one NATS header per message,
// a sequence number the client reads back: what headers alone cost, the
// part of natsrpc's per-message overhead that belongs to the header
// (natsrpc numbers every frame in one).
func NewRawSeqHeaderStreamer(server, client *nats.Conn, m *Message) (*Streamer, error) {
	return newRawStreamer(server, client, m, true)
}

func newRawStreamer(server, client *nats.Conn, m *Message, seqHeader bool) (*Streamer, error) {
	const seqKey = "Nats-Rpc-Seq"
	trigger := nats.NewInbox()
	sub, err := server.Subscribe(trigger, func(req *nats.Msg) {
		n, _ := strconv.Atoi(string(req.Data))
		hdr := nats.Header{}
		for i := range n {
			b, err := proto.Marshal(m.Msg)
			if err != nil {
				return
			}
			msg := &nats.Msg{Subject: req.Reply, Data: b}
			if seqHeader {
				hdr[seqKey] = []string{strconv.Itoa(i + 1)}
				msg.Header = hdr
			}
			if err := server.PublishMsg(msg); err != nil {
				return
			}
		}
		_ = server.Flush()
	})
	if err == nil {
		err = server.Flush()
	}
	if err != nil {
		return nil, err
	}
	name := "raw nats.go"
	if seqHeader {
		name = "raw nats.go + seq header"
	}
	return &Streamer{
		Name: name,
		Stream: func(ctx context.Context, n int) error {
			var (
				got  int
				ferr error
				done = make(chan struct{})
			)
			inbox := client.NewInbox()
			in, err := client.Subscribe(inbox, func(msg *nats.Msg) {
				if got >= n {
					return
				}
				var res aiv1.StreamGenerateResponse
				if err := proto.Unmarshal(msg.Data, &res); err != nil || res.GetGenerationId() != m.Msg.GetGenerationId() {
					ferr = errors.New("raw stream: wrong message")
				}
				if seqHeader && msg.Header.Get(seqKey) != strconv.Itoa(got+1) {
					ferr = fmt.Errorf("raw stream: message %d has sequence %q", got+1, msg.Header.Get(seqKey))
				}
				if got++; got == n || ferr != nil {
					close(done)
				}
			})
			if err != nil {
				return err
			}
			defer in.Unsubscribe()
			// No flow control: lift the subscription's limits, or NATS
			// drops what the callback has not caught up with.
			if err := in.SetPendingLimits(-1, -1); err != nil {
				return err
			}
			if err := client.PublishRequest(trigger, inbox, []byte(strconv.Itoa(n))); err != nil {
				return err
			}
			select {
			case <-done:
				return ferr
			case <-ctx.Done():
				return fmt.Errorf("raw stream: %w", ctx.Err())
			}
		},
		Close: func() { _ = sub.Unsubscribe() },
	}, nil
}

// PaymentEvent is the durable event measured: EventBusService's
// PaymentCompleted, filled with realistic values.
var PaymentEvent = func() *eventbusv1.PaymentCompletedRequest {
	e := payload.Fill(&eventbusv1.PaymentCompletedRequest{}).(*eventbusv1.PaymentCompletedRequest)
	e.Meta = payload.Fill(&commonv1.Meta{}).(*commonv1.Meta)
	return e
}()

// Publisher publishes n durable events with callers goroutines and
// returns once JetStream has acknowledged every one.
type Publisher struct {
	Name    string
	Publish func(ctx context.Context, n, callers int) error
}

// durableSubject is PaymentCompleted's subject under prefix.
func durableSubject(prefix string) string {
	return prefix + "." + eventbusv1natsrpc.EventBusServicePaymentCompletedSubject
}

// StreamName is the JetStream stream natsrpc creates for PaymentCompleted
// under prefix.
func StreamName(prefix string) string {
	return prefix + "_gaming_event_bus_v1_EventBusService_PaymentCompleted"
}

// paymentHandler counts the payments it handles.
type paymentHandler struct {
	eventbusv1natsrpc.UnimplementedEventBusServiceHandler
	handled *atomic.Int64
	done    chan struct{}
	want    int64
}

func (h *paymentHandler) PaymentCompleted(_ context.Context, req *eventbusv1.PaymentCompletedRequest) error {
	if req.GetPaymentId() == "" {
		return errors.New("empty payment")
	}
	if h.handled.Add(1) == h.want {
		close(h.done)
	}
	return nil
}

// SetupDurable creates PaymentCompleted's stream and consumer under prefix
// the natsrpc way (registering a handler, then stopping it).
func SetupDurable(server *nats.Conn, prefix string) error {
	svc, err := eventbusv1natsrpc.RegisterEventBusServiceHandler(server, &paymentHandler{handled: new(atomic.Int64), done: make(chan struct{})},
		natsrpc.WithSubjectPrefix(prefix), natsrpc.WithMethods("PaymentCompleted"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return svc.Stop(ctx)
}

// fanOut runs n calls of f over callers goroutines.
func fanOut(ctx context.Context, n, callers int, f func(ctx context.Context, i int) error) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		once sync.Once
		ferr error
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { ferr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return ferr
}

// NewNatsrpcPublisher publishes PaymentCompleted with the generated
// client (each Publish waits for JetStream's acknowledgement).
func NewNatsrpcPublisher(client *nats.Conn, prefix string) *Publisher {
	c := eventbusv1natsrpc.NewEventBusServiceClient(client, natsrpc.WithSubjectPrefix(prefix))
	return &Publisher{
		Name: "natsrpc",
		Publish: func(ctx context.Context, n, callers int) error {
			return fanOut(ctx, n, callers, func(ctx context.Context, _ int) error {
				return c.PaymentCompleted(ctx, PaymentEvent)
			})
		},
	}
}

// NewRawPublisher is the floor: jetstream.Publish of the marshaled event
// with a unique message ID (the deduplication natsrpc's publish also gets)
// and the expected stream, waiting for each acknowledgement.
func NewRawPublisher(client *nats.Conn, prefix string) (*Publisher, error) {
	js, err := jetstream.New(client)
	if err != nil {
		return nil, err
	}
	subject, stream := durableSubject(prefix), StreamName(prefix)
	var id atomic.Int64
	return &Publisher{
		Name: "raw JetStream",
		Publish: func(ctx context.Context, n, callers int) error {
			return fanOut(ctx, n, callers, func(ctx context.Context, _ int) error {
				b, err := proto.Marshal(PaymentEvent)
				if err != nil {
					return err
				}
				_, err = js.Publish(ctx, subject, b, jetstream.WithMsgID("raw-"+strconv.FormatInt(id.Add(1), 10)), jetstream.WithExpectStream(stream))
				return err
			})
		},
	}, nil
}

// Fill publishes n events to prefix's stream asynchronously, for the
// consumers to drain.
func Fill(ctx context.Context, client *nats.Conn, prefix string, n int) error {
	js, err := jetstream.New(client, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	b, err := proto.Marshal(PaymentEvent)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := js.PublishAsync(durableSubject(prefix), b, jetstream.WithMsgID(prefix+"-"+strconv.Itoa(i))); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ConsumeNatsrpc starts a generated handler on the existing stream and
// consumer of prefix and returns once it has handled (and acknowledged)
// n events.
func ConsumeNatsrpc(ctx context.Context, server *nats.Conn, prefix string, n int) error {
	h := &paymentHandler{handled: new(atomic.Int64), done: make(chan struct{}), want: int64(n)}
	svc, err := eventbusv1natsrpc.RegisterEventBusServiceHandler(server, h, natsrpc.WithSubjectPrefix(prefix), natsrpc.WithMethods("PaymentCompleted"))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(sctx)
	}()
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("natsrpc consumer: %d of %d events: %w", h.handled.Load(), n, ctx.Err())
	}
}

// ConsumeRaw is the floor: a jetstream pull consumer (Consume, the same
// prefetch as natsrpc's) on a new durable consumer of prefix's stream; its
// callback unmarshals each event and acknowledges it, with a plain ack or,
// with confirm, a double ack like natsrpc's.
func ConsumeRaw(ctx context.Context, server *nats.Conn, prefix string, n int, confirm bool) error {
	js, err := jetstream.New(server)
	if err != nil {
		return err
	}
	cons, err := js.CreateConsumer(ctx, StreamName(prefix), jetstream.ConsumerConfig{
		Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return err
	}
	var handled atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	sem := make(chan struct{}, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			var e eventbusv1.PaymentCompletedRequest
			if proto.Unmarshal(m.Data(), &e) != nil || e.GetPaymentId() == "" {
				_ = m.Term()
				return
			}
			var aerr error
			if confirm {
				actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				aerr = m.DoubleAck(actx)
				cancel()
			} else {
				aerr = m.Ack()
			}
			if aerr == nil && handled.Add(1) == int64(n) {
				once.Do(func() { close(done) })
			}
		}()
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		return err
	}
	defer cc.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("raw consumer: %d of %d events: %w", handled.Load(), n, ctx.Err())
	}
}
