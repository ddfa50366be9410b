package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// TestGateway runs every end-to-end test against one environment (see
// env): one registry, one set of services and one gateway per test
// binary keep `make test` short on two cores.
func TestGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds grpcurl and buf and starts NATS, a registry and services")
	}
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Unary", testUnary},
		{"FastPath", testFastPath},
		{"ServerStream", testServerStream},
		{"ClientAndBidiStreams", testClientAndBidi},
		{"Events", testEvents},
		{"Errors", testErrors},
		{"Deadlines", testDeadlines},
		{"Metadata", testMetadata},
		{"Limits", testLimits},
		{"Reflection", testReflection},
		{"Operations", testOperations},
		{"LiveReload", testLiveReload},
		{"ServerTimeouts", testServerTimeouts},
		{"Shutdown", testShutdown},
	} {
		if !t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) }) && tc.name == "Unary" {
			return // nothing else can work
		}
	}
}

// jsonOf decodes a JSON body.
func jsonOf(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

// dig reads a nested value of a decoded JSON object.
func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

func testUnary(t *testing.T, e *env) {
	t.Run("REST from the rules file, curl", func(t *testing.T) {
		r := e.call(t, e.url+"/v1/players/p1/quests/q1")
		if r.status != 200 || dig(jsonOf(t, r.body), "quest", "quest", "questId") != "q1" || dig(jsonOf(t, r.body), "quest", "quest", "summary") != "for p1" {
			t.Fatalf("GET = %d %s", r.status, r.body)
		}
		r = e.call(t, "-X", "POST", e.url+"/v1/players/p2/quests", "-H", "Content-Type: application/json", "-d", `{"playerLevel": 7, "hints": {"theme": "dragons"}}`)
		m := jsonOf(t, r.body)
		if r.status != 200 || dig(m, "quest", "questId") != "gen-p2" || dig(m, "quest", "title") != "dragons" || dig(m, "quest", "recommendedLevel") != float64(7) {
			t.Fatalf("POST = %d %s", r.status, r.body)
		}
	})
	t.Run("REST from google.api.http annotations, curl", func(t *testing.T) {
		r := e.call(t, e.url+"/v1/items/i9")
		if r.status != 200 || dig(jsonOf(t, r.body), "item", "id") != "i9" {
			t.Fatalf("GET = %d %s", r.status, r.body)
		}
		r = e.call(t, e.url+"/v1/owners/ann/items/i8?meta.requestId=r1")
		if r.status != 200 || dig(jsonOf(t, r.body), "item", "title") != "owner ann" {
			t.Fatalf("additional binding = %d %s", r.status, r.body)
		}
		r = e.call(t, "-X", "POST", e.url+"/v1/owners/o1/items", "-H", "Content-Type: application/json", "-d", `{"topic": "swords", "level": 3}`)
		if r.status != 200 || dig(jsonOf(t, r.body), "item", "title") != "swords" {
			t.Fatalf("POST body * = %d %s", r.status, r.body)
		}
	})
	t.Run("Connect JSON, curl", func(t *testing.T) {
		r := e.call(t, "-X", "POST", e.url+"/gaming.quest_system.v1.QuestSystemService/GetQuest", "-H", "Content-Type: application/json", "-d", `{"playerId": "p3", "questId": "q3"}`)
		if r.status != 200 || dig(jsonOf(t, r.body), "quest", "quest", "questId") != "q3" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("Connect JSON = %d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("gRPC, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, "", "-d", `{"player_id": "p4", "quest_id": "q4"}`, e.addr, "gaming.quest_system.v1.QuestSystemService/GetQuest")
		if r.code != 0 || !strings.Contains(r.stdout, `"questId": "q4"`) {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
	for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
		t.Run(protocol+", buf curl", func(t *testing.T) {
			args := []string{"--protocol", protocol, "--http2-prior-knowledge", "-d", `{"playerId": "p5", "questId": "q5"}`, e.url + "/gaming.quest_system.v1.QuestSystemService/GetQuest"}
			r := e.bufCurl(t, "", args...)
			if r.code != 0 || !strings.Contains(r.stdout, `"questId": "q5"`) {
				t.Fatalf("buf curl --protocol %s = %d %s %s", protocol, r.code, r.stdout, r.stderr)
			}
		})
	}
	t.Run("Connect binary, buf curl over HTTP/1.1", func(t *testing.T) {
		r := e.bufCurl(t, "", "--protocol", "connect", "-d", `{"id": "i7"}`, e.url+"/natsrpctest.v1.TestService/Get")
		if r.code != 0 || !strings.Contains(r.stdout, `"id": "i7"`) {
			t.Fatalf("buf curl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
}

// connectJSON calls a procedure with the Connect protocol's JSON, as curl
// does following Connect's documentation.
func (e *env) connectJSON(t testing.TB, procedure, body string, headers ...string) response {
	t.Helper()
	f := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-X", "POST", e.url + procedure, "-H", "Content-Type: application/json", "--data-binary", "@" + f}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	return e.call(t, args...)
}

const getQuest = "/gaming.quest_system.v1.QuestSystemService/GetQuest"

func testServerStream(t *testing.T, e *env) {
	const gen = "gaming.ai_integration.v1.AIIntegrationService/StreamGenerate"
	req := `{"messages": [{"content": "hello brave new world"}]}`
	t.Run("gRPC, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, "", "-d", req, e.addr, gen)
		if r.code != 0 || strings.Count(r.stdout, `"generationId": "g1"`) != 5 || !strings.Contains(r.stdout, `"text": "brave"`) || !strings.Contains(r.stdout, "FINISH_REASON_STOP") {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("gRPC error after messages, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, "", "-d", `{"messages": [{"content": "fail now please"}]}`, e.addr, gen)
		if r.code == 0 || strings.Count(r.stdout, `"generationId"`) != 2 || !strings.Contains(r.stderr, "ResourceExhausted") || !strings.Contains(r.stderr, "token budget spent") {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
	for _, protocol := range []string{"connect", "grpcweb"} {
		t.Run(protocol+", buf curl", func(t *testing.T) {
			r := e.bufCurl(t, "", "--protocol", protocol, "--http2-prior-knowledge", "-d", req, e.url+"/"+gen)
			if r.code != 0 || strings.Count(r.stdout, `"generationId": "g1"`) != 5 {
				t.Fatalf("buf curl = %d %s %s", r.code, r.stdout, r.stderr)
			}
		})
	}
	t.Run("REST as NDJSON, curl", func(t *testing.T) {
		r := e.call(t, "-X", "POST", e.url+"/v1/generate:stream", "-H", "Content-Type: application/json", "-d", req)
		lines := strings.Split(strings.TrimSpace(r.body), "\n")
		if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 6 {
			t.Fatalf("REST stream = %d %v %q", r.status, r.header, r.body)
		}
		for i, l := range lines[:5] {
			if dig(jsonOf(t, l), "result", "sequence") != float64(i+1) {
				t.Fatalf("line %d = %s", i, l)
			}
		}
		if dig(jsonOf(t, lines[1]), "result", "delta", "text") != "brave" || dig(jsonOf(t, lines[5]), "status", "code") != "ok" {
			t.Fatalf("lines %q", lines)
		}
		if r.header.Get("X-Model") != "test-model" {
			t.Errorf("response metadata lost: %v", r.header)
		}
	})
	t.Run("REST as Server-Sent Events, curl", func(t *testing.T) {
		r := e.call(t, "-X", "POST", e.url+"/v1/generate:stream", "-H", "Content-Type: application/json", "-H", "Accept: text/event-stream", "-d", `{"messages": [{"content": "fail now please"}]}`)
		events := strings.Split(strings.TrimSpace(r.body), "\n\n")
		if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" || len(events) != 3 {
			t.Fatalf("SSE = %d %v %q", r.status, r.header, r.body)
		}
		if !strings.HasPrefix(events[0], "event: message\ndata: {") || !strings.HasPrefix(events[2], "event: status\ndata: ") {
			t.Fatalf("events %q", events)
		}
		status := jsonOf(t, strings.TrimPrefix(events[2], "event: status\ndata: "))
		if status["code"] != "resource_exhausted" || status["message"] != "token budget spent" {
			t.Fatalf("final status %v", status)
		}
	})
	t.Run("REST error before the first message is an HTTP error", func(t *testing.T) {
		r := e.call(t, "-X", "POST", e.url+"/v1/generate:stream", "-H", "Content-Type: application/json", "-d", `{"messages": [{"content": "unavailable-now"}]}`)
		if r.status != 503 || !strings.Contains(r.body, "model warming up") {
			t.Fatalf("= %d %s", r.status, r.body)
		}
	})
	t.Run("REST from an annotation, query binding", func(t *testing.T) {
		r := e.call(t, e.url+"/v1/items:watch?script=k&count=2")
		lines := strings.Split(strings.TrimSpace(r.body), "\n")
		if r.status != 200 || len(lines) != 3 || dig(jsonOf(t, lines[1]), "result", "revision") != "2" || dig(jsonOf(t, lines[1]), "result", "key") != "k" {
			t.Fatalf("= %d %q", r.status, r.body)
		}
	})
	t.Run("synthetic paths are not routable from outside", func(t *testing.T) {
		r := e.connectJSON(t, "/natsrpc.gateway.rest.m1.ServerStreams/M0", `{}`)
		if r.status != 404 {
			t.Fatalf("= %d %s", r.status, r.body)
		}
	})
}

func testClientAndBidi(t *testing.T, e *env) {
	t.Run("client stream, gRPC, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, `{"value": "a"} {"value": "b"} {"value": "c"}`, "-d", "@", e.addr, "natsrpctest.v1.TestService/Upload")
		if r.code != 0 || !strings.Contains(r.stdout, `"value": "a+b+c"`) {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("bidi, gRPC, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, `{"value": "hi"} {"value": "bye"}`, "-d", "@", e.addr, "natsrpctest.v1.TestService/Chat")
		if r.code != 0 || !strings.Contains(r.stdout, `"value": "re: hi"`) || !strings.Contains(r.stdout, `"value": "re: bye"`) {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
	for _, method := range []string{"Upload", "Chat"} {
		t.Run(method+", Connect over HTTP/2, buf curl", func(t *testing.T) {
			r := e.bufCurl(t, `{"value": "x"}`+"\n"+`{"value": "y"}`, "--protocol", "connect", "--http2-prior-knowledge", "-d", "@-", e.url+"/natsrpctest.v1.TestService/"+method)
			want := []string{`"value": "x+y"`}
			if method == "Chat" {
				want = []string{`"value": "re: x"`, `"value": "re: y"`}
			}
			for _, w := range want {
				if r.code != 0 || !strings.Contains(r.stdout, w) {
					t.Fatalf("buf curl = %d %s %s", r.code, r.stdout, r.stderr)
				}
			}
		})
	}
	t.Run("annotations of client and bidi streams are reported, not routed", func(t *testing.T) {
		found := false
		for _, w := range e.gw.Versions().Warnings {
			if strings.Contains(w, "natsrpctest.v1.TestService.Upload") && strings.Contains(w, "no REST route") {
				found = true
			}
		}
		if !found {
			t.Fatalf("warnings %q", e.gw.Versions().Warnings)
		}
		if r := e.call(t, "-X", "POST", e.url+"/v1/uploads", "-H", "Content-Type: application/json", "-d", `{}`); r.status != 404 {
			t.Fatalf("POST /v1/uploads = %d %s", r.status, r.body)
		}
	})
}

func testEvents(t *testing.T, e *env) {
	t.Run("event over REST, curl", func(t *testing.T) {
		r := e.call(t, "-X", "POST", e.url+"/v1/worlds/w1/changes", "-H", "Content-Type: application/json", "-d", `{"eventId": "e1"}`)
		if r.status != 200 || strings.TrimSpace(r.body) != "{}" {
			t.Fatalf("= %d %s", r.status, r.body)
		}
		e.events.wantEvent(t, "world w1 e1")
	})
	t.Run("durable event over gRPC, grpcurl", func(t *testing.T) {
		r := e.grpcurl(t, "", "-d", `{"payment_id": "pay-1", "event_id": "e2"}`, e.addr, "gaming.event_bus.v1.EventBusService/PaymentCompleted")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "{}" {
			t.Fatalf("grpcurl = %d %s %s", r.code, r.stdout, r.stderr)
		}
		e.events.wantEvent(t, "payment pay-1")
	})
	t.Run("event over Connect JSON, curl", func(t *testing.T) {
		before := e.items.calls.Load()
		r := e.connectJSON(t, "/natsrpctest.v1.TestService/Notify", `{"id": "n1", "text": "hello"}`)
		if r.status != 200 || strings.TrimSpace(r.body) != "{}" {
			t.Fatalf("= %d %s", r.status, r.body)
		}
		waitFor(t, "the event", func() bool { return e.items.calls.Load() > before })
	})
}

// connectStatus is the Connect protocol's HTTP status table.
var connectStatus = map[string]int{
	"canceled": 499, "unknown": 500, "invalid_argument": 400, "deadline_exceeded": 504, "not_found": 404,
	"already_exists": 409, "permission_denied": 403, "resource_exhausted": 429, "failed_precondition": 400,
	"aborted": 409, "out_of_range": 400, "unimplemented": 501, "internal": 500, "unavailable": 503,
	"data_loss": 500, "unauthenticated": 401,
}

// grpcNames are grpcurl's names of the codes.
var grpcNames = map[string]string{
	"canceled": "Canceled", "unknown": "Unknown", "invalid_argument": "InvalidArgument", "deadline_exceeded": "DeadlineExceeded",
	"not_found": "NotFound", "already_exists": "AlreadyExists", "permission_denied": "PermissionDenied",
	"resource_exhausted": "ResourceExhausted", "failed_precondition": "FailedPrecondition", "aborted": "Aborted",
	"out_of_range": "OutOfRange", "unimplemented": "Unimplemented", "internal": "Internal", "unavailable": "Unavailable",
	"data_loss": "DataLoss", "unauthenticated": "Unauthenticated",
}

func testErrors(t *testing.T, e *env) {
	t.Run("every code, Connect", func(t *testing.T) {
		for code, status := range connectStatus {
			r := e.connectJSON(t, getQuest, `{"questId": "code-`+code+`"}`)
			m := jsonOf(t, r.body)
			details, _ := m["details"].([]any)
			if r.status != status || m["code"] != code || m["message"] != `quest "code-`+code+`": `+code || len(details) != 1 ||
				dig(details[0].(map[string]any), "type") != "google.protobuf.StringValue" {
				t.Errorf("%s: %d %s; want %d with the code, message and detail", code, r.status, r.body, status)
			}
			if r.header.Get("X-Quest-Error") != "yes" {
				t.Errorf("%s: error metadata lost: %v", code, r.header)
			}
		}
	})
	t.Run("every code, gRPC, grpcurl", func(t *testing.T) {
		for code, name := range grpcNames {
			r := e.grpcurl(t, "", "-d", `{"quest_id": "code-`+code+`"}`, e.addr, "gaming.quest_system.v1.QuestSystemService/GetQuest")
			if r.code == 0 || !strings.Contains(r.stderr, "Code: "+name) || !strings.Contains(r.stderr, `quest "code-`+code+`"`) || !strings.Contains(r.stderr, "detail of "+code) {
				t.Errorf("%s: grpcurl = %d %s", code, r.code, r.stderr)
			}
		}
	})
	t.Run("REST errors are google.rpc.Status", func(t *testing.T) {
		r := e.call(t, e.url+"/v1/players/p1/quests/code-permission_denied")
		m := jsonOf(t, r.body)
		if r.status != 403 || m["code"] != float64(7) || m["message"] != `quest "code-permission_denied": permission_denied` {
			t.Fatalf("= %d %s", r.status, r.body)
		}
	})
	t.Run("no responders is unavailable 503", func(t *testing.T) {
		r := e.connectJSON(t, "/gaming.weather_manager.v1.WeatherManagerService/GetWeather", `{}`)
		if r.status != 503 || jsonOf(t, r.body)["code"] != "unavailable" || !strings.Contains(r.body, "no service instance listens") {
			t.Fatalf("= %d %s", r.status, r.body)
		}
		g := e.grpcurl(t, "", "-d", `{}`, e.addr, "gaming.weather_manager.v1.WeatherManagerService/GetWeather")
		if !strings.Contains(g.stderr, "Code: Unavailable") {
			t.Fatalf("grpcurl = %d %s", g.code, g.stderr)
		}
	})
	t.Run("unknown routes are 404", func(t *testing.T) {
		if r := e.call(t, e.url+"/v1/nowhere"); r.status != 404 || jsonOf(t, r.body)["code"] != float64(5) {
			t.Errorf("REST = %d %s", r.status, r.body)
		}
		if r := e.connectJSON(t, "/gaming.quest_system.v1.QuestSystemService/NoSuchMethod", `{}`, "Connect-Protocol-Version: 1"); r.status != 404 || jsonOf(t, r.body)["code"] != "not_found" {
			t.Errorf("Connect = %d %s", r.status, r.body)
		}
		r := e.call(t, "--http2-prior-knowledge", "-X", "POST", e.url+"/nope.v1.Nope/Nope", "-H", "Content-Type: application/grpc", "-H", "TE: trailers", "--data-binary", "")
		if r.header.Get("Grpc-Status") != "12" {
			t.Errorf("gRPC = %d %v", r.status, r.header)
		}
	})
	t.Run("undecodable bodies are invalid_argument and never reach the service", func(t *testing.T) {
		before := e.quests.calls.Load()
		for _, c := range []struct {
			name string
			args []string
		}{
			{"REST JSON", []string{"-X", "POST", e.url + "/v1/players/p1/quests", "-H", "Content-Type: application/json", "-d", `{"playerLevel": "high"}`}},
			{"REST truncated JSON", []string{"-X", "POST", e.url + "/v1/players/p1/quests", "-H", "Content-Type: application/json", "-d", `{"playerLevel": 3`}},
			{"Connect JSON wrong type", []string{"-X", "POST", e.url + getQuest, "-H", "Content-Type: application/json", "-d", `{"questId": 12}`}},
			{"REST query", []string{e.url + "/v1/items:watch?count=many"}},
			{"Connect protobuf", []string{"-X", "POST", e.url + getQuest, "-H", "Content-Type: application/proto", "--data-binary", "\x1a\x05ab"}},
		} {
			b0 := e.quests.calls.Load()
			r := e.call(t, c.args...)
			if n := e.quests.calls.Load() - b0; n != 0 {
				t.Errorf("%s: the service was called %d times", c.name, n)
			}
			if r.status != 400 || !strings.Contains(r.body, "invalid_argument") && !strings.Contains(r.body, `"code":3`) {
				t.Errorf("%s: %d %s; want 400 invalid_argument", c.name, r.status, r.body)
			}
		}
		if n := e.quests.calls.Load() - before; n != 0 {
			t.Fatalf("the service was called %d times with undecodable bodies", n)
		}
	})
}

func testDeadlines(t *testing.T, e *env) {
	t.Run("Connect-Timeout-Ms", func(t *testing.T) {
		start := time.Now()
		r := e.connectJSON(t, getQuest, `{"questId": "slow"}`, "Connect-Timeout-Ms: 300")
		if r.status != 504 || jsonOf(t, r.body)["code"] != "deadline_exceeded" || time.Since(start) > 1500*time.Millisecond {
			t.Fatalf("= %d %s after %s", r.status, r.body, time.Since(start))
		}
	})
	t.Run("grpc-timeout, grpcurl -max-time", func(t *testing.T) {
		r := run(t, "", e.tools.grpcurl, "-plaintext", "-max-time", "0.3", "-d", `{"quest_id": "slow"}`, e.addr, "gaming.quest_system.v1.QuestSystemService/GetQuest")
		if !strings.Contains(r.stderr, "DeadlineExceeded") {
			t.Fatalf("grpcurl = %d %s", r.code, r.stderr)
		}
	})
	t.Run("capped by max timeout", func(t *testing.T) {
		for _, h := range []string{"Connect-Timeout-Ms: 60000", "X-None: 1"} {
			r := e.connectJSON(t, getQuest, `{"questId": "q"}`, h)
			ms, _ := strconv.Atoi(r.header.Get("X-Deadline-Ms"))
			if r.status != 200 || ms > 2000 || ms < 1000 {
				t.Errorf("%s: handler had %dms; want the gateway's 2s maximum", h, ms)
			}
		}
		start := time.Now()
		r := e.connectJSON(t, getQuest, `{"questId": "slow"}`, "Connect-Timeout-Ms: 60000")
		if r.status != 504 || time.Since(start) > 4*time.Second {
			t.Fatalf("= %d after %s", r.status, time.Since(start))
		}
	})
}

func testMetadata(t *testing.T, e *env) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	r := e.connectJSON(t, getQuest, `{"questId": "q"}`, "traceparent: "+tp, "X-Player-Id: p7", "Authorization: Bearer t", "X-Secret: s", "Cookie: c=1")
	if r.status != 200 {
		t.Fatalf("= %d %s", r.status, r.body)
	}
	if got := r.header.Get("X-Seen-Traceparent"); got != tp {
		t.Errorf("traceparent = %q; want it passed through", got)
	}
	if got := r.header.Get("X-Seen-Headers"); got != "Authorization,X-Player-Id,traceparent" {
		t.Errorf("headers seen by the service: %q; want exactly the allowed ones", got)
	}
	if r.header.Get("X-Quest-Cache") != "hit" {
		t.Errorf("response metadata lost: %v", r.header)
	}
	g := e.grpcurl(t, "", "-v", "-H", "x-player-id: p8", "-d", `{"quest_id": "q"}`, e.addr, "gaming.quest_system.v1.QuestSystemService/GetQuest")
	if g.code != 0 || !strings.Contains(g.stdout, "x-quest-cache: hit") || !strings.Contains(g.stdout, "x-seen-headers: X-Player-Id") {
		t.Errorf("grpcurl -v = %d %s %s", g.code, g.stdout, g.stderr)
	}
}

func testLimits(t *testing.T, e *env) {
	t.Run("bodies over the NATS max payload are resource_exhausted before sending", func(t *testing.T) {
		before := e.quests.calls.Load()
		for _, n := range []int{maxPayload + 1024, maxPayload - 16} {
			b, _ := proto.Marshal(&questv1.GetQuestRequest{QuestId: strings.Repeat("x", n)})
			f := filepath.Join(t.TempDir(), "body")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.call(t, "-X", "POST", e.url+getQuest, "-H", "Content-Type: application/proto", "-H", "Connect-Protocol-Version: 1", "--data-binary", "@"+f)
			if r.status != 429 || !strings.Contains(r.body, "resource_exhausted") {
				t.Errorf("%d bytes: %d %s", len(b), r.status, r.body)
			}
		}
		big := `{"questId": "` + strings.Repeat("y", maxPayload) + `"}`
		if r := e.connectJSON(t, getQuest, big); r.status != 429 {
			t.Errorf("JSON: %d %s", r.status, r.body)
		}
		if n := e.quests.calls.Load() - before; n != 0 {
			t.Fatalf("the service was called %d times", n)
		}
	})
	t.Run("max in flight", func(t *testing.T) {
		g, err := gateway.New(natstest.Connect(t, e.regEnv.Server), gateway.WithMaxInFlight(1), gateway.WithHTTPRules(e.rules))
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		waitFor(t, "routes", func() bool { ok, _ := g.Ready(); return ok && len(g.Versions().Modules) == 2 })
		srv := httptest.NewServer(g)
		defer srv.Close()
		done := make(chan int, 1)
		go func() {
			resp, err := http.Post(srv.URL+"/v1/players/p/quests", "application/json", strings.NewReader(`{}`))
			_ = err
			if resp != nil {
				resp.Body.Close()
			}
			hold, err := http.Get(srv.URL + "/v1/players/p/quests/hold-600")
			if err != nil {
				done <- 0
				return
			}
			hold.Body.Close()
			done <- hold.StatusCode
		}()
		time.Sleep(300 * time.Millisecond)
		resp, err := http.Get(srv.URL + "/v1/players/p/quests/q")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 429 || !strings.Contains(string(body), "limit of 1 calls") {
			t.Errorf("second call = %d %s; want 429", resp.StatusCode, body)
		}
		if code := <-done; code != 200 {
			t.Errorf("first call = %d", code)
		}
	})
}

func testReflection(t *testing.T, e *env) {
	t.Run("grpcurl list and describe (v1)", func(t *testing.T) {
		r := e.grpcurl(t, "", e.addr, "list")
		for _, s := range []string{"gaming.quest_system.v1.QuestSystemService", "gaming.weather_manager.v1.WeatherManagerService", "natsrpctest.v1.TestService"} {
			if !strings.Contains(r.stdout, s+"\n") {
				t.Errorf("list lacks %s: %s %s", s, r.stdout, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "natsrpc.gateway") {
			t.Errorf("list shows the gateway's synthetic services: %s", r.stdout)
		}
		d := e.grpcurl(t, "", e.addr, "describe", "gaming.quest_system.v1.QuestSystemService.GetQuest")
		if d.code != 0 || !strings.Contains(d.stdout, "rpc GetQuest ( .gaming.quest_system.v1.GetQuestRequest ) returns ( .gaming.quest_system.v1.GetQuestResponse )") {
			t.Errorf("describe = %d %s %s", d.code, d.stdout, d.stderr)
		}
		m := e.grpcurl(t, "", e.addr, "describe", "gaming.quest_system.v1.PlayerQuest")
		if m.code != 0 || !strings.Contains(m.stdout, "map<string, .gaming.quest_system.v1.ObjectiveProgress> progress = 3;") {
			t.Errorf("describe message = %d %s %s", m.code, m.stdout, m.stderr)
		}
	})
	for _, rp := range []string{"grpc-v1", "grpc-v1alpha"} {
		t.Run("buf curl --protocol grpc, reflection "+rp, func(t *testing.T) {
			r := e.bufCurl(t, "", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", rp, "-d", `{"questId": "r1"}`, e.url+getQuest)
			if r.code != 0 || !strings.Contains(r.stdout, `"questId": "r1"`) {
				t.Fatalf("buf curl = %d %s %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func testOperations(t *testing.T, e *env) {
	t.Run("healthz readyz versions", func(t *testing.T) {
		if r := e.call(t, e.url+"/healthz"); r.status != 200 {
			t.Errorf("healthz = %d", r.status)
		}
		if r := e.call(t, e.url+"/readyz"); r.status != 200 || strings.TrimSpace(r.body) != "ok" {
			t.Errorf("readyz = %d %s", r.status, r.body)
		}
		r := e.call(t, e.url+"/versions")
		var v gateway.Versions
		if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.Source != "registry" || len(v.Modules) < 2 {
			t.Fatalf("versions = %d %s (%v)", r.status, r.body, err)
		}
		if v.Modules[0].Module != "gaming" || v.Modules[0].Version != 1 || !strings.HasPrefix(v.Modules[0].Digest, "sha256:") || len(v.Modules[0].Services) != 22 {
			t.Errorf("gaming = %+v", v.Modules[0])
		}
	})
	t.Run("metrics", func(t *testing.T) {
		e.connectJSON(t, getQuest, `{"questId": "code-not_found"}`)
		r := e.call(t, e.url+"/metrics")
		for _, want := range []string{
			`natsrpc_gateway_requests_total{procedure="/gaming.quest_system.v1.QuestSystemService/GetQuest",protocol="connect"}`,
			`natsrpc_gateway_requests_total{procedure="/gaming.quest_system.v1.QuestSystemService/GetQuest",protocol="rest"}`,
			`natsrpc_gateway_errors_total{code="not_found",procedure="/gaming.quest_system.v1.QuestSystemService/GetQuest"}`,
			`natsrpc_gateway_errors_total{code="unavailable",procedure="/gaming.weather_manager.v1.WeatherManagerService/GetWeather"}`,
			`natsrpc_gateway_request_duration_seconds_bucket{procedure="/gaming.ai_integration.v1.AIIntegrationService/StreamGenerate",le=`,
			`natsrpc_gateway_errors_total{code="not_found",procedure="unrouted"}`,
			`natsrpc_gateway_routes `,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("CORS", func(t *testing.T) {
		r := e.call(t, "-X", "OPTIONS", e.url+getQuest, "-H", "Origin: https://dashboard.example.com", "-H", "Access-Control-Request-Method: POST", "-H", "Access-Control-Request-Headers: content-type,connect-protocol-version")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://dashboard.example.com" || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Connect-Protocol-Version") {
			t.Errorf("preflight = %d %v", r.status, r.header)
		}
		r = e.connectJSON(t, getQuest, `{"questId": "q"}`, "Origin: https://dashboard.example.com")
		if r.header.Get("Access-Control-Allow-Origin") != "https://dashboard.example.com" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
			t.Errorf("simple = %v", r.header)
		}
		r = e.connectJSON(t, getQuest, `{"questId": "q"}`, "Origin: https://evil.example.com")
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("another origin got %v", r.header)
		}
	})
}

func testLiveReload(t *testing.T, e *env) {
	// Calls keep flowing while routes are swapped: none may fail.
	stop := make(chan struct{})
	var failures, calls atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(e.url + "/v1/items/live")
			calls.Add(1)
			if err != nil || resp.StatusCode != 200 {
				failures.Add(1)
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if failures.Load() != 0 {
			t.Errorf("%d of %d calls failed while routes were reloaded", failures.Load(), calls.Load())
		}
	}()

	t.Run("a new method is routable within a second", func(t *testing.T) {
		v2 := annotatedTestSchema(t, 2)
		// The service's new version: an instance serving Echo from the
		// new descriptors.
		files, err := protodesc.NewFiles(v2)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := files.FindDescriptorByName("natsrpctest.v1.TestService")
		sd := d.(protoreflect.ServiceDescriptor)
		mustService(t)(natsrpc.NewService(natstest.Connect(t, e.regEnv.Server), sd, []natsrpc.Handler{
			natsrpc.NewUnaryHandler(sd.Methods().ByName("Echo"), func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
				return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "echo"}}, nil
			}),
		}))
		if r := e.call(t, e.url+"/v1/echo/e0"); r.status != 404 {
			t.Fatalf("before the push: %d %s", r.status, r.body)
		}
		push(t, e, "natsrpctest", v2, []string{"natsrpctest/v1/test.proto"})
		pushed := time.Now()
		var r response
		for time.Since(pushed) < 5*time.Second {
			if r = e.call(t, e.url+"/v1/echo/e1"); r.status == 200 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(pushed)
		if r.status != 200 || dig(jsonOf(t, r.body), "item", "title") != "echo" {
			t.Fatalf("after the push: %d %s", r.status, r.body)
		}
		// Reloads are driven by the registry's VersionCreated event, not
		// polled: within a second, with slack for -race on a loaded
		// machine (make test runs it beside other packages' tests).
		limit := time.Second
		if raceEnabled {
			limit = 3 * time.Second
		}
		t.Logf("the new method became routable %s after the push", took)
		if took > limit {
			t.Errorf("the new method became routable %s after the push; want within %s", took, limit)
		}
		g := e.grpcurl(t, "", "-d", `{"id": "e2"}`, e.addr, "natsrpctest.v1.TestService/Echo")
		if g.code != 0 || !strings.Contains(g.stdout, `"title": "echo"`) {
			t.Errorf("grpcurl = %d %s %s", g.code, g.stdout, g.stderr)
		}
	})
	t.Run("a conflicting schema is refused and the last good routes stay", func(t *testing.T) {
		rival := &descriptorpb.FileDescriptorProto{
			Name: proto.String("rival/v1/rival.proto"), Package: proto.String("rival.v1"), Syntax: proto.String("proto3"),
			Dependency: []string{"google/api/annotations.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Req"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("id"), JsonName: proto.String("id"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}}}},
		}
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/items/{id}"}})
		rival.Service = []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("RivalService"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: proto.String("Grab"), InputType: proto.String(".rival.v1.Req"), OutputType: proto.String(".rival.v1.Req"), Options: opts}}}}
		set := closure(t, "google/api/annotations.proto")
		set.File = append(set.File, rival)
		push(t, e, "rival", set, []string{"rival/v1/rival.proto"})
		waitFor(t, "the refusal", func() bool { return len(e.gw.Versions().Refused) == 1 })
		ref := e.gw.Versions().Refused[0]
		if ref.Module != "rival" || ref.Version != 1 || !strings.Contains(ref.Error, "/v1/items/") || !strings.Contains(ref.Error, "already exists") {
			t.Errorf("refusal %+v", ref)
		}
		if r := e.call(t, e.url+"/v1/items/still"); r.status != 200 || dig(jsonOf(t, r.body), "item", "id") != "still" {
			t.Errorf("the last good route: %d %s", r.status, r.body)
		}
		for _, m := range e.gw.Versions().Modules {
			if m.Module == "rival" {
				t.Errorf("rival's routes were loaded: %+v", m)
			}
		}
	})
	t.Run("a removed service stops routing", func(t *testing.T) {
		if g := e.grpcurl(t, "", e.addr, "list"); !strings.Contains(g.stdout, "natsrpctest.v1.DurableService\n") {
			t.Fatalf("before: %s", g.stdout)
		}
		push(t, e, "natsrpctest", annotatedTestSchema(t, 3), []string{"natsrpctest/v1/test.proto"})
		waitFor(t, "the removal", func() bool {
			for _, m := range e.gw.Versions().Modules {
				if m.Module == "natsrpctest" && m.Version == 3 {
					return true
				}
			}
			return false
		})
		if g := e.grpcurl(t, "", e.addr, "list"); strings.Contains(g.stdout, "DurableService") {
			t.Errorf("list still shows the removed service: %s", g.stdout)
		}
		if r := e.connectJSON(t, "/natsrpctest.v1.DurableService/Record", `{}`, "Connect-Protocol-Version: 1"); r.status != 404 {
			t.Errorf("the removed service answered %d %s", r.status, r.body)
		}
	})
}

func testShutdown(t *testing.T, e *env) {
	g, err := gateway.New(natstest.Connect(t, e.regEnv.Server), gateway.WithHTTPRules(e.rules))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	waitFor(t, "routes", func() bool { ok, _ := g.Ready(); return ok && len(g.Versions().Modules) >= 2 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- gateway.Serve(ctx, ln, g, gateway.ServerOptions{DrainTimeout: 5 * time.Second}) }()
	type outcome struct {
		status int
		body   string
	}
	inflight := make(chan outcome, 2)
	for _, id := range []string{"hold-800", "hold-900"} {
		go func() {
			resp, err := http.Get(url + "/v1/players/p/quests/" + id)
			if err != nil {
				inflight <- outcome{body: err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			inflight <- outcome{resp.StatusCode, string(b)}
		}()
	}
	// And one over HTTP/2 (h2c), where shutdown means GOAWAY with the
	// stream left to finish.
	grpcDone := make(chan result, 1)
	go func() {
		grpcDone <- e.grpcurl(t, "", "-d", `{"quest_id": "hold-900"}`, strings.TrimPrefix(url, "http://"), "gaming.quest_system.v1.QuestSystemService/GetQuest")
	}()
	time.Sleep(300 * time.Millisecond)
	cancel() // what SIGTERM does to the command
	time.Sleep(100 * time.Millisecond)
	if ok, why := g.Ready(); ok || why != "shutting down" {
		t.Errorf("ready while draining: %v %q", ok, why)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Errorf("a new connection was accepted while draining")
	}
	for i := 0; i < 2; i++ {
		o := <-inflight
		if o.status != 200 || !strings.Contains(o.body, "hold-") {
			t.Errorf("call in flight at shutdown: %d %s; want it finished", o.status, o.body)
		}
	}
	if g := <-grpcDone; g.code != 0 || !strings.Contains(g.stdout, `"questId": "hold-900"`) {
		t.Errorf("gRPC call in flight at shutdown: %d %s %s", g.code, g.stdout, g.stderr)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// TestGatewayWaitsForTheRegistry: started before any registry answers, the
// gateway is not ready, keeps asking every second, and is ready soon after
// a registry serves (with no module pushed, so no announcement helps).
func TestGatewayWaitsForTheRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS and a registry")
	}
	srv := registrytest.StartNATS(t)
	g, err := gateway.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(registrytest.Ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ok, why := g.Ready(); ok || why != "routes not loaded yet" {
		t.Fatalf("ready without a registry: %v %q", ok, why)
	}
	registrytest.Serve(t, srv)
	start := time.Now()
	for ok, _ := g.Ready(); !ok; ok, _ = g.Ready() {
		if time.Since(start) > 5*time.Second {
			t.Fatal("not ready 5s after the registry started serving")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testServerTimeouts: --idle-timeout closes an idle keep-alive connection;
// --read-timeout cuts a request whose body does not arrive, and the
// service never sees it.
func testServerTimeouts(t *testing.T, e *env) {
	g, err := gateway.New(natstest.Connect(t, e.regEnv.Server), gateway.WithHTTPRules(e.rules))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	waitFor(t, "routes", func() bool { ok, _ := g.Ready(); return ok && len(g.Versions().Modules) >= 2 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- gateway.Serve(ctx, ln, g, gateway.ServerOptions{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, DrainTimeout: time.Second})
	}()
	defer func() {
		cancel()
		<-served
	}()
	// closedWithin reads c until the server closes it.
	closedWithin := func(c net.Conn, d time.Duration) (string, bool) {
		_ = c.SetReadDeadline(time.Now().Add(d))
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return string(b), false
		}
		return string(b), true
	}
	t.Run("idle", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		out, closed := closedWithin(c, 3*time.Second)
		if !closed || !strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Fatalf("closed %v after %q; want the answer, then the idle connection closed", closed, out)
		}
	})
	t.Run("read", func(t *testing.T) {
		before := e.quests.calls.Load()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := `{"playerLevel": 3}`
		req := "POST /v1/players/p9/quests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:5]
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, closed := closedWithin(c, 3*time.Second)
		if !closed || time.Since(start) > 2*time.Second {
			t.Fatalf("closed %v after %s (%q); want the request cut at the 300ms read timeout", closed, time.Since(start), out)
		}
		if strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Fatalf("answered %q to a request whose body never came", out)
		}
		if n := e.quests.calls.Load() - before; n != 0 {
			t.Fatalf("the service was called %d times", n)
		}
	})
}
