package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// floodSet is version n of module m: one message with n fields, each
// version a compatible extension of the one before.
func floodSet(m, n int) *descriptorpb.FileDescriptorSet {
	msg := &descriptorpb.DescriptorProto{Name: proto.String("M")}
	for i := 1; i <= n; i++ {
		msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(fmt.Sprintf("f%d", i)),
			Number:   proto.Int32(int32(i)),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type:     descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			JsonName: proto.String(fmt.Sprintf("f%d", i)),
		})
	}
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name:        proto.String(fmt.Sprintf("flood/m%d/v1/m.proto", m)),
		Package:     proto.String(fmt.Sprintf("flood.m%d.v1", m)),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}}}
}

// TestHostileFlood: pushes from many clients at once, mixed with garbage
// on the push subjects and oversized claims, do not take the registry
// down or lose data: it keeps answering, and afterwards every version it
// acknowledged is there with the digest it acknowledged, and nothing
// else.
func TestHostileFlood(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	ctx := registrytest.Ctx(t, 3*time.Minute)
	const modules, versions = 6, 4
	type ack struct {
		version uint64
		digest  string
	}
	var (
		mu    sync.Mutex
		acked = map[string][]ack{}
		wg    sync.WaitGroup
	)
	for m := range modules {
		// Two clients race to push each version of each module.
		for range 2 {
			wg.Go(func() {
				module := fmt.Sprintf("flood%d", m)
				for n := 1; n <= versions; n++ {
					res, err := env.Client.Push(ctx, &registryv1.PushRequest{Module: module, Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: floodSet(m, n)}})
					if err != nil {
						continue // lost a race too often, or the registry was busy: not acknowledged
					}
					if res.GetCreated() {
						mu.Lock()
						acked[module] = append(acked[module], ack{res.GetVersion().GetVersion(), res.GetVersion().GetDigest()})
						mu.Unlock()
					}
				}
			})
		}
	}
	// Garbage on the push subjects, bounded.
	wg.Go(func() {
		for i := range 300 {
			subject := fmt.Sprintf("natsrpc.registry.v1.push.Push.flood%d", i%modules)
			msg, err := env.Conn.RequestWithContext(ctx, subject, []byte{0xff, 0xff, 0xff, 0x0f, byte(i)})
			if err == nil && msg.Header.Get("Nats-Rpc-Code") != "invalid_argument" {
				t.Errorf("garbage push %d answered %q", i, msg.Header.Get("Nats-Rpc-Code"))
				return
			}
		}
	})
	wg.Wait()

	start := time.Now()
	mods, err := env.Client.ListModules(ctx)
	if err != nil {
		t.Fatalf("the registry does not answer after the flood: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("listing took %s after the flood", d)
	}
	if len(mods) != modules {
		t.Errorf("%d modules; want %d", len(mods), modules)
	}
	for module, acks := range acked {
		vs, err := env.Client.ListVersions(ctx, module)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[uint64]string{}
		for _, v := range vs {
			stored[v.GetVersion()] = v.GetDigest()
		}
		for _, a := range acks {
			if stored[a.version] != a.digest {
				t.Errorf("%s@%d was acknowledged with %s; stored: %q", module, a.version, a.digest, stored[a.version])
			}
		}
		if len(vs) != len(acks) {
			t.Errorf("%s has %d versions; %d were acknowledged", module, len(vs), len(acks))
		}
	}
}
