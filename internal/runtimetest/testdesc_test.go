package runtimetest

import (
	"context"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
)

// The ping service is a test-only schema built in code. Its messages are
// the well-known wrappers, so clients and handlers get concrete Go types,
// and unlike the test schema's TestService it sets no timeouts in its
// options, so the runtime's own defaults show. Its methods cover every
// idempotency level and a streaming shape.
var (
	pingService = func() protoreflect.ServiceDescriptor {
		str := ".google.protobuf.StringValue"
		method := func(name string, level descriptorpb.MethodOptions_IdempotencyLevel) *descriptorpb.MethodDescriptorProto {
			return &descriptorpb.MethodDescriptorProto{
				Name:       proto.String(name),
				InputType:  proto.String(str),
				OutputType: proto.String(str),
				Options:    &descriptorpb.MethodOptions{IdempotencyLevel: level.Enum()},
			}
		}
		watch := method("Watch", descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN)
		watch.ServerStreaming = proto.Bool(true)
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:       proto.String("natsrpctest/v1/ping.proto"),
			Package:    proto.String("natsrpctest.v1"),
			Dependency: []string{"google/protobuf/wrappers.proto"},
			Syntax:     proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name: proto.String("PingService"),
				Method: []*descriptorpb.MethodDescriptorProto{
					method("Ping", descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN),
					method("Read", descriptorpb.MethodOptions_NO_SIDE_EFFECTS),
					method("Put", descriptorpb.MethodOptions_IDEMPOTENT),
					watch,
				},
			}},
		}, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		return fd.Services().ByName("PingService")
	}()
	pingMethod  = pingService.Methods().ByName("Ping")
	readMethod  = pingService.Methods().ByName("Read")
	putMethod   = pingService.Methods().ByName("Put")
	watchMethod = pingService.Methods().ByName("Watch")
)

const pingSubject = "natsrpctest.v1.PingService.Ping"

type pingClient = natsrpc.UnaryClient[wrapperspb.StringValue, wrapperspb.StringValue]

func newPingClient(nc *nats.Conn, md protoreflect.MethodDescriptor, opts ...natsrpc.ClientOption) *pingClient {
	return natsrpc.NewUnaryClient[wrapperspb.StringValue, wrapperspb.StringValue](nc, md, opts...)
}

func pingHandler(md protoreflect.MethodDescriptor, fn func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)) natsrpc.Handler {
	return natsrpc.NewUnaryHandler(md, fn)
}

func echo(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(req.GetValue()), nil
}
