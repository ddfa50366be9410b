package promnatsrpc_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
)

// series gathers reg's natsrpc series as "<name> <type> <method>[ <code>]"
// -> value; a histogram's value is its sample count. Zero values are left
// out, so that a map literal lists what happened.
func series(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := strings.Join(slices.DeleteFunc([]string{
				strings.TrimPrefix(mf.GetName(), "natsrpc_"),
				label(m, "natsrpc_type"), label(m, "natsrpc_method"), label(m, "natsrpc_code"),
			}, func(s string) bool { return s == "" }), " ")
			var v float64
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				v = float64(m.GetHistogram().GetSampleCount())
			}
			if v != 0 {
				out[key] = v
			}
		}
	}
	return out
}

// waitSeries waits until reg's series are want; a server stream's metrics
// are final when its handler returned, which may be after the client saw
// the end.
func waitSeries(t *testing.T, reg prometheus.Gatherer, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := series(t, reg)
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			keys := slices.Sorted(maps.Keys(got))
			for k := range want {
				if _, ok := got[k]; !ok {
					keys = append(keys, k)
				}
			}
			var diff []string
			for _, k := range keys {
				if got[k] != want[k] {
					diff = append(diff, fmt.Sprintf("%s: got %v, want %v", k, got[k], want[k]))
				}
			}
			t.Fatalf("series differ:\n%s", strings.Join(diff, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreams runs server, bidirectional and client streams through
// generated and generic stubs with one interceptor on both sides, and
// checks every series exactly: started when they start, in flight while
// they run, handled with their code and timed when they end (read to the
// end, failed, or closed by the client), and every message counted.
func TestStreams(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	metrics := newInterceptor(t, reg)
	env.Serve(t, &contribtest.Handler{}, natsrpc.WithInterceptors(metrics))
	watcher := env.NewClient(natsrpc.WithInterceptors(metrics))
	ctx := context.Background()

	ok, err := watcher.Watch(ctx, contribtest.WatchRequest("ok", 5))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := contribtest.ReadAll(ok.Recv); err != nil || len(got) != 5 {
		t.Fatalf("Watch ok: %d, %v", len(got), err)
	}
	failed, err := watcher.Watch(ctx, contribtest.WatchRequest("fail", 3))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := contribtest.ReadAll(failed.Recv); natsrpc.CodeOf(err) != natsrpc.CodeNotFound || len(got) != 3 {
		t.Fatalf("Watch fail: %d, %v", len(got), err)
	}

	// A watch in progress is in flight on both sides.
	forever, err := watcher.Watch(ctx, contribtest.WatchRequest("forever", 2))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := forever.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]float64{
		"client_started_total server_stream Watch":              3,
		"client_calls_in_flight server_stream Watch":            1,
		"client_handled_total server_stream Watch ok":           1,
		"client_handled_total server_stream Watch not_found":    1,
		"client_handling_seconds server_stream Watch ok":        1,
		"client_handling_seconds server_stream Watch not_found": 1,
		"client_msg_sent_total server_stream Watch":             3,
		"client_msg_received_total server_stream Watch":         10,
		"server_started_total server_stream Watch":              3,
		"server_calls_in_flight server_stream Watch":            1,
		"server_handled_total server_stream Watch ok":           1,
		"server_handled_total server_stream Watch not_found":    1,
		"server_handling_seconds server_stream Watch ok":        1,
		"server_handling_seconds server_stream Watch not_found": 1,
		"server_msg_received_total server_stream Watch":         3,
		"server_msg_sent_total server_stream Watch":             10,
	}
	waitSeries(t, reg, want)

	// Closed by the client: canceled on both sides, nothing in flight.
	if err := forever.Close(); err != nil {
		t.Fatal(err)
	}
	delete(want, "client_calls_in_flight server_stream Watch")
	delete(want, "server_calls_in_flight server_stream Watch")
	for _, s := range []string{"client", "server"} {
		want[s+"_handled_total server_stream Watch canceled"] = 1
		want[s+"_handling_seconds server_stream Watch canceled"] = 1
	}
	waitSeries(t, reg, want)

	// Bidirectional and client streaming.
	echo, err := contribtest.NewChatClient(env.Client, natsrpc.WithInterceptors(metrics)).CallBidiStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	collect, err := contribtest.NewUploadClient(env.Client, natsrpc.WithInterceptors(metrics)).CallClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"a", "b", "c", "d"} {
		if err := echo.Send(contribtest.Chat(w)); err != nil {
			t.Fatal(err)
		}
		if _, err := echo.Recv(); err != nil {
			t.Fatal(err)
		}
		if err := collect.Send(contribtest.Upload(w)); err != nil {
			t.Fatal(err)
		}
	}
	if err := echo.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if got, err := contribtest.ReadAll(echo.Recv); err != nil || len(got) != 0 {
		t.Fatalf("Chat after CloseSend: %d, %v", len(got), err)
	}
	if res, err := collect.CloseAndRecv(); err != nil || res.GetValue() != "a b c d" {
		t.Fatalf("Upload: %v, %v", res, err)
	}
	for _, s := range []string{"client", "server"} {
		want[s+"_started_total bidi_stream Chat"] = 1
		want[s+"_handled_total bidi_stream Chat ok"] = 1
		want[s+"_handling_seconds bidi_stream Chat ok"] = 1
		want[s+"_msg_sent_total bidi_stream Chat"] = 4
		want[s+"_msg_received_total bidi_stream Chat"] = 4
		want[s+"_started_total client_stream Upload"] = 1
		want[s+"_handled_total client_stream Upload ok"] = 1
		want[s+"_handling_seconds client_stream Upload ok"] = 1
	}
	want["client_msg_sent_total client_stream Upload"] = 4
	want["client_msg_received_total client_stream Upload"] = 1
	want["server_msg_received_total client_stream Upload"] = 4
	want["server_msg_sent_total client_stream Upload"] = 1
	waitSeries(t, reg, want)
}

// TestStreamNoResponders: a stream that cannot open counts on the client
// only, as unavailable, with no message sent.
func TestStreamNoResponders(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, reg)))
	if _, err := c.Watch(context.Background(), contribtest.WatchRequest("ok", 1)); natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Fatalf("Watch: %v; want unavailable", err)
	}
	waitSeries(t, reg, map[string]float64{
		"client_started_total server_stream Watch":                1,
		"client_handled_total server_stream Watch unavailable":    1,
		"client_handling_seconds server_stream Watch unavailable": 1,
	})
}

// TestStreamHandlerPanic: a panicking stream handler is counted as
// internal and leaves nothing in flight.
func TestStreamHandlerPanic(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	env.Serve(t, &contribtest.Handler{}, natsrpc.WithInterceptors(newInterceptor(t, reg)))
	watch, err := env.NewClient().Watch(context.Background(), contribtest.WatchRequest("panic", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contribtest.ReadAll(watch.Recv); natsrpc.CodeOf(err) != natsrpc.CodeInternal {
		t.Fatalf("Watch: %v; want internal", err)
	}
	waitSeries(t, reg, map[string]float64{
		"server_started_total server_stream Watch":             1,
		"server_handled_total server_stream Watch internal":    1,
		"server_handling_seconds server_stream Watch internal": 1,
		"server_msg_received_total server_stream Watch":        1,
		"server_msg_sent_total server_stream Watch":            1,
	})
}
