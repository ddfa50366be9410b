package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/natsrpc/natsrpc/gateway"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

type benchQuests struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (benchQuests) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return &questv1.GenerateQuestResponse{Quest: &questv1.Quest{QuestId: "q-" + req.GetPlayerId(), Title: "The lost sword", Summary: "Find the sword the smith lost in the woods north of town.", RecommendedLevel: req.GetPlayerLevel()}}, nil
}

// BenchmarkGatewayConnectJSON measures a Connect JSON call through the
// gateway (in process: the figure includes the caller, the gateway and
// the service) for profiling; `make bench` measures the gateway in a
// process of its own.
func BenchmarkGatewayConnectJSON(b *testing.B) {
	srv := natstest.Start(b)
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(b, srv), benchQuests{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Stop(context.Background()) })
	g, err := gateway.New(natstest.Connect(b, srv), gateway.WithDescriptorSet(closure(b, "gaming/quest_system/v1/quest_system.proto")))
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(g)
	defer hs.Close()
	body, _ := protojson.Marshal(&questv1.GenerateQuestRequest{PlayerId: "p1", PlayerLevel: 12, RegionId: "region_north", Hints: map[string]string{"theme": "swords"}})
	url := hs.URL + "/gaming.quest_system.v1.QuestSystemService/GenerateQuest"
	client := hs.Client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Connect-Protocol-Version", "1")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
