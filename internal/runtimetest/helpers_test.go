package runtimetest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// Descriptors of the test schema's TestService, the service most tests
// use: Get runs under the service's default_timeout (5s) and has no side
// effects; Generate has a timeout of its own (30s).
var (
	itemService  = natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	getItem      = itemService.Methods().ByName("Get")
	generateItem = itemService.Methods().ByName("Generate")
)

const (
	itemMicroName  = "natsrpctest_v1_TestService"
	getItemSubject = "natsrpctest.v1.TestService.Get"
	genItemSubject = "natsrpctest.v1.TestService.Generate"
)

// testConns starts a server and returns a client and a server connection.
func testConns(t testing.TB, opts ...natstest.Option) (srv *server.Server, client, service *nats.Conn) {
	t.Helper()
	srv = natstest.Start(t, opts...)
	return srv, natstest.Connect(t, srv), natstest.Connect(t, srv)
}

// testService registers TestService handlers and stops the service when t
// ends.
func testService(t testing.TB, nc *nats.Conn, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	return startService(t, nc, itemService, handlers, opts...)
}

// testPingService registers ping service handlers.
func testPingService(t testing.TB, nc *nats.Conn, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	return startService(t, nc, pingService, handlers, opts...)
}

func startService(t testing.TB, nc *nats.Conn, sd protoreflect.ServiceDescriptor, handlers []natsrpc.Handler, opts ...natsrpc.HandlerOption) *natsrpc.Service {
	t.Helper()
	svc, err := natsrpc.NewService(nc, sd, handlers, opts...)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

// getItemHandler answers Get with fn.
func getItemHandler(fn func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error)) natsrpc.Handler {
	return natsrpc.NewUnaryHandler(getItem, fn)
}

// echoGetItem answers Get with an active item whose id is the requested
// one.
func echoGetItem(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{
		Id:     req.GetId(),
		Title:  "The " + req.GetId(),
		Status: natsrpctestv1.Status_STATUS_ACTIVE,
	}}, nil
}

func getItemClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.UnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse] {
	return natsrpc.NewUnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](nc, getItem, opts...)
}

func generateItemClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *natsrpc.UnaryClient[natsrpctestv1.GenerateRequest, natsrpctestv1.GenerateResponse] {
	return natsrpc.NewUnaryClient[natsrpctestv1.GenerateRequest, natsrpctestv1.GenerateResponse](nc, generateItem, opts...)
}

// wantCode fails t unless err has code want.
func wantCode(t testing.TB, err error, want natsrpc.Code) *natsrpc.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil; want code %v", want)
	}
	var e *natsrpc.Error
	if !asError(err, &e) {
		t.Fatalf("err = %T %v; want *natsrpc.Error", err, err)
	}
	if e.Code() != want {
		t.Fatalf("code = %v (%v); want %v", e.Code(), err, want)
	}
	return e
}

func asError(err error, target **natsrpc.Error) bool {
	e, ok := err.(*natsrpc.Error)
	if ok {
		*target = e
	}
	return ok
}

// waitFor polls cond every 5 ms for up to 5 s; tests use it only for state
// that changes asynchronously (stats counted after the response is sent).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// natsConnect is natstest.Connect, for goroutines that start a service late.
func natsConnect(t testing.TB, srv *server.Server) *nats.Conn {
	t.Helper()
	return natstest.Connect(t, srv)
}
