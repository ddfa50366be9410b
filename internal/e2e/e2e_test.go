// Package e2e runs the generated code of the studio's services, streams
// and events included, against real in-process nats-servers: generated
// clients against generated handlers, as the services will use them.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	aiintegrationv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	bodybrokerv1 "github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1/bodybrokerqaorchestratorv1natsrpc"
	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	statemanagerv1 "github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1/statemanagerv1natsrpc"
	storytellerv1 "github.com/natsrpc/natsrpc/proto/gaming/story_teller/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/story_teller/v1/storytellerv1natsrpc"
)

// serve fails t on a registration error and stops the service at the end.
func serve(t *testing.T) func(*natsrpc.Service, error) *natsrpc.Service {
	return func(svc *natsrpc.Service, err error) *natsrpc.Service {
		t.Helper()
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = svc.Stop(ctx)
		})
		return svc
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stateManager is a state manager with an in-memory store whose Watch
// replays the current documents, marks the end of the replay, then streams
// live changes until the watcher leaves.
type stateManager struct {
	statemanagerv1natsrpc.UnimplementedStateManagerServiceHandler
	mu       sync.Mutex
	revision uint64
	docs     map[string]*statemanagerv1.Document
	watchers map[chan *statemanagerv1.WatchResponse]bool
	left     chan error
}

func newStateManager() *stateManager {
	return &stateManager{docs: map[string]*statemanagerv1.Document{}, watchers: map[chan *statemanagerv1.WatchResponse]bool{}, left: make(chan error, 4)}
}

func (s *stateManager) put(namespace, id, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revision++
	key := &statemanagerv1.DocumentKey{Namespace: namespace, Key: id}
	doc := &statemanagerv1.Document{Key: key, Revision: s.revision, Labels: map[string]string{"body": body}}
	s.docs[id] = doc
	ev := &statemanagerv1.WatchResponse{EventType: statemanagerv1.WatchEventType_WATCH_EVENT_TYPE_PUT, Key: key, Revision: s.revision, Document: doc, ChangedAt: timestamppb.Now()}
	for w := range s.watchers {
		w <- ev
	}
}

func (s *stateManager) Watch(ctx context.Context, req *statemanagerv1.WatchRequest, stream *natsrpc.HandlerSendStream[statemanagerv1.WatchResponse]) error {
	live := make(chan *statemanagerv1.WatchResponse, 1024)
	s.mu.Lock()
	var initial []*statemanagerv1.WatchResponse
	if req.GetIncludeInitial() {
		for _, d := range s.docs {
			initial = append(initial, &statemanagerv1.WatchResponse{EventType: statemanagerv1.WatchEventType_WATCH_EVENT_TYPE_PUT, Key: d.GetKey(), Revision: d.GetRevision(), Document: d})
		}
	}
	s.watchers[live] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, live)
		s.mu.Unlock()
		s.left <- context.Cause(ctx)
	}()
	stream.ResponseHeader().Set("X-Namespace", req.GetNamespace())
	for _, ev := range initial {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	if err := stream.Send(&statemanagerv1.WatchResponse{InitialDone: true}); err != nil {
		return err
	}
	for {
		select {
		case ev := <-live:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestStateManagerWatch watches documents through the generated client
// and handler: the initial replay, its end marker, live changes in
// revision order, and the handler stopping when the watcher closes.
func TestStateManagerWatch(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	impl := newStateManager()
	impl.put("world", "w-1", `{"weather":"rain"}`)
	impl.put("world", "w-2", `{"weather":"sun"}`)
	serve(t)(statemanagerv1natsrpc.RegisterStateManagerServiceHandler(natstest.Connect(t, srv), impl))
	client := statemanagerv1natsrpc.NewStateManagerServiceClient(natstest.Connect(t, srv))

	watch, err := client.Watch(t.Context(), &statemanagerv1.WatchRequest{Namespace: "world", IncludeInitial: true})
	if err != nil {
		t.Fatal(err)
	}
	initial := 0
	for {
		ev, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetInitialDone() {
			break
		}
		initial++
	}
	if initial != 2 {
		t.Errorf("replayed %d documents; want 2", initial)
	}
	if ns := watch.ResponseHeader().Get("X-Namespace"); ns != "world" {
		t.Errorf("response header X-Namespace = %q", ns)
	}
	const changes = 500
	go func() {
		for i := range changes {
			impl.put("world", "w-"+strconv.Itoa(i%7), `{"tick":`+strconv.Itoa(i)+`}`)
		}
	}()
	last := uint64(2)
	for range changes {
		ev, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetRevision() != last+1 {
			t.Fatalf("revision %d after %d", ev.GetRevision(), last)
		}
		last = ev.GetRevision()
	}
	if err := watch.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-impl.left:
		if !errors.Is(cause, context.Canceled) {
			t.Errorf("watch handler ended with %v; want canceled by the client", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Watch handler did not stop after the client closed")
	}
}

// eventBus is an event bus whose typed events feed its Subscribe streams.
type eventBus struct {
	eventbusv1natsrpc.UnimplementedEventBusServiceHandler
	instance string
	world    atomic.Int64
	quests   sync.Map // event id -> instance
	payments sync.Map // payment id -> count
	failOnce sync.Map
	mu       sync.Mutex
	subs     map[chan *eventbusv1.EventEnvelope]bool
	seq      atomic.Uint64
}

func newEventBus(instance string) *eventBus {
	return &eventBus{instance: instance, subs: map[chan *eventbusv1.EventEnvelope]bool{}}
}

func (b *eventBus) fanOut(topic string, payload *anypb.Any) {
	ev := &eventbusv1.EventEnvelope{EventId: strconv.FormatUint(b.seq.Add(1), 10), Topic: topic, Sequence: b.seq.Load(), Payload: payload, PublishedAt: timestamppb.Now()}
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		c <- ev
	}
}

func (b *eventBus) WorldChanged(_ context.Context, req *eventbusv1.WorldChangedRequest) error {
	b.world.Add(1)
	return nil
}

func (b *eventBus) QuestCompleted(_ context.Context, req *eventbusv1.QuestCompletedRequest) error {
	if _, dup := b.quests.LoadOrStore(req.GetEventId(), b.instance); dup {
		return fmt.Errorf("quest event %s delivered twice", req.GetEventId())
	}
	payload, err := anypb.New(req)
	if err != nil {
		return err
	}
	b.fanOut("quest.completed", payload)
	return nil
}

func (b *eventBus) PaymentCompleted(_ context.Context, req *eventbusv1.PaymentCompletedRequest) error {
	// The first attempt of each payment fails: JetStream redelivers it.
	if _, failed := b.failOnce.LoadOrStore(req.GetPaymentId(), true); !failed {
		return natsrpc.NewError(natsrpc.CodeUnavailable, errors.New("ledger briefly unavailable"))
	}
	n, _ := b.payments.LoadOrStore(req.GetPaymentId(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return nil
}

func (b *eventBus) Subscribe(ctx context.Context, _ *eventbusv1.SubscribeRequest, stream *natsrpc.HandlerSendStream[eventbusv1.SubscribeResponse]) error {
	c := make(chan *eventbusv1.EventEnvelope, 256)
	b.mu.Lock()
	b.subs[c] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, c)
		b.mu.Unlock()
	}()
	// Tell the subscriber it is live, so that it publishes after this.
	if err := stream.Send(&eventbusv1.SubscribeResponse{Message: &eventbusv1.SubscribeResponse_Heartbeat{Heartbeat: &eventbusv1.Heartbeat{SentAt: timestamppb.Now()}}}); err != nil {
		return err
	}
	for {
		select {
		case ev := <-c:
			if err := stream.Send(&eventbusv1.SubscribeResponse{Message: &eventbusv1.SubscribeResponse_Event{Event: ev}}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestEventBus runs the event bus's events and its Subscribe stream
// through the generated code on two instances: a broadcast event reaches
// both, a queue event one of them, and a durable event is stored in
// JetStream, redelivered after a failure and handled once per payment.
func TestEventBus(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithJetStream())
	buses := []*eventBus{newEventBus("a"), newEventBus("b")}
	var svcs []*natsrpc.Service
	for _, b := range buses {
		svcs = append(svcs, serve(t)(eventbusv1natsrpc.RegisterEventBusServiceHandler(natstest.Connect(t, srv), b)))
	}
	client := eventbusv1natsrpc.NewEventBusServiceClient(natstest.Connect(t, srv))
	ctx := t.Context()

	// A subscriber on each instance (Subscribe is a queue-group method:
	// open streams until both instances serve one).
	var streams []*natsrpc.ClientRecvStream[eventbusv1.SubscribeResponse]
	for len(streams) < 2 {
		st, err := client.Subscribe(ctx, &eventbusv1.SubscribeRequest{Meta: &commonv1.Meta{RequestId: "sub"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil { // the live marker
			t.Fatal(err)
		}
		streams = append(streams, st)
		busy := 0
		for _, b := range buses {
			b.mu.Lock()
			if len(b.subs) > 0 {
				busy++
			}
			b.mu.Unlock()
		}
		if busy < len(streams) {
			streams = streams[:len(streams)-1]
			_ = st.Close()
		}
	}

	const n = 40
	for i := range n {
		if err := client.WorldChanged(ctx, &eventbusv1.WorldChangedRequest{EventId: "w-" + strconv.Itoa(i), WorldId: "world-1", WorldRevision: int64(i)}); err != nil {
			t.Fatal(err)
		}
		if err := client.QuestCompleted(ctx, &eventbusv1.QuestCompletedRequest{EventId: "q-" + strconv.Itoa(i), PlayerId: "p-1", QuestId: "quest-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		id := "pay-" + strconv.Itoa(i)
		req := &eventbusv1.PaymentCompletedRequest{EventId: id, PaymentId: id, AmountMinor: 499, CurrencyCode: "EUR"}
		// Published twice with one idempotency key: stored once.
		for range 2 {
			if err := client.PaymentCompleted(ctx, req, natsrpc.WithIdempotencyKey(id)); err != nil {
				t.Fatal(err)
			}
		}
	}

	waitUntil(t, "every world change on both instances", func() bool {
		return buses[0].world.Load() == n && buses[1].world.Load() == n
	})
	// Each quest event reaches one instance, which streams it to its
	// subscriber: the two subscribers together see every quest once.
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				done := len(seen) == n
				mu.Unlock()
				if done {
					return
				}
				res, err := st.Recv()
				if err != nil {
					return
				}
				var q eventbusv1.QuestCompletedRequest
				if err := res.GetEvent().GetPayload().UnmarshalTo(&q); err != nil {
					t.Errorf("event payload: %v", err)
					return
				}
				mu.Lock()
				if seen[q.GetEventId()] {
					t.Errorf("quest event %s streamed twice", q.GetEventId())
				}
				seen[q.GetEventId()] = true
				mu.Unlock()
			}
		}()
	}
	waitUntil(t, "every quest event streamed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	for _, st := range streams {
		_ = st.Close()
	}
	wg.Wait()

	waitUntil(t, "every payment handled", func() bool {
		count := 0
		for _, b := range buses {
			b.payments.Range(func(_, _ any) bool { count++; return true })
		}
		return count >= 10
	})
	time.Sleep(1500 * time.Millisecond) // past the 1s backoff: a duplicate would show
	for i := range 10 {
		id := "pay-" + strconv.Itoa(i)
		total := int64(0)
		for _, b := range buses {
			if n, ok := b.payments.Load(id); ok {
				total += n.(*atomic.Int64).Load()
			}
		}
		if total != 1 {
			t.Errorf("payment %s handled %d times after its failure; want once", id, total)
		}
	}
	for _, svc := range svcs {
		for _, ep := range svc.Info().Endpoints {
			if ep.Name == "PaymentCompleted" && ep.Metadata["natsrpc.stream"] != "gaming_event_bus_v1_EventBusService_PaymentCompleted" {
				t.Errorf("PaymentCompleted's stream = %q", ep.Metadata["natsrpc.stream"])
			}
		}
	}
}

// TestStudioStreams calls every server-streaming method of the 22
// services through its generated client against a generated handler: the
// implemented ones stream, the Unimplemented handler answers
// CodeUnimplemented at the first Recv.
func TestStudioStreams(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	snc, cnc := natstest.Connect(t, srv), natstest.Connect(t, srv)
	serve(t)(aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(snc, tokenStreamer{}))
	serve(t)(storytellerv1natsrpc.RegisterStoryTellerServiceHandler(snc, storytellerv1natsrpc.UnimplementedStoryTellerServiceHandler{}))
	serve(t)(bodybrokerqaorchestratorv1natsrpc.RegisterBodyBrokerQAOrchestratorServiceHandler(snc, bodybrokerqaorchestratorv1natsrpc.UnimplementedBodyBrokerQAOrchestratorServiceHandler{}))
	ctx := t.Context()

	tokens, err := aiintegrationv1natsrpc.NewAIIntegrationServiceClient(cnc).StreamGenerate(ctx, &aiintegrationv1.StreamGenerateRequest{Feature: "npc-dialogue"})
	if err != nil {
		t.Fatal(err)
	}
	var text string
	seq := int32(0)
	for ev, err := range tokens.All() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSequence() != seq {
			t.Fatalf("token event %d arrived as %d", ev.GetSequence(), seq)
		}
		seq++
		text += ev.GetDelta().GetText()
	}
	if text != "Well met, traveller." {
		t.Errorf("streamed text %q", text)
	}

	narration, err := storytellerv1natsrpc.NewStoryTellerServiceClient(cnc).StreamNarration(ctx, &storytellerv1.StreamNarrationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := narration.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("StreamNarration: %v; want unimplemented", err)
	}
	results, err := bodybrokerqaorchestratorv1natsrpc.NewBodyBrokerQAOrchestratorServiceClient(cnc).StreamResults(ctx, &bodybrokerv1.StreamResultsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := results.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("StreamResults: %v; want unimplemented", err)
	}
	if _, err := results.Recv(); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("StreamResults after the end: %v; want the same error", err)
	}
}

// tokenStreamer streams an LLM answer token by token.
type tokenStreamer struct {
	aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler
}

func (tokenStreamer) StreamGenerate(_ context.Context, req *aiintegrationv1.StreamGenerateRequest, stream *natsrpc.HandlerSendStream[aiintegrationv1.StreamGenerateResponse]) error {
	for i, tok := range []string{"Well", " met", ",", " travel", "ler", "."} {
		if err := stream.Send(&aiintegrationv1.StreamGenerateResponse{GenerationId: "g-1", Sequence: int32(i), Event: &aiintegrationv1.StreamGenerateResponse_Delta{Delta: &aiintegrationv1.TokenDelta{Text: tok}}}); err != nil {
			return err
		}
	}
	return nil
}
