package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	nrpc "github.com/natsrpc/natsrpc"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
)

// candidateHandler is the replacement under the shadow prefix: it answers
// Get with another title, so that every mirrored call differs.
type candidateHandler struct {
	testHandler
	calls *atomic.Int64
}

func (h candidateHandler) Get(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	h.calls.Add(1)
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "candidate"}}, nil
}

// TestPermsBridge: natsrpc bridge, under exactly the permissions `natsrpc
// perms bridge --service S --shadow-prefix next` prints, serves S's calls
// by calling an HTTP service, mirrors them to the candidate under next and
// keeps the differences in the shadow stream (no permission violation, no
// warning); it cannot publish on another service's subjects, nor on the
// candidate's subjects of another service, nor announce registry versions.
func TestPermsBridge(t *testing.T) {
	t.Parallel()
	set := descriptorSetFile(t)
	const test = "natsrpctest.v1.TestService"
	srv := permsServer(t, map[string]string{
		"br":   permsOf(t, "bridge", "--service", test, "--descriptor-set", set, "--shadow-prefix", "next"),
		"cand": permsOf(t, "service", "--service", test, "--descriptor-set", set, "--subject-prefix", "next"),
		"cli":  permsOf(t, "client", "--service", test, "--descriptor-set", set),
		"ops":  `{publish: ">", subscribe: ">"}`,
	})
	var httpCalls atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpCalls.Add(1)
		if r.URL.Path != "/natsrpctest.v1.TestService/Get" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"item": {"id": "`+req.ID+`", "title": "from http"}}`)
	}))
	defer web.Close()

	var cands atomic.Int64
	cnc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("cand", "pw-cand"), nats.CustomInboxPrefix("_INBOX_natsrpctest_v1_TestService"))
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	cand, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(cnc, candidateHandler{testHandler{notified: make(chan string, 1)}, &cands}, nrpc.WithSubjectPrefix("next"))
	if err != nil {
		t.Fatal(err)
	}
	defer cand.Stop(context.Background())

	as := func(user string) []string {
		return []string{"-s", srv.ClientURL(), "--user", user, "--password", "pw-" + user}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br := startNatsrpc(ctx, append(as("br"), "--inbox-prefix", "_INBOX_natsrpctest_v1_TestService", "bridge", "--service", test, "--http", web.URL,
		"--descriptor-set", set, "--shadow-prefix", "next", "--shadow-rate", "1")...)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(br.stdout.String(), "natsrpc bridge serving") {
		select {
		case code := <-br.done:
			t.Fatalf("the bridge exited %d under its generated permissions:\n%s\n%s", code, br.stdout, br.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge did not start:\n%s\n%s", br.stdout, br.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	clnc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("cli", "pw-cli"))
	if err != nil {
		t.Fatal(err)
	}
	defer clnc.Close()
	callCtx, callCancel := context.WithTimeout(ctx, time.Minute)
	defer callCancel()
	c := natsrpctestv1natsrpc.NewTestServiceClient(clnc)
	for i := range 3 {
		id := "b-" + string(rune('1'+i))
		res, err := c.Get(callCtx, &natsrpctestv1.GetRequest{Id: id})
		if err != nil || res.GetItem().GetId() != id || res.GetItem().GetTitle() != "from http" {
			t.Fatalf("call %d through the bridge: %v, %v\n%s", i, res, err, br.stderr)
		}
	}
	if n := httpCalls.Load(); n != 3 {
		t.Errorf("the HTTP service got %d calls; want 3", n)
	}
	eventually(t, "the candidate to get the mirrored calls", func() bool { return cands.Load() == 3 })
	// The differences reach the stream the bridge created.
	eventually(t, "the differences in the shadow stream", func() bool {
		r := natsrpc(t, append(as("ops"), "shadow", "report", "--service", test, "--format", "json")...)
		return r.code == 0 && strings.Contains(r.stdout, `"kept":3`)
	})

	// Under the bridge's user: another service's subjects, the candidate's
	// subject of another service, the registry's event are refused.
	var v violations
	bnc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("br", "pw-br"), nats.ErrorHandler(v.handler))
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{
		natsrpctestv1natsrpc.DurableServiceRecordSubject,
		"next." + natsrpctestv1natsrpc.DurableServiceRecordSubject,
		"natsrpc.shadow.natsrpctest_v1_DurableService.Record",
		"natsrpc.registry.v1.RegistryEventsService.VersionCreated",
	} {
		_ = bnc.Publish(subject, []byte("x"))
		v.wait(t, subject)
	}
	bnc.Close()
	cancel()
	<-br.done
	if s := br.stderr.String(); strings.Contains(s, "Permissions Violation") || strings.Contains(s, "not kept") || strings.Contains(s, "level=WARN") {
		t.Errorf("the bridge warned under its generated permissions:\n%s", s)
	}
}
