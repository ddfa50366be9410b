// Package contribtest serves the test schema's TestService
// (internal/testproto) on a real in-process nats-server for the contrib
// packages' tests, through its generated stubs, with a method of every
// kind: Get and Generate (unary), Watch (server stream, scripted), Upload
// (client stream) and Chat (bidirectional stream). The studio's schemas
// under proto/gaming are not used, so that changing them never breaks a
// contrib test.
package contribtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// Methods as the contrib interceptors name them ("<service>/<method>",
// the procedure without its leading slash), and the service's name.
const (
	Service        = natsrpctestv1natsrpc.TestServiceName
	GetMethod      = Service + "/Get"
	GenerateMethod = Service + "/Generate"
	WatchMethod    = Service + "/Watch"
	UploadMethod   = Service + "/Upload"
	ChatMethod     = Service + "/Chat"
	NotifyMethod   = Service + "/Notify"
)

// Env is one nats-server with a connection for clients and one for
// services.
type Env struct {
	Server  *server.Server
	Client  *nats.Conn
	Service *nats.Conn
}

// Start starts a nats-server for t and connects to it; both end with t.
// opts configure the server (natstest.WithJetStream for durable events).
func Start(t testing.TB, opts ...natstest.Option) *Env {
	t.Helper()
	srv := natstest.Start(t, opts...)
	return &Env{Server: srv, Client: natstest.Connect(t, srv), Service: natstest.Connect(t, srv)}
}

// Handler implements TestService with functions. Get and Generate answer
// unimplemented without one; Watch runs [Watch] without one; Upload
// answers the values it received joined with spaces; Chat answers each
// message in upper case and fails with invalid_argument on "fail";
// Notify answers unimplemented.
type Handler struct {
	natsrpctestv1natsrpc.UnimplementedTestServiceHandler
	GetFunc      func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error)
	GenerateFunc func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error)
	WatchFunc    func(context.Context, *natsrpctestv1.WatchRequest, *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error
}

// Get calls GetFunc.
func (h *Handler) Get(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	if h.GetFunc == nil {
		return h.UnimplementedTestServiceHandler.Get(ctx, req)
	}
	return h.GetFunc(ctx, req)
}

// Generate calls GenerateFunc.
func (h *Handler) Generate(ctx context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
	if h.GenerateFunc == nil {
		return h.UnimplementedTestServiceHandler.Generate(ctx, req)
	}
	return h.GenerateFunc(ctx, req)
}

// Watch calls WatchFunc, or [Watch].
func (h *Handler) Watch(ctx context.Context, req *natsrpctestv1.WatchRequest, stream *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
	if h.WatchFunc != nil {
		return h.WatchFunc(ctx, req, stream)
	}
	return Watch(ctx, req, stream)
}

// Upload answers the values received, joined with spaces.
func (h *Handler) Upload(_ context.Context, s *natsrpc.HandlerRecvStream[natsrpctestv1.UploadRequest]) (*natsrpctestv1.UploadResponse, error) {
	var words []string
	for msg, err := range s.All() {
		if err != nil {
			return nil, err
		}
		words = append(words, msg.GetValue())
	}
	return &natsrpctestv1.UploadResponse{Value: strings.Join(words, " ")}, nil
}

// Chat answers each message in upper case; it fails with invalid_argument
// on "fail".
func (h *Handler) Chat(_ context.Context, s *natsrpc.HandlerBidiStream[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]) error {
	for msg, err := range s.All() {
		if err != nil {
			return err
		}
		if msg.GetValue() == "fail" {
			return natsrpc.NewError(natsrpc.CodeInvalidArgument, errors.New("chat refuses \"fail\""))
		}
		if err := s.Send(&natsrpctestv1.ChatResponse{Value: strings.ToUpper(msg.GetValue())}); err != nil {
			return err
		}
	}
	return nil
}

// Serve registers h on the service connection and stops the service when t
// ends (or earlier, through the returned stop function, which waits for
// the service to be gone).
func (e *Env) Serve(t testing.TB, h natsrpctestv1natsrpc.TestServiceHandler, opts ...natsrpc.HandlerOption) (stop func()) {
	t.Helper()
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(e.Service, h, opts...)
	if err != nil {
		t.Fatalf("register the test service: %v", err)
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
		// Make sure nats-server has processed the unsubscriptions, so that
		// the next request or stream finds no responders.
		_ = e.Service.Flush()
	}
	t.Cleanup(stop)
	return stop
}

// NewClient returns a generated TestService client on the client
// connection.
func (e *Env) NewClient(opts ...natsrpc.ClientOption) natsrpctestv1natsrpc.TestServiceClient {
	return natsrpctestv1natsrpc.NewTestServiceClient(e.Client, opts...)
}

// Item answers Get with an item whose id is the requested one.
func Item(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "The " + req.GetId()}}, nil
}

// Watch scripts on the request's script. It first sends Count responses
// (revisions 1 to n), then:
//
//   - "ok": returns nil (the stream ends ok);
//   - "fail": returns not_found;
//   - "forever": waits for its context to end and returns its error;
//   - "panic": panics.
func Watch(ctx context.Context, req *natsrpctestv1.WatchRequest, stream *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
	for rev := uint64(1); rev <= req.GetCount(); rev++ {
		if err := stream.Send(Change(rev)); err != nil {
			return err
		}
	}
	switch req.GetScript() {
	case "ok":
		return nil
	case "fail":
		return natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("script %q failed", req.GetScript()))
	case "forever":
		<-ctx.Done()
		return ctx.Err()
	case "panic":
		panic("watch panicked")
	}
	return natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("no script %q", req.GetScript()))
}

// Change is the response Watch sends for revision rev.
func Change(rev uint64) *natsrpctestv1.WatchResponse {
	return &natsrpctestv1.WatchResponse{
		Revision: rev,
		Key:      fmt.Sprintf("doc-%d", rev),
		Status:   natsrpctestv1.Status_STATUS_ACTIVE,
	}
}

// WatchRequest asks Watch for n responses, then script.
func WatchRequest(script string, n int) *natsrpctestv1.WatchRequest {
	return &natsrpctestv1.WatchRequest{Script: script, Count: uint64(n)}
}

// ReadAll receives from stream until it ends: the responses, and nil for a
// clean end (io.EOF) or the error.
func ReadAll[Res any](recv func() (*Res, error)) ([]*Res, error) {
	var all []*Res
	for {
		res, err := recv()
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		all = append(all, res)
	}
}

// ChatClient and UploadClient call Chat and Upload through the runtime's
// generic method clients rather than the generated ones, so that the
// contrib tests cover both.
type (
	ChatClient   = natsrpc.BidiStreamClient[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]
	UploadClient = natsrpc.ClientStreamClient[natsrpctestv1.UploadRequest, natsrpctestv1.UploadResponse]
)

var methods = natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService").Methods()

// NewChatClient returns a generic Chat client on nc.
func NewChatClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *ChatClient {
	return natsrpc.NewBidiStreamClient[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse](nc, methods.ByName("Chat"), opts...)
}

// NewUploadClient returns a generic Upload client on nc.
func NewUploadClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *UploadClient {
	return natsrpc.NewClientStreamClient[natsrpctestv1.UploadRequest, natsrpctestv1.UploadResponse](nc, methods.ByName("Upload"), opts...)
}

// Chat returns a Chat request carrying value.
func Chat(value string) *natsrpctestv1.ChatRequest { return &natsrpctestv1.ChatRequest{Value: value} }

// Upload returns an Upload request carrying value.
func Upload(value string) *natsrpctestv1.UploadRequest {
	return &natsrpctestv1.UploadRequest{Value: value}
}
