package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// Generated code does what this example does by hand: it registers a
// service's handlers with NewService and calls them through UnaryClients,
// both built from the method descriptors of the .pb.go file.
func Example() {
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

	testService := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	get := testService.Methods().ByName("Get")

	// The server side: one handler per method.
	svc, err := natsrpc.NewService(nc, testService, []natsrpc.Handler{
		natsrpc.NewUnaryHandler(get, func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			if req.GetId() != "i-1" {
				return nil, natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("no item %q", req.GetId()))
			}
			return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{
				Id:     "i-1",
				Title:  "The Lost Lighthouse",
				Status: natsrpctestv1.Status_STATUS_ACTIVE,
			}}, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(context.Background())

	// The client side.
	client := natsrpc.NewUnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](nc, get)
	ctx := context.Background()
	res, err := client.CallUnary(ctx, &natsrpctestv1.GetRequest{OwnerId: "p-1", Id: "i-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.GetItem().GetTitle(), res.GetItem().GetStatus())

	_, err = client.CallUnary(ctx, &natsrpctestv1.GetRequest{OwnerId: "p-1", Id: "i-404"})
	fmt.Println(natsrpc.CodeOf(err))
	fmt.Println(err)

	fmt.Println(svc.Name(), svc.Info().Endpoints[0].Subject)
	// Output:
	// The Lost Lighthouse STATUS_ACTIVE
	// not_found
	// not_found: no item "i-404"
	// natsrpctest_v1_TestService natsrpctest.v1.TestService.Get
}

// A handler chooses the code the caller sees with NewError; CodeOf reads it
// back from any error.
func ExampleNewError() {
	err := fmt.Errorf("load item: %w", natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no item \"i-9\"")))
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
// code wires the same calls: the client method of a server-streaming method
// returns a *natsrpc.ClientRecvStream[Res], and the handler method gets a
// *natsrpc.HandlerSendStream[Res].
func ExampleServerStreamClient() {
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

	testService := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	watch := testService.Methods().ByName("Watch")

	svc, err := natsrpc.NewService(nc, testService, []natsrpc.Handler{
		natsrpc.NewServerStreamHandler(watch, func(ctx context.Context, req *natsrpctestv1.WatchRequest, s *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
			for rev := uint64(1); rev <= req.GetCount(); rev++ {
				// Send blocks while the client is a window behind.
				if err := s.Send(&natsrpctestv1.WatchResponse{Revision: rev, Key: fmt.Sprintf("item-%d", rev)}); err != nil {
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

	client := natsrpc.NewServerStreamClient[natsrpctestv1.WatchRequest, natsrpctestv1.WatchResponse](nc, watch)
	stream, err := client.CallServerStream(context.Background(), &natsrpctestv1.WatchRequest{Count: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for res, err := range stream.All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.GetRevision(), res.GetKey())
	}
	// Output:
	// 1 item-1
	// 2 item-2
	// 3 item-3
}
