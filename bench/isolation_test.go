package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/transport"
	"github.com/natsrpc/natsrpc/bench/internal/workload"
)

// TestRowsAreIsolated opens the raw and natsrpc rows of a call together on
// one nats-server, as the benchmark does, and calls the raw row only: the
// natsrpc row's handler must have answered nothing. (With one subject for
// both rows, a request went to a member of each queue group, so every raw
// call was handled by the natsrpc handler too.)
func TestRowsAreIsolated(t *testing.T) {
	env := startEnv(t)
	targets := map[string]*harness.Target{}
	for _, tr := range transport.All {
		if tr.Key != "natsrpc" && tr.Key != "rawnats" {
			continue
		}
		target, err := tr.New(env, workload.DecideCall)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		targets[tr.Key] = target
	}
	r, err := harness.Run(context.Background(), targets["rawnats"], harness.Options{Callers: 4, Duration: 5 * time.Second, MaxCalls: 40})
	if err != nil || r.Calls != 40 {
		t.Fatalf("raw row: %d calls, %v", r.Calls, err)
	}
	nc, err := nats.Connect(env.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request("$SRV.STATS.gaming_npc_behavior_v1_NPCBehaviorService", nil, 2*time.Second)
	if err != nil {
		msg, err = nc.Request("$SRV.STATS", nil, 2*time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Name      string `json:"name"`
		Endpoints []struct {
			Name        string `json:"name"`
			NumRequests int    `json:"num_requests"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(msg.Data, &stats); err != nil || len(stats.Endpoints) == 0 {
		t.Fatalf("stats %s: %v", msg.Data, err)
	}
	for _, ep := range stats.Endpoints {
		if ep.NumRequests != 0 {
			t.Fatalf("the natsrpc row's %s answered %d of the raw row's requests", ep.Name, ep.NumRequests)
		}
	}
}
