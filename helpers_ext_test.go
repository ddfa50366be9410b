package natsrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natstest"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// Descriptors of the quest system, the service every test uses.
var (
	questService   = questsystemv1.File_gaming_quest_system_v1_quest_system_proto.Services().ByName("QuestSystemService")
	generateQuest  = questService.Methods().ByName("GenerateQuest")
	getQuest       = questService.Methods().ByName("GetQuest")
	updateProgress = questService.Methods().ByName("UpdateProgress")
	abandonQuest   = questService.Methods().ByName("AbandonQuest")
)

const (
	questMicroName  = "gaming_quest_system_v1_QuestSystemService"
	getQuestSubject = "gaming.quest_system.v1.QuestSystemService.GetQuest"
	genQuestSubject = "gaming.quest_system.v1.QuestSystemService.GenerateQuest"
)

// testConns starts a server and returns a client and a server connection.
func testConns(t testing.TB, opts ...natstest.Option) (srv *server.Server, client, service *nats.Conn) {
	t.Helper()
	srv = natstest.Start(t, opts...)
	return srv, natstest.Connect(t, srv), natstest.Connect(t, srv)
}

// testService registers quest system handlers and stops the service when t
// ends.
func testService(t testing.TB, nc *nats.Conn, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	return startService(t, nc, questService, handlers, opts...)
}

// testPingService registers ping service handlers.
func testPingService(t testing.TB, nc *nats.Conn, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	return startService(t, nc, pingService, handlers, opts...)
}

func startService(t testing.TB, nc *nats.Conn, sd protoreflect.ServiceDescriptor, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	svc, err := natsrpc.NewService(nc, sd, handlers, opts...)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

// getQuestHandler answers GetQuest with fn.
func getQuestHandler(fn func(context.Context, *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error)) natsrpc.Handler {
	return natsrpc.NewUnaryHandler(getQuest, fn)
}

// echoGetQuest answers GetQuest with a quest whose id is the requested one.
func echoGetQuest(_ context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest:  &questsystemv1.Quest{QuestId: req.GetQuestId(), Title: "The " + req.GetQuestId()},
		Status: questsystemv1.QuestStatus_QUEST_STATUS_ACTIVE,
	}}, nil
}

func getQuestClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.UnaryClient[questsystemv1.GetQuestRequest, questsystemv1.GetQuestResponse] {
	return natsrpc.NewUnaryClient[questsystemv1.GetQuestRequest, questsystemv1.GetQuestResponse](nc, getQuest, opts...)
}

func abandonQuestClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.UnaryClient[questsystemv1.AbandonQuestRequest, questsystemv1.AbandonQuestResponse] {
	return natsrpc.NewUnaryClient[questsystemv1.AbandonQuestRequest, questsystemv1.AbandonQuestResponse](nc, abandonQuest, opts...)
}

func generateQuestClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.UnaryClient[questsystemv1.GenerateQuestRequest, questsystemv1.GenerateQuestResponse] {
	return natsrpc.NewUnaryClient[questsystemv1.GenerateQuestRequest, questsystemv1.GenerateQuestResponse](nc, generateQuest, opts...)
}

// wantCode fails t unless err has code want.
func wantCode(t testing.TB, err error, want natsrpc.Code) *natsrpc.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil; want code %v", want)
	}
	var e *natsrpc.Error
	if !asError(err, &e) {
		t.Fatalf("err = %T %v; want *natsrpc.Error", err, err)
	}
	if e.Code() != want {
		t.Fatalf("code = %v (%v); want %v", e.Code(), err, want)
	}
	return e
}

func asError(err error, target **natsrpc.Error) bool {
	e, ok := err.(*natsrpc.Error)
	if ok {
		*target = e
	}
	return ok
}

// waitFor polls cond every 5 ms for up to 5 s; tests use it only for state
// that changes asynchronously (stats counted after the response is sent).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// natsConnect is natstest.Connect, for goroutines that start a service late.
func natsConnect(t testing.TB, srv *server.Server) *nats.Conn {
	t.Helper()
	return natstest.Connect(t, srv)
}
