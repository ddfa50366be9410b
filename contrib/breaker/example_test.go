package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/breaker"
	"github.com/natsrpc/natsrpc/internal/natsserver"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// A breaker on a client whose service is down: after three calls that find
// no responders it opens, and the next calls fail at once.
func ExampleNew() {
	// An in-process NATS server; in production, connect to your cluster.
	srv, err := natsserver.Start(natsserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	itemsBreaker, err := breaker.New("items",
		breaker.WithConsecutiveFailures(3),
		breaker.WithStateChange(func(c breaker.StateChange) {
			fmt.Printf("breaker %s: %s -> %s\n", c.Breaker, c.From, c.To)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	client := natsrpctestv1natsrpc.NewTestServiceClient(nc, natsrpc.WithInterceptors(itemsBreaker))

	// No TestService instance listens.
	for range 4 {
		_, err := client.Generate(context.Background(), &natsrpctestv1.GenerateRequest{OwnerId: "p-1"})
		fmt.Println(natsrpc.CodeOf(err), "failed fast:", errors.Is(err, breaker.ErrOpen))
	}
	// Output:
	// unavailable failed fast: false
	// unavailable failed fast: false
	// breaker items: closed -> open
	// unavailable failed fast: false
	// unavailable failed fast: true
}
