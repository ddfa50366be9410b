package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/breaker"
	"github.com/natsrpc/natsrpc/internal/embeddednats"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// A breaker on a client whose service is down: after three calls that find
// no responders it opens, and the next calls fail at once.
func ExampleNew() {
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

	questBreaker, err := breaker.New("quest-system",
		breaker.WithConsecutiveFailures(3),
		breaker.WithStateChange(func(c breaker.StateChange) {
			fmt.Printf("breaker %s: %s -> %s\n", c.Breaker, c.From, c.To)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc, natsrpc.WithInterceptors(questBreaker))

	// No quest system service listens.
	for range 4 {
		_, err := client.GenerateQuest(context.Background(), &questsystemv1.GenerateQuestRequest{PlayerId: "p-1"})
		fmt.Println(natsrpc.CodeOf(err), "failed fast:", errors.Is(err, breaker.ErrOpen))
	}
	// Output:
	// unavailable failed fast: false
	// unavailable failed fast: false
	// breaker quest-system: closed -> open
	// unavailable failed fast: false
	// unavailable failed fast: true
}
