package natsrpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

func TestCodeText(t *testing.T) {
	t.Parallel()
	for c := Code(0); c <= maxCode+1; c++ {
		text, err := c.MarshalText()
		if err != nil {
			t.Fatalf("%d.MarshalText: %v", c, err)
		}
		var got Code
		if err := got.UnmarshalText(text); err != nil || got != c {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, got, err, c)
		}
	}
	if got := CodeNotFound.String(); got != "not_found" {
		t.Errorf("CodeNotFound.String() = %q; want not_found", got)
	}
	for _, bad := range []string{"", "NOT_FOUND", "code_", "code_01", "code_4294967296", "found"} {
		var c Code
		if err := c.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v; want an error", bad, c)
		}
	}
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want Code
	}{
		{nil, 0},
		{errors.New("x"), CodeUnknown},
		{NewError(CodeNotFound, nil), CodeNotFound},
		{errors.Join(errors.New("a"), NewError(CodeAborted, nil)), CodeAborted},
		{context.Canceled, CodeCanceled},
		{context.DeadlineExceeded, CodeDeadlineExceeded},
	}
	for _, test := range tests {
		if got := CodeOf(test.err); got != test.want {
			t.Errorf("CodeOf(%v) = %v; want %v", test.err, got, test.want)
		}
	}
}

func TestCodeFromServiceCode(t *testing.T) {
	t.Parallel()
	tests := map[string]Code{
		"":          CodeUnknown,
		" ":         CodeUnknown,
		"400":       CodeInvalidArgument,
		"404":       CodeNotFound,
		"429":       CodeResourceExhausted,
		"500":       CodeUnknown,
		"503":       CodeUnavailable,
		"504":       CodeDeadlineExceeded,
		"418":       CodeUnknown,
		"NOT_FOUND": CodeNotFound,
		"not_found": CodeNotFound,
		"oops":      CodeUnknown,
		"ok":        CodeUnknown,
	}
	for in, want := range tests {
		if got := codeFromServiceCode(in); got != want {
			t.Errorf("codeFromServiceCode(%q) = %v; want %v", in, got, want)
		}
	}
	// Our own numbers map back onto the code, where the number is not
	// shared.
	for _, c := range []Code{CodeCanceled, CodeInvalidArgument, CodeDeadlineExceeded, CodeNotFound, CodePermissionDenied,
		CodeResourceExhausted, CodeUnimplemented, CodeUnavailable, CodeUnauthenticated} {
		if got := codeFromHTTPStatus(c.httpStatus()); got != c {
			t.Errorf("codeFromHTTPStatus(%d) = %v; want %v", c.httpStatus(), got, c)
		}
	}
}

func TestTimeoutHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Nanosecond, "1"},
		{time.Millisecond, "1"},
		{1500 * time.Microsecond, "2"},
		{5 * time.Second, "5000"},
		{-time.Second, "1"},
		{200 * 24 * time.Hour, "9999999999"},
	}
	for _, test := range tests {
		if got := encodeTimeout(test.d); got != test.want {
			t.Errorf("encodeTimeout(%v) = %q; want %q", test.d, got, test.want)
		}
		var cache timeoutHeader
		if got := cache.value(test.d); len(got) != 1 || got[0] != test.want {
			t.Errorf("timeoutHeader.value(%v) = %q; want [%q]", test.d, got, test.want)
		}
	}
	for in, want := range map[string]time.Duration{"0": 0, "1": time.Millisecond, "0005": 5 * time.Millisecond, "9999999999": 9999999999 * time.Millisecond} {
		if got, ok := parseTimeout(in); !ok || got != want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.0", "1e3", "12345678901", "5s", "٣"} {
		if got, ok := parseTimeout(bad); ok {
			t.Errorf("parseTimeout(%q) = %v; want invalid", bad, got)
		}
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	tests := map[string]codec{
		"":                                codecProto,
		"application/protobuf":            codecProto,
		"application/x-protobuf":          codecProto,
		"application/proto":               codecProto,
		"application/json":                codecJSON,
		"Application/JSON; charset=utf-8": codecJSON,
		" application/json ":              codecJSON,
	}
	for in, want := range tests {
		if got, ok := parseContentType(in); !ok || got != want {
			t.Errorf("parseContentType(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"text/plain", "application/jsonx", "json", ";"} {
		if _, ok := parseContentType(bad); ok {
			t.Errorf("parseContentType(%q) ok; want unsupported", bad)
		}
	}
}

func TestReservedHeaders(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"Nats-Rpc-Timeout", "nats-rpc-x", "NATS-RPC-", "Content-Type", "content-type",
		"Nats-Service-Error", "Nats-Service-Error-Code", "Status", "description"} {
		if !isReservedHeader(k) {
			t.Errorf("isReservedHeader(%q) = false", k)
		}
	}
	for _, k := range []string{"traceparent", "tracestate", "Nats-Msg-Id", "Nats-Trace-Dest", "Nats-Rpc", "Player-Id", "X-Status"} {
		if isReservedHeader(k) {
			t.Errorf("isReservedHeader(%q) = true", k)
		}
	}
}

func TestSanitizeMessage(t *testing.T) {
	t.Parallel()
	if got := sanitizeMessage("a\r\nb\nc\rd"); got != "a b c d" {
		t.Errorf("newlines: %q", got)
	}
	if got := sanitizeMessage("bad \xff utf8"); got != "bad \uFFFD utf8" {
		t.Errorf("invalid utf-8: %q", got)
	}
	long := strings.Repeat("é", maxErrorMessage)
	if got := sanitizeMessage(long); len(got) > maxErrorMessage || !utf8.ValidString(got) {
		t.Errorf("long message: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestErrorWireRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []codec{codecProto, codecJSON} {
		e := NewError(CodeFailedPrecondition, errors.New("quest \"q\" is not active"))
		e.Meta().Set("Retry-After-Ms", "10")
		e.Meta().Set("Nats-Rpc-Code", "forged")
		if err := e.AddDetail(wrapperspb.String("why")); err != nil {
			t.Fatal(err)
		}
		h, body := encodeError(e, c)
		got := decodeError(&nats.Msg{Header: h, Data: body})
		if got == nil {
			t.Fatalf("codec %d: decodeError = nil", c)
		}
		if got.Code() != e.Code() || got.Message() != e.Message() || !got.wire {
			t.Errorf("codec %d: decoded %v (wire %v); want %v", c, got, got.wire, e)
		}
		if got.Meta().Get("Retry-After-Ms") != "10" || got.Meta().Get("Nats-Rpc-Code") != "failed_precondition" {
			t.Errorf("codec %d: meta = %v", c, got.Meta())
		}
		if len(got.Details()) != 1 || !proto.Equal(got.Details()[0], e.Details()[0]) {
			t.Errorf("codec %d: details = %v; want %v", c, got.Details(), e.Details())
		}
		if h.Get(micro.ErrorCodeHeader) != "400" {
			t.Errorf("codec %d: %s = %q; want 400", c, micro.ErrorCodeHeader, h.Get(micro.ErrorCodeHeader))
		}
	}
	// A plain micro service's error, without natsrpc's headers.
	got := decodeError(&nats.Msg{Header: nats.Header{micro.ErrorHeader: {"nope"}, micro.ErrorCodeHeader: {"404"}}})
	if got == nil || got.Code() != CodeNotFound || got.Message() != "nope" {
		t.Errorf("micro error = %v; want not_found: nope", got)
	}
	if got := decodeError(&nats.Msg{Header: nats.Header{"Item-Cache": {"hit"}}}); got != nil {
		t.Errorf("success decoded as %v", got)
	}
}

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	r := newRetrier(RetryPolicy{BudgetRatio: 0.1, BudgetMinPerSecond: 2})
	now := time.Unix(1000, 0)
	for i := range budgetCapacity {
		if !r.budget.withdraw(now) {
			t.Fatalf("withdrawal %d of a full bucket refused", i)
		}
	}
	// Empty bucket: the floor allows 2 per second.
	if !r.budget.withdraw(now) || !r.budget.withdraw(now) || r.budget.withdraw(now) {
		t.Error("floor: want exactly 2 retries in one second")
	}
	if !r.budget.withdraw(now.Add(time.Second)) {
		t.Error("floor: want a retry in the next second")
	}
	// Ten calls earn one retry.
	r.budget.floorUsed.Store(100)
	for range 10 {
		r.budget.deposit()
	}
	if !r.budget.withdraw(now.Add(time.Second)) || r.budget.withdraw(now.Add(time.Second)) {
		t.Error("ten calls at ratio 0.1: want exactly one retry")
	}
	// The bucket never holds more than its capacity.
	for range 10_000 {
		r.budget.deposit()
	}
	if got := r.budget.tokens.Load(); got != budgetCapacity*milliToken {
		t.Errorf("tokens after many calls = %d; want %d", got, budgetCapacity*milliToken)
	}
	if newRetrier(RetryPolicy{MaxAttempts: 1}) != nil {
		t.Error("MaxAttempts 1 built a retrier")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	r := newRetrier(RetryPolicy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	for n, base := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 30: 50 * time.Millisecond} {
		for range 100 {
			if d := r.backoff(n); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", n, d, base/2, base)
			}
		}
	}
}

func TestHandlerContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	base, cancelBase := context.WithCancel(context.WithValue(context.Background(), key{}, "base value"))
	defer cancelBase()
	sp := &Spec{Procedure: "/p.S/M"}

	c := &handlerContext{base: base, deadline: time.Now().Add(time.Hour), info: CallInfo{spec: sp}}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Errorf("Deadline = %v, %v", d, ok)
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err before the deadline = %v", err)
	}
	if ci, ok := CallInfoFromContext(c); !ok || ci.Spec().Procedure != "/p.S/M" {
		t.Errorf("CallInfoFromContext = %v, %v", ci, ok)
	}
	if got := c.Value(key{}); got != "base value" {
		t.Errorf("Value = %v; want the base context's", got)
	}
	// A child context attaches to the derived context and sees the base's
	// cancellation.
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	if got := child.Value(key{}); got != "base value" {
		t.Errorf("child Value = %v", got)
	}
	cancelBase()
	<-child.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err after the base's cancel = %v", c.Err())
	}

	// Past its deadline, without anyone waiting on Done.
	expired := &handlerContext{base: context.Background(), deadline: time.Now().Add(-time.Millisecond), info: CallInfo{spec: sp}}
	if !errors.Is(expired.Err(), context.DeadlineExceeded) {
		t.Errorf("Err past the deadline = %v", expired.Err())
	}
	<-expired.Done()

	// The deadline fires through Done.
	soon := &handlerContext{base: context.Background(), deadline: time.Now().Add(10 * time.Millisecond), info: CallInfo{spec: sp}}
	<-soon.Done()
	if !errors.Is(soon.Err(), context.DeadlineExceeded) {
		t.Errorf("Err after Done = %v", soon.Err())
	}

	// Once the handler returned, the context is canceled.
	for _, waited := range []bool{false, true} {
		done := &handlerContext{base: context.Background(), deadline: time.Now().Add(time.Hour), info: CallInfo{spec: sp}}
		if waited {
			_ = done.Done()
		}
		done.release()
		<-done.Done()
		if !errors.Is(done.Err(), context.Canceled) {
			t.Errorf("waited=%v: Err after release = %v", waited, done.Err())
		}
	}
}

func TestHandlerDecode(t *testing.T) {
	t.Parallel()
	h := newFuzzHandler(t)
	res, err := h.unary(context.Background(), codecJSON, []byte(`{"ownerId":"p","level":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.(*natsrpctestv1.GenerateResponse).GetItem().GetLevel(); got != 7 {
		t.Errorf("item level = %d; want 7", got)
	}
	_, err = h.unary(context.Background(), codecProto, []byte{0xff})
	if CodeOf(err) != CodeInvalidArgument {
		t.Errorf("undecodable: %v; want invalid_argument", err)
	}
}

func TestHeaderSize(t *testing.T) {
	t.Parallel()
	for _, h := range []nats.Header{
		{headerTimeout: {"5000"}},
		{headerTimeout: {"1"}, headerContentType: {contentTypeJSON}},
		{"A": {"1", " 2 "}, "Long-Key": {strings.Repeat("v", 300)}},
		{"Nbsp": {"\u00a0x\v"}},
	} {
		m := &nats.Msg{Subject: "s", Header: h}
		if got, want := headerSize(h), m.Size()-len("s"); got != want {
			t.Errorf("headerSize(%v) = %d; nats.go says %d", h, got, want)
		}
	}
}
