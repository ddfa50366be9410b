package runtimetest

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// dynamicFiles is the test schema rebuilt from its descriptor protos, as a
// gateway gets it from the registry: descriptors no generated type is
// registered for, with the natsrpc options as unknown fields.
var dynamicFiles = func() *protoregistry.Files {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(fd)
		b, err := proto.Marshal(fdp)
		if err != nil {
			panic(err)
		}
		// Re-read without resolving extensions: custom options become
		// unknown fields, as in a descriptor set read by a tool.
		fresh := &descriptorpb.FileDescriptorProto{}
		if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, fresh); err != nil {
			panic(err)
		}
		set.File = append(set.File, fresh)
	}
	add(natsrpctestv1.File_natsrpctest_v1_test_proto)
	files, err := protodesc.NewFiles(set)
	if err != nil {
		panic(err)
	}
	return files
}()

func dynMethod(t testing.TB, name protoreflect.FullName) protoreflect.MethodDescriptor {
	t.Helper()
	d, err := dynamicFiles.FindDescriptorByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return d.(protoreflect.MethodDescriptor)
}

// dynMsg decodes a generated message into a dynamic one of type desc.
func dynMsg(t testing.TB, desc protoreflect.MessageDescriptor, m proto.Message) *dynamicpb.Message {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := dynamicpb.NewMessage(desc)
	if err := proto.Unmarshal(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// asGenerated re-decodes any message into a generated one.
func asGenerated[T proto.Message](t testing.TB, m proto.Message, into T) T {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
	return into
}

func TestDynamicUnary(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	var calls atomic.Int32
	testService(t, snc, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		calls.Add(1)
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		ci.ResponseHeader().Set("X-Echo", ci.RequestHeader().Get("X-Player"))
		dl, _ := ctx.Deadline()
		ci.ResponseHeader().Set("X-Left", strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
		if req.GetId() == "missing" {
			e := natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no item \"missing\""))
			_ = e.AddDetail(wrapperspb.String("detail"))
			return nil, e
		}
		return echoGetItem(ctx, req)
	})})
	md := dynMethod(t, "natsrpctest.v1.TestService.Get")
	c := natsrpc.NewDynamicClient(cnc, md)
	if c.Kind() != natsrpc.MethodKindUnary || c.Spec().Subject != getItemSubject {
		t.Fatalf("kind %v subject %q", c.Kind(), c.Spec().Subject)
	}

	t.Run("dynamicpb", func(t *testing.T) {
		var hdr nats.Header
		res, err := c.CallUnary(t.Context(), dynMsg(t, md.Input(), &natsrpctestv1.GetRequest{Id: "q1"}),
			natsrpc.WithHeader("X-Player", "p7"), natsrpc.WithResponseHeader(&hdr), natsrpc.WithCallTimeout(1500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := res.(*dynamicpb.Message); !ok {
			t.Fatalf("response is a %T; want *dynamicpb.Message", res)
		}
		if got := asGenerated(t, res, &natsrpctestv1.GetResponse{}); got.GetItem().GetTitle() != "The q1" {
			t.Fatalf("response %v", got)
		}
		if hdr.Get("X-Echo") != "p7" {
			t.Fatalf("response header %v; want X-Echo: p7", hdr)
		}
		if left, _ := strconv.Atoi(hdr.Get("X-Left")); left <= 1000 || left > 1500 {
			t.Fatalf("handler had %dms left; want the call's 1.5s deadline", left)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		req, _ := proto.Marshal(&natsrpctestv1.GetRequest{Id: "q2"})
		res, err := c.CallUnaryBytes(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		got := &natsrpctestv1.GetResponse{}
		if err := proto.Unmarshal(res, got); err != nil || got.GetItem().GetTitle() != "The q2" {
			t.Fatalf("response %v, %v", got, err)
		}
	})
	t.Run("wire error with details", func(t *testing.T) {
		req, _ := proto.Marshal(&natsrpctestv1.GetRequest{Id: "missing"})
		_, err := c.CallUnaryBytes(t.Context(), req)
		e := wantCode(t, err, natsrpc.CodeNotFound)
		if !natsrpc.IsWireError(err) || len(e.Details()) != 1 || e.Message() != `no item "missing"` {
			t.Fatalf("error %v details %v", e, e.Details())
		}
	})
	t.Run("undecodable bytes never sent", func(t *testing.T) {
		before := calls.Load()
		bad := [][]byte{
			{0x1a, 0x05, 'a'},          // id says 5 bytes, has 1
			{0x1a, 0x02, 0xff, 0xfe},   // id is not UTF-8
			{0x0a, 0x03, 0x0a, 0x01},   // meta holds a truncated field
			{0x0c},                     // a stray end-group
			{0x00, 0x01},               // field number 0
			{0x1b, 0x0a, 0x01, 'x', 0}, // an unterminated group
		}
		for _, b := range bad {
			_, err := c.CallUnaryBytes(t.Context(), b)
			e := wantCode(t, err, natsrpc.CodeInvalidArgument)
			if natsrpc.IsWireError(err) {
				t.Fatalf("%x: the service answered %v; it must never see the request", b, e)
			}
		}
		if calls.Load() != before {
			t.Fatalf("the handler ran %d times for undecodable requests", calls.Load()-before)
		}
	})
	t.Run("wrong message type", func(t *testing.T) {
		_, err := c.CallUnary(t.Context(), wrapperspb.String("x"))
		wantCode(t, err, natsrpc.CodeInvalidArgument)
	})
	t.Run("wrong kind", func(t *testing.T) {
		_, err := c.CallServerStreamBytes(t.Context(), nil)
		e := wantCode(t, err, natsrpc.CodeInvalidArgument)
		if e.Message() == "" {
			t.Fatal("no message")
		}
	})
}

func TestDynamicUnaryNoRespondersAndDeadline(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	gen := dynMethod(t, "natsrpctest.v1.TestService.Generate")
	c := natsrpc.NewDynamicClient(cnc, gen)
	start := time.Now()
	_, err := c.CallUnaryBytes(t.Context(), nil)
	wantCode(t, err, natsrpc.CodeUnavailable)
	if time.Since(start) > time.Second {
		t.Fatalf("no responders took %s", time.Since(start))
	}
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	testService(t, snc, []natsrpc.Handler{natsrpc.NewUnaryHandler(generateItem, func(ctx context.Context, _ *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	})})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = c.CallUnaryBytes(ctx, nil)
	wantCode(t, err, natsrpc.CodeDeadlineExceeded)
}

// TestDynamicUnaryRetries checks that a dynamic call of an idempotent
// method retries like a generated one: the first attempt is answered
// unavailable, the second succeeds.
func TestDynamicUnaryRetries(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	var calls atomic.Int32
	testService(t, snc, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		if calls.Add(1) == 1 {
			return nil, natsrpc.NewError(natsrpc.CodeUnavailable, errors.New("warming up"))
		}
		return echoGetItem(ctx, req)
	})})
	c := natsrpc.NewDynamicClient(cnc, dynMethod(t, "natsrpctest.v1.TestService.Get"),
		natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if _, err := c.CallUnaryBytes(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("handler ran %d times; want 2 (one retry)", calls.Load())
	}
}

// TestDynamicInterceptorSeesRawMessage checks that client interceptors run
// on bytes calls and see a message of the method's type whose encoding is
// the request's.
func TestDynamicInterceptorSeesRawMessage(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	testService(t, snc, []natsrpc.Handler{getItemHandler(echoGetItem)})
	var seen []byte
	var name protoreflect.FullName
	rec := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			name = req.ProtoReflect().Descriptor().FullName()
			seen, _ = proto.Marshal(req)
			return next(ctx, req)
		}
	})
	c := natsrpc.NewDynamicClient(cnc, dynMethod(t, "natsrpctest.v1.TestService.Get"), natsrpc.WithInterceptors(rec))
	req, _ := proto.Marshal(&natsrpctestv1.GetRequest{Id: "q9", OwnerId: "o"})
	res, err := c.CallUnaryBytes(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if name != "natsrpctest.v1.GetRequest" || string(seen) != string(req) {
		t.Fatalf("interceptor saw %s %x; want natsrpctest.v1.GetRequest %x", name, seen, req)
	}
	got := &natsrpctestv1.GetResponse{}
	if err := proto.Unmarshal(res, got); err != nil || got.GetItem().GetId() != "q9" {
		t.Fatalf("response %v %v", got, err)
	}
}

func TestDynamicStreams(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	testService(t, snc, []natsrpc.Handler{
		natsrpc.NewServerStreamHandler(itemService.Methods().ByName("Watch"), func(ctx context.Context, req *natsrpctestv1.WatchRequest, s *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
			s.ResponseHeader().Set("X-Watch", "on")
			for i := uint64(1); i <= req.GetCount(); i++ {
				if err := s.Send(&natsrpctestv1.WatchResponse{Revision: i, Key: req.GetScript()}); err != nil {
					return err
				}
			}
			if req.GetScript() == "fail" {
				return natsrpc.NewError(natsrpc.CodeAborted, errors.New("revision conflict"))
			}
			return nil
		}),
		natsrpc.NewClientStreamHandler(itemService.Methods().ByName("Upload"), func(ctx context.Context, s *natsrpc.HandlerRecvStream[natsrpctestv1.UploadRequest]) (*natsrpctestv1.UploadResponse, error) {
			var all string
			for {
				m, err := s.Recv()
				if err == io.EOF {
					return &natsrpctestv1.UploadResponse{Value: all}, nil
				}
				if err != nil {
					return nil, err
				}
				all += m.GetValue()
			}
		}),
		natsrpc.NewBidiStreamHandler(itemService.Methods().ByName("Chat"), func(ctx context.Context, s *natsrpc.HandlerBidiStream[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]) error {
			for {
				m, err := s.Recv()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := s.Send(&natsrpctestv1.ChatResponse{Value: "re: " + m.GetValue()}); err != nil {
					return err
				}
			}
		}),
	})

	t.Run("server stream bytes", func(t *testing.T) {
		c := natsrpc.NewDynamicClient(cnc, dynMethod(t, "natsrpctest.v1.TestService.Watch"))
		req, _ := proto.Marshal(&natsrpctestv1.WatchRequest{Script: "k", Count: 3})
		s, err := c.CallServerStreamBytes(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := uint64(1); ; i++ {
			b, err := s.RecvBytes()
			if err == io.EOF {
				if i != 4 {
					t.Fatalf("stream ended after %d messages; want 3", i-1)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			m := &natsrpctestv1.WatchResponse{}
			if err := proto.Unmarshal(b, m); err != nil || m.GetRevision() != i || m.GetKey() != "k" {
				t.Fatalf("message %d: %v %v", i, m, err)
			}
			if s.ResponseHeader().Get("X-Watch") != "on" {
				t.Fatalf("response header %v", s.ResponseHeader())
			}
		}
	})
	t.Run("server stream error after messages", func(t *testing.T) {
		md := dynMethod(t, "natsrpctest.v1.TestService.Watch")
		c := natsrpc.NewDynamicClient(cnc, md)
		s, err := c.CallServerStream(t.Context(), dynMsg(t, md.Input(), &natsrpctestv1.WatchRequest{Script: "fail", Count: 2}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := 0; i < 2; i++ {
			m, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.(*dynamicpb.Message); !ok {
				t.Fatalf("message is a %T", m)
			}
		}
		_, err = s.Recv()
		wantCode(t, err, natsrpc.CodeAborted)
	})
	t.Run("client stream", func(t *testing.T) {
		md := dynMethod(t, "natsrpctest.v1.TestService.Upload")
		c := natsrpc.NewDynamicClient(cnc, md)
		s, err := c.CallClientStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"a", "b"} {
			b, _ := proto.Marshal(&natsrpctestv1.UploadRequest{Value: v})
			if err := s.SendBytes(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Send(dynMsg(t, md.Input(), &natsrpctestv1.UploadRequest{Value: "c"})); err != nil {
			t.Fatal(err)
		}
		res, err := s.CloseAndRecvBytes()
		if err != nil {
			t.Fatal(err)
		}
		got := &natsrpctestv1.UploadResponse{}
		if err := proto.Unmarshal(res, got); err != nil || got.GetValue() != "abc" {
			t.Fatalf("response %v %v", got, err)
		}
		if err := s.SendBytes([]byte{0xff}); natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument {
			t.Fatalf("undecodable message: %v; want invalid_argument", err)
		}
	})
	t.Run("bidi", func(t *testing.T) {
		md := dynMethod(t, "natsrpctest.v1.TestService.Chat")
		c := natsrpc.NewDynamicClient(cnc, md)
		s, err := c.CallBidiStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, v := range []string{"hi", "bye"} {
			if err := s.Send(dynMsg(t, md.Input(), &natsrpctestv1.ChatRequest{Value: v})); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if got := asGenerated(t, m, &natsrpctestv1.ChatResponse{}); got.GetValue() != "re: "+v {
				t.Fatalf("got %q", got.GetValue())
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("after CloseSend: %v; want io.EOF", err)
		}
	})
}

func TestDynamicEvents(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t, natstest.WithJetStream())
	got := make(chan string, 4)
	testService(t, snc, []natsrpc.Handler{natsrpc.NewEventHandler(itemService.Methods().ByName("Notify"), func(ctx context.Context, req *natsrpctestv1.NotifyRequest) error {
		got <- "notify " + req.GetText()
		return nil
	})})
	durable := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("DurableService")
	startService(t, snc, durable, []natsrpc.Handler{natsrpc.NewEventHandler(durable.Methods().ByName("Record"), func(ctx context.Context, req *natsrpctestv1.RecordRequest) error {
		got <- "record " + req.GetText()
		return nil
	})})
	notify := natsrpc.NewDynamicClient(cnc, dynMethod(t, "natsrpctest.v1.TestService.Notify"))
	b, _ := proto.Marshal(&natsrpctestv1.NotifyRequest{Id: "1", Text: "hello"})
	if err := notify.PublishBytes(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := notify.PublishBytes(t.Context(), []byte{0x12, 0x09}); natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument {
		t.Fatalf("truncated event: %v; want invalid_argument", err)
	}
	recordMD := dynMethod(t, "natsrpctest.v1.DurableService.Record")
	record := natsrpc.NewDynamicClient(cnc, recordMD)
	if err := record.Publish(t.Context(), dynMsg(t, recordMD.Input(), &natsrpctestv1.RecordRequest{Id: "2", Text: "stored"}), natsrpc.WithIdempotencyKey("rec-2")); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"notify hello": true, "record stored": true}
	for len(want) > 0 {
		select {
		case s := <-got:
			if !want[s] {
				t.Fatalf("unexpected event %q", s)
			}
			delete(want, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("events not handled: %v", want)
		}
	}
	// The durable event is in JetStream with its message ID.
	js, _ := jetstream.New(cnc)
	st, err := js.StreamNameBySubject(t.Context(), "natsrpctest.v1.DurableService.Record")
	if err != nil || st == "" {
		t.Fatalf("no stream stores the durable event: %v", err)
	}
}
