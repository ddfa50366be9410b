package streams

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/bench/internal/harness"
)

func TestMain(m *testing.M) {
	harness.RunNATSChildIfAsked()
	os.Exit(m.Run())
}

func conns(t testing.TB, url string) (server, client *nats.Conn) {
	t.Helper()
	var err error
	if server, err = nats.Connect(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Close)
	if client, err = nats.Connect(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return server, client
}

// TestStreamers streams a few messages of each kind on every row.
func TestStreamers(t *testing.T) {
	n, err := harness.StartNATS(true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	server, client := conns(t, n.URL)
	for _, m := range Messages {
		for _, mk := range []func() (*Streamer, error){
			func() (*Streamer, error) { return NewNatsrpcStreamer(server, client, m) },
			func() (*Streamer, error) { return NewRawStreamer(server, client, m) },
			func() (*Streamer, error) { return NewRawSeqHeaderStreamer(server, client, m) },
			func() (*Streamer, error) { return NewPsrpcStreamer(server, client, m) },
		} {
			s, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Stream(ctx, 1000); err != nil {
				t.Errorf("%s %s: %v", s.Name, m.Name, err)
			}
			cancel()
			s.Close()
		}
	}
}

// TestDurable publishes and consumes a few durable events on every row.
func TestDurable(t *testing.T) {
	n, err := harness.StartNATSJetStream(true, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	server, client := conns(t, n.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, row := range []string{"natsrpc", "raw", "rawconfirm"} {
		prefix := "t" + strconv.Itoa(i)
		if err := SetupDurable(server, prefix); err != nil {
			t.Fatal(err)
		}
		var p *Publisher
		if row == "natsrpc" {
			p = NewNatsrpcPublisher(client, prefix)
		} else if p, err = NewRawPublisher(client, prefix); err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(ctx, 50, 4); err != nil {
			t.Fatalf("%s publish: %v", row, err)
		}
		if err := Fill(ctx, client, prefix, 50); err != nil {
			t.Fatal(err)
		}
		switch row {
		case "natsrpc":
			err = ConsumeNatsrpc(ctx, server, prefix, 100)
		default:
			err = ConsumeRaw(ctx, server, prefix, 100, row == "rawconfirm")
		}
		if err != nil {
			t.Fatalf("%s consume: %v", row, err)
		}
	}
}

// TestSizes pins the encoded sizes the READMEs quote ("token (40 B)",
// "1 KB chunk (1033 B)"): a change to the fixtures must update them.
func TestSizes(t *testing.T) {
	want := map[string]int{"token": 40, "1 KB chunk": 1033}
	if len(Messages) != len(want) {
		t.Fatalf("%d messages; want %d", len(Messages), len(want))
	}
	for _, m := range Messages {
		if got := len(mustMarshal(t, m)); m.Size != want[m.Name] || got != m.Size {
			t.Errorf("%s: Size %d, encoded %d bytes; the READMEs say %d", m.Name, m.Size, got, want[m.Name])
		}
	}
}

func mustMarshal(t *testing.T, m *Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m.Msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkStream streams b.N messages in one stream, per message kind and
// row: go test -run '^$' -bench Stream -cpuprofile cpu.out ./internal/streams
func BenchmarkStream(b *testing.B) {
	n, err := harness.StartNATS(os.Getenv("NATSRPC_BENCH_NATS") != "process")
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	server, client := conns(b, n.URL)
	for _, m := range Messages {
		for _, mk := range []func() (*Streamer, error){
			func() (*Streamer, error) { return NewNatsrpcStreamer(server, client, m) },
			func() (*Streamer, error) { return NewRawStreamer(server, client, m) },
			func() (*Streamer, error) { return NewRawSeqHeaderStreamer(server, client, m) },
			func() (*Streamer, error) { return NewPsrpcStreamer(server, client, m) },
		} {
			s, err := mk()
			if err != nil {
				b.Fatal(err)
			}
			b.Run(m.Name+"/"+s.Name, func(b *testing.B) {
				b.ReportAllocs()
				if err := s.Stream(context.Background(), b.N); err != nil {
					b.Fatal(err)
				}
			})
			s.Close()
		}
	}
}
