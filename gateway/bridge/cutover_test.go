package bridge_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/bridge"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

var questSD = questv1.File_gaming_quest_system_v1_quest_system_proto.Services().ByName("QuestSystemService")

func TestCutoverPlan(t *testing.T) {
	p, err := bridge.Cutover{Service: questSD, Percent: 10, Methods: []string{"GetQuest", "ListQuests"}}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := `# natsrpc cutover of gaming.quest_system.v1.QuestSystemService: 10% of its calls to the new implementation
# (serving under the subject prefix "next"), 90% to the bridge on the public subjects.
# Put it in the configuration of every server of the cluster (inside the
# account's block when accounts are configured), then: nats-server --signal reload
mappings = {
  "gaming.quest_system.v1.QuestSystemService.GetQuest": [
    {destination: "next.gaming.quest_system.v1.QuestSystemService.GetQuest", weight: 10%}
    {destination: "gaming.quest_system.v1.QuestSystemService.GetQuest", weight: 90%}
  ]
  "gaming.quest_system.v1.QuestSystemService.ListQuests": [
    {destination: "next.gaming.quest_system.v1.QuestSystemService.ListQuests", weight: 10%}
    {destination: "gaming.quest_system.v1.QuestSystemService.ListQuests", weight: 90%}
  ]
}
`
	if got := p.Config(); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
	// With a runtime prefix, and a service with streams and durable events.
	events := eventbusv1.File_gaming_event_bus_v1_event_bus_proto.Services().ByName("EventBusService")
	p, err = bridge.Cutover{Service: events, Percent: 25, NewPrefix: "v2", SubjectPrefix: "prod"}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config()
	for _, want := range []string{
		`{destination: "v2.prod.gaming.event_bus.v1.EventBusService.WorldChanged", weight: 25%}`,
		`(serving under the subject prefix "v2.prod")`,
		"# not mapped: Subscribe: a server_stream (the bridge serves no streams",
		"# not mapped: PaymentCompleted: a durable event",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	for _, tc := range []struct {
		c    bridge.Cutover
		want string
	}{
		{bridge.Cutover{Service: questSD, Percent: 101}, "--percent 101: the share of calls sent to the new implementation, a whole number from 0 to 100"},
		{bridge.Cutover{Service: questSD, Percent: -1}, "--percent -1"},
		{bridge.Cutover{Service: questSD, NewPrefix: "a.>"}, `--new-prefix "a.>"`},
		{bridge.Cutover{Service: questSD, Methods: []string{"Nope"}}, `--method "Nope": gaming.quest_system.v1.QuestSystemService has no such method`},
	} {
		if _, err := tc.c.Plan(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%+v) = %v; want %q", tc.c, err, tc.want)
		}
	}
}

// side answers GetQuest and counts.
type side struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
	calls atomic.Int64
}

func (s *side) GetQuest(context.Context, *questv1.GetQuestRequest) (*questv1.GetQuestResponse, error) {
	s.calls.Add(1)
	return &questv1.GetQuestResponse{}, nil
}

// TestCutoverMappings loads the printed block into a real nats-server's
// configuration and checks the weights over a bounded number of calls,
// then the rollback and the full cutover by configuration reload, as
// docs/migration.md tells an operator to do them.
func TestCutoverMappings(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	write := func(percent int) {
		p, err := bridge.Cutover{Service: questSD, Percent: percent}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("host: 127.0.0.1\nport: %d\n\n%s", port, p.Config())), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(10)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server cannot read the block: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	connect := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// The bridge's side on the public subjects, the new implementation's
	// under "next", as both run during a cutover.
	old, next := &side{}, &side{}
	for _, s := range []struct {
		impl   *side
		prefix string
	}{{old, ""}, {next, "next"}} {
		var o []natsrpc.HandlerOption
		if s.prefix != "" {
			o = append(o, natsrpc.WithSubjectPrefix(s.prefix))
		}
		svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(connect(), s.impl, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	}
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(connect(), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	calls := func(n int) (toOld, toNew int64) {
		o0, n0 := old.calls.Load(), next.calls.Load()
		for range n {
			if _, err := client.GetQuest(ctxT(t), &questv1.GetQuestRequest{QuestId: "q"}); err != nil {
				t.Fatal(err)
			}
		}
		return old.calls.Load() - o0, next.calls.Load() - n0
	}
	// 2,000 calls at 10%: the new side's share has a standard deviation
	// of 0.67 percentage points; 3.5 points either side is 5.2 of them
	// (a false failure about once in ten million runs).
	const n = 2000
	toOld, toNew := calls(n)
	if toOld+toNew != n {
		t.Fatalf("%d + %d calls answered; want %d", toOld, toNew, n)
	}
	share := 100 * float64(toNew) / n
	if math.Abs(share-10) > 3.5 {
		t.Fatalf("the new implementation got %.1f%% of %d calls at a weight of 10%%; want 6.5 to 13.5", share, n)
	}
	t.Logf("weight 10%%: the new implementation got %d of %d calls (%.1f%%)", toNew, n, share)

	// Rollback: 0%, reloaded; every call goes back to the bridge.
	write(0)
	if err := srv.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if toOld, toNew = calls(300); toNew != 0 || toOld != 300 {
		t.Fatalf("after the rollback: %d to the bridge, %d to the new implementation", toOld, toNew)
	}
	// The end of the cutover: 100%.
	write(100)
	if err := srv.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if toOld, toNew = calls(300); toNew != 300 || toOld != 0 {
		t.Fatalf("at 100%%: %d to the bridge, %d to the new implementation", toOld, toNew)
	}
}
