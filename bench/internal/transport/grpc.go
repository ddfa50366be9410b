package transport

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	benchv1 "github.com/natsrpc/natsrpc/bench/internal/gen/natsrpc/bench/v1"
	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

type grpcNPC struct {
	benchv1.UnimplementedNPCBehaviorServiceServer
}

func (grpcNPC) Decide(_ context.Context, req *npcv1.DecideRequest) (*npcv1.DecideResponse, error) {
	return workload.Decide(req), nil
}

type grpcQuest struct {
	benchv1.UnimplementedQuestSystemServiceServer
}

func (grpcQuest) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return workload.GenerateQuest(req), nil
}

// NewGRPC is gRPC-Go with its generated stubs and default options: one
// ClientConn (one HTTP/2 connection, multiplexed) over loopback TCP,
// without TLS, like the NATS rows.
func NewGRPC(_ Env, call *workload.Call) (*harness.Target, error) {
	lis, err := harness.ListenLoopback()
	if err != nil {
		return nil, err
	}
	wire := harness.NewCounter(nil)
	srv := grpc.NewServer()
	switch call {
	case workload.DecideCall:
		benchv1.RegisterNPCBehaviorServiceServer(srv, grpcNPC{})
	case workload.GenerateQuestCall:
		benchv1.RegisterQuestSystemServiceServer(srv, grpcQuest{})
	default:
		lis.Close()
		return nil, errors.New("no gRPC stubs for " + call.Name)
	}
	go srv.Serve(harness.Listener(lis, wire))
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("grpc client: %w", err)
	}
	var do func(ctx context.Context) error
	switch call {
	case workload.DecideCall:
		do = unary(call, workload.DecideRequest(), benchv1.NewNPCBehaviorServiceClient(conn).Decide)
	case workload.GenerateQuestCall:
		do = unary(call, workload.GenerateQuestRequest(), benchv1.NewQuestSystemServiceClient(conn).GenerateQuest)
	}
	return &harness.Target{
		Name:       "grpc",
		Call:       do,
		CallerWire: wire,
		Close: func() {
			conn.Close()
			srv.Stop()
		},
	}, nil
}
