package runtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// diffRecorder keeps the differences a shadow reports.
type diffRecorder struct {
	mu    sync.Mutex
	diffs []natsrpc.ShadowDifference
}

func (r *diffRecorder) RecordShadow(d *natsrpc.ShadowDifference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diffs = append(r.diffs, *d)
}

func (r *diffRecorder) all() []natsrpc.ShadowDifference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.diffs)
}

// candidate answers TestService's Get under the prefix "shadow", like the
// primary except where the id says otherwise: "diff-*" changes the title,
// "ignored-*" only the summary (which the policy ignores), "fail-*" fails,
// "slow-*" answers after the shadow's timeout (it waits for slowDone, which
// the test closes when it ends), "block-*" waits for release.
type candidate struct {
	gets, generates atomic.Int64
	headers         chan nats.Header
	release         chan struct{}
	slowDone        chan struct{}
	svc             *natsrpc.Service
}

func startCandidate(t *testing.T, nc *nats.Conn, opts ...natsrpc.HandlerOption) *candidate {
	c := &candidate{headers: make(chan nats.Header, 1024), release: make(chan struct{}), slowDone: make(chan struct{})}
	c.svc = testService(t, nc, []natsrpc.Handler{
		getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			c.gets.Add(1)
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			select {
			case c.headers <- nats.Header(maps.Clone(ci.RequestHeader())):
			default:
			}
			id := req.GetId()
			res := &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: id, Title: "The " + id, Summary: "s", Status: natsrpctestv1.Status_STATUS_ACTIVE}}
			switch {
			case strings.HasPrefix(id, "diff-"):
				res.Item.Title = "A different title"
			case strings.HasPrefix(id, "ignored-"):
				res.Item.Summary = "generated at " + time.Now().String()
			case strings.HasPrefix(id, "fail-"):
				return nil, natsrpc.NewError(natsrpc.CodeInternal, errors.New("candidate broke"))
			case strings.HasPrefix(id, "slow-"):
				<-c.slowDone
			case strings.HasPrefix(id, "block-"):
				<-c.release
			}
			return res, nil
		}),
		natsrpc.NewUnaryHandler(generateItem, func(_ context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			c.generates.Add(1)
			return &natsrpctestv1.GenerateResponse{Item: &natsrpctestv1.Item{Id: "g"}}, nil
		}),
	}, append([]natsrpc.HandlerOption{natsrpc.WithSubjectPrefix("shadow")}, opts...)...)
	// Registered after the service's own cleanup, so it runs first: a
	// "slow-*" call returns before the service drains.
	t.Cleanup(func() { close(c.slowDone) })
	return c
}

// shadowPrimary is the primary's Get: "primary-fails-*" fails with
// not_found.
func shadowPrimary(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	if strings.HasPrefix(req.GetId(), "primary-fails-") {
		return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
	}
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "The " + req.GetId(), Summary: "s", Status: natsrpctestv1.Status_STATUS_ACTIVE}}, nil
}

func startPrimary(t *testing.T, nc *nats.Conn, policy natsrpc.ShadowPolicy, opts ...natsrpc.HandlerOption) (*natsrpc.Service, *atomic.Int64) {
	var generates atomic.Int64
	svc := testService(t, nc, []natsrpc.Handler{
		getItemHandler(shadowPrimary),
		natsrpc.NewUnaryHandler(generateItem, func(_ context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			generates.Add(1)
			return &natsrpctestv1.GenerateResponse{Item: &natsrpctestv1.Item{Id: "g"}}, nil
		}),
	}, append([]natsrpc.HandlerOption{natsrpc.WithShadow(policy)}, opts...)...)
	return svc, &generates
}

func shadowOf(t testing.TB, svc *natsrpc.Service, method string) natsrpc.ShadowStats {
	t.Helper()
	return svc.ShadowStats()[method]
}

// TestShadow runs a primary with a candidate: answers compared with one
// deliberate difference found and one ignored field not reported, errors
// on either side, a slow candidate dropped, a side-effecting method never
// mirrored, and the primary's answer never changed.
func TestShadow(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	cand := startCandidate(t, natstest.Connect(t, srv))
	rec := &diffRecorder{}
	svc, generates := startPrimary(t, snc, natsrpc.ShadowPolicy{
		Prefix:   "shadow",
		Rate:     1,
		Methods:  map[string]natsrpc.ShadowMethod{"Get": {Rate: 1, Ignore: []string{"item.summary"}}},
		Timeout:  2 * time.Second, // the slow candidate never answers in time; the others must, under -race on a loaded machine
		Recorder: rec,
	})
	client := getItemClient(cnc)
	call := func(id string, opts ...natsrpc.CallOption) (*natsrpctestv1.GetResponse, error) {
		return client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: id}, opts...)
	}
	// Equal, different, ignored, candidate failing, slow, primary failing.
	for _, id := range []string{"same-1", "same-2", "diff-1", "ignored-1", "ignored-2", "fail-1", "slow-1", "primary-fails-1"} {
		res, err := call(id, natsrpc.WithHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
		if strings.HasPrefix(id, "primary-fails-") {
			wantCode(t, err, natsrpc.CodeNotFound) // the primary's error, whatever the candidate says
			continue
		}
		if err != nil || res.GetItem().GetTitle() != "The "+id || res.GetItem().GetSummary() != "s" {
			t.Fatalf("%s: the primary's answer changed: %v, %v", id, res, err)
		}
	}
	// The side-effecting method is never mirrored.
	for i := 0; i < 5; i++ {
		if _, err := generateItemClient(cnc).CallUnary(t.Context(), &natsrpctestv1.GenerateRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every mirrored call counted", func() bool {
		s := shadowOf(t, svc, "Get")
		return s.Equal+s.Different+s.CandidateErrors+s.Slow+s.Dropped == 8
	})
	s := shadowOf(t, svc, "Get")
	want := natsrpc.ShadowStats{Rate: 1, Mirrored: 8, Slow: 1, Compared: 6, Equal: 4, Different: 2, CandidateErrors: 1}
	if s.Mirrored != want.Mirrored || s.Slow != want.Slow || s.Compared != want.Compared || s.Equal != want.Equal ||
		s.Different != want.Different || s.CandidateErrors != want.CandidateErrors || s.Dropped != 0 {
		t.Fatalf("stats %+v; want %+v", s, want)
	}
	if !strings.Contains(s.LastCandidateError, "candidate broke") || s.PrimaryLatency.Count != 6 || s.CandidateLatency.Count != 6 {
		t.Fatalf("stats %+v", s)
	}
	if _, ok := svc.ShadowStats()["Generate"]; ok || generates.Load() != 5 || cand.generates.Load() != 0 {
		t.Fatalf("Generate was mirrored: stats %v, candidate calls %d", svc.ShadowStats(), cand.generates.Load())
	}
	// The differences: the title, and the primary's failure; never the
	// ignored summary.
	diffs := rec.all()
	if len(diffs) != 2 {
		t.Fatalf("%d differences recorded; want 2: %+v", len(diffs), diffs)
	}
	if diffs[0].PrimaryError != nil {
		diffs[0], diffs[1] = diffs[1], diffs[0]
	}
	d := diffs[0]
	if !slices.Equal(d.Paths, []string{"item.title"}) || d.Primary == nil || d.Candidate == nil || d.Service != itemMicroName ||
		d.Spec.Subject != getItemSubject || !strings.HasPrefix(d.TraceParent, "00-4bf9") || d.Request == nil {
		t.Fatalf("difference %+v", d)
	}
	if d = diffs[1]; d.PrimaryError == nil || d.PrimaryError.Code() != natsrpc.CodeNotFound || d.Candidate == nil || len(d.Paths) != 0 {
		t.Fatalf("difference %+v", d)
	}
	// The candidate saw the metadata and the shadow header, not the
	// runtime's own headers.
	h := <-cand.headers
	if h.Get(natsrpc.ShadowHeader) != "1" || h.Get("traceparent") == "" {
		t.Fatalf("candidate's request headers %v", h)
	}
	// $SRV.STATS carries the same counts.
	st := requestStats(t, cnc, itemMicroName+"."+svc.ID())
	for _, ep := range st.Endpoints {
		var data struct {
			Shadow *natsrpc.ShadowStats `json:"shadow"`
		}
		if err := json.Unmarshal(ep.Data, &data); err != nil {
			t.Fatal(err)
		}
		switch ep.Name {
		case "Get":
			if data.Shadow == nil || data.Shadow.Different != 2 || data.Shadow.PrimaryLatency.Count != 6 {
				t.Fatalf("$SRV.STATS shadow of Get: %+v", data.Shadow)
			}
		case "Generate":
			if data.Shadow != nil {
				t.Fatalf("$SRV.STATS shadow of Generate: %+v", data.Shadow)
			}
		}
	}
}

// TestShadowOffThePath blocks the candidate: the primary's callers still
// get their answers, the mirrored calls beyond MaxInFlight are dropped and
// counted, and a mirrored call is never mirrored again.
func TestShadowOffThePath(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	cand := startCandidate(t, natstest.Connect(t, srv), natsrpc.WithShadow(natsrpc.ShadowPolicy{Prefix: "shadow", Rate: 1}))
	// One worker: a mirror on the primary's path would hold it, and the
	// next call would wait for the candidate.
	svc, _ := startPrimary(t, snc, natsrpc.ShadowPolicy{Prefix: "shadow", Rate: 1, MaxInFlight: 2, Timeout: 10 * time.Second}, natsrpc.WithConcurrency(1))
	client := getItemClient(cnc)
	for i := 0; i < 6; i++ {
		res, err := client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "block-1"}, natsrpc.WithCallTimeout(2*time.Second))
		if err != nil || res.GetItem().GetTitle() != "The block-1" {
			t.Fatalf("call %d waited for the blocked candidate: %v, %v", i, res, err)
		}
	}
	waitFor(t, "two calls in flight and four dropped", func() bool {
		s := shadowOf(t, svc, "Get")
		return s.Dropped == 4 && cand.gets.Load() == 2
	})
	close(cand.release)
	waitFor(t, "the two blocked calls compared", func() bool { return shadowOf(t, svc, "Get").Equal == 2 })
	// The candidate shadows too (prefix shadow.shadow): it got mirrored
	// calls only, and mirrored none of them.
	time.Sleep(50 * time.Millisecond)
	for name, s := range cand.svc.ShadowStats() {
		if s.Mirrored != 0 {
			t.Fatalf("the candidate mirrored a mirrored call of %s: %+v", name, s)
		}
	}
}

// TestShadowSampling mirrors about the policy's rate, and side-effecting
// methods only when listed by name.
func TestShadowSampling(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	cand := startCandidate(t, natstest.Connect(t, srv))
	svc, _ := startPrimary(t, snc, natsrpc.ShadowPolicy{Prefix: "shadow", Rate: 0.25,
		Methods: map[string]natsrpc.ShadowMethod{"Generate": {Rate: 1}}})
	const n = 400
	for i := 0; i < n; i++ {
		if _, err := getItemClient(cnc).CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "same"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := generateItemClient(cnc).CallUnary(t.Context(), &natsrpctestv1.GenerateRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the listed side-effecting method mirrored every time", func() bool { return shadowOf(t, svc, "Generate").Equal == 10 })
	// 400 draws at 25%: mean 100, standard deviation 8.7; 60 to 140 is
	// 4.6 deviations either side (a false failure about once in 200,000
	// runs).
	waitFor(t, "the sampled calls compared", func() bool {
		s := shadowOf(t, svc, "Get")
		return s.Mirrored == s.Equal && s.Equal == cand.gets.Load()
	})
	if got := shadowOf(t, svc, "Get").Mirrored; got < 60 || got > 140 {
		t.Fatalf("mirrored %d of %d calls at rate 0.25; want 60 to 140", got, n)
	}
}

// TestShadowPolicyErrors: invalid policies fail NewService.
func TestShadowPolicyErrors(t *testing.T) {
	t.Parallel()
	_, _, snc := testConns(t)
	for _, tc := range []struct {
		p    natsrpc.ShadowPolicy
		want string
	}{
		{natsrpc.ShadowPolicy{Rate: 1}, "the candidate's subject prefix is empty"},
		{natsrpc.ShadowPolicy{Prefix: "a.*", Rate: 1}, `prefix "a.*"`},
		{natsrpc.ShadowPolicy{Prefix: "s", Rate: 1.5}, "rate 1.5 must be between 0 and 1"},
		{natsrpc.ShadowPolicy{Prefix: "s", Methods: map[string]natsrpc.ShadowMethod{"Nope": {Rate: 1}}}, `method "Nope" is not a method of the service`},
		{natsrpc.ShadowPolicy{Prefix: "s", Methods: map[string]natsrpc.ShadowMethod{"Watch": {Rate: 1}}}, `method "Watch" is server_stream: only unary methods are mirrored`},
		{natsrpc.ShadowPolicy{Prefix: "s", Methods: map[string]natsrpc.ShadowMethod{"Get": {Rate: 1, Ignore: []string{"item.nope"}}}}, `method "Get": ignore "item.nope": natsrpctest.v1.Item has no field "nope"`},
		{natsrpc.ShadowPolicy{Prefix: "s", Methods: map[string]natsrpc.ShadowMethod{"Get": {Rate: -1}}}, `method "Get": rate -1`},
		{natsrpc.ShadowPolicy{Prefix: "s", MaxInFlight: -1}, "max in flight -1"},
	} {
		_, err := natsrpc.NewService(snc, itemService, []natsrpc.Handler{getItemHandler(echoGetItem)}, natsrpc.WithShadow(tc.p))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("policy %+v: %v; want %q", tc.p, err, tc.want)
		}
	}
}

func TestShadowLatencyQuantiles(t *testing.T) {
	t.Parallel()
	var a, b natsrpc.ShadowLatency
	for i := 1; i <= 100; i++ {
		(&a).Merge(single(time.Duration(i) * time.Millisecond))
	}
	b.Merge(a)
	b.Merge(a)
	for _, l := range []natsrpc.ShadowLatency{a, b} {
		p50, p99 := l.Quantile(0.5), l.Quantile(0.99)
		if p50 < 50*time.Millisecond || p50 > 63*time.Millisecond || p99 < 99*time.Millisecond || p99 > 100*time.Millisecond {
			t.Errorf("p50 %s p99 %s of 1..100 ms", p50, p99)
		}
		if l.Mean() != 50500*time.Microsecond {
			t.Errorf("mean %s", l.Mean())
		}
	}
	if b.Count != 200 || b.Max != 100*time.Millisecond {
		t.Errorf("merged %+v", b)
	}
	for i := 0; i < 71; i++ {
		if natsrpc.ShadowLatencyBound(i+1) <= natsrpc.ShadowLatencyBound(i) {
			t.Fatalf("bounds %d and %d not increasing", i, i+1)
		}
	}
}

// single is a ShadowLatency of one latency, built through the JSON form
// a STATS answer carries.
func single(d time.Duration) natsrpc.ShadowLatency {
	i := 0
	for d > natsrpc.ShadowLatencyBound(i) {
		i++
	}
	buckets := make([]int64, i+1)
	buckets[i] = 1
	return natsrpc.ShadowLatency{Count: 1, Sum: d, Max: d, Buckets: buckets}
}

// TestShadowJSONAndPrefix mirrors a JSON caller's calls of a primary
// served under a runtime prefix: the candidate, under the shadow prefix
// and the runtime prefix, gets binary protobuf, and the answers compare.
func TestShadowJSONAndPrefix(t *testing.T) {
	t.Parallel()
	srv, cnc, snc := testConns(t)
	cand := startCandidate(t, natstest.Connect(t, srv), natsrpc.WithSubjectPrefix("shadow.env"))
	svc, _ := startPrimary(t, snc, natsrpc.ShadowPolicy{Prefix: "shadow", Rate: 1}, natsrpc.WithSubjectPrefix("env"))
	client := getItemClient(cnc, natsrpc.WithJSON(), natsrpc.WithSubjectPrefix("env"))
	for _, id := range []string{"same-1", "diff-1"} {
		if res, err := client.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: id}); err != nil || res.GetItem().GetTitle() != "The "+id {
			t.Fatalf("%v, %v", res, err)
		}
	}
	waitFor(t, "both calls compared", func() bool { return shadowOf(t, svc, "Get").Compared == 2 })
	if s := shadowOf(t, svc, "Get"); s.Equal != 1 || s.Different != 1 || !slices.Equal(s.LastDifference, []string{"item.title"}) || cand.gets.Load() != 2 {
		t.Fatalf("stats %+v, candidate calls %d", s, cand.gets.Load())
	}
}
