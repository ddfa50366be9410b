package natsrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/embeddednats"
	aiintegrationv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// Generated code does what this example does by hand: it registers a
// service's handlers with NewService and calls them through UnaryClients,
// both built from the method descriptors of the .pb.go file.
func Example() {
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

	questService := questsystemv1.File_gaming_quest_system_v1_quest_system_proto.Services().ByName("QuestSystemService")
	getQuest := questService.Methods().ByName("GetQuest")

	// The server side: one handler per method.
	svc, err := natsrpc.NewService(nc, questService, []natsrpc.Handler{
		natsrpc.NewUnaryHandler(getQuest, func(ctx context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
			if req.GetQuestId() != "q-1" {
				return nil, natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("no quest %q", req.GetQuestId()))
			}
			return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
				Quest:  &questsystemv1.Quest{QuestId: "q-1", Title: "The Lost Lighthouse"},
				Status: questsystemv1.QuestStatus_QUEST_STATUS_ACTIVE,
			}}, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())

	// The client side.
	client := natsrpc.NewUnaryClient[questsystemv1.GetQuestRequest, questsystemv1.GetQuestResponse](nc, getQuest)
	ctx := context.Background()
	res, err := client.CallUnary(ctx, &questsystemv1.GetQuestRequest{PlayerId: "p-1", QuestId: "q-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.GetQuest().GetQuest().GetTitle(), res.GetQuest().GetStatus())

	_, err = client.CallUnary(ctx, &questsystemv1.GetQuestRequest{PlayerId: "p-1", QuestId: "q-404"})
	fmt.Println(natsrpc.CodeOf(err))
	fmt.Println(err)

	fmt.Println(svc.Name(), svc.Info().Endpoints[0].Subject)
	// Output:
	// The Lost Lighthouse QUEST_STATUS_ACTIVE
	// not_found
	// not_found: no quest "q-404"
	// gaming_quest_system_v1_QuestSystemService gaming.quest_system.v1.QuestSystemService.GetQuest
}

// A handler chooses the code the caller sees with NewError; CodeOf reads it
// back from any error.
func ExampleNewError() {
	err := fmt.Errorf("load quest: %w", natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no quest \"q-9\"")))
	fmt.Println(natsrpc.CodeOf(err))
	fmt.Println(natsrpc.CodeOf(errors.New("disk full")))
	fmt.Println(natsrpc.CodeOf(nil))
	// Output:
	// not_found
	// unknown
	// ok
}

// A server stream: the handler sends responses until it returns, the
// client reads them until io.EOF (here with the All iterator). Generated
// code wires the same calls: StateManagerService.Watch's client method
// returns a *natsrpc.ClientRecvStream[WatchResponse].
func ExampleServerStreamClient() {
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

	ai := aiintegrationv1.File_gaming_ai_integration_v1_ai_integration_proto.Services().ByName("AIIntegrationService")
	streamGenerate := ai.Methods().ByName("StreamGenerate")

	svc, err := natsrpc.NewService(nc, ai, []natsrpc.Handler{
		natsrpc.NewServerStreamHandler(streamGenerate, func(ctx context.Context, req *aiintegrationv1.StreamGenerateRequest, s *natsrpc.HandlerSendStream[aiintegrationv1.StreamGenerateResponse]) error {
			for i, tok := range []string{"Well", " met", ", traveller."} {
				// Send blocks while the client is a window behind.
				if err := s.Send(&aiintegrationv1.StreamGenerateResponse{Sequence: int32(i),
					Event: &aiintegrationv1.StreamGenerateResponse_Delta{Delta: &aiintegrationv1.TokenDelta{Text: tok}}}); err != nil {
					return err
				}
			}
			return nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())

	client := natsrpc.NewServerStreamClient[aiintegrationv1.StreamGenerateRequest, aiintegrationv1.StreamGenerateResponse](nc, streamGenerate)
	stream, err := client.CallServerStream(context.Background(), &aiintegrationv1.StreamGenerateRequest{Feature: "npc-dialogue"})
	if err != nil {
		log.Fatal(err)
	}
	text := ""
	for res, err := range stream.All() {
		if err != nil {
			log.Fatal(err)
		}
		text += res.GetDelta().GetText()
	}
	fmt.Println(text)
	// Output:
	// Well met, traveller.
}
