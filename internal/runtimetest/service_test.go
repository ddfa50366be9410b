package runtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

func TestDefaultsAbsorb64Callers(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	const callers = 64
	var arrived sync.WaitGroup
	arrived.Add(callers)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	svc := testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		// Every handler waits until all 64 run at once: with fewer
		// workers than callers this would time out.
		arrived.Done()
		select {
		case <-all:
			return req, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})})
	c := newPingClient(client, pingMethod)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := c.CallUnary(context.Background(), wrapperspb.String("x"), natsrpc.WithCallTimeout(10*time.Second))
			errs <- err
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("call: %v", err)
		}
	}
	waitFor(t, "64 requests in the stats", func() bool { return svc.Stats().Endpoints[0].NumRequests == callers })
	if st := svc.Stats().Endpoints[0]; st.NumErrors != 0 {
		t.Errorf("num_errors = %d; want 0", st.NumErrors)
	}
}

func TestOverloadRejectsFast(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	svc := testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		started <- struct{}{}
		<-release
		return req, nil
	})}, natsrpc.WithConcurrency(2), natsrpc.WithMaxPending(1))
	c := newPingClient(client, pingMethod)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CallUnary(context.Background(), wrapperspb.String("busy"))
			errs <- err
		}()
	}
	<-started
	<-started
	// Both workers are busy; one more request waits in the queue.
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := c.CallUnary(context.Background(), wrapperspb.String("queued"))
		errs <- err
	}()
	waitFor(t, "the queued request", func() bool {
		var data struct {
			PoolQueued int `json:"pool_queued"`
		}
		_ = json.Unmarshal(svc.Stats().Endpoints[0].Data, &data)
		return data.PoolQueued == 1
	})
	start := time.Now()
	_, err := c.CallUnary(context.Background(), wrapperspb.String("rejected"))
	e := wantCode(t, err, natsrpc.CodeResourceExhausted)
	if !natsrpc.IsWireError(e) {
		t.Error("IsWireError = false for the server's overload answer")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("rejection took %v; want it at once", elapsed)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("admitted call: %v", err)
		}
	}
	st := svc.Stats().Endpoints[0]
	var data struct{ Rejected int }
	if err := json.Unmarshal(st.Data, &data); err != nil || data.Rejected != 1 {
		t.Errorf("stats data rejected = %d (%v); want 1", data.Rejected, err)
	}
	if st.NumErrors != 1 || st.NumRequests != 4 {
		t.Errorf("num_requests, num_errors = %d, %d; want 4, 1", st.NumRequests, st.NumErrors)
	}
}

func TestGracefulStop(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	svc, err := natsrpc.NewService(server, pingService, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		started <- struct{}{}
		<-release
		return wrapperspb.String("done " + req.GetValue()), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	c := newPingClient(client, pingMethod, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	inFlight := make(chan error, 1)
	go func() {
		res, err := c.CallUnary(context.Background(), wrapperspb.String("a"))
		if err == nil && res.GetValue() != "done a" {
			err = errors.New("unexpected response " + res.GetValue())
		}
		inFlight <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Stop(context.Background()) }()
	// Stop drains the subscription first: new calls find no responders
	// while the one in flight keeps running.
	waitFor(t, "the subscription to drain", func() bool {
		_, err := c.CallUnary(context.Background(), wrapperspb.String("b"), natsrpc.WithCallTimeout(time.Second))
		return natsrpc.CodeOf(err) == natsrpc.CodeUnavailable
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with a request in flight", err)
	default:
	}
	close(release)
	if err := <-inFlight; err != nil {
		t.Errorf("in-flight call: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := svc.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := client.Request("$SRV.PING."+svc.Name(), nil, 200*time.Millisecond); !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("PING after Stop: err = %v; want no answer", err)
	}
}

func TestStopGivesUp(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	started := make(chan struct{}, 1)
	canceled := make(chan error, 1)
	svc, err := natsrpc.NewService(server, pingService, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		started <- struct{}{}
		<-ctx.Done()
		canceled <- ctx.Err()
		return nil, ctx.Err()
	})}, natsrpc.WithMaxTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = newPingClient(client, pingMethod).CallUnary(context.Background(), wrapperspb.String("a"), natsrpc.WithCallTimeout(time.Minute))
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = svc.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Errorf("Stop = %v; want the context's error and the in-flight count", err)
	}
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Errorf("handler's ctx.Err() = %v; want context.Canceled after Stop gave up", err)
	}
	if err := svc.Stop(context.Background()); err != nil {
		t.Errorf("Stop after the handler returned: %v", err)
	}
}

func TestQueueGroupSpread(t *testing.T) {
	t.Parallel()
	srv, client, server := testConns(t)
	server2 := natstest.Connect(t, srv)
	var counts [2]atomic.Int32
	for i, nc := range []*nats.Conn{server, server2} {
		testPingService(t, nc, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			counts[i].Add(1)
			return req, nil
		})})
	}
	c := newPingClient(client, pingMethod)
	const calls = 200
	for range calls {
		if _, err := c.CallUnary(context.Background(), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	a, b := counts[0].Load(), counts[1].Load()
	if a+b != calls {
		t.Errorf("handled %d + %d = %d; want %d, each request exactly once", a, b, a+b, calls)
	}
	// Random spread: the chance that either side gets under 20 of 200 is
	// about 1e-30.
	if a < 20 || b < 20 {
		t.Errorf("instances handled %d and %d requests; want both to share the load", a, b)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		if req.GetId() == "missing" {
			return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no item \"missing\""))
		}
		return echoGetItem(ctx, req)
	})})

	res, err := getItemClient(client, natsrpc.WithJSON()).CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "q-7"})
	if err != nil {
		t.Fatalf("WithJSON call: %v", err)
	}
	if got := res.GetItem().GetId(); got != "q-7" {
		t.Errorf("item id = %q; want q-7", got)
	}

	// What `nats req SUBJECT '{...}' -H Content-Type:application/json` sends.
	msg := nats.NewMsg(getItemSubject)
	msg.Header.Set("Content-Type", "application/json")
	msg.Data = []byte(`{"ownerId": "p-1", "id": "q-8"}`)
	resp, err := client.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("response Content-Type = %q; want application/json", got)
	}
	var got natsrpctestv1.GetResponse
	if err := protojson.Unmarshal(resp.Data, &got); err != nil {
		t.Fatalf("response %q is not JSON: %v", resp.Data, err)
	}
	if got.GetItem().GetId() != "q-8" || got.GetItem().GetStatus() != natsrpctestv1.Status_STATUS_ACTIVE {
		t.Errorf("response = %v; want item q-8, active", &got)
	}
	if !strings.Contains(string(resp.Data), `"STATUS_ACTIVE"`) {
		t.Errorf("response %s: want enums by name", resp.Data)
	}

	msg.Data = []byte(`{"id": "missing"}`)
	resp, err = client.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Nats-Rpc-Code") != "not_found" || resp.Header.Get("Nats-Service-Error-Code") != "404" ||
		resp.Header.Get("Nats-Service-Error") != `no item "missing"` {
		t.Errorf("error headers = %v; want not_found, 404 and the message", resp.Header)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	seen := make(chan nats.Header, 1)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		ci, ok := natsrpc.CallInfoFromContext(ctx)
		if !ok {
			return nil, errors.New("no CallInfo in the handler's context")
		}
		seen <- ci.RequestHeader()
		ci.ResponseHeader().Set("Item-Cache", "hit")
		ci.ResponseHeader().Set("Nats-Rpc-Code", "forged")
		ci.ResponseHeader().Set("Status", "503")
		if req.GetValue() == "fail" {
			return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("gone"))
		}
		return req, nil
	})})
	c := newPingClient(client, pingMethod)

	var resHdr nats.Header
	_, err := c.CallUnary(context.Background(), wrapperspb.String("x"),
		natsrpc.WithHeader("Player-Id", "p-1"),
		natsrpc.WithHeaders(nats.Header{"traceparent": {traceparent}, "tracestate": {"studio=1"}}),
		natsrpc.WithResponseHeader(&resHdr))
	if err != nil {
		t.Fatal(err)
	}
	got := <-seen
	for k, want := range map[string]string{"Player-Id": "p-1", "traceparent": traceparent, "tracestate": "studio=1"} {
		if got.Get(k) != want {
			t.Errorf("handler saw %s = %q; want %q", k, got.Get(k), want)
		}
	}
	if got.Get("Nats-Rpc-Timeout") == "" {
		t.Error("handler saw no Nats-Rpc-Timeout")
	}
	if resHdr.Get("Item-Cache") != "hit" {
		t.Errorf("response header Item-Cache = %q; want hit", resHdr.Get("Item-Cache"))
	}
	if resHdr.Get("Nats-Rpc-Code") != "" || resHdr.Get("Status") != "" {
		t.Errorf("response headers %v: reserved headers set by the handler must be dropped", resHdr)
	}

	// Handler headers travel with errors too.
	_, err = c.CallUnary(context.Background(), wrapperspb.String("fail"), natsrpc.WithResponseHeader(&resHdr))
	e := wantCode(t, err, natsrpc.CodeNotFound)
	<-seen
	if resHdr.Get("Item-Cache") != "hit" || e.Meta().Get("Item-Cache") != "hit" {
		t.Errorf("error response headers %v: want the handler's Item-Cache", resHdr)
	}
	if resHdr.Get("Nats-Rpc-Code") != "not_found" {
		t.Errorf("error response Nats-Rpc-Code = %q; want not_found, not the handler's forgery", resHdr.Get("Nats-Rpc-Code"))
	}

	for _, key := range []string{"Nats-Rpc-Timeout", "nats-rpc-anything", "Content-Type", "Nats-Service-Error-Code", "Status", "Bad:Key"} {
		_, err := c.CallUnary(context.Background(), wrapperspb.String("x"), natsrpc.WithHeader(key, "1"))
		wantCode(t, err, natsrpc.CodeInvalidArgument)
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	svc := testService(t, server, []natsrpc.Handler{
		getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			if req.GetId() == "missing" {
				return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
			}
			time.Sleep(2 * time.Millisecond) // real work the stats must show
			return echoGetItem(ctx, req)
		}),
		natsrpc.NewUnaryHandler(generateItem, func(context.Context, *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			return &natsrpctestv1.GenerateResponse{}, nil
		}),
	})

	var ping micro.Ping
	requestJSON(t, client, "$SRV.PING."+itemMicroName, &ping)
	if ping.Name != itemMicroName || ping.ID != svc.ID() || ping.Version != "1.0.0" || ping.Type != micro.PingResponseType {
		t.Errorf("PING = %+v; want name %q, id %q, version 1.0.0", ping, itemMicroName, svc.ID())
	}

	var info micro.Info
	requestJSON(t, client, "$SRV.INFO."+itemMicroName, &info)
	if info.Type != micro.InfoResponseType || info.Metadata["natsrpc.version"] != natsrpc.Version {
		t.Errorf("INFO type, metadata = %q, %v", info.Type, info.Metadata)
	}
	if len(info.Endpoints) != 2 {
		t.Fatalf("INFO has %d endpoints; want 2", len(info.Endpoints))
	}
	ep := info.Endpoints[0]
	if ep.Name != "Get" || ep.Subject != getItemSubject || ep.QueueGroup != "q" {
		t.Errorf("endpoint = %s on %q in %q; want Get on %q in \"q\"", ep.Name, ep.Subject, ep.QueueGroup, getItemSubject)
	}
	for k, want := range map[string]string{
		"natsrpc.procedure":     "/natsrpctest.v1.TestService/Get",
		"natsrpc.request":       "natsrpctest.v1.GetRequest",
		"natsrpc.response":      "natsrpctest.v1.GetResponse",
		"natsrpc.kind":          "unary",
		"natsrpc.idempotency":   "no_side_effects",
		"natsrpc.content_types": "application/protobuf,application/json",
		"natsrpc.timeout":       "5s",
	} {
		if got := ep.Metadata[k]; got != want {
			t.Errorf("Get metadata %s = %q; want %q", k, got, want)
		}
	}
	if got := info.Endpoints[1].Metadata["natsrpc.timeout"]; got != "30s" {
		t.Errorf("Generate metadata natsrpc.timeout = %q; want 30s", got)
	}

	// Every instance answers the service-wide and the instance subject.
	var all micro.Info
	requestJSON(t, client, "$SRV.INFO."+itemMicroName+"."+svc.ID(), &all)
	if all.ID != svc.ID() {
		t.Errorf("INFO by id answered by %q", all.ID)
	}

	c := getItemClient(client)
	for i := range 5 {
		id := "q"
		if i%2 == 1 {
			id = "missing"
		}
		_, _ = c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: id})
	}
	var stats micro.Stats
	waitFor(t, "5 requests in the stats", func() bool {
		requestJSON(t, client, "$SRV.STATS."+itemMicroName, &stats)
		return len(stats.Endpoints) == 2 && stats.Endpoints[0].NumRequests == 5
	})
	st := stats.Endpoints[0]
	if st.NumErrors != 2 || !strings.Contains(st.LastError, "no such item") {
		t.Errorf("num_errors, last_error = %d, %q; want 2, the not_found", st.NumErrors, st.LastError)
	}
	// Three successes of at least 2ms each: the handler's time, not the
	// time it took to queue the request.
	if st.ProcessingTime < 6*time.Millisecond || st.AverageProcessingTime != st.ProcessingTime/5 {
		t.Errorf("processing_time, average = %v, %v; want real handler time (at least 6ms in all)", st.ProcessingTime, st.AverageProcessingTime)
	}
	if stats.Type != micro.StatsResponseType || stats.Endpoints[1].NumRequests != 0 {
		t.Errorf("STATS type %q, Generate requests %d", stats.Type, stats.Endpoints[1].NumRequests)
	}
	var data map[string]any
	if err := json.Unmarshal(st.Data, &data); err != nil {
		t.Fatalf("stats data %s: %v", st.Data, err)
	}
	for _, k := range []string{"in_flight", "rejected", "expired", "panics", "queue_time", "pool_concurrency", "pool_max_pending"} {
		if _, ok := data[k]; !ok {
			t.Errorf("stats data %s lacks %q", st.Data, k)
		}
	}
}

func requestJSON(t *testing.T, nc *nats.Conn, subject string, v any) {
	t.Helper()
	msg, err := nc.Request(subject, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	if err := json.Unmarshal(msg.Data, v); err != nil {
		t.Fatalf("%s answered %s: %v", subject, msg.Data, err)
	}
}

func TestStopAfterConnectionClosed(t *testing.T) {
	t.Parallel()
	srv, _, _ := testConns(t)
	nc := natsConnect(t, srv)
	svc, err := natsrpc.NewService(nc, pingService, []natsrpc.Handler{pingHandler(pingMethod, echo)})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := svc.Stop(ctx); err != nil {
		t.Errorf("Stop after the connection closed: %v", err)
	}
}
