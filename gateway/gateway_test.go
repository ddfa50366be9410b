package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
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

func testServerStream(t *testing.T, e *env)  { t.Skip("todo") }
func testClientAndBidi(t *testing.T, e *env) { t.Skip("todo") }
func testEvents(t *testing.T, e *env)        { t.Skip("todo") }
func testErrors(t *testing.T, e *env)        { t.Skip("todo") }
func testDeadlines(t *testing.T, e *env)     { t.Skip("todo") }
func testMetadata(t *testing.T, e *env)      { t.Skip("todo") }
func testLimits(t *testing.T, e *env)        { t.Skip("todo") }
func testReflection(t *testing.T, e *env)    { t.Skip("todo") }
func testOperations(t *testing.T, e *env)    { t.Skip("todo") }
func testLiveReload(t *testing.T, e *env)    { t.Skip("todo") }
func testShutdown(t *testing.T, e *env)      { t.Skip("todo") }
