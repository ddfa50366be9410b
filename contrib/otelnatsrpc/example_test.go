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
	"github.com/natsrpc/natsrpc/internal/natsserver"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// itemServer implements Get of the test schema's TestService.
type itemServer struct {
	natsrpctestv1natsrpc.UnimplementedTestServiceHandler
}

func (itemServer) Get(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "The Lost Lighthouse"}}, nil
}

// One interceptor traces both sides: the client's span travels in the
// request's traceparent header, and the handler's span is its child.
func ExampleNewInterceptor() {
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
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(nc,
		itemServer{},
		natsrpc.WithInterceptors(interceptor))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())
	client := natsrpctestv1natsrpc.NewTestServiceClient(nc, natsrpc.WithInterceptors(interceptor))

	if _, err := client.Get(context.Background(), &natsrpctestv1.GetRequest{Id: "i-1"}); err != nil {
		log.Fatal(err)
	}
	ended := spans.Ended() // the server span ends first
	server, caller := ended[0], ended[1]
	fmt.Println(caller.SpanKind(), caller.Name())
	fmt.Println(server.SpanKind(), server.Name())
	fmt.Println("server span is the client span's child:", server.Parent().SpanID() == caller.SpanContext().SpanID())
	// Output:
	// client natsrpctest.v1.TestService/Get
	// server natsrpctest.v1.TestService/Get
	// server span is the client span's child: true
}
