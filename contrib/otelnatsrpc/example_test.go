package otelnatsrpc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/otelnatsrpc"
	"github.com/natsrpc/natsrpc/internal/embeddednats"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// questServer implements GetQuest of the quest system.
type questServer struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (questServer) GetQuest(_ context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest: &questsystemv1.Quest{QuestId: req.GetQuestId(), Title: "The Lost Lighthouse"},
	}}, nil
}

// One interceptor traces both sides: the client's span travels in the
// request's traceparent header, and the handler's span is its child.
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

	// A real program sets up an exporter and makes the provider and the
	// propagator global; this one keeps the spans in memory.
	spans := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	interceptor, err := otelnatsrpc.NewInterceptor()
	if err != nil {
		log.Fatal(err)
	}
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc,
		questServer{},
		natsrpc.WithInterceptors(interceptor))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc, natsrpc.WithInterceptors(interceptor))

	if _, err := client.GetQuest(context.Background(), &questsystemv1.GetQuestRequest{QuestId: "q-1"}); err != nil {
		log.Fatal(err)
	}
	ended := spans.Ended() // the server span ends first
	server, caller := ended[0], ended[1]
	fmt.Println(caller.SpanKind(), caller.Name())
	fmt.Println(server.SpanKind(), server.Name())
	fmt.Println("server span is the client span's child:", server.Parent().SpanID() == caller.SpanContext().SpanID())
	// Output:
	// client gaming.quest_system.v1.QuestSystemService/GetQuest
	// server gaming.quest_system.v1.QuestSystemService/GetQuest
	// server span is the client span's child: true
}
