package bridge_test

import (
	"context"
	"testing"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway/bridge"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

// BenchmarkBridge is one caller calling GetQuest through a bridge in this
// process (nats-server and the legacy service too), for profiling the
// bridge's per-call work; make bench's bridge row measures it in a
// process of its own.
//
//	go test -run '^$' -bench BenchmarkBridge -cpuprofile cpu.out ./bridge
func BenchmarkBridge(b *testing.B) {
	srv := natstest.Start(b)
	legacy := &legacyQuests{legacy: newLegacy()}
	url := legacy.serverTB(b).URL
	br, err := bridge.New(natstest.Connect(b, srv), questSD, url, bridge.WithRules(loadRules(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Stop(context.Background()) })
	c := questsystemv1natsrpc.NewQuestSystemServiceClient(natstest.Connect(b, srv), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	req := &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "q-1"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetQuest(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
