package lookuptest

import (
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/lookup"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

func push(t *testing.T, c *client.Client, module string, set *descriptorpb.FileDescriptorSet, own ...string) *registryv1.PushResponse {
	t.Helper()
	res, err := c.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{
		Module:   module,
		Source:   &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set},
		OwnFiles: own,
	})
	if err != nil {
		t.Fatalf("push %s: %v", module, err)
	}
	if res.GetOutcome() == registryv1.PushOutcome_PUSH_OUTCOME_REFUSED {
		t.Fatalf("push %s refused: %v", module, res.GetViolations())
	}
	return res
}

func newLookup(t *testing.T, nc *nats.Conn) *lookup.Client {
	t.Helper()
	lc, err := lookup.New(registrytest.Ctx(t, 30*time.Second), nc, lookup.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lc.Close)
	return lc
}

func fieldCount(t *testing.T, lc *lookup.Client, name protoreflect.FullName) int {
	t.Helper()
	mt, err := lc.FindMessageByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return mt.Descriptor().Fields().Len()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotificationsReachTheCache: a cached module is answered locally
// until a VersionCreated event says a new version exists; the next lookup
// loads it. No listing, no polling.
func TestNotificationsReachTheCache(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	lc := newLookup(t, natstest.Connect(t, env.Server))

	if n := fieldCount(t, lc, "acme.common.v1.Money"); n != 2 {
		t.Fatalf("Money has %d fields; want 2", n)
	}
	for range 50 {
		fieldCount(t, lc, "acme.common.v1.Money")
	}
	st := lc.Stats()
	if st.Loads != 1 || st.Resolves != 1 || st.Hits < 50 {
		t.Fatalf("stats after 51 lookups = %+v; want 1 load, 1 resolve, the rest hits", st)
	}

	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV2))
	waitFor(t, "event for common@2", func() bool { v, _ := lc.Head("common"); return v == 2 })
	if n := fieldCount(t, lc, "acme.common.v1.Money"); n != 3 {
		t.Fatalf("after the event Money has %d fields; want 3", n)
	}
	st2 := lc.Stats()
	if st2.Resyncs != st.Resyncs || st2.Events < 1 || st2.Loads != 2 {
		t.Errorf("stats = %+v; want the event alone (no resync) and one more load", st2)
	}
}

// TestResyncAfterReconnect: the client misses the event of a push made
// while it was disconnected (the NATS server restarted on the same port
// and data); on reconnect it lists the heads and drops the stale module.
func TestResyncAfterReconnect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := freePort(t)
	sameDataAndPort := func(o *server.Options) { o.StoreDir, o.Port = dir, port }
	start := func() { registrytest.StartNATS(t, sameDataAndPort) }
	srv := registrytest.StartNATS(t, sameDataAndPort)
	registrytest.Serve(t, srv)
	url := srv.ClientURL()
	pusher := client.New(natstest.Connect(t, srv))
	push(t, pusher, "common", testschema.CommonSet(t, testschema.CommonV1))

	// The lookup client may reconnect only once the gate opens, so that
	// the push below happens while it is away.
	gate := make(chan struct{})
	var openGate sync.Once
	defer openGate.Do(func() { close(gate) })
	lnc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.CustomReconnectDelay(func(int) time.Duration {
		<-gate
		return 0
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lnc.Close)
	lc := newLookup(t, lnc)
	if n := fieldCount(t, lc, "acme.common.v1.Money"); n != 2 {
		t.Fatalf("Money has %d fields; want 2", n)
	}
	before := lc.Stats()

	srv.Shutdown()
	srv.WaitForShutdown()
	start()
	// Push through a fresh connection once the registry is back.
	pnc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pnc.Close)
	pusher = client.New(pnc)
	set := testschema.CommonSet(t, testschema.CommonV2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx := registrytest.Ctx(t, 5*time.Second)
		res, err := pusher.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}})
		if err == nil && res.GetVersion().GetVersion() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("push after restart: %v, %v", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lnc.IsConnected() {
		t.Fatal("the lookup client reconnected before the push; the test proves nothing")
	}
	if v, _ := lc.Head("common"); v != 1 {
		t.Fatalf("head while disconnected = %d; want 1", v)
	}
	openGate.Do(func() { close(gate) })

	waitFor(t, "resync after reconnect", func() bool { v, _ := lc.Head("common"); return v == 2 && lc.Synced() })
	if n := fieldCount(t, lc, "acme.common.v1.Money"); n != 3 {
		t.Fatalf("after the resync Money has %d fields; want 3", n)
	}
	after := lc.Stats()
	if after.Resyncs <= before.Resyncs || after.Events != before.Events {
		t.Errorf("stats before %+v, after %+v; want a resync and no event", before, after)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestProtojsonDecodesAnyOfARegistryOnlyType: this test binary has no
// generated code for acme.*; the lookup client lets protojson, proto and
// anypb decode such messages and Any values as dynamic messages.
func TestProtojsonDecodesAnyOfARegistryOnlyType(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV2))
	push(t, env.Client, "shop", testschema.ShopSet(t, testschema.ShopV1, testschema.CommonV2), "acme/shop/v1/shop.proto")
	if _, err := protoregistry.GlobalTypes.FindMessageByName("acme.shop.v1.Item"); err == nil {
		t.Fatal("acme.shop.v1.Item is linked into the test binary; the test proves nothing")
	}
	lc := newLookup(t, natstest.Connect(t, env.Server))

	in := `{"itemId":"sword","extra":{"@type":"type.googleapis.com/acme.shop.v1.Item","id":"sword","price":{"currency":"EUR","units":"12","nanos":500}}}`
	mt, err := lc.FindMessageByName("acme.shop.v1.BuyRequest")
	if err != nil {
		t.Fatal(err)
	}
	req := mt.New().Interface()
	if err := (protojson.UnmarshalOptions{Resolver: lc}).Unmarshal([]byte(in), req); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	out, err := protojson.MarshalOptions{Resolver: lc}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = jsonUnmarshal([]byte(in), &a)
	_ = jsonUnmarshal(out, &b)
	if !jsonEqual(a, b) {
		t.Errorf("round trip:\n in  %s\n out %s", in, out)
	}

	// The Any inside, through anypb and the binary codec.
	extra := req.ProtoReflect().Get(mt.Descriptor().Fields().ByName("extra")).Message().Interface()
	anyBytes, err := proto.Marshal(extra)
	if err != nil {
		t.Fatal(err)
	}
	var av anypb.Any
	if err := proto.Unmarshal(anyBytes, &av); err != nil {
		t.Fatal(err)
	}
	item, err := anypb.UnmarshalNew(&av, proto.UnmarshalOptions{Resolver: lc})
	if err != nil {
		t.Fatalf("anypb.UnmarshalNew: %v", err)
	}
	price := item.ProtoReflect().Get(item.ProtoReflect().Descriptor().Fields().ByName("price")).Message()
	if got := price.Get(price.Descriptor().Fields().ByName("currency")).String(); got != "EUR" {
		t.Errorf("item.price.currency = %q; want EUR", got)
	}
}

// TestLookupsByFileSubjectAndExtension covers the other resolver methods
// and negative caching.
func TestLookupsByFileSubjectAndExtension(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV2))
	push(t, env.Client, "shop", testschema.ShopSet(t, testschema.ShopV1, testschema.CommonV2), "acme/shop/v1/shop.proto")
	const ext = `syntax = "proto2";
package acme.ext.v1;
message Base {
  extensions 100 to 200;
}
extend Base {
  optional string note = 100;
}
`
	push(t, env.Client, "ext", testschema.Compile(t, map[string]string{"acme/ext/v1/ext.proto": ext}, "acme/ext/v1/ext.proto"))
	lc := newLookup(t, natstest.Connect(t, env.Server))

	fd, err := lc.FindFileByPath("acme/shop/v1/shop.proto")
	if err != nil || fd.Services().Len() != 1 {
		t.Fatalf("FindFileByPath = %v, %v", fd, err)
	}
	if fd, err := lc.FindFileByPath("google/protobuf/any.proto"); err != nil || fd.Messages().Len() != 1 {
		t.Fatalf("FindFileByPath(any.proto) = %v, %v", fd, err)
	}
	md, err := lc.MethodBySubject(registrytest.Ctx(t, time.Minute), "prod.acme.shop.v1.ShopService.Buy")
	if err != nil || md.Input().FullName() != "acme.shop.v1.BuyRequest" {
		t.Fatalf("MethodBySubject = %v, %v", md, err)
	}
	if d, err := lc.FindDescriptorByName("acme.shop.v1.ShopService.Buy"); err != nil || d.(protoreflect.MethodDescriptor).Output().FullName() != "acme.shop.v1.BuyResponse" {
		t.Fatalf("FindDescriptorByName(method) = %v, %v", d, err)
	}
	xt, err := lc.FindExtensionByName("acme.ext.v1.note")
	if err != nil || xt.TypeDescriptor().Number() != 100 {
		t.Fatalf("FindExtensionByName = %v, %v", xt, err)
	}
	xt, err = lc.FindExtensionByNumber("acme.ext.v1.Base", 100)
	if err != nil || xt.TypeDescriptor().FullName() != "acme.ext.v1.note" {
		t.Fatalf("FindExtensionByNumber = %v, %v", xt, err)
	}
	if _, err := lc.FindExtensionByNumber("acme.ext.v1.Base", 150); !errors.Is(err, protoregistry.NotFound) {
		t.Errorf("FindExtensionByNumber(150) = %v; want NotFound", err)
	}

	// Unknown names: NotFound, and asked only once until something changes.
	for range 3 {
		if _, err := lc.FindMessageByName("acme.shop.v1.Nope"); !errors.Is(err, protoregistry.NotFound) {
			t.Fatalf("unknown message: %v; want protoregistry.NotFound", err)
		}
	}
	resolves := lc.Stats().Resolves
	if _, err := lc.FindMessageByName("acme.shop.v1.Nope"); !errors.Is(err, protoregistry.NotFound) {
		t.Fatal(err)
	}
	if lc.Stats().Resolves != resolves {
		t.Error("an unknown name was asked again; want it cached as missing")
	}
	if _, err := lc.FindMessageByName("acme.shop.v1.ShopService"); !errors.Is(err, protoregistry.NotFound) {
		t.Errorf("a service as a message: %v; want NotFound", err)
	}
	if _, err := lc.FindFileByPath("acme/nope.proto"); !errors.Is(err, protoregistry.NotFound) {
		t.Errorf("unknown file: %v; want NotFound", err)
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

// TestGapTriggersResync: an event that skips versions the client never
// saw means events were missed; the client re-lists the heads, and the
// listing is authoritative.
func TestGapTriggersResync(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	nc := natstest.Connect(t, env.Server)
	lc := newLookup(t, nc)
	fieldCount(t, lc, "acme.common.v1.Money")
	before := lc.Stats().Resyncs

	// A (forged) announcement of common@5: versions 2 to 4 were never seen.
	data, err := proto.Marshal(&registryv1.VersionCreatedRequest{Version: &registryv1.ModuleVersion{Module: "common", Version: 5, Digest: "sha256:forged"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(env.Client.EventSubject(), data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resync after a gap", func() bool { return lc.Stats().Resyncs > before && lc.Synced() })
	if v, _ := lc.Head("common"); v != 1 {
		t.Errorf("head after the resync = %d; want the registry's 1", v)
	}
	if n := fieldCount(t, lc, "acme.common.v1.Money"); n != 2 {
		t.Errorf("Money has %d fields; want 2", n)
	}
}

// TestConcurrentLookupsDuringPushes hammers one client from many
// goroutines while new versions land (run with -race).
func TestConcurrentLookupsDuringPushes(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV1))
	lc := newLookup(t, natstest.Connect(t, env.Server))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mt, err := lc.FindMessageByName("acme.common.v1.Money")
				if err != nil {
					t.Error(err)
					return
				}
				if n := mt.Descriptor().Fields().Len(); n != 2 && n != 3 {
					t.Errorf("Money has %d fields", n)
					return
				}
				if _, err := lc.FindFileByPath("acme/common/v1/common.proto"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	push(t, env.Client, "common", testschema.CommonSet(t, testschema.CommonV2))
	waitFor(t, "the new version", func() bool {
		mt, err := lc.FindMessageByName("acme.common.v1.Money")
		return err == nil && mt.Descriptor().Fields().Len() == 3
	})
	close(stop)
	wg.Wait()
}
