package promnatsrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/promnatsrpc"
	"github.com/natsrpc/natsrpc/internal/embeddednats"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// questServer knows one quest.
type questServer struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (questServer) GetQuest(_ context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	if req.GetQuestId() != "q-1" {
		return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such quest"))
	}
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest: &questsystemv1.Quest{QuestId: "q-1", Title: "The Lost Lighthouse"},
	}}, nil
}

// One interceptor measures both sides, on the registry the program serves
// (with promhttp.HandlerFor, say).
func ExampleNewInterceptor() {
	// An in-process NATS server; in production, connect to your cluster.
	srv, err := embeddednats.Start(embeddednats.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	reg := prometheus.NewRegistry()
	metrics, err := promnatsrpc.NewInterceptor(reg)
	if err != nil {
		log.Fatal(err)
	}
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, questServer{}, natsrpc.WithInterceptors(metrics))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc, natsrpc.WithInterceptors(metrics))
	for _, id := range []string{"q-1", "q-1", "q-2"} {
		_, _ = client.GetQuest(context.Background(), &questsystemv1.GetQuestRequest{QuestId: id})
	}

	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "natsrpc_server_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			fmt.Println(mf.GetName(), labels["natsrpc_method"], labels["natsrpc_code"], m.GetCounter().GetValue())
		}
	}
	// Output:
	// natsrpc_server_handled_total GetQuest not_found 1
	// natsrpc_server_handled_total GetQuest ok 2
}
