// Package questtest runs the quest system service on a real in-process
// nats-server for the contrib packages' tests, through the generated stubs.
package questtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natstest"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// Env is one nats-server with a connection for clients and one for
// services.
type Env struct {
	Server  *server.Server
	Client  *nats.Conn
	Service *nats.Conn
}

// Start starts a nats-server for t and connects to it; both end with t.
func Start(t testing.TB) *Env {
	t.Helper()
	srv := natstest.Start(t)
	return &Env{Server: srv, Client: natstest.Connect(t, srv), Service: natstest.Connect(t, srv)}
}

// Handler implements the quest system with functions; methods without one
// answer unimplemented.
type Handler struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
	GetQuestFunc      func(context.Context, *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error)
	GenerateQuestFunc func(context.Context, *questsystemv1.GenerateQuestRequest) (*questsystemv1.GenerateQuestResponse, error)
}

// GetQuest calls GetQuestFunc.
func (h *Handler) GetQuest(ctx context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	if h.GetQuestFunc == nil {
		return h.UnimplementedQuestSystemServiceHandler.GetQuest(ctx, req)
	}
	return h.GetQuestFunc(ctx, req)
}

// GenerateQuest calls GenerateQuestFunc.
func (h *Handler) GenerateQuest(ctx context.Context, req *questsystemv1.GenerateQuestRequest) (*questsystemv1.GenerateQuestResponse, error) {
	if h.GenerateQuestFunc == nil {
		return h.UnimplementedQuestSystemServiceHandler.GenerateQuest(ctx, req)
	}
	return h.GenerateQuestFunc(ctx, req)
}

// Serve registers h on the service connection and stops the service when t
// ends (or earlier, through the returned stop function, which waits for
// the service to be gone).
func (e *Env) Serve(t testing.TB, h questsystemv1natsrpc.QuestSystemServiceHandler, opts ...natsrpc.HandlerOption) (stop func()) {
	t.Helper()
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(e.Service, h, opts...)
	if err != nil {
		t.Fatalf("register quest system: %v", err)
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
		// Make sure nats-server has processed the unsubscriptions, so that
		// the next request finds no responders.
		_ = e.Service.Flush()
	}
	t.Cleanup(stop)
	return stop
}

// NewClient returns a quest system client on the client connection.
func (e *Env) NewClient(opts ...natsrpc.ClientOption) questsystemv1natsrpc.QuestSystemServiceClient {
	return questsystemv1natsrpc.NewQuestSystemServiceClient(e.Client, opts...)
}

// Quest answers GetQuest with a quest whose id is the requested one.
func Quest(_ context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest: &questsystemv1.Quest{QuestId: req.GetQuestId(), Title: "The " + req.GetQuestId()},
	}}, nil
}
