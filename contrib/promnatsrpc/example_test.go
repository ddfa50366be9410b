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
	"github.com/natsrpc/natsrpc/internal/natsserver"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// itemServer knows one item.
type itemServer struct {
	natsrpctestv1natsrpc.UnimplementedTestServiceHandler
}

func (itemServer) Get(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	if req.GetId() != "i-1" {
		return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
	}
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: "i-1", Title: "The Lost Lighthouse"}}, nil
}

// One interceptor measures both sides, on the registry the program serves
// (with promhttp.HandlerFor, say).
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

	reg := prometheus.NewRegistry()
	metrics, err := promnatsrpc.NewInterceptor(reg)
	if err != nil {
		log.Fatal(err)
	}
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(nc, itemServer{}, natsrpc.WithInterceptors(metrics))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())
	client := natsrpctestv1natsrpc.NewTestServiceClient(nc, natsrpc.WithInterceptors(metrics))
	for _, id := range []string{"i-1", "i-1", "i-2"} {
		_, _ = client.Get(context.Background(), &natsrpctestv1.GetRequest{Id: id})
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
	// natsrpc_server_handled_total Get not_found 1
	// natsrpc_server_handled_total Get ok 2
}
