package shadow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/shadow"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/contribtest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

const service = "natsrpctest_v1_TestService"

// item answers Get; the candidate's differs in the title for ids
// starting with "diff" and in the (ignored) summary always.
func item(candidate bool) func(context.Context, *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	return func(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		it := &natsrpctestv1.Item{Id: req.GetId(), Title: "The " + req.GetId(), Summary: "primary", Level: 3}
		if candidate {
			it.Summary = "candidate"
			if strings.HasPrefix(req.GetId(), "diff") {
				it.Title = "Another " + req.GetId()
			}
		}
		return &natsrpctestv1.GetResponse{Item: it}, nil
	}
}

func TestRecordAndReport(t *testing.T) {
	env := contribtest.Start(t, natstest.WithJetStream())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(env.Service)
	if err != nil {
		t.Fatal(err)
	}
	// No stream yet: the report says so, without failing.
	rep, err := shadow.Collect(ctx, env.Client, shadow.CollectOptions{Service: "natsrpctest.v1.TestService", Wait: 300 * time.Millisecond})
	if err != nil || !rep.StreamMissing || len(rep.Services) != 0 {
		t.Fatalf("before anything: %+v, %v", rep, err)
	}
	rec, err := shadow.NewRecorder(ctx, js, shadow.WithLimits(3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	primary, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(env.Service, &contribtest.Handler{GetFunc: item(false)},
		natsrpc.WithMethods("Get"),
		natsrpc.WithShadow(natsrpc.ShadowPolicy{Prefix: "cand", Rate: 1, Recorder: rec,
			Methods: map[string]natsrpc.ShadowMethod{"Get": {Rate: 1, Ignore: []string{"item.summary"}}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop(ctx)
	cand, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(natstest.Connect(t, env.Server), &contribtest.Handler{GetFunc: item(true)},
		natsrpc.WithMethods("Get"), natsrpc.WithSubjectPrefix("cand"))
	if err != nil {
		t.Fatal(err)
	}
	defer cand.Stop(ctx)
	client := natsrpctestv1natsrpc.NewTestServiceClient(env.Client)
	ids := []string{"same-1", "diff-1", "same-2", "diff-2", "diff-3", "diff-4", "diff-5"}
	for _, id := range ids {
		if _, err := client.Get(ctx, &natsrpctestv1.GetRequest{Id: id, OwnerId: "p1"}, natsrpc.WithHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for primary.ShadowStats()["Get"].Compared < int64(len(ids)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rec.Stored() != 5 || rec.Failed() != 0 {
		t.Fatalf("stored %d, failed %d (%s); want 5 and 0", rec.Stored(), rec.Failed(), rec.LastFailure())
	}

	// The stream keeps the last 3 per method, with both bodies as JSON.
	records, err := shadow.Read(ctx, js, service)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 {
		t.Fatalf("%d records kept; want the bound, 3", len(records))
	}
	r := records[2]
	if r.Service != service || r.Method != "Get" || !slices.Equal(r.Paths, []string{"item.title"}) || r.TraceParent == "" ||
		!strings.Contains(string(r.Request), `"id":"diff-5"`) || !strings.Contains(string(r.Request), `"owner_id":"p1"`) ||
		!strings.Contains(string(r.Primary), `"title":"The diff-5"`) || !strings.Contains(string(r.Candidate), `"title":"Another diff-5"`) {
		t.Fatalf("record %+v\nrequest %s\nprimary %s\ncandidate %s", r, r.Request, r.Primary, r.Candidate)
	}

	rep, err = shadow.Collect(ctx, env.Client, shadow.CollectOptions{Service: "natsrpctest.v1.TestService", Wait: 2 * time.Second, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.StreamMissing || len(rep.Services) != 1 || len(rep.Services[0].Methods) != 1 {
		t.Fatalf("report %+v", rep)
	}
	s := rep.Services[0]
	m := s.Methods[0]
	if s.Instances != 1 || m.Stats.Compared != 7 || m.Stats.Equal != 2 || m.Stats.Different != 5 || m.Kept != 3 ||
		!slices.Equal(m.Paths, []shadow.PathCount{{Path: "item.title", Count: 3}}) || len(m.Latest) != 2 ||
		!strings.Contains(string(m.Latest[0].Request), "diff-5") || m.PrimaryP50 <= 0 || m.CandidateP99 < m.CandidateP50 {
		t.Fatalf("report %+v", m)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"natsrpctest_v1_TestService: 1 instance(s) mirroring",
		"METHOD  RATE  MIRRORED  COMPARED  EQUAL  DIFFERENT",
		"Get     1     7         7         2      5",
		"Get: 3 difference(s) kept",
		"item.title", "differs in 3",
		`item.title: primary "The diff-5", candidate "Another diff-5"`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "item.summary") {
		t.Errorf("the ignored field is reported:\n%s", text.String())
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"service":"natsrpctest_v1_TestService"`, `"different":5`, `"paths":[{"path":"item.title","count":3}]`, `"primary_p50_us":`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON report lacks %s: %s", want, b)
		}
	}
}

func TestValueAt(t *testing.T) {
	body := []byte(`{"quest":{"status":"QUEST_STATUS_ACTIVE","objectives":[{"id":"o1"},{"id":"o2","count":3}],"progress":{"o]1":{"count":2}}}}`)
	for path, want := range map[string]string{
		"quest.status":                `"QUEST_STATUS_ACTIVE"`,
		"quest.objectives[1].count":   "3",
		"quest.objectives[0].count":   "(unset)",
		"quest.objectives[5]":         "(unset)",
		`quest.progress["o]1"].count`: "2",
		`quest.progress["nope"]`:      "(unset)",
		"quest.objectives":            `[{"id":"o1"},{"count":3,"id":"o2"}]`,
		"quest.status.deeper":         "(unset)",
		"missing":                     "(unset)",
	} {
		if got := shadow.ValueAt(body, path); got != want {
			t.Errorf("ValueAt(%q) = %s; want %s", path, got, want)
		}
	}
}
