package runtimetest

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	natsrpcv1 "github.com/natsrpc/natsrpc/proto/natsrpc/v1"
)

// The stream service is a test-only schema built in code, like the ping
// service: one method of every streaming kind and events of every
// delivery, with wrappers as messages. Its durable event has short
// timings, so that redelivery and parking tests run in a second.
var (
	streamService = func() protoreflect.ServiceDescriptor {
		str := ".google.protobuf.StringValue"
		method := func(name string, clientStream, serverStream bool, opts *natsrpcv1.MethodOptions) *descriptorpb.MethodDescriptorProto {
			m := &descriptorpb.MethodDescriptorProto{
				Name:            proto.String(name),
				InputType:       proto.String(str),
				OutputType:      proto.String(str),
				ClientStreaming: proto.Bool(clientStream),
				ServerStreaming: proto.Bool(serverStream),
			}
			if opts != nil {
				m.OutputType = proto.String(".google.protobuf.Empty")
				m.Options = &descriptorpb.MethodOptions{}
				proto.SetExtension(m.Options, natsrpcv1.E_Method, opts)
			}
			return m
		}
		event := natsrpcv1.MethodKind_METHOD_KIND_EVENT
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:       proto.String("natsrpctest/v1/stream.proto"),
			Package:    proto.String("natsrpctest.v1"),
			Dependency: []string{"google/protobuf/wrappers.proto", "google/protobuf/empty.proto", "natsrpc/v1/options.proto"},
			Syntax:     proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name: proto.String("StreamService"),
				Method: []*descriptorpb.MethodDescriptorProto{
					method("Watch", false, true, nil),
					method("Upload", true, false, nil),
					method("Chat", true, true, nil),
					method("Notify", false, false, &natsrpcv1.MethodOptions{Kind: event}),
					method("Announce", false, false, &natsrpcv1.MethodOptions{Kind: event, Delivery: natsrpcv1.EventDelivery_EVENT_DELIVERY_BROADCAST}),
					method("Record", false, false, &natsrpcv1.MethodOptions{Kind: event, Durable: &natsrpcv1.DurableEvent{
						MaxDeliver:      3,
						Backoff:         []*durationpb.Duration{durationpb.New(50e6), durationpb.New(100e6)},
						AckWait:         durationpb.New(2e9),
						DuplicateWindow: durationpb.New(60e9),
					}}),
				},
			}},
		}, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		return fd.Services().ByName("StreamService")
	}()
	streamWatch    = streamService.Methods().ByName("Watch")
	streamUpload   = streamService.Methods().ByName("Upload")
	streamChat     = streamService.Methods().ByName("Chat")
	streamNotify   = streamService.Methods().ByName("Notify")
	streamAnnounce = streamService.Methods().ByName("Announce")
	streamRecord   = streamService.Methods().ByName("Record")
)

const (
	streamWatchSubject  = "natsrpctest.v1.StreamService.Watch"
	streamRecordSubject = "natsrpctest.v1.StreamService.Record"
	// The durable event's default stream name: its subject, dots as "_".
	streamRecordStream = "natsrpctest_v1_StreamService_Record"
)

type (
	str       = wrapperspb.StringValue
	watchConn = natsrpc.ServerStreamClient[str, str]
)

func watchClient(nc *nats.Conn, opts ...natsrpc.ClientOption) *watchConn {
	return natsrpc.NewServerStreamClient[str, str](nc, streamWatch, opts...)
}

func watchHandler(fn func(context.Context, *str, *natsrpc.HandlerSendStream[str]) error) natsrpc.Handler {
	return natsrpc.NewServerStreamHandler(streamWatch, fn)
}

// slowService has a default_timeout of 100ms, which must not cut its
// streams.
var (
	slowService = func() protoreflect.ServiceDescriptor {
		opts := &descriptorpb.ServiceOptions{}
		proto.SetExtension(opts, natsrpcv1.E_Service, &natsrpcv1.ServiceOptions{DefaultTimeout: durationpb.New(100 * time.Millisecond)})
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:       proto.String("natsrpctest/v1/slow.proto"),
			Package:    proto.String("natsrpctest.v1"),
			Dependency: []string{"google/protobuf/wrappers.proto", "natsrpc/v1/options.proto"},
			Syntax:     proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name:    proto.String("SlowService"),
				Options: opts,
				Method: []*descriptorpb.MethodDescriptorProto{{
					Name:            proto.String("Watch"),
					InputType:       proto.String(".google.protobuf.StringValue"),
					OutputType:      proto.String(".google.protobuf.StringValue"),
					ServerStreaming: proto.Bool(true),
				}},
			}},
		}, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		return fd.Services().ByName("SlowService")
	}()
	slowWatch = slowService.Methods().ByName("Watch")
)
