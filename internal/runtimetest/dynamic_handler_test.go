package runtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// dynamicItemService is TestService as a bridge knows it: descriptors
// read from a descriptor set, with no generated type.
func dynamicItemService(t testing.TB) protoreflect.ServiceDescriptor {
	t.Helper()
	d, err := dynamicFiles.FindDescriptorByName("natsrpctest.v1.TestService")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.ServiceDescriptor)
}

// TestDynamicUnaryHandler serves Get from a dynamic descriptor with
// dynamicpb messages and calls it with the generated client: the same
// wire contract, discovery and errors as a generated handler.
func TestDynamicUnaryHandler(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	sd := dynamicItemService(t)
	get := sd.Methods().ByName("Get")
	item := get.Output().Fields().ByName("item")
	var gotType atomic.Value
	svc := startService(t, snc, sd, []natsrpc.Handler{natsrpc.NewDynamicUnaryHandler(get, func(ctx context.Context, req proto.Message) (proto.Message, error) {
		gotType.Store(req.ProtoReflect().Descriptor().FullName())
		id := req.ProtoReflect().Get(get.Input().Fields().ByName("id")).String()
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		ci.ResponseHeader().Set("X-Player", ci.RequestHeader().Get("X-Player"))
		switch id {
		case "missing":
			return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no item \"missing\""))
		case "nil":
			return nil, nil
		case "wrong-type":
			return dynamicpb.NewMessage(get.Input()), nil
		case "deadline":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		res := dynamicpb.NewMessage(get.Output())
		it := res.Mutable(item).Message()
		it.Set(item.Message().Fields().ByName("id"), protoreflect.ValueOfString(id))
		it.Set(item.Message().Fields().ByName("title"), protoreflect.ValueOfString("The "+id))
		return res, nil
	})})
	client := getItemClient(cnc)

	var hdr nats.Header
	res, err := client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "i1"}, natsrpc.WithHeader("X-Player", "p1"), natsrpc.WithResponseHeader(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if res.GetItem().GetTitle() != "The i1" || hdr.Get("X-Player") != "p1" {
		t.Fatalf("response %v, header %v", res, hdr)
	}
	if got := gotType.Load(); got != protoreflect.FullName("natsrpctest.v1.GetRequest") {
		t.Fatalf("the handler got a %v", got)
	}
	// JSON callers are answered in JSON.
	jres, err := getItemClient(cnc, natsrpc.WithJSON()).CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "j1"})
	if err != nil || jres.GetItem().GetTitle() != "The j1" {
		t.Fatalf("JSON call: %v, %v", jres, err)
	}
	msg, err := cnc.RequestMsg(&nats.Msg{Subject: getItemSubject, Data: []byte(`{"id":"raw"}`), Header: nats.Header{"Content-Type": {"application/json"}}}, 2*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"title":"The raw"`) || msg.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("raw JSON request: %q %v, %v", msg.Data, msg.Header, err)
	}

	_, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "missing"})
	wantCode(t, err, natsrpc.CodeNotFound)
	_, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "nil"})
	wantCode(t, err, natsrpc.CodeInternal)
	_, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "wrong-type"})
	if e := wantCode(t, err, natsrpc.CodeInternal); !strings.Contains(e.Message(), `response is a "natsrpctest.v1.GetRequest"`) {
		t.Fatalf("message %q", e.Message())
	}
	_, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "deadline"}, natsrpc.WithCallTimeout(100*time.Millisecond))
	wantCode(t, err, natsrpc.CodeDeadlineExceeded)
	// An undecodable request never reaches the handler.
	gotType.Store(protoreflect.FullName(""))
	msg, err = cnc.Request(getItemSubject, []byte{0xff, 0xff}, 2*time.Second)
	if err != nil || msg.Header.Get("Nats-Rpc-Code") != "invalid_argument" || gotType.Load() != protoreflect.FullName("") {
		t.Fatalf("garbage: %v %v; handler saw %v", msg, err, gotType.Load())
	}

	// Discovery as for generated handlers: the endpoint's metadata.
	info := svc.Info()
	if len(info.Endpoints) != 1 || info.Endpoints[0].Subject != getItemSubject || info.Endpoints[0].QueueGroup != "q" ||
		info.Endpoints[0].Metadata["natsrpc.idempotency"] != "no_side_effects" {
		t.Fatalf("info %+v", info.Endpoints)
	}
	// The deadline call's handler may still be returning: its request is
	// counted when it has.
	waitFor(t, "every request counted", func() bool {
		ep := requestStats(t, cnc, itemMicroName).Endpoints[0]
		return ep.NumRequests == 8 && ep.NumErrors == 5
	})
}

// requestStats asks $SRV.STATS of one service.
func requestStats(t testing.TB, nc *nats.Conn, name string) micro.Stats {
	t.Helper()
	msg, err := nc.Request("$SRV.STATS."+name, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st micro.Stats
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDynamicUnaryBytesHandler passes bytes through: the request's bytes
// reach fn as sent, fn's bytes reach the caller, bytes that do not decode
// are refused on either side.
func TestDynamicUnaryBytesHandler(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	sd := dynamicItemService(t)
	get := sd.Methods().ByName("Get")
	var seen atomic.Int32
	var intercepted atomic.Value
	icp := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			intercepted.Store(req.ProtoReflect().Descriptor().FullName())
			return next(ctx, req)
		}
	})
	startService(t, snc, sd, []natsrpc.Handler{natsrpc.NewDynamicUnaryBytesHandler(get, func(_ context.Context, b []byte) ([]byte, error) {
		seen.Add(1)
		var req natsrpctestv1.GetRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			return nil, err
		}
		switch req.GetId() {
		case "garbage":
			return []byte{0x0a, 0xff}, nil // field 1, length 255, no bytes
		case "empty":
			return nil, nil
		}
		return proto.Marshal(&natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Summary: req.GetMeta().GetRequestId()}})
	})}, natsrpc.WithInterceptors(icp))
	client := getItemClient(cnc)
	res, err := client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "b1", Meta: &natsrpctestv1.Meta{RequestId: "r1"}})
	if err != nil || res.GetItem().GetId() != "b1" || res.GetItem().GetSummary() != "r1" {
		t.Fatalf("%v, %v", res, err)
	}
	if intercepted.Load() != protoreflect.FullName("natsrpctest.v1.GetRequest") {
		t.Fatalf("interceptor saw %v", intercepted.Load())
	}
	res, err = getItemClient(cnc, natsrpc.WithJSON()).CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "j1"})
	if err != nil || res.GetItem().GetId() != "j1" {
		t.Fatalf("JSON: %v, %v", res, err)
	}
	res, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "empty"})
	if err != nil || res.GetItem() != nil {
		t.Fatalf("empty: %v, %v", res, err)
	}
	_, err = client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "garbage"})
	if e := wantCode(t, err, natsrpc.CodeInternal); !strings.Contains(e.Message(), "not a valid \"natsrpctest.v1.GetResponse\"") {
		t.Fatalf("message %q", e.Message())
	}
	before := seen.Load()
	msg, err := cnc.Request(getItemSubject, []byte{0x1a, 0x05, 'a'}, 2*time.Second)
	if err != nil || msg.Header.Get("Nats-Rpc-Code") != "invalid_argument" {
		t.Fatalf("truncated request: %v %v", msg, err)
	}
	if seen.Load() != before {
		t.Fatal("the handler was called with bytes that do not decode")
	}
}

// TestDynamicEventHandlers consumes an event published by the generated
// event client with each dynamic event handler.
func TestDynamicEventHandlers(t *testing.T) {
	t.Parallel()
	for _, bytesVariant := range []bool{false, true} {
		name := map[bool]string{false: "dynamicpb", true: "bytes"}[bytesVariant]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, cnc, snc := testConns(t)
			sd := dynamicItemService(t)
			notify := sd.Methods().ByName("Notify")
			got := make(chan string, 4)
			var h natsrpc.Handler
			if bytesVariant {
				h = natsrpc.NewDynamicEventBytesHandler(notify, func(_ context.Context, b []byte) error {
					var req natsrpctestv1.NotifyRequest
					if err := proto.Unmarshal(b, &req); err != nil {
						return err
					}
					got <- req.GetText()
					return nil
				})
			} else {
				h = natsrpc.NewDynamicEventHandler(notify, func(_ context.Context, req proto.Message) error {
					b, err := protojson.Marshal(req)
					if err != nil {
						return err
					}
					got <- string(b)
					return nil
				})
			}
			startService(t, snc, sd, []natsrpc.Handler{h})
			ec := natsrpc.NewEventClient[natsrpctestv1.NotifyRequest](cnc, natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService").Methods().ByName("Notify"))
			if err := ec.Publish(t.Context(), &natsrpctestv1.NotifyRequest{Id: "n1", Text: "hello"}); err != nil {
				t.Fatal(err)
			}
			select {
			case v := <-got:
				if !strings.Contains(v, "hello") {
					t.Fatalf("handler got %q", v)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the event never reached the handler")
			}
		})
	}
}

// TestDynamicHandlerErrors checks that invalid dynamic handlers fail
// NewService with a message naming the problem.
func TestDynamicHandlerErrors(t *testing.T) {
	t.Parallel()
	_, _, snc := testConns(t)
	sd := dynamicItemService(t)
	for _, tc := range []struct {
		h    natsrpc.Handler
		want string
	}{
		{natsrpc.NewDynamicUnaryHandler(sd.Methods().ByName("Watch"), func(context.Context, proto.Message) (proto.Message, error) { return nil, nil }), "method is server_stream, not unary"},
		{natsrpc.NewDynamicUnaryBytesHandler(sd.Methods().ByName("Get"), nil), "handler function is nil"},
		{natsrpc.NewDynamicEventHandler(sd.Methods().ByName("Get"), func(context.Context, proto.Message) error { return nil }), "method is unary, not an event"},
		{natsrpc.NewDynamicEventBytesHandler(nil, func(context.Context, []byte) error { return nil }), "method descriptor is nil"},
	} {
		if _, err := natsrpc.NewService(snc, sd, []natsrpc.Handler{tc.h}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewService = %v; want %q", err, tc.want)
		}
	}
}
