package e2e

import (
	"context"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// quests implements the generated handler interface. Embedding the
// Unimplemented type by value answers CodeUnimplemented for the methods it
// leaves out, including methods added to the service later.
type quests struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (quests) GetQuest(ctx context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	if req.GetQuestId() == "" {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("quest_id is required"))
	}
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest:  &questsystemv1.Quest{QuestId: req.GetQuestId(), Title: "The Lost Lantern"},
		Status: questsystemv1.QuestStatus_QUEST_STATUS_ACTIVE,
	}}, nil
}

// Example_readme is the README's "A small example", kept compiling and
// running here: a service and a client on one NATS server.
func Example_readme() {
	srv, err := natsserver.Start(natsserver.Config{}) // in production: your NATS cluster
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()

	// The service: one line registers every method on its subject, in the
	// queue group, with NATS micro discovery.
	serverConn, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer serverConn.Close()
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(serverConn, quests{})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())

	// The client, typically in another process.
	clientConn, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer clientConn.Close()
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(clientConn)

	res, err := client.GetQuest(context.Background(), &questsystemv1.GetQuestRequest{PlayerId: "p-1", QuestId: "q-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.GetQuest().GetQuest().GetTitle(), res.GetQuest().GetStatus())

	_, err = client.GetQuest(context.Background(), &questsystemv1.GetQuestRequest{})
	fmt.Println(natsrpc.CodeOf(err), err)

	_, err = client.AbandonQuest(context.Background(), &questsystemv1.AbandonQuestRequest{QuestId: "q-42"})
	fmt.Println(natsrpc.CodeOf(err))
	// Output:
	// The Lost Lantern QUEST_STATUS_ACTIVE
	// invalid_argument invalid_argument: quest_id is required
	// unimplemented
}
