package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	regserver "github.com/natsrpc/natsrpc/registry/server"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// versionEvents is a generated RegistryEventsService handler that records
// the VersionCreated events it handles and their idempotency keys.
type versionEvents struct {
	registryv1natsrpc.UnimplementedRegistryEventsServiceHandler
	mu     sync.Mutex
	events []*registryv1.ModuleVersion
	keys   []string
}

func (h *versionEvents) VersionCreated(ctx context.Context, req *registryv1.VersionCreatedRequest) error {
	ci, _ := natsrpc.CallInfoFromContext(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, req.GetVersion())
	h.keys = append(h.keys, ci.RequestHeader().Get("Nats-Msg-Id"))
	return nil
}

func (h *versionEvents) seen() ([]*registryv1.ModuleVersion, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*registryv1.ModuleVersion(nil), h.events...), append([]string(nil), h.keys...)
}

// TestVersionCreatedThroughGeneratedStubs: the relay publishes
// VersionCreated with the generated RegistryEventsService client, so a
// generated handler (with the server's subject prefix, if any) receives
// each new version, on every instance (broadcast), with "<module>@<version>"
// as the event's idempotency key; a handler without the prefix hears
// nothing of a prefixed registry.
func TestVersionCreatedThroughGeneratedStubs(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "staging"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			srv := registrytest.StartNATS(t)
			var sopts []regserver.Option
			var hopts []natsrpc.HandlerOption
			if prefix != "" {
				sopts = append(sopts, regserver.WithSubjectPrefix(prefix))
				hopts = append(hopts, natsrpc.WithSubjectPrefix(prefix))
			}
			reg, _ := registrytest.Serve(t, srv, sopts...)
			nc := natstest.Connect(t, srv)
			handlers := []*versionEvents{{}, {}}
			for _, h := range handlers {
				svc, err := registryv1natsrpc.RegisterRegistryEventsServiceHandler(nc, h, hopts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = svc.Stop(context.Background()) })
			}
			unprefixed := &versionEvents{}
			if prefix != "" {
				svc, err := registryv1natsrpc.RegisterRegistryEventsServiceHandler(nc, unprefixed)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = svc.Stop(context.Background()) })
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}

			ctx := registrytest.Ctx(t, time.Minute)
			res, err := reg.Push(ctx, store.PushRequest{Module: "common", Files: testschema.CommonSet(t, testschema.CommonV1)})
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range handlers {
				waitFor(t, func() bool { evs, _ := h.seen(); return len(evs) > 0 })
				evs, keys := h.seen()
				ev := evs[0]
				if ev.GetModule() != "common" || ev.GetVersion() != 1 || ev.GetDigest() != res.Version.Digest || ev.GetDigest() == "" {
					t.Errorf("handler %d: event %v; want common@1 with digest %q", i, ev, res.Version.Digest)
				}
				if keys[0] != "common@1" {
					t.Errorf("handler %d: Nats-Msg-Id %q; want common@1", i, keys[0])
				}
			}
			if prefix != "" {
				time.Sleep(200 * time.Millisecond)
				if evs, _ := unprefixed.seen(); len(evs) != 0 {
					t.Errorf("a handler without the prefix got %d events of a registry with prefix %q", len(evs), prefix)
				}
			}
		})
	}
}
