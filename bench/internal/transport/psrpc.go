package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/psrpc/pkg/bus/natsbus"

	benchpsrpcv1 "github.com/natsrpc/natsrpc/bench/internal/gen/natsrpc/benchpsrpc/v1"
	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

type psrpcNPC struct{}

func (psrpcNPC) Decide(_ context.Context, req *npcv1.DecideRequest) (*npcv1.DecideResponse, error) {
	return workload.Decide(req), nil
}

type psrpcQuest struct{}

func (psrpcQuest) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return workload.GenerateQuest(req), nil
}

// NewPsrpc is LiveKit's psrpc (github.com/livekit/psrpc) as its users run
// it on NATS: the stubs protoc-gen-psrpc generated for the same two RPCs
// (bench/proto/natsrpc/benchpsrpc), its NATS message bus (natsbus) on the
// same two connections as the natsrpc and raw rows, default options. A
// call publishes psrpc's own envelope (a protobuf Request with the message
// in an Any, a request id, a deadline) to the service's channel, which the
// servers share as a NATS queue group; the answer comes back as a publish
// to the client's own channel, in a Response envelope.
func NewPsrpc(env Env, call *workload.Call) (*harness.Target, error) {
	server, client, callerWire, allWire, err := natsPair(env.NATSURL)
	if err != nil {
		return nil, err
	}
	sbus, cbus := natsbus.New(server), natsbus.New(client)
	var (
		shutdown func()
		closeCli func()
		do       func(ctx context.Context) error
	)
	switch call {
	case workload.DecideCall:
		var s benchpsrpcv1.NPCBehaviorServiceServer
		s, err = benchpsrpcv1.NewNPCBehaviorServiceServer(psrpcNPC{}, sbus)
		if err == nil {
			shutdown = s.Shutdown
			var c benchpsrpcv1.NPCBehaviorServiceClient
			c, err = benchpsrpcv1.NewNPCBehaviorServiceClient(cbus)
			if err == nil {
				closeCli = c.Close
				do = unary(call, workload.DecideRequest(), c.Decide)
			}
		}
	case workload.GenerateQuestCall:
		var s benchpsrpcv1.QuestSystemServiceServer
		s, err = benchpsrpcv1.NewQuestSystemServiceServer(psrpcQuest{}, sbus)
		if err == nil {
			shutdown = s.Shutdown
			var c benchpsrpcv1.QuestSystemServiceClient
			c, err = benchpsrpcv1.NewQuestSystemServiceClient(cbus)
			if err == nil {
				closeCli = c.Close
				do = unary(call, workload.GenerateQuestRequest(), c.GenerateQuest)
			}
		}
	default:
		err = errors.New("no psrpc stubs for " + call.Name)
	}
	if err == nil {
		if err = server.Flush(); err == nil {
			err = client.Flush()
		}
	}
	if err != nil {
		if shutdown != nil {
			shutdown()
		}
		closeAll(server, client)
		return nil, fmt.Errorf("psrpc %s: %w", call.Name, err)
	}
	return &harness.Target{
		Name:       "psrpc",
		Call:       do,
		CallerWire: callerWire,
		AllWire:    allWire,
		ServerCPU:  env.NATSCPU,
		Close: func() {
			closeCli()
			shutdown()
			closeAll(server, client)
		},
	}, nil
}
