package transport

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

// NewRawNATS is the floor: what the call costs with nats.go and protobuf and
// nothing else. The handler is a plain QueueSubscribe callback that
// unmarshals, computes the answer, marshals and responds inline (one
// request at a time, on the subscription's goroutine); the caller marshals
// and uses RequestWithContext. No headers, no deadline propagation, no
// worker pool, no error contract: everything natsrpc adds is missing here.
func NewRawNATS(env Env, call *workload.Call) (*harness.Target, error) {
	server, client, callerWire, allWire, err := natsPair(env.NATSURL)
	if err != nil {
		return nil, err
	}
	subject := RawPrefix + "." + call.Subject
	sub, err := server.QueueSubscribe(subject, "q", func(m *nats.Msg) {
		req := call.NewRequest()
		if err := proto.Unmarshal(m.Data, req); err != nil {
			return
		}
		b, err := proto.Marshal(call.Handle(req))
		if err != nil {
			return
		}
		_ = m.Respond(b)
	})
	if err == nil {
		err = server.Flush()
	}
	if err != nil {
		server.Close()
		client.Close()
		return nil, fmt.Errorf("raw nats subscribe: %w", err)
	}
	req := call.Request()
	return &harness.Target{
		Name: "rawnats",
		Call: func(ctx context.Context) error {
			b, err := proto.Marshal(req)
			if err != nil {
				return err
			}
			msg, err := client.RequestWithContext(ctx, subject, b)
			if err != nil {
				return err
			}
			res := call.NewResponse()
			if err := proto.Unmarshal(msg.Data, res); err != nil {
				return err
			}
			return call.Check(res)
		},
		CallerWire: callerWire,
		AllWire:    allWire,
		ServerCPU:  env.NATSCPU,
		Close: func() {
			_ = sub.Unsubscribe()
			client.Close()
			server.Close()
		},
	}, nil
}
