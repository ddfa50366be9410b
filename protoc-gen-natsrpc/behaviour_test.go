package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natspb "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/clash/gen/clash/nats"
	"github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/clash/gen/clash/nats/natsnatsrpc"
	servicepb "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/clash/gen/clash/service"
	gamev1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/crosspackage/gen/game/v1"
	"github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/crosspackage/gen/game/v1/gamev1natsrpc"
	otherv1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/crosspackage/gen/other/v1"
	sharedv1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/crosspackage/gen/shared/v1"
	worldv1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/options/gen/world/v1"
	"github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/options/gen/world/v1/worldv1natsrpc"
	samev1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/samepackage/gen/same/v1"
	questv1 "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/simple/gen/quest/v1"
	"github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/simple/gen/quest/v1/questv1natsrpc"
)

// The Unimplemented handler has value receivers: a value of it is a
// complete handler.
var _ questv1natsrpc.QuestServiceHandler = questv1natsrpc.UnimplementedQuestServiceHandler{}

// questHandler implements two methods and embeds the Unimplemented handler
// by value for the rest.
type questHandler struct {
	questv1natsrpc.UnimplementedQuestServiceHandler
}

func (questHandler) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return &questv1.GenerateQuestResponse{Quest: &questv1.Quest{
		QuestId: "q-" + req.GetPlayerId(),
		Title:   strings.Repeat("*", int(req.GetLevel())),
	}}, nil
}

func (questHandler) GetQuest(_ context.Context, req *questv1.GetQuestRequest) (*questv1.Quest, error) {
	return &questv1.Quest{QuestId: req.GetQuestId(), Title: "found"}, nil
}

// testServe takes the results of a generated Register function, fails t on
// an error and stops the service when t ends:
//
//	testServe(t)(questv1natsrpc.RegisterQuestServiceHandler(nc, impl))
func testServe(t *testing.T) func(*natsrpc.Service, error) {
	return func(svc *natsrpc.Service, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := svc.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestClientHandler calls generated handlers through generated clients on
// a real in-process nats-server.
func TestClientHandler(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	ctx := testContext(t)
	testServe(t)(questv1natsrpc.RegisterQuestServiceHandler(nc, questHandler{}))
	client := questv1natsrpc.NewQuestServiceClient(natstest.Connect(t, srv))

	t.Run("implemented method answers", func(t *testing.T) {
		res, err := client.GenerateQuest(ctx, &questv1.GenerateQuestRequest{PlayerId: "p1", Level: 3})
		if err != nil {
			t.Fatalf("GenerateQuest: %v", err)
		}
		want := &questv1.GenerateQuestResponse{Quest: &questv1.Quest{QuestId: "q-p1", Title: "***"}}
		if !proto.Equal(res, want) {
			t.Errorf("GenerateQuest = %v; want %v", res, want)
		}
	})

	t.Run("Unimplemented embedded by value answers CodeUnimplemented over the wire", func(t *testing.T) {
		res, err := client.CompleteQuest(ctx, &questv1.CompleteQuestRequest{QuestId: "q"})
		if res != nil {
			t.Errorf("CompleteQuest = %v; want nil", res)
		}
		if code := natsrpc.CodeOf(err); code != natsrpc.CodeUnimplemented {
			t.Fatalf("CompleteQuest error %v has code %v; want %v", err, code, natsrpc.CodeUnimplemented)
		}
		if !natsrpc.IsWireError(err) {
			t.Errorf("CompleteQuest error %v did not come from the server", err)
		}
		if want := "simple.quest.v1.QuestService.CompleteQuest is not implemented"; !strings.Contains(err.Error(), want) {
			t.Errorf("CompleteQuest error %q lacks %q", err, want)
		}
	})

	t.Run("the server listens on the subject constant", func(t *testing.T) {
		body, err := proto.Marshal(&questv1.GetQuestRequest{QuestId: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := nc.RequestWithContext(ctx, questv1natsrpc.QuestServiceGetQuestSubject, body)
		if err != nil {
			t.Fatalf("raw request on %s: %v", questv1natsrpc.QuestServiceGetQuestSubject, err)
		}
		var res questv1.Quest
		if err := proto.Unmarshal(msg.Data, &res); err != nil {
			t.Fatal(err)
		}
		if res.GetQuestId() != "raw" || res.GetTitle() != "found" {
			t.Errorf("raw GetQuest = %v", &res)
		}
	})

	t.Run("the wildcard constant covers every method subject", func(t *testing.T) {
		sub, err := nc.SubscribeSync(questv1natsrpc.QuestServiceSubjectWildcard)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		// The client uses another connection: make sure the server has the
		// subscription before the call.
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.GetQuest(ctx, &questv1.GetQuestRequest{QuestId: "w"}); err != nil {
			t.Fatal(err)
		}
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no message on %s: %v", questv1natsrpc.QuestServiceSubjectWildcard, err)
		}
		if msg.Subject != questv1natsrpc.QuestServiceGetQuestSubject {
			t.Errorf("subject %q; want %q", msg.Subject, questv1natsrpc.QuestServiceGetQuestSubject)
		}
	})
}

// TestSubjectPrefix checks that the prefix natsrpc.WithSubjectPrefix adds is
// prepended, with a dot, to the generated subject constants.
func TestSubjectPrefix(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	ctx := testContext(t)
	testServe(t)(questv1natsrpc.RegisterQuestServiceHandler(nc, questHandler{}, natsrpc.WithSubjectPrefix("staging.eu")))

	client := questv1natsrpc.NewQuestServiceClient(nc, natsrpc.WithSubjectPrefix("staging.eu"))
	if _, err := client.GetQuest(ctx, &questv1.GetQuestRequest{QuestId: "p"}); err != nil {
		t.Fatalf("GetQuest with the same prefix: %v", err)
	}
	body, _ := proto.Marshal(&questv1.GetQuestRequest{QuestId: "p"})
	if _, err := nc.RequestWithContext(ctx, "staging.eu."+questv1natsrpc.QuestServiceGetQuestSubject, body); err != nil {
		t.Errorf("raw request on the prefixed constant: %v", err)
	}
	unprefixed := questv1natsrpc.NewQuestServiceClient(nc)
	if _, err := unprefixed.GetQuest(ctx, &questv1.GetQuestRequest{QuestId: "p"}); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Errorf("GetQuest without the prefix: %v; want CodeUnavailable (no responders)", err)
	}
}

// worldHandler serves the options case's unary methods.
type worldHandler struct {
	worldv1natsrpc.UnimplementedWorldServiceHandler
}

func (worldHandler) ApplyEvent(_ context.Context, req *worldv1.ApplyEventRequest) (*worldv1.Region, error) {
	return &worldv1.Region{RegionId: req.GetRegionId(), Name: req.GetEvent()}, nil
}

// TestOptionsSubjects checks that the subjects the natsrpc.v1 options give
// the constants (file prefix, method subject override) are the ones the
// runtime serves, and that services with only events register. The world
// service has a durable event, so it needs JetStream.
func TestOptionsSubjects(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithJetStream())
	nc := natstest.Connect(t, srv)
	ctx := testContext(t)
	testServe(t)(worldv1natsrpc.RegisterWorldServiceHandler(nc, worldHandler{}))
	testServe(t)(worldv1natsrpc.RegisterBroadcastServiceHandler(nc, worldv1natsrpc.UnimplementedBroadcastServiceHandler{}))

	if got, want := worldv1natsrpc.WorldServiceApplyEventSubject, "studio.options.world.v1.WorldService.events.apply"; got != want {
		t.Fatalf("WorldServiceApplyEventSubject = %q; want %q", got, want)
	}
	body, _ := proto.Marshal(&worldv1.ApplyEventRequest{RegionId: "r1", Event: "storm"})
	msg, err := nc.RequestWithContext(ctx, worldv1natsrpc.WorldServiceApplyEventSubject, body)
	if err != nil {
		t.Fatalf("raw request on %s: %v", worldv1natsrpc.WorldServiceApplyEventSubject, err)
	}
	var region worldv1.Region
	if err := proto.Unmarshal(msg.Data, &region); err != nil {
		t.Fatal(err)
	}
	if region.GetName() != "storm" {
		t.Errorf("ApplyEvent = %v", &region)
	}

	client := worldv1natsrpc.NewWorldServiceClient(nc)
	res, err := client.ApplyEvent(ctx, &worldv1.ApplyEventRequest{RegionId: "r2", Event: "rain"})
	if err != nil || res.GetName() != "rain" {
		t.Errorf("ApplyEvent = %v, %v", res, err)
	}
	if _, err := client.GetRegion(ctx, &worldv1.RegionRequest{RegionId: "r"}); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("GetRegion: %v; want CodeUnimplemented", err)
	}
	// A deprecated service still works.
	admin := worldv1natsrpc.NewAdminServiceClient(nc)
	if _, err := admin.Stats(ctx, &worldv1.RegionRequest{}); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Errorf("AdminService.Stats without a server: %v; want CodeUnavailable", err)
	}
}

// clashHandler serves the clash case: methods named after Go keywords and
// request types from a package named "service".
type clashHandler struct {
	natsnatsrpc.UnimplementedFooHandler
}

func (clashHandler) Type(_ context.Context, req *servicepb.Request) (*servicepb.Response, error) {
	return &servicepb.Response{Id: "type:" + req.GetId()}, nil
}

func (clashHandler) Go(_ context.Context, req *natspb.FooClient) (*natspb.FooServiceHandler, error) {
	return &natspb.FooServiceHandler{Id: "go:" + req.GetId()}, nil
}

type gameHandler struct {
	gamev1natsrpc.UnimplementedGameServiceHandler
}

func (gameHandler) Ping(context.Context, *emptypb.Empty) (*timestamppb.Timestamp, error) {
	return timestamppb.New(time.Unix(42, 0)), nil
}

func (gameHandler) Score(_ context.Context, p *sharedv1.Player) (*otherv1.Score, error) {
	return &otherv1.Score{Points: int64(len(p.GetPlayerId()))}, nil
}

type echoHandler struct{}

func (echoHandler) Echo(_ context.Context, req *samev1.EchoRequest) (*samev1.EchoResponse, error) {
	return &samev1.EchoResponse{Text: req.GetText()}, nil
}

// TestOtherCases calls through the generated code of the clash,
// crosspackage and samepackage cases.
func TestOtherCases(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	ctx := testContext(t)

	testServe(t)(natsnatsrpc.RegisterFooHandler(nc, clashHandler{}))
	foo := natsnatsrpc.NewFooClient(nc)
	if res, err := foo.Type(ctx, &servicepb.Request{Id: "1"}); err != nil || res.GetId() != "type:1" {
		t.Errorf("Foo.Type = %v, %v", res, err)
	}
	if res, err := foo.Go(ctx, &natspb.FooClient{Id: "2"}); err != nil || res.GetId() != "go:2" {
		t.Errorf("Foo.Go = %v, %v", res, err)
	}
	if _, err := foo.Select(ctx, &servicepb.Request{}); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("Foo.Select: %v; want CodeUnimplemented", err)
	}
	// FooService is another service: nobody serves it.
	if _, err := natsnatsrpc.NewFooServiceClient(nc).Type(ctx, &servicepb.Request{}); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Errorf("FooService.Type: %v; want CodeUnavailable", err)
	}

	testServe(t)(gamev1natsrpc.RegisterGameServiceHandler(nc, gameHandler{}))
	game := gamev1natsrpc.NewGameServiceClient(nc)
	if ts, err := game.Ping(ctx, &emptypb.Empty{}); err != nil || ts.GetSeconds() != 42 {
		t.Errorf("GameService.Ping = %v, %v", ts, err)
	}
	if s, err := game.Score(ctx, &sharedv1.Player{PlayerId: "abcd"}); err != nil || s.GetPoints() != 4 {
		t.Errorf("GameService.Score = %v, %v", s, err)
	}
	if _, err := game.Local(ctx, &gamev1.LocalRequest{}); natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented {
		t.Errorf("GameService.Local: %v; want CodeUnimplemented", err)
	}

	testServe(t)(samev1.RegisterEchoServiceHandler(nc, echoHandler{}))
	if res, err := samev1.NewEchoServiceClient(nc).Echo(ctx, &samev1.EchoRequest{Text: "hi"}); err != nil || res.GetText() != "hi" {
		t.Errorf("EchoService.Echo = %v, %v", res, err)
	}
}
