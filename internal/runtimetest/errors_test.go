package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

func TestUnaryRoundTrip(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	testService(t, server, []natsrpc.Handler{getItemHandler(echoGetItem)})
	res, err := getItemClient(client).CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "q-1"})
	if err != nil {
		t.Fatalf("CallUnary: %v", err)
	}
	if got, want := res.GetItem().GetTitle(), "The q-1"; got != want {
		t.Errorf("title = %q; want %q", got, want)
	}
	if got, want := res.GetItem().GetStatus(), natsrpctestv1.Status_STATUS_ACTIVE; got != want {
		t.Errorf("status = %v; want %v", got, want)
	}
}

func TestSubjectPrefix(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	svc := testService(t, server, []natsrpc.Handler{getItemHandler(echoGetItem)}, natsrpc.WithSubjectPrefix("staging.eu"))
	if got, want := svc.Info().Endpoints[0].Subject, "staging.eu."+getItemSubject; got != want {
		t.Errorf("endpoint subject = %q; want %q", got, want)
	}
	req := &natsrpctestv1.GetRequest{Id: "q-1"}
	if _, err := getItemClient(client, natsrpc.WithSubjectPrefix("staging.eu")).CallUnary(context.Background(), req); err != nil {
		t.Errorf("same prefix: %v", err)
	}
	_, err := getItemClient(client, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1})).CallUnary(context.Background(), req)
	wantCode(t, err, natsrpc.CodeUnavailable)
	_, err = getItemClient(client, natsrpc.WithSubjectPrefix("bad prefix")).CallUnary(context.Background(), req)
	wantCode(t, err, natsrpc.CodeInvalidArgument)
	if _, err := natsrpc.NewService(server, itemService, nil, natsrpc.WithSubjectPrefix("$SYS")); err == nil {
		t.Error("NewService with prefix \"$SYS\" succeeded; want an error")
	}
}

func TestNoResponders(t *testing.T) {
	t.Parallel()
	_, client, _ := testConns(t)
	c := getItemClient(client, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	start := time.Now()
	_, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{})
	e := wantCode(t, err, natsrpc.CodeUnavailable)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("err = %v; want it to wrap nats.ErrNoResponders", err)
	}
	if natsrpc.IsWireError(e) {
		t.Error("IsWireError = true for a client-side no responders")
	}
	// The call's timeout is 5 s: no responders must not wait for it.
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("no responders took %v; want an immediate failure", elapsed)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	// The handler ignores its context, so that only the client can end the
	// call (a handler returning ctx.Err() would race the client's timer
	// with a wire deadline_exceeded).
	testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		started <- struct{}{}
		<-release
		return echoGetItem(ctx, req)
	})})
	t.Cleanup(func() { close(release) })
	c := getItemClient(client, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))

	t.Run("timeout", func(t *testing.T) {
		_, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{}, natsrpc.WithCallTimeout(50*time.Millisecond))
		e := wantCode(t, err, natsrpc.CodeDeadlineExceeded)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want it to wrap context.DeadlineExceeded", err)
		}
		if natsrpc.IsWireError(e) {
			t.Error("IsWireError = true for a client-side timeout")
		}
		<-started
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.CallUnary(ctx, &natsrpctestv1.GetRequest{})
			errc <- err
		}()
		<-started // the request is in the handler
		cancel()
		err := <-errc
		wantCode(t, err, natsrpc.CodeCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want it to wrap context.Canceled", err)
		}
	})
}

func TestOversizedRequest(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t, natstest.WithMaxPayload(4096))
	var calls atomic.Int32
	testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		calls.Add(1)
		return echoGetItem(ctx, req)
	})})
	c := getItemClient(client)
	_, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: strings.Repeat("x", 5000)})
	e := wantCode(t, err, natsrpc.CodeResourceExhausted)
	if natsrpc.IsWireError(e) {
		t.Error("IsWireError = true; want the client to refuse before sending")
	}
	if !strings.Contains(err.Error(), "4096") {
		t.Errorf("err = %q; want it to name the 4096-byte limit", err)
	}
	// Headers count: a 4083-byte body fits alone but not with the
	// 36 bytes of its Nats-Rpc-Timeout header block.
	_, err = c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: strings.Repeat("x", 4080)})
	wantCode(t, err, natsrpc.CodeResourceExhausted)
	if _, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "small"}); err != nil {
		t.Fatalf("small request: %v", err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("handler calls = %d; want 1 (only the small request)", got)
	}
}

func TestOversizedResponse(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t, natstest.WithMaxPayload(4096))
	testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		res, _ := echoGetItem(ctx, req)
		res.Item.Summary = strings.Repeat("y", 8000)
		return res, nil
	})})
	_, err := getItemClient(client, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1})).CallUnary(context.Background(), &natsrpctestv1.GetRequest{})
	e := wantCode(t, err, natsrpc.CodeResourceExhausted)
	if !natsrpc.IsWireError(e) {
		t.Error("IsWireError = false; want the server to answer instead of letting the call time out")
	}
}

func TestUndecodableRequest(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	var calls atomic.Int32
	testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		calls.Add(1)
		return echoGetItem(ctx, req)
	})})
	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{"truncated protobuf", "", []byte{0x1a, 0x10, 'a'}},
		{"field number 0", "application/protobuf", []byte{0x00, 0x01}},
		{"invalid utf-8", "application/x-protobuf", []byte{0x1a, 0x02, 0xff, 0xfe}},
		{"bad json", "application/json", []byte(`{"id": 7`)},
		{"number for a string in json", "application/json", []byte(`{"meta": {"requestId": 1}}`)},
		{"unsupported content type", "text/plain", []byte("hello")},
	}
	for _, test := range tests {
		msg := nats.NewMsg(getItemSubject)
		msg.Data = test.body
		if test.contentType != "" {
			msg.Header.Set("Content-Type", test.contentType)
		}
		resp, err := client.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: request: %v", test.name, err)
		}
		if got, want := resp.Header.Get("Nats-Rpc-Code"), "invalid_argument"; got != want {
			t.Errorf("%s: Nats-Rpc-Code = %q; want %q", test.name, got, want)
		}
		if got, want := resp.Header.Get("Nats-Service-Error-Code"), "400"; got != want {
			t.Errorf("%s: Nats-Service-Error-Code = %q; want %q", test.name, got, want)
		}
		if resp.Header.Get("Nats-Service-Error") == "" {
			t.Errorf("%s: Nats-Service-Error is empty", test.name)
		}
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("handler calls = %d; want 0", got)
	}
}

func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	svc := testService(t, server, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		if req.GetId() == "boom" {
			panic("item table corrupted")
		}
		return echoGetItem(ctx, req)
	})})
	c := getItemClient(client)
	_, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "boom"})
	e := wantCode(t, err, natsrpc.CodeInternal)
	if strings.Contains(e.Message(), "corrupted") {
		t.Errorf("message = %q; the panic value must not reach the caller", e.Message())
	}
	if _, err := c.CallUnary(context.Background(), &natsrpctestv1.GetRequest{Id: "fine"}); err != nil {
		t.Fatalf("call after the panic: %v", err)
	}
	st := svc.Stats().Endpoints[0]
	if !strings.Contains(st.LastError, "item table corrupted") {
		t.Errorf("last_error = %q; want the panic value for operators", st.LastError)
	}
}

func TestHandlerErrorCodes(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		var code natsrpc.Code
		if err := code.UnmarshalText([]byte(req.GetValue())); err != nil {
			return nil, err
		}
		e := natsrpc.NewError(code, fmt.Errorf("failed with %s", code))
		e.Meta().Set("Retry-After-Ms", "250")
		return nil, e
	})})
	c := newPingClient(client, pingMethod)
	httpStatus := map[natsrpc.Code]int{
		natsrpc.CodeCanceled: 499, natsrpc.CodeUnknown: 500, natsrpc.CodeInvalidArgument: 400,
		natsrpc.CodeDeadlineExceeded: 504, natsrpc.CodeNotFound: 404, natsrpc.CodeAlreadyExists: 409,
		natsrpc.CodePermissionDenied: 403, natsrpc.CodeResourceExhausted: 429, natsrpc.CodeFailedPrecondition: 400,
		natsrpc.CodeAborted: 409, natsrpc.CodeOutOfRange: 400, natsrpc.CodeUnimplemented: 501,
		natsrpc.CodeInternal: 500, natsrpc.CodeUnavailable: 503, natsrpc.CodeDataLoss: 500,
		natsrpc.CodeUnauthenticated: 401,
	}
	for code := natsrpc.CodeCanceled; code <= natsrpc.CodeUnauthenticated; code++ {
		var hdr nats.Header
		_, err := c.CallUnary(context.Background(), wrapperspb.String(code.String()), natsrpc.WithResponseHeader(&hdr))
		e := wantCode(t, err, code)
		if !natsrpc.IsWireError(e) {
			t.Errorf("%v: IsWireError = false", code)
		}
		if got, want := e.Message(), "failed with "+code.String(); got != want {
			t.Errorf("%v: message = %q; want %q", code, got, want)
		}
		if got, want := e.Meta().Get("Retry-After-Ms"), "250"; got != want {
			t.Errorf("%v: meta Retry-After-Ms = %q; want %q", code, got, want)
		}
		if got, want := hdr.Get("Nats-Service-Error-Code"), strconv.Itoa(httpStatus[code]); got != want {
			t.Errorf("%v: Nats-Service-Error-Code = %q; want %q", code, got, want)
		}
		if got, want := hdr.Get("Nats-Rpc-Code"), code.String(); got != want {
			t.Errorf("%v: Nats-Rpc-Code = %q; want %q", code, got, want)
		}
	}
}

func TestHandlerErrorMapping(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		switch req.GetValue() {
		case "plain":
			return nil, errors.New("database is on fire")
		case "wrapped":
			return nil, fmt.Errorf("load item: %w", natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no item \"q-9\"")))
		case "deadline":
			return nil, fmt.Errorf("query: %w", context.DeadlineExceeded)
		case "nil":
			return nil, nil
		case "multiline":
			return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, errors.New("line one\r\nline two"))
		case "no message":
			return nil, natsrpc.NewError(natsrpc.CodeAborted, nil)
		}
		return wrapperspb.String("ok"), nil
	})})
	c := newPingClient(client, pingMethod)
	tests := []struct {
		req     string
		code    natsrpc.Code
		message string
	}{
		{"plain", natsrpc.CodeUnknown, "database is on fire"},
		{"wrapped", natsrpc.CodeNotFound, `no item "q-9"`},
		{"deadline", natsrpc.CodeDeadlineExceeded, "query: context deadline exceeded"},
		{"nil", natsrpc.CodeInternal, "handler returned a nil response and a nil error"},
		{"multiline", natsrpc.CodeInvalidArgument, "line one line two"},
		{"no message", natsrpc.CodeAborted, ""},
	}
	for _, test := range tests {
		_, err := c.CallUnary(context.Background(), wrapperspb.String(test.req))
		e := wantCode(t, err, test.code)
		if e.Message() != test.message {
			t.Errorf("%s: message = %q; want %q", test.req, e.Message(), test.message)
		}
	}
}

func TestErrorDetails(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	detail := &natsrpctestv1.Item{Id: "q-9", Title: "expired", Status: natsrpctestv1.Status_STATUS_DONE, Level: 3}
	testPingService(t, server, []natsrpc.Handler{pingHandler(pingMethod, func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		e := natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such item"))
		if err := e.AddDetail(detail); err != nil {
			return nil, err
		}
		if err := e.AddDetail(wrapperspb.Int64(42)); err != nil {
			return nil, err
		}
		return nil, e
	})})
	for _, json := range []bool{false, true} {
		var opts []natsrpc.ClientOption
		if json {
			opts = append(opts, natsrpc.WithJSON())
		}
		_, err := newPingClient(client, pingMethod, opts...).CallUnary(context.Background(), wrapperspb.String("x"))
		e := wantCode(t, err, natsrpc.CodeNotFound)
		details := e.Details()
		if len(details) != 2 {
			t.Fatalf("json=%v: %d details; want 2", json, len(details))
		}
		got := &natsrpctestv1.Item{}
		if err := details[0].UnmarshalTo(got); err != nil {
			t.Fatalf("json=%v: unpack detail 0: %v", json, err)
		}
		if !proto.Equal(got, detail) {
			t.Errorf("json=%v: detail 0 = %v; want %v", json, got, detail)
		}
		n := &wrapperspb.Int64Value{}
		if err := details[1].UnmarshalTo(n); err != nil || n.GetValue() != 42 {
			t.Errorf("json=%v: detail 1 = %v, %v; want 42", json, n, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, client, server := testConns(t)
	ctx := context.Background()
	req := &natsrpctestv1.GetRequest{}
	clients := map[string]error{}
	_, clients["nil conn"] = getItemClient(nil).CallUnary(ctx, req)
	_, clients["nil method"] = natsrpc.NewUnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](client, nil).CallUnary(ctx, req)
	_, clients["wrong types"] = natsrpc.NewUnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](client, generateItem).CallUnary(ctx, req)
	_, clients["streaming"] = newPingClient(client, watchMethod).CallUnary(ctx, wrapperspb.String(""))
	_, clients["bad timeout"] = getItemClient(client, natsrpc.WithTimeout(0)).CallUnary(ctx, req)
	_, clients["bad retry"] = getItemClient(client, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: -1})).CallUnary(ctx, req)
	_, clients["nil request"] = getItemClient(client).CallUnary(ctx, nil)
	_, clients["bad call timeout"] = getItemClient(client).CallUnary(ctx, req, natsrpc.WithCallTimeout(-time.Second))
	for name, err := range clients {
		if e := wantCode(t, err, natsrpc.CodeInvalidArgument); natsrpc.IsWireError(e) {
			t.Errorf("%s: IsWireError = true", name)
		}
	}

	services := map[string][]natsrpc.Handler{
		"other service":   {pingHandler(pingMethod, echo)},
		"twice":           {getItemHandler(echoGetItem), getItemHandler(echoGetItem)},
		"nil handler":     {nil},
		"nil function":    {getItemHandler(nil)},
		"wrong types":     {natsrpc.NewUnaryHandler[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](generateItem, echoGetItem)},
		"streaming":       {pingHandler(watchMethod, echo)},
		"nil method desc": {natsrpc.NewUnaryHandler[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse](nil, echoGetItem)},
	}
	for name, handlers := range services {
		if svc, err := natsrpc.NewService(server, itemService, handlers); err == nil {
			_ = svc.Stop(ctx)
			t.Errorf("NewService(%s) succeeded; want an error", name)
		}
	}
	for name, opt := range map[string]natsrpc.HandlerOption{
		"concurrency 0":  natsrpc.WithConcurrency(0),
		"pending -1":     natsrpc.WithMaxPending(-1),
		"max timeout 0":  natsrpc.WithMaxTimeout(0),
		"bad prefix":     natsrpc.WithSubjectPrefix("a..b"),
		"composed, last": natsrpc.WithHandlerOptions(natsrpc.WithConcurrency(4), natsrpc.WithConcurrency(-4)),
	} {
		if svc, err := natsrpc.NewService(server, itemService, []natsrpc.Handler{getItemHandler(echoGetItem)}, opt); err == nil {
			_ = svc.Stop(ctx)
			t.Errorf("NewService(%s) succeeded; want an error", name)
		}
	}
}
