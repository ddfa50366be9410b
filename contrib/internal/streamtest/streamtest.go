// Package streamtest serves streams for the contrib packages' tests on a
// real in-process nats-server: the state manager's Watch through its
// generated stubs, and a bidirectional and a client-streaming method of a
// small schema built in code (the studio's schemas stream from the server
// only).
package streamtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	statemanagerv1 "github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1/statemanagerv1natsrpc"
)

// Procedures and subjects of the streams served here.
const (
	WatchProcedure   = statemanagerv1natsrpc.StateManagerServiceWatchProcedure
	WatchMethod      = "gaming.state_manager.v1.StateManagerService/Watch"
	EchoProcedure    = "/contribtest.v1.ChatService/Echo"
	EchoMethod       = "contribtest.v1.ChatService/Echo"
	CollectProcedure = "/contribtest.v1.ChatService/Collect"
	CollectMethod    = "contribtest.v1.ChatService/Collect"
)

// Watch scripts on the request's namespace. It first sends
// StartRevision responses (revisions 1 to n), then:
//
//   - "ok": returns nil (the stream ends ok);
//   - "fail": returns not_found;
//   - "forever": waits for its context to end and returns its error;
//   - "panic": panics.
func Watch(ctx context.Context, req *statemanagerv1.WatchRequest, stream *natsrpc.HandlerSendStream[statemanagerv1.WatchResponse]) error {
	for rev := uint64(1); rev <= req.GetStartRevision(); rev++ {
		if err := stream.Send(Change(rev)); err != nil {
			return err
		}
	}
	switch req.GetNamespace() {
	case "ok":
		return nil
	case "fail":
		return natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("namespace %q is gone", req.GetNamespace()))
	case "forever":
		<-ctx.Done()
		return ctx.Err()
	case "panic":
		panic("watch panicked")
	}
	return natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("no script for namespace %q", req.GetNamespace()))
}

// Change is the response Watch sends for revision rev.
func Change(rev uint64) *statemanagerv1.WatchResponse {
	return &statemanagerv1.WatchResponse{
		EventType: statemanagerv1.WatchEventType_WATCH_EVENT_TYPE_PUT,
		Key:       &statemanagerv1.DocumentKey{Namespace: "world", Key: fmt.Sprintf("doc-%d", rev)},
		Revision:  rev,
	}
}

// WatchRequest asks Watch for n responses, then the script of namespace.
func WatchRequest(namespace string, n int) *statemanagerv1.WatchRequest {
	return &statemanagerv1.WatchRequest{Namespace: namespace, StartRevision: uint64(n)}
}

// StateManager serves Watch with WatchFunc (default [Watch]); its other
// methods answer unimplemented.
type StateManager struct {
	statemanagerv1natsrpc.UnimplementedStateManagerServiceHandler
	WatchFunc func(context.Context, *statemanagerv1.WatchRequest, *natsrpc.HandlerSendStream[statemanagerv1.WatchResponse]) error
}

// Watch calls WatchFunc, or [Watch].
func (s *StateManager) Watch(ctx context.Context, req *statemanagerv1.WatchRequest, stream *natsrpc.HandlerSendStream[statemanagerv1.WatchResponse]) error {
	if s.WatchFunc != nil {
		return s.WatchFunc(ctx, req, stream)
	}
	return Watch(ctx, req, stream)
}

// ServeStateManager registers h on nc and returns a stop function, also
// called when t ends, that waits for the service to be gone.
func ServeStateManager(t testing.TB, nc *nats.Conn, h statemanagerv1natsrpc.StateManagerServiceHandler, opts ...natsrpc.HandlerOption) (stop func()) {
	t.Helper()
	svc, err := statemanagerv1natsrpc.RegisterStateManagerServiceHandler(nc, h, opts...)
	if err != nil {
		t.Fatalf("register state manager: %v", err)
	}
	return stopper(t, nc, svc)
}

func stopper(t testing.TB, nc *nats.Conn, svc *natsrpc.Service) func() {
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
		// Make sure nats-server has processed the unsubscriptions, so that
		// the next open finds no responders.
		_ = nc.Flush()
	}
	t.Cleanup(stop)
	return stop
}

// NewStateManagerClient returns a state manager client on nc.
func NewStateManagerClient(nc *nats.Conn, opts ...natsrpc.ClientOption) statemanagerv1natsrpc.StateManagerServiceClient {
	return statemanagerv1natsrpc.NewStateManagerServiceClient(nc, opts...)
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

// The chat service: Echo (bidirectional) answers each message with it in
// upper case and fails with invalid_argument on "fail"; Collect (client
// streaming) answers the messages joined with spaces.
var (
	chatService = func() protoreflect.ServiceDescriptor {
		str := ".google.protobuf.StringValue"
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:       proto.String("contribtest/v1/chat.proto"),
			Package:    proto.String("contribtest.v1"),
			Dependency: []string{"google/protobuf/wrappers.proto"},
			Syntax:     proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name: proto.String("ChatService"),
				Method: []*descriptorpb.MethodDescriptorProto{
					{Name: proto.String("Echo"), InputType: proto.String(str), OutputType: proto.String(str), ClientStreaming: proto.Bool(true), ServerStreaming: proto.Bool(true)},
					{Name: proto.String("Collect"), InputType: proto.String(str), OutputType: proto.String(str), ClientStreaming: proto.Bool(true)},
				},
			}},
		}, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		return fd.Services().ByName("ChatService")
	}()
	echoMethod    = chatService.Methods().ByName("Echo")
	collectMethod = chatService.Methods().ByName("Collect")
)

// ServeChat registers the chat service on nc; see [ServeStateManager].
func ServeChat(t testing.TB, nc *nats.Conn, opts ...natsrpc.HandlerOption) (stop func()) {
	t.Helper()
	echo := natsrpc.NewBidiStreamHandler(echoMethod, func(_ context.Context, s *natsrpc.HandlerBidiStream[wrapperspb.StringValue, wrapperspb.StringValue]) error {
		for msg, err := range s.All() {
			if err != nil {
				return err
			}
			if msg.GetValue() == "fail" {
				return natsrpc.NewError(natsrpc.CodeInvalidArgument, errors.New("echo refuses \"fail\""))
			}
			if err := s.Send(wrapperspb.String(strings.ToUpper(msg.GetValue()))); err != nil {
				return err
			}
		}
		return nil
	})
	collect := natsrpc.NewClientStreamHandler(collectMethod, func(_ context.Context, s *natsrpc.HandlerRecvStream[wrapperspb.StringValue]) (*wrapperspb.StringValue, error) {
		var words []string
		for msg, err := range s.All() {
			if err != nil {
				return nil, err
			}
			words = append(words, msg.GetValue())
		}
		return wrapperspb.String(strings.Join(words, " ")), nil
	})
	svc, err := natsrpc.NewService(nc, chatService, []natsrpc.Handler{echo, collect}, opts...)
	if err != nil {
		t.Fatalf("register chat service: %v", err)
	}
	return stopper(t, nc, svc)
}

// EchoClient calls Echo.
type EchoClient = natsrpc.BidiStreamClient[wrapperspb.StringValue, wrapperspb.StringValue]

// CollectClient calls Collect.
type CollectClient = natsrpc.ClientStreamClient[wrapperspb.StringValue, wrapperspb.StringValue]

// NewEchoClient returns an Echo client on nc.
func NewEchoClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *EchoClient {
	return natsrpc.NewBidiStreamClient[wrapperspb.StringValue, wrapperspb.StringValue](nc, echoMethod, opts...)
}

// NewCollectClient returns a Collect client on nc.
func NewCollectClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *CollectClient {
	return natsrpc.NewClientStreamClient[wrapperspb.StringValue, wrapperspb.StringValue](nc, collectMethod, opts...)
}
