package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
	"github.com/natsrpc/natsrpc/bench/internal/streams"
)

// rowTimes are one row's measurements, one per round: items per second.
type rowTimes struct {
	name  string
	rates []float64
	// n is the items per round when the row runs fewer than its case's.
	n int
}

// rateRatios are a's rate / b's rate, round by round.
func rateRatios(a, b *rowTimes) []float64 {
	var rs []float64
	for i := 0; i < min(len(a.rates), len(b.rates)); i++ {
		if b.rates[i] > 0 {
			rs = append(rs, a.rates[i]/b.rates[i])
		}
	}
	return rs
}

// measure runs f once and returns items per second.
func measure(n int, f func(ctx context.Context) error) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := f(ctx); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func natsPairPlain(url string) (server, client *nats.Conn, err error) {
	if server, err = nats.Connect(url, nats.Name("bench-handler")); err != nil {
		return nil, nil, err
	}
	if client, err = nats.Connect(url, nats.Name("bench-caller")); err != nil {
		server.Close()
		return nil, nil, err
	}
	return server, client, nil
}

// streamCase is one streamed message's rows.
type streamCase struct {
	msg  *streams.Message
	n    int
	rows []*rowTimes
}

// benchStream streams n messages per round over a natsrpc server stream
// and over raw nats.go publish/subscribe, the two rows alternating in
// each round.
func benchStream(cfg *config) ([]*streamCase, error) {
	n, err := harness.StartNATS(cfg.inProcNATS)
	if err != nil {
		return nil, err
	}
	defer n.Stop()
	server, client, err := natsPairPlain(n.URL)
	if err != nil {
		return nil, err
	}
	defer server.Close()
	defer client.Close()
	var cases []*streamCase
	for _, m := range streams.Messages {
		count := orDefault(0, cfg.quick, 100_000, 30_000)
		if m.Size > 500 {
			count = orDefault(0, cfg.quick, 40_000, 12_000)
		}
		nr, err := streams.NewNatsrpcStreamer(server, client, m)
		if err != nil {
			return nil, err
		}
		defer nr.Close()
		ps, err := streams.NewPsrpcStreamer(server, client, m)
		if err != nil {
			return nil, err
		}
		defer ps.Close()
		raw, err := streams.NewRawStreamer(server, client, m)
		if err != nil {
			return nil, err
		}
		defer raw.Close()
		c := &streamCase{msg: m, n: count, rows: []*rowTimes{{name: nr.Name}, {name: ps.Name}, {name: raw.Name}}}
		streamers := []*streams.Streamer{nr, ps, raw}
		// psrpc waits for an acknowledgement of every message, about 50
		// times slower: it streams fewer per round, so that a round takes
		// about as long as the others'.
		c.rows[1].n = max(count/25, 200)
		countOf := func(k int) int {
			if c.rows[k].n > 0 {
				return c.rows[k].n
			}
			return count
		}
		for k, s := range streamers { // warm-up
			if _, err := measure(countOf(k)/10, func(ctx context.Context) error { return s.Stream(ctx, countOf(k)/10) }); err != nil {
				return nil, fmt.Errorf("stream %s %s: %w", m.Name, s.Name, err)
			}
		}
		logf("stream: %s, %d messages x %d rounds", m.Name, count, cfg.rounds)
		for r := 0; r < cfg.rounds; r++ {
			for i := range streamers {
				k := (i + r) % len(streamers)
				rate, err := measure(countOf(k), func(ctx context.Context) error { return streamers[k].Stream(ctx, countOf(k)) })
				if err != nil {
					return nil, fmt.Errorf("stream %s %s: %w", m.Name, streamers[k].Name, err)
				}
				c.rows[k].rates = append(c.rows[k].rates, rate)
			}
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func printStream(w io.Writer, cfg *config, cases []*streamCase) {
	fmt.Fprintf(w, "### Server streaming\n\n")
	fmt.Fprintf(w, "One stream of n messages per round: the handler marshals and sends each message, the client receives and "+
		"unmarshals it; the time runs from opening the stream (natsrpc) or triggering the publisher (raw) to the last message "+
		"decoded. natsrpc is the generated AIIntegrationService.StreamGenerate client and handler with default options "+
		"(window 1024 messages / 8 MiB, heartbeats, numbered frames, end frame). Raw nats.go is a plain subscription callback "+
		"that publishes the marshaled messages to the client's inbox, whose subscription callback unmarshals them: no "+
		"headers, no flow control (the subscriber's pending limits are lifted so that it drops nothing), no liveness, no end "+
		"marker. psrpc is LiveKit's psrpc over its NATS bus, a psrpc stream (bidirectional: the client sends the request, the "+
		"handler sends the tokens) from protoc-gen-psrpc's stubs; psrpc acknowledges every stream message. Figures are medians over %d rounds; *vs raw* is the median of the per-round ratios (interquartile range).\n\n", cfg.rounds)
	fmt.Fprintf(w, "| message | messages per stream | row | messages/s | MB/s (payload) | vs raw |\n|---|---:|---|---:|---:|---:|\n")
	for _, c := range cases {
		base := c.rows[len(c.rows)-1]
		for _, r := range c.rows {
			vs := "1 (baseline)"
			if r != base {
				vs = fmtRatio(rateRatios(r, base))
			}
			if r.name == "natsrpc" && c.msg.Name == "token" {
				vs += ", target >= 0.85x: " + meets(median(rateRatios(r, base)) >= 0.85)
			}
			rate := median(r.rates)
			n := c.n
			if r.n > 0 {
				n = r.n
			}
			fmt.Fprintf(w, "| %s (%d B) | %s | %s | %s | %.1f | %s |\n", c.msg.Name, c.msg.Size, fmtInt(float64(n)), r.name,
				fmtInt(rate), rate*float64(c.msg.Size)/1e6, vs)
		}
	}
	fmt.Fprintln(w)
	for _, c := range cases {
		if len(c.rows) == 3 {
			fmt.Fprintf(w, "- %s: natsrpc / psrpc %s (target >= 1.0x: %s)\n", c.msg.Name, fmtRatio(rateRatios(c.rows[0], c.rows[1])),
				meets(median(rateRatios(c.rows[0], c.rows[1])) >= 1.0))
		}
	}
	fmt.Fprintln(w)
}

// durableCase is one durable-event measurement: publishing with some
// callers, or consuming.
type durableCase struct {
	name string
	n    int
	rows []*rowTimes
}

// benchDurable measures durable events on a JetStream server with file
// storage: publishing (natsrpc's event client against jetstream.Publish,
// 1 and 16 concurrent publishers, each publish waiting for its
// acknowledgement) and consuming (a generated handler against a raw pull
// consumer acknowledging plainly and with a double ack).
func benchDurable(cfg *config) ([]*durableCase, error) {
	dir, err := os.MkdirTemp("", "natsrpc-bench-js-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ns, err := harness.StartNATSJetStream(cfg.inProcNATS, dir)
	if err != nil {
		return nil, err
	}
	defer ns.Stop()
	server, client, err := natsPairPlain(ns.URL)
	if err != nil {
		return nil, err
	}
	defer server.Close()
	defer client.Close()
	var cases []*durableCase
	for _, callers := range []int{1, 16} {
		count := orDefault(0, cfg.quick, 3000, 1000)
		if callers > 1 {
			count *= 4
		}
		prefix := fmt.Sprintf("pub%d", callers)
		if err := streams.SetupDurable(server, prefix); err != nil {
			return nil, err
		}
		raw, err := streams.NewRawPublisher(client, prefix)
		if err != nil {
			return nil, err
		}
		pubs := []*streams.Publisher{streams.NewNatsrpcPublisher(client, prefix), raw}
		c := &durableCase{name: fmt.Sprintf("publish, %d publisher%s", callers, map[bool]string{true: "s"}[callers > 1]), n: count,
			rows: []*rowTimes{{name: pubs[0].Name}, {name: pubs[1].Name}}}
		for _, p := range pubs { // warm-up
			if err := p.Publish(context.Background(), count/10, callers); err != nil {
				return nil, fmt.Errorf("durable publish %s: %w", p.Name, err)
			}
		}
		logf("durable: publish with %d callers, %d events x %d rounds", callers, count, cfg.rounds)
		for r := 0; r < cfg.rounds; r++ {
			for i := range pubs {
				k := (i + r) % len(pubs)
				rate, err := measure(count, func(ctx context.Context) error { return pubs[k].Publish(ctx, count, callers) })
				if err != nil {
					return nil, fmt.Errorf("durable publish %s: %w", pubs[k].Name, err)
				}
				c.rows[k].rates = append(c.rows[k].rates, rate)
			}
		}
		cases = append(cases, c)
	}

	count := orDefault(0, cfg.quick, 10_000, 3000)
	consumers := []struct {
		name string
		run  func(ctx context.Context, prefix string) error
	}{
		{"natsrpc (double ack)", func(ctx context.Context, prefix string) error {
			return streams.ConsumeNatsrpc(ctx, server, prefix, count)
		}},
		{"raw JetStream (ack)", func(ctx context.Context, prefix string) error {
			return streams.ConsumeRaw(ctx, server, prefix, count, false)
		}},
		{"raw JetStream (double ack)", func(ctx context.Context, prefix string) error {
			return streams.ConsumeRaw(ctx, server, prefix, count, true)
		}},
	}
	c := &durableCase{name: "consume", n: count}
	for _, cons := range consumers {
		c.rows = append(c.rows, &rowTimes{name: cons.name})
	}
	rounds := max(3, cfg.rounds/2)
	logf("durable: consume %d events x %d rounds", count, rounds)
	for r := 0; r < rounds; r++ {
		for i := range consumers {
			k := (i + r) % len(consumers)
			prefix := fmt.Sprintf("con%d_%d", r, k)
			if err := streams.SetupDurable(server, prefix); err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := streams.Fill(ctx, client, prefix, count)
			cancel()
			if err != nil {
				return nil, err
			}
			rate, err := measure(count, func(ctx context.Context) error { return consumers[k].run(ctx, prefix) })
			if err != nil {
				return nil, fmt.Errorf("durable consume %s: %w", consumers[k].name, err)
			}
			c.rows[k].rates = append(c.rows[k].rates, rate)
		}
	}
	cases = append(cases, c)
	return cases, nil
}

func printDurable(w io.Writer, cfg *config, cases []*durableCase) {
	fmt.Fprintf(w, "### Durable events\n\n")
	fmt.Fprintf(w, "EventBusService.PaymentCompleted (%d B in protobuf) on a JetStream server with file storage. *Publish*: each "+
		"publish waits for JetStream's acknowledgement; natsrpc is the generated event client (a unique Nats-Msg-Id and "+
		"the expected stream on every event), raw is jetstream.Publish with the same message ID and expected stream. "+
		"*Consume*: n events already stored; natsrpc is a generated handler (worker pool, a double ack "+
		"confirmed by the server); raw is a jetstream pull consumer (same prefetch, 64 handlers at once) that unmarshals "+
		"each event and acks it plainly, or with a double ack like natsrpc. Figures are medians over the rounds; *vs raw* "+
		"is the median of the per-round ratios (interquartile range) against the raw row named.\n\n", streamsPaymentSize())
	fmt.Fprintf(w, "| case | events per round | row | events/s | vs raw |\n|---|---:|---|---:|---|\n")
	for _, c := range cases {
		for i, r := range c.rows {
			vs := "1 (baseline)"
			if i == 0 {
				var parts []string
				for _, b := range c.rows[1:] {
					parts = append(parts, fmtRatio(rateRatios(r, b))+" vs "+b.name)
				}
				vs = joinParts(parts)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.name, fmtInt(float64(c.n)), r.name, fmtInt(median(r.rates)), vs)
		}
	}
	fmt.Fprintln(w)
}

func joinParts(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

func streamsPaymentSize() int { return proto.Size(streams.PaymentEvent) }
