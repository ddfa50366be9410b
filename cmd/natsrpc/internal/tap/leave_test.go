package tap

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// TestRefreshLeavesAfterRoundsAgree: a watched subject whose instance
// misses discovery rounds (no instance answers $SRV.INFO here, as when an
// answer misses a round's wait on a busy machine) stays subscribed until
// leaveAfter rounds in a row agree, and only then is left, with one notice.
func TestRefreshLeavesAfterRoundsAgree(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	var notices []string
	tp := &tapper{
		nc:       nc,
		opts:     Options{Gather: fleet.Gather{Quiet: 20 * time.Millisecond, Max: 200 * time.Millisecond}, Notice: func(s string) { notices = append(notices, s) }},
		msgs:     make(chan *nats.Msg, 8),
		subs:     map[string]*watched{},
		methods:  map[string]*method{},
		services: map[string]int{"pkg.Svc": 1},
		dec:      newDecoder(&strings.Builder{}, true, "_TAP"),
	}
	const subject = "pkg.Svc.Get"
	sub, err := nc.ChanSubscribe(subject, tp.msgs)
	if err != nil {
		t.Fatal(err)
	}
	tp.subs[subject] = &watched{sub: sub, m: &method{subject: subject}, service: "pkg.Svc"}
	for round := 1; round <= leaveAfter; round++ {
		if err := tp.refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, still := tp.subs[subject]
		if want := round < leaveAfter; still != want || sub.IsValid() != want {
			t.Fatalf("after round %d: subscribed %v (valid %v), want %v", round, still, sub.IsValid(), want)
		}
		left := strings.Contains(strings.Join(notices, "\n"), "stopped watching pkg.Svc")
		if left != (round == leaveAfter) {
			t.Fatalf("after round %d: notices %q", round, notices)
		}
	}
}
