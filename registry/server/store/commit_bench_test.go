package store

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// BenchmarkPushOverTheBatchLimit pushes a new module of 600 files, each in
// its own package (1,200 index entries to claim), on a JetStream server
// with sync_always: "staged" with the default batch limit (claims in three
// batches, then the publish), and as its peer "one batch" on a server
// whose max_batch_size lets the whole commit go in one atomic batch. The
// ratio is what staging costs.
func BenchmarkPushOverTheBatchLimit(b *testing.B) {
	for _, bc := range []struct {
		name    string
		maxSize int
		opts    []Option
	}{
		{"staged", 0, nil},
		{"one batch", 2000, []Option{withBatchLimit(2000)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := natstest.Start(b, natstest.WithJetStream(), natstest.WithConfigure(func(o *server.Options) {
				o.SyncAlways = true
				o.JetStreamLimits.MaxBatchSize = bc.maxSize
			}))
			js, err := jetstream.New(natstest.Connect(b, srv))
			if err != nil {
				b.Fatal(err)
			}
			ctx := ctxFor(b)
			r, err := New(ctx, js, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				b.StopTimer()
				req := messagesModule(fmt.Sprintf("m%d", i), 600)
				i++
				b.StartTimer()
				res, err := r.Push(ctx, req)
				if err != nil || !res.Created {
					b.Fatalf("push = %+v, %v", res, err)
				}
			}
		})
	}
}
