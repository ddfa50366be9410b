package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/natsserver"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// acked is a version whose push returned successfully.
type acked struct {
	version uint64
	digest  string
	bytes   []byte // nil when it could not be read back before the crash
}

// versionSource is the i-th distinct version of module "dur": each adds a
// message, so every push is compatible and new.
func versionSet(t testing.TB, i int) *descriptorpb.FileDescriptorSet {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\npackage acme.dur.v1;\nimport \"natsrpc/v1/options.proto\";\n")
	b.WriteString("// DurService is pushed again and again.\nservice DurService {\n  rpc Get(M0) returns (M0);\n}\n")
	for j := 0; j <= i; j++ {
		fmt.Fprintf(&b, "// M%d is message %d.\nmessage M%d {\n  string v = 1;\n}\n", j, j, j)
	}
	return testschema.Compile(t, map[string]string{"acme/dur/v1/dur.proto": b.String()}, "acme/dur/v1/dur.proto")
}

// pushUntil pushes new versions of module "dur" until stop is closed or a
// push fails, recording every acknowledged version; it reads each version
// back right after its push when it can.
func pushUntil(ctx context.Context, t testing.TB, r *store.Registry, sets []*descriptorpb.FileDescriptorSet, stop <-chan struct{}, out chan<- acked) error {
	defer close(out)
	for i, set := range sets {
		select {
		case <-stop:
			return nil
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := r.Push(pctx, store.PushRequest{Module: "dur", Files: set})
		cancel()
		if err != nil {
			return fmt.Errorf("push %d: %w", i, err)
		}
		a := acked{version: res.Version.Version, digest: res.Version.Digest}
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if mc, err := r.GetModuleVersion(gctx, store.GetRequest{Module: "dur", Version: a.version, MaxInlineBytes: -1}); err == nil {
			a.bytes = mc.Set
		}
		cancel()
		out <- a
	}
	return nil
}

// verifyAcked checks that every acknowledged version is stored byte for
// byte, that versions are dense, and that every stored version (an
// unacknowledged one included) loads whole.
func verifyAcked(t *testing.T, r *store.Registry, acks []acked) {
	t.Helper()
	ctx := registrytest.Ctx(t, time.Minute)
	vs, _, err := r.ListVersions(ctx, "dur", store.ListOptions{PageSize: 1000})
	if err != nil {
		t.Fatalf("list versions: %v", err)
	}
	if len(vs) < len(acks) {
		t.Fatalf("%d versions stored; %d were acknowledged", len(vs), len(acks))
	}
	for i, v := range vs {
		if v.Version != uint64(i+1) {
			t.Fatalf("versions are not dense: %d at position %d", v.Version, i)
		}
		mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "dur", Version: v.Version, MaxInlineBytes: -1})
		if err != nil {
			t.Fatalf("version %d does not load: %v", v.Version, err)
		}
		if _, err := mc.FileDescriptorSet(); err != nil {
			t.Fatalf("version %d is not a descriptor set: %v", v.Version, err)
		}
	}
	for _, a := range acks {
		v := vs[a.version-1]
		if v.Digest != a.digest {
			t.Errorf("version %d has digest %s; %s was acknowledged", a.version, v.Digest, a.digest)
		}
		if a.bytes != nil && !equalBytes(getBytes(t, r, "dur", a.version), a.bytes) {
			t.Errorf("version %d changed bytes", a.version)
		}
	}
	last := vs[len(vs)-1]
	sym, err := r.ResolveSymbol(ctx, store.SymbolRequest{Symbol: "acme.dur.v1.DurService"})
	if err != nil || sym.Version != last.Version {
		t.Errorf("resolve after recovery = %+v, %v; want version %d", sym, err, last.Version)
	}
	subj, err := r.ResolveSubject(ctx, store.SubjectRequest{Subject: "acme.dur.v1.DurService.Get"})
	if err != nil || subj.Method != "Get" {
		t.Errorf("subject after recovery = %+v, %v", subj, err)
	}
}

func TestRestartKeepsEveryAcknowledgedVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	syncAlways := natstest.WithConfigure(func(o *server.Options) { o.SyncAlways = true })
	ctx := registrytest.Ctx(t, 2*time.Minute)
	sets := make([]*descriptorpb.FileDescriptorSet, 60)
	for i := range sets {
		sets[i] = versionSet(t, i)
	}
	var acks []acked
	// Three rounds: start the server on the same directory, push a stream
	// of versions, and stop the server at a random moment in the middle.
	for round := range 3 {
		srv := natstest.Start(t, natstest.WithStoreDir(dir), syncAlways)
		js, _ := jetstream.New(natsConnect(t, srv.ClientURL(), nats.NoReconnect()))
		r := newRegistry(t, js, store.WithOpTimeout(time.Second))
		if round == 0 {
			if _, err := r.SetPolicy(ctx, "dur", store.Policy{Categories: []string{"FILE"}}); err != nil {
				t.Fatal(err)
			}
		} else {
			verifyAcked(t, r, acks)
		}
		vs, _, err := r.ListVersions(ctx, "dur", store.ListOptions{PageSize: 1000})
		if err != nil && !store.IsNotFound(err) {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		out := make(chan acked, len(sets))
		done := make(chan error, 1)
		go func() { done <- pushUntil(ctx, t, r, sets[len(vs):], stop, out) }()
		n := 0
		for a := range out {
			acks = append(acks, a)
			if n++; n == 8 {
				time.AfterFunc(time.Duration(rand.N(20))*time.Millisecond, srv.Shutdown)
			}
		}
		err = <-done
		t.Logf("round %d: %d versions acknowledged in all; the push in flight ended with: %v", round, len(acks), err)
		srv.WaitForShutdown()
	}
	srv := natstest.Start(t, natstest.WithStoreDir(dir), syncAlways)
	js, _ := jetstream.New(natsConnect(t, srv.ClientURL()))
	r := newRegistry(t, js)
	verifyAcked(t, r, acks)
	vs, _, _ := r.ListVersions(ctx, "dur", store.ListOptions{PageSize: 1000})
	res, err := r.Push(ctx, store.PushRequest{Module: "dur", Files: sets[len(vs)]})
	if err != nil || res.Version.Version != uint64(len(vs)+1) {
		t.Errorf("push after restart = %+v, %v; want version %d", res, err, len(vs)+1)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestClusterR3SurvivesLeaderLoss runs the registry with R3 streams on a
// 3-node cluster, stops the leader of the KV stream in the middle of a
// stream of pushes, and checks that pushes and lookups keep working and no
// acknowledged version is lost.
func TestClusterR3SurvivesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	start := time.Now()
	const n = 3
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	servers := make([]*server.Server, n)
	var urls []string
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[j]))
			}
		}
		srv, err := natsserver.Start(natsserver.Config{
			ServerName: fmt.Sprintf("n%d", i+1),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			SyncAlways: true,
			Cluster:    &natsserver.ClusterConfig{Name: "registry", Port: ports[i], Routes: routes},
		})
		if err != nil {
			t.Fatalf("start n%d: %v", i+1, err)
		}
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		servers[i] = srv
		urls = append(urls, srv.ClientURL())
	}
	nc := natsConnect(t, strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := registrytest.Ctx(t, 55*time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("jetstream cluster not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := newRegistry(t, js, store.WithReplicas(3), store.WithOpTimeout(2*time.Second))
	if _, err := r.SetPolicy(ctx, "dur", store.Policy{Categories: []string{"FILE"}}); err != nil {
		t.Fatal(err)
	}
	sets := make([]*descriptorpb.FileDescriptorSet, 40)
	for i := range sets {
		sets[i] = versionSet(t, i)
	}
	stop := make(chan struct{})
	out := make(chan acked, len(sets))
	done := make(chan error, 1)
	go func() { done <- pushUntil(ctx, t, r, sets, stop, out) }()
	var acks []acked
	var stopOnce sync.Once
	killed := ""
	for a := range out {
		acks = append(acks, a)
		if len(acks) == 5 {
			st, err := js.Stream(ctx, "KV_"+store.DefaultBucket)
			if err != nil {
				t.Fatal(err)
			}
			killed = st.CachedInfo().Cluster.Leader
			for _, s := range servers {
				if s.Name() == killed {
					t.Logf("stopping %s, the leader of the registry's KV stream", killed)
					s.Shutdown()
				}
			}
		}
		if len(acks) == 15 {
			stopOnce.Do(func() { close(stop) })
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("pushes failed after the leader stopped: %v", err)
	}
	if killed == "" || len(acks) < 15 {
		t.Fatalf("leader %q, %d acknowledged pushes", killed, len(acks))
	}
	// A fresh instance (stateless, no caches) sees everything.
	verifyAcked(t, newRegistry(t, js, store.WithReplicas(3)), acks)
	t.Logf("cluster test took %s", time.Since(start))
}
