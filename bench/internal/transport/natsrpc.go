package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1/npcbehaviorv1natsrpc"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// Each NATS row has a subject space of its own, so that no row's requests
// reach another row's handler: a request on a subject goes to one member of
// every queue group subscribed to it, so with one shared subject the raw
// row's requests were answered by the natsrpc row's handler too (and the
// bridge process, in the natsrpc queue group, took half of the natsrpc
// row's calls). The prefixes are one letter each, so that every row's
// subjects have the same length: "r." raw nats.go, "n." natsrpc (and the
// gateway, which calls the natsrpc row's handler), "b." the bridge.
const (
	RawPrefix     = "r"
	NatsrpcPrefix = "n"
	BridgePrefix  = "b"
)

// NatsrpcClientOptions and NatsrpcHandlerOptions are passed to the
// generated constructors; empty means natsrpc's defaults, which is what
// the table reports. Profiling experiments may set them.
var (
	NatsrpcClientOptions  []natsrpc.ClientOption
	NatsrpcHandlerOptions []natsrpc.HandlerOption
)

type npcHandler struct {
	npcbehaviorv1natsrpc.UnimplementedNPCBehaviorServiceHandler
}

func (npcHandler) Decide(_ context.Context, req *npcv1.DecideRequest) (*npcv1.DecideResponse, error) {
	return workload.Decide(req), nil
}

type questHandler struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (questHandler) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return workload.GenerateQuest(req), nil
}

// NewNatsrpc is natsrpc as a service uses it: the generated
// Register<Service>Handler and New<Service>Client with default options, on
// the same two connections as the raw row.
func NewNatsrpc(env Env, call *workload.Call) (*harness.Target, error) {
	server, client, callerWire, allWire, err := natsPair(env.NATSURL)
	if err != nil {
		return nil, err
	}
	var (
		svc *natsrpc.Service
		do  func(ctx context.Context) error
	)
	hopts := append([]natsrpc.HandlerOption{natsrpc.WithSubjectPrefix(NatsrpcPrefix)}, NatsrpcHandlerOptions...)
	copts := append([]natsrpc.ClientOption{natsrpc.WithSubjectPrefix(NatsrpcPrefix)}, NatsrpcClientOptions...)
	switch call {
	case workload.DecideCall:
		svc, err = npcbehaviorv1natsrpc.RegisterNPCBehaviorServiceHandler(server, npcHandler{}, hopts...)
		c := npcbehaviorv1natsrpc.NewNPCBehaviorServiceClient(client, copts...)
		do = unary(call, workload.DecideRequest(), c.Decide)
	case workload.GenerateQuestCall:
		svc, err = questsystemv1natsrpc.RegisterQuestSystemServiceHandler(server, questHandler{}, hopts...)
		c := questsystemv1natsrpc.NewQuestSystemServiceClient(client, copts...)
		do = unary(call, workload.GenerateQuestRequest(), c.GenerateQuest)
	default:
		err = errors.New("no natsrpc stubs for " + call.Name)
	}
	if err == nil {
		err = server.Flush()
	}
	if err != nil {
		closeAll(server, client)
		return nil, fmt.Errorf("natsrpc %s: %w", call.Name, err)
	}
	return &harness.Target{
		Name:       "natsrpc",
		Call:       do,
		CallerWire: callerWire,
		AllWire:    allWire,
		ServerCPU:  env.NATSCPU,
		Close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = svc.Stop(ctx)
			closeAll(server, client)
		},
	}, nil
}

func closeAll(conns ...*nats.Conn) {
	for _, nc := range conns {
		nc.Close()
	}
}
