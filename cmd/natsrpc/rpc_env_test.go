package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	rpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The tests of call, template, services, tap and status run real services
// built from generated code (the library's test schema, natsrpctest.v1,
// which has a method of every kind, and the 22 gaming services) against a
// real nats-server and a real registry.

// testSchemaSet is natsrpctest.v1 compiled from its source, as a push
// sends it.
func testSchemaSet(t testing.TB) *registryv1.PushRequest {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testschema.RepoRoot(t), "internal", "testproto", "natsrpctest", "v1", "test.proto"))
	if err != nil {
		t.Fatal(err)
	}
	set := testschema.Compile(t, map[string]string{"natsrpctest/v1/test.proto": string(src)}, "natsrpctest/v1/test.proto")
	return &registryv1.PushRequest{
		Module:   "natsrpctest",
		Source:   &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set},
		OwnFiles: []string{"natsrpctest/v1/test.proto"},
	}
}

// items implements natsrpctest.v1's TestService and DurableService as the
// CLI tests need it: Get answers, echoing the "x-echo" header in the
// title, "missing" is not_found with a detail, "slow" sleeps; Watch sends
// count changes; Upload joins the values; Chat answers each message;
// Notify and Record remember what they got.
type items struct {
	mu       sync.Mutex
	notified []string
	recorded []string
}

func (s *items) Get(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	switch req.GetId() {
	case "missing":
		e := rpc.NewError(rpc.CodeNotFound, fmt.Errorf("no item %q", req.GetId()))
		if err := e.AddDetail(&natsrpctestv1.Item{Id: req.GetId(), Summary: "looked everywhere"}); err != nil {
			return nil, err
		}
		return nil, e
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	title := "The " + req.GetId()
	if ci, ok := rpc.CallInfoFromContext(ctx); ok {
		if v := ci.RequestHeader().Get("x-echo"); v != "" {
			title += " " + v
		}
	}
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: title, Status: natsrpctestv1.Status_STATUS_ACTIVE}}, nil
}

func (s *items) Generate(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
	return nil, rpc.NewError(rpc.CodeUnimplemented, errors.New("Generate is not implemented here"))
}

func (s *items) Watch(_ context.Context, req *natsrpctestv1.WatchRequest, st *rpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
	for i := range req.GetCount() {
		if err := st.Send(&natsrpctestv1.WatchResponse{Revision: i + 1, Key: req.GetScript()}); err != nil {
			return err
		}
	}
	if req.GetScript() == "fail" {
		return rpc.NewError(rpc.CodeAborted, errors.New("the watch broke"))
	}
	return nil
}

func (s *items) Upload(_ context.Context, st *rpc.HandlerRecvStream[natsrpctestv1.UploadRequest]) (*natsrpctestv1.UploadResponse, error) {
	var values []string
	for req, err := range st.All() {
		if err != nil {
			return nil, err
		}
		values = append(values, req.GetValue())
	}
	return &natsrpctestv1.UploadResponse{Value: strings.Join(values, "+")}, nil
}

func (s *items) Chat(_ context.Context, st *rpc.HandlerBidiStream[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]) error {
	for {
		req, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.Send(&natsrpctestv1.ChatResponse{Value: "re: " + req.GetValue()}); err != nil {
			return err
		}
	}
}

func (s *items) Notify(_ context.Context, req *natsrpctestv1.NotifyRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notified = append(s.notified, req.GetId())
	return nil
}

func (s *items) Record(_ context.Context, req *natsrpctestv1.RecordRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, req.GetId())
	return nil
}

func (s *items) got(which *[]string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), (*which)...)
}

// itemsEnv is a registry holding natsrpctest.v1 and TestService and
// DurableService serving it.
type itemsEnv struct {
	srv   *server.Server
	url   string
	items *items
	test  *rpc.Service
}

func startItems(t *testing.T, opts ...rpc.HandlerOption) *itemsEnv {
	t.Helper()
	env := registrytest.Start(t)
	if _, err := env.Client.Push(registrytest.Ctx(t, time.Minute), testSchemaSet(t)); err != nil {
		t.Fatal(err)
	}
	e := &itemsEnv{srv: env.Server, url: env.Server.ClientURL(), items: &items{}}
	e.test = serveItems(t, env.Server, e.items, opts...)
	return e
}

// serveItems starts TestService and DurableService on a new connection.
func serveItems(t *testing.T, srv *server.Server, it *items, opts ...rpc.HandlerOption) *rpc.Service {
	t.Helper()
	nc := natstest.Connect(t, srv)
	test, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(nc, it, opts...)
	if err != nil {
		t.Fatal(err)
	}
	durable, err := natsrpctestv1natsrpc.RegisterDurableServiceHandler(nc, it, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = test.Stop(ctx)
		_ = durable.Stop(ctx)
	})
	return test
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connect opens a NATS connection closed when t ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// natsrpcStdin runs `natsrpc <args>` in process with stdin as its
// standard input.
func natsrpcStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := newRoot()
	var stdout, stderr syncBuffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	code := cli.Execute(ctx, root)
	return result{stdout.String(), stderr.String(), code}
}
