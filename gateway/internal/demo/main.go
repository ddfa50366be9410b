// Command demo runs three gaming services on NATS with canned answers, so
// that the gateway has something to call in the README's walkthrough:
// QuestSystemService (GetQuest, ListQuests, GenerateQuest),
// AIIntegrationService.StreamGenerate (the prompt's words as tokens) and
// EventBusService.WorldChanged (logged).
//
//	cd gateway && go run ./internal/demo        # NATS at $NATS_URL or 127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	aiv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

type quests struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (quests) GetQuest(_ context.Context, req *questv1.GetQuestRequest) (*questv1.GetQuestResponse, error) {
	if req.GetQuestId() == "" {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("quest_id is required"))
	}
	return &questv1.GetQuestResponse{Quest: &questv1.PlayerQuest{
		Quest:  &questv1.Quest{QuestId: req.GetQuestId(), Title: "The Lost Lantern", Summary: "Find the lantern for " + req.GetPlayerId()},
		Status: questv1.QuestStatus_QUEST_STATUS_ACTIVE,
	}}, nil
}

func (q quests) ListQuests(ctx context.Context, req *questv1.ListQuestsRequest) (*questv1.ListQuestsResponse, error) {
	r, _ := q.GetQuest(ctx, &questv1.GetQuestRequest{PlayerId: req.GetPlayerId(), QuestId: "q-1"})
	return &questv1.ListQuestsResponse{Quests: []*questv1.PlayerQuest{r.GetQuest()}}, nil
}

func (quests) GenerateQuest(_ context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	return &questv1.GenerateQuestResponse{Quest: &questv1.Quest{QuestId: "q-gen-" + req.GetPlayerId(), Title: "A quest about " + req.GetHints()["theme"], RecommendedLevel: req.GetPlayerLevel()}}, nil
}

type ai struct {
	aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler
}

func (ai) StreamGenerate(ctx context.Context, req *aiv1.StreamGenerateRequest, s *natsrpc.HandlerSendStream[aiv1.StreamGenerateResponse]) error {
	var prompt string
	if n := len(req.GetMessages()); n > 0 {
		prompt = req.GetMessages()[n-1].GetContent()
	}
	for i, w := range strings.Fields(prompt) {
		time.Sleep(50 * time.Millisecond) // a model's pace
		if err := s.Send(&aiv1.StreamGenerateResponse{GenerationId: "gen-1", Sequence: int32(i + 1), Event: &aiv1.StreamGenerateResponse_Delta{Delta: &aiv1.TokenDelta{Text: w, TokenCount: 1}}}); err != nil {
			return err
		}
	}
	return s.Send(&aiv1.StreamGenerateResponse{GenerationId: "gen-1", Event: &aiv1.StreamGenerateResponse_FinishReason{FinishReason: aiv1.FinishReason_FINISH_REASON_STOP}})
}

type bus struct {
	eventbusv1natsrpc.UnimplementedEventBusServiceHandler
}

func (bus) WorldChanged(_ context.Context, req *eventbusv1.WorldChangedRequest) error {
	log.Printf("world %s changed (event %s)", req.GetWorldId(), req.GetEventId())
	return nil
}

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	flag.StringVar(&url, "s", url, "the NATS server")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(url, nats.Name("natsrpc gateway demo"))
	if err != nil {
		log.Fatalf("connect to %s: %v", url, err)
	}
	defer nc.Close()
	var services []*natsrpc.Service
	for _, register := range []func() (*natsrpc.Service, error){
		func() (*natsrpc.Service, error) {
			return questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, quests{})
		},
		func() (*natsrpc.Service, error) {
			return aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(nc, ai{})
		},
		func() (*natsrpc.Service, error) {
			// The durable PaymentCompleted needs JetStream; the demo serves
			// the plain events.
			return eventbusv1natsrpc.RegisterEventBusServiceHandler(nc, bus{}, natsrpc.WithMethods("WorldChanged"))
		},
	} {
		s, err := register()
		if err != nil {
			log.Fatal(err)
		}
		services = append(services, s)
	}
	log.Printf("demo services on %s: QuestSystemService, AIIntegrationService.StreamGenerate, EventBusService.WorldChanged; Ctrl-C stops", url)
	<-ctx.Done()
	for _, s := range services {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Stop(sctx)
		cancel()
	}
}
