package promnatsrpc_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/promnatsrpc"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

func newInterceptor(t *testing.T, reg prometheus.Registerer, opts ...promnatsrpc.Option) *promnatsrpc.Interceptor {
	t.Helper()
	i, err := promnatsrpc.NewInterceptor(reg, opts...)
	if err != nil {
		t.Fatalf("NewInterceptor: %v", err)
	}
	return i
}

// TestMixedCodes makes calls with mixed outcomes through generated stubs on
// a real nats-server and checks every counter and gauge exactly, and the
// histograms' sample counts.
func TestMixedCodes(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	metrics := newInterceptor(t, reg)
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			switch req.GetId() {
			case "missing":
				return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
			case "boom":
				panic("boom")
			}
			return contribtest.Item(ctx, req)
		},
	}, natsrpc.WithInterceptors(metrics))
	c := env.NewClient(natsrpc.WithInterceptors(metrics), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	ctx := context.Background()
	for _, id := range []string{"a", "b", "missing", "c", "missing", "boom"} {
		_, _ = c.Get(ctx, &natsrpctestv1.GetRequest{Id: id})
	}
	// Generate is not implemented by the handler.
	_, _ = c.Generate(ctx, &natsrpctestv1.GenerateRequest{})

	const labels = `natsrpc_service="natsrpctest.v1.TestService",natsrpc_type="unary"`
	want := `
# HELP natsrpc_client_calls_in_flight Number of natsrpc calls clients made that have started and not ended.
# TYPE natsrpc_client_calls_in_flight gauge
natsrpc_client_calls_in_flight{natsrpc_method="Generate",` + labels + `} 0
natsrpc_client_calls_in_flight{natsrpc_method="Get",` + labels + `} 0
# HELP natsrpc_client_handled_total Number of natsrpc calls clients made, counted when they end, by code.
# TYPE natsrpc_client_handled_total counter
natsrpc_client_handled_total{natsrpc_code="internal",natsrpc_method="Get",` + labels + `} 1
natsrpc_client_handled_total{natsrpc_code="not_found",natsrpc_method="Get",` + labels + `} 2
natsrpc_client_handled_total{natsrpc_code="ok",natsrpc_method="Get",` + labels + `} 3
natsrpc_client_handled_total{natsrpc_code="unimplemented",natsrpc_method="Generate",` + labels + `} 1
# HELP natsrpc_client_started_total Number of natsrpc calls clients made, counted when they start.
# TYPE natsrpc_client_started_total counter
natsrpc_client_started_total{natsrpc_method="Generate",` + labels + `} 1
natsrpc_client_started_total{natsrpc_method="Get",` + labels + `} 6
# HELP natsrpc_server_calls_in_flight Number of natsrpc calls handlers served that have started and not ended.
# TYPE natsrpc_server_calls_in_flight gauge
natsrpc_server_calls_in_flight{natsrpc_method="Generate",` + labels + `} 0
natsrpc_server_calls_in_flight{natsrpc_method="Get",` + labels + `} 0
# HELP natsrpc_server_handled_total Number of natsrpc calls handlers served, counted when they end, by code.
# TYPE natsrpc_server_handled_total counter
natsrpc_server_handled_total{natsrpc_code="internal",natsrpc_method="Get",` + labels + `} 1
natsrpc_server_handled_total{natsrpc_code="not_found",natsrpc_method="Get",` + labels + `} 2
natsrpc_server_handled_total{natsrpc_code="ok",natsrpc_method="Get",` + labels + `} 3
natsrpc_server_handled_total{natsrpc_code="unimplemented",natsrpc_method="Generate",` + labels + `} 1
# HELP natsrpc_server_started_total Number of natsrpc calls handlers served, counted when they start.
# TYPE natsrpc_server_started_total counter
natsrpc_server_started_total{natsrpc_method="Generate",` + labels + `} 1
natsrpc_server_started_total{natsrpc_method="Get",` + labels + `} 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"natsrpc_client_calls_in_flight", "natsrpc_client_handled_total", "natsrpc_client_started_total",
		"natsrpc_server_calls_in_flight", "natsrpc_server_handled_total", "natsrpc_server_started_total",
	); err != nil {
		t.Error(err)
	}

	// Messages, as go-grpc-prometheus counts them: every request, and a
	// response for each success.
	wantMessages := `
# HELP natsrpc_client_msg_received_total Number of messages natsrpc clients received (requests, responses and stream messages).
# TYPE natsrpc_client_msg_received_total counter
natsrpc_client_msg_received_total{natsrpc_method="Generate",` + labels + `} 0
natsrpc_client_msg_received_total{natsrpc_method="Get",` + labels + `} 3
# HELP natsrpc_client_msg_sent_total Number of messages natsrpc clients sent (requests, responses and stream messages).
# TYPE natsrpc_client_msg_sent_total counter
natsrpc_client_msg_sent_total{natsrpc_method="Generate",` + labels + `} 1
natsrpc_client_msg_sent_total{natsrpc_method="Get",` + labels + `} 6
# HELP natsrpc_server_msg_received_total Number of messages natsrpc handlers received (requests, responses and stream messages).
# TYPE natsrpc_server_msg_received_total counter
natsrpc_server_msg_received_total{natsrpc_method="Generate",` + labels + `} 1
natsrpc_server_msg_received_total{natsrpc_method="Get",` + labels + `} 6
# HELP natsrpc_server_msg_sent_total Number of messages natsrpc handlers sent (requests, responses and stream messages).
# TYPE natsrpc_server_msg_sent_total counter
natsrpc_server_msg_sent_total{natsrpc_method="Generate",` + labels + `} 0
natsrpc_server_msg_sent_total{natsrpc_method="Get",` + labels + `} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantMessages),
		"natsrpc_client_msg_received_total", "natsrpc_client_msg_sent_total",
		"natsrpc_server_msg_received_total", "natsrpc_server_msg_sent_total",
	); err != nil {
		t.Error(err)
	}

	// The histograms: one per method and code, with the default buckets
	// and as many samples as handled_total says.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"natsrpc_client_handling_seconds", "natsrpc_server_handling_seconds"} {
		mf := family(families, name)
		if mf == nil {
			t.Fatalf("no %s", name)
		}
		got := map[string]uint64{}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			got[label(m, "natsrpc_method")+" "+label(m, "natsrpc_code")] = h.GetSampleCount()
			var bounds []float64
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			if !slices.Equal(bounds, promnatsrpc.DefaultBuckets) {
				t.Errorf("%s buckets = %v; want %v", name, bounds, promnatsrpc.DefaultBuckets)
			}
			if h.GetSampleSum() <= 0 || h.GetSampleSum() > 10 {
				t.Errorf("%s sum = %v s; want a positive, plausible duration", name, h.GetSampleSum())
			}
		}
		want := map[string]uint64{"Get ok": 3, "Get not_found": 2, "Get internal": 1, "Generate unimplemented": 1}
		if !maps.Equal(got, want) {
			t.Errorf("%s sample counts = %v; want %v", name, got, want)
		}
	}
}

// TestNoResponders: a call that finds no service counts on the client only.
func TestNoResponders(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewRegistry()
	c := env.NewClient(natsrpc.WithInterceptors(newInterceptor(t, reg)))
	_, err := c.Generate(context.Background(), &natsrpctestv1.GenerateRequest{})
	if natsrpc.CodeOf(err) != natsrpc.CodeUnavailable {
		t.Fatalf("Generate: %v; want unavailable", err)
	}
	want := `
# HELP natsrpc_client_handled_total Number of natsrpc calls clients made, counted when they end, by code.
# TYPE natsrpc_client_handled_total counter
natsrpc_client_handled_total{natsrpc_code="unavailable",natsrpc_method="Generate",natsrpc_service="natsrpctest.v1.TestService",natsrpc_type="unary"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "natsrpc_client_handled_total", "natsrpc_server_handled_total"); err != nil {
		t.Error(err)
	}
}

// TestInFlight: the gauges count calls in progress on both sides.
func TestInFlight(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewRegistry()
	metrics := newInterceptor(t, reg)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	env.Serve(t, &contribtest.Handler{
		GetFunc: func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			entered <- struct{}{}
			<-release
			return contribtest.Item(ctx, req)
		},
	}, natsrpc.WithInterceptors(metrics))
	c := env.NewClient(natsrpc.WithInterceptors(metrics))
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Get(context.Background(), &natsrpctestv1.GetRequest{}, natsrpc.WithCallTimeout(10*time.Second))
			done <- err
		}()
	}
	<-entered
	<-entered
	const series = `{natsrpc_method="Get",natsrpc_service="natsrpctest.v1.TestService",natsrpc_type="unary"}`
	gauges := func(n int) string {
		v := strconv.Itoa(n)
		return `
# HELP natsrpc_client_calls_in_flight Number of natsrpc calls clients made that have started and not ended.
# TYPE natsrpc_client_calls_in_flight gauge
natsrpc_client_calls_in_flight` + series + ` ` + v + `
# HELP natsrpc_server_calls_in_flight Number of natsrpc calls handlers served that have started and not ended.
# TYPE natsrpc_server_calls_in_flight gauge
natsrpc_server_calls_in_flight` + series + ` ` + v + `
`
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(gauges(2)), "natsrpc_client_calls_in_flight", "natsrpc_server_calls_in_flight"); err != nil {
		t.Errorf("while two calls wait: %v", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(gauges(0)), "natsrpc_client_calls_in_flight", "natsrpc_server_calls_in_flight"); err != nil {
		t.Errorf("after the calls: %v", err)
	}
}

// TestRegisterTwice: a second interceptor on the same registry shares the
// first one's metrics; one with other constant label values keeps its own.
func TestRegisterTwice(t *testing.T) {
	t.Parallel()
	env := contribtest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	core := promnatsrpc.WithConstLabels(prometheus.Labels{"nats_system": "core"})
	first, second := newInterceptor(t, reg, core), newInterceptor(t, reg, core)
	other := newInterceptor(t, reg, promnatsrpc.WithConstLabels(prometheus.Labels{"nats_system": "edge"}))
	env.Serve(t, &contribtest.Handler{GetFunc: contribtest.Item})
	for _, i := range []*promnatsrpc.Interceptor{first, second, other} {
		if _, err := env.NewClient(natsrpc.WithInterceptors(i)).Get(context.Background(), &natsrpctestv1.GetRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP natsrpc_client_started_total Number of natsrpc calls clients made, counted when they start.
# TYPE natsrpc_client_started_total counter
natsrpc_client_started_total{nats_system="core",natsrpc_method="Get",natsrpc_service="natsrpctest.v1.TestService",natsrpc_type="unary"} 2
natsrpc_client_started_total{nats_system="edge",natsrpc_method="Get",natsrpc_service="natsrpctest.v1.TestService",natsrpc_type="unary"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "natsrpc_client_started_total"); err != nil {
		t.Error(err)
	}
}

// TestRegisterConflict: a different metric under one of the names is an
// error that names it, and NewInterceptor takes back what it registered
// before the failure.
func TestRegisterConflict(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "natsrpc_server_handled_total", Help: "Not a counter."}))
	_, err := promnatsrpc.NewInterceptor(reg)
	if err == nil || !strings.HasPrefix(err.Error(), `promnatsrpc: register natsrpc_server_handled_total: `) {
		t.Fatalf("NewInterceptor over a squatter: %v; want an error naming natsrpc_server_handled_total", err)
	}
	// The client metrics, registered before the failure, are gone: the
	// same metric registers anew instead of being already registered.
	again := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "natsrpc_client_started_total",
		Help: "Number of natsrpc calls clients made, counted when they start.",
	}, []string{promnatsrpc.LabelType, promnatsrpc.LabelService, promnatsrpc.LabelMethod})
	if err := reg.Register(again); err != nil {
		t.Errorf("natsrpc_client_started_total was left registered: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		reg  prometheus.Registerer
		opts []promnatsrpc.Option
		want string
	}{
		{"nil registerer", nil, nil, "promnatsrpc: registerer is nil"},
		{"unsorted buckets", prometheus.NewRegistry(), []promnatsrpc.Option{promnatsrpc.WithHistogramBuckets(1, 0.5)}, "promnatsrpc: histogram buckets [1 0.5] are not in increasing order"},
		{"no buckets", prometheus.NewRegistry(), []promnatsrpc.Option{promnatsrpc.WithHistogramBuckets()}, "promnatsrpc: histogram buckets are empty"},
		{"label clash", prometheus.NewRegistry(), []promnatsrpc.Option{promnatsrpc.WithConstLabels(prometheus.Labels{"natsrpc_code": "x"})}, `promnatsrpc: constant label "natsrpc_code" clashes with a variable label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := promnatsrpc.NewInterceptor(tc.reg, tc.opts...)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewInterceptor = %v; want %q", err, tc.want)
			}
		})
	}
}

func family(families []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, mf := range families {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
