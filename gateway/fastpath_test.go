package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/gateway"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// slowGateway is a second gateway like the environment's, over the same
// registry and services, that sends every call through vanguard.
func slowGateway(t *testing.T, e *env) string {
	t.Helper()
	gnc := natstest.Connect(t, e.regEnv.Server, nats.MaxReconnects(-1))
	g, err := gateway.New(gnc,
		gateway.WithHTTPRules(e.rules),
		gateway.WithMaxTimeout(2*time.Second),
		gateway.WithForwardHeaders("X-Player-*", "Authorization"),
		gateway.WithCORSOrigins("https://dashboard.example.com"),
		gateway.WithoutFastPath(),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Serve(ctx, ln, g, gateway.ServerOptions{}) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the slow gateway's routes", func() bool {
		ok, _ := g.Ready()
		return ok && len(g.Versions().Modules) == 2
	})
	return "http://" + ln.Addr().String()
}

type fastCase struct {
	name    string
	path    string
	ct      string // Content-Type; "-" for none
	body    []byte
	headers []string // "Name: value"
	fast    bool     // the fast path must take it
}

// testFastPath: the fast path answers every Connect unary call exactly as
// the slow path (vanguard and connect-go) does: status, Content-Type, the
// service's and the error's headers, and the body (JSON compared compact:
// protojson adds spaces at random). Calls it does not take reach the slow
// path with their bodies intact.
func testFastPath(t *testing.T, e *env) {
	slow := slowGateway(t, e)
	genReq, _ := proto.Marshal(&questv1.GenerateQuestRequest{PlayerId: "p9", PlayerLevel: 4, Hints: map[string]string{"theme": "bees"}})
	const gen = "/gaming.quest_system.v1.QuestSystemService/GenerateQuest"
	big := `{"playerId":"` + strings.Repeat("x", 300<<10) + `"}`
	cases := []fastCase{
		{"JSON", getQuest, "application/json", []byte(`{"playerId": "p1", "questId": "q1"}`), []string{"Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Player-Tier: gold", "Cookie: no"}, true},
		{"JSON, original names", getQuest, "application/json", []byte(`{"player_id":"p1","quest_id":"q1"}`), nil, true},
		{"JSON with charset", getQuest, "application/json; charset=utf-8", []byte(`{"questId":"q2"}`), nil, true},
		{"JSON without Connect-Protocol-Version", getQuest, "application/json", []byte(`{"questId":"q3"}`), []string{"Connect-Protocol-Version:"}, true},
		{"JSON with a timeout", getQuest, "application/json", []byte(`{"questId":"hold-5"}`), []string{"Connect-Timeout-Ms: 1500"}, true},
		{"JSON map and enum", gen, "application/json", []byte(`{"playerId":"p2","playerLevel":"12","hints":{"theme":"dragons","b":"2"}}`), nil, true},
		{"JSON test schema", "/natsrpctest.v1.TestService/Generate", "application/json", []byte(`{"ownerId":"o","level":3,"priority":"PRIORITY_HIGH","excludedIds":["a","b"],"meta":{"requestId":"r"}}`), nil, true},
		{"binary", gen, "application/proto", genReq, nil, true},
		{"binary, undecodable", gen, "application/proto", []byte{0xff, 0xff}, nil, true},
		{"error with details and metadata", getQuest, "application/json", []byte(`{"questId":"code-failed_precondition"}`), nil, true},
		{"error, binary request", getQuest, "application/proto", mustMarshal(t, &questv1.GetQuestRequest{QuestId: "code-permission_denied"}), nil, true},
		{"deadline", getQuest, "application/json", []byte(`{"questId":"slow"}`), []string{"Connect-Timeout-Ms: 1000"}, true}, // long enough that the deadline never passes before the request is sent, even under load; the service answers after it (the two paths word the service's answer differently)
		{"no responders", "/gaming.weather_manager.v1.WeatherManagerService/GetWeather", "application/json", []byte(`{}`), nil, true},
		{"unimplemented by the service", "/gaming.quest_system.v1.QuestSystemService/AbandonQuest", "application/json", []byte(`{}`), nil, true},
		{"unknown field (discarded by the slow path)", getQuest, "application/json", []byte(`{"questId":"q4","nope":1}`), nil, false},
		{"invalid JSON", getQuest, "application/json", []byte(`{"questId":`), nil, false},
		{"wrong type", getQuest, "application/json", []byte(`{"questId":5}`), nil, false},
		{"integer with a fraction", gen, "application/json", []byte(`{"playerLevel":1.0}`), nil, false},
		{"empty body", getQuest, "application/json", nil, nil, false},
		{"over the limit", getQuest, "application/json", []byte(big), nil, false},
		{"zero timeout", getQuest, "application/json", []byte(`{}`), []string{"Connect-Timeout-Ms: 0"}, false},
		{"bad timeout", getQuest, "application/json", []byte(`{}`), []string{"Connect-Timeout-Ms: soon"}, false},
		{"gzip", getQuest, "application/json", gzipped(t, `{"questId":"q5"}`), []string{"Content-Encoding: gzip"}, false},
		{"an event", "/natsrpctest.v1.TestService/Notify", "application/json", []byte(`{"id":"n1"}`), nil, false},
		{"protocol version 2", getQuest, "application/json", []byte(`{}`), []string{"Connect-Protocol-Version: 2"}, false},
		{"query string", getQuest + "?x=1", "application/json", []byte(`{}`), nil, false},
	}
	for _, c := range cases {
		before := gateway.FastCalls(e.gw)
		got := fastDo(t, e.url, c)
		took := gateway.FastCalls(e.gw) > before
		want := fastDo(t, slow, c)
		if took != c.fast {
			t.Errorf("%s: the fast path took it: %v, want %v", c.name, took, c.fast)
		}
		if got.status != want.status || got.ct != want.ct || !slices.Equal(got.headers, want.headers) || got.body != want.body {
			t.Errorf("%s: fast path answered\n %d %s %q\n %s\nslow path\n %d %s %q\n %s", c.name,
				got.status, got.ct, got.headers, got.body, want.status, want.ct, want.headers, want.body)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fastAnswer struct {
	status  int
	ct      string
	headers []string // "Name: value", sorted, Date and Content-Length left out
	body    string
}

func fastDo(t *testing.T, base string, c fastCase) fastAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.ct)
	req.Header.Set("Connect-Protocol-Version", "1")
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		if v = strings.TrimSpace(v); v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := fastAnswer{status: resp.StatusCode, ct: resp.Header.Get("Content-Type"), body: string(b)}
	if strings.HasPrefix(a.ct, "application/json") {
		var compact bytes.Buffer
		if json.Compact(&compact, b) == nil {
			a.body = compact.String()
		}
	}
	for k, vs := range resp.Header {
		switch k {
		case "Date", "Content-Length", "Content-Type":
			continue
		case "Accept-Encoding":
			if len(vs) == 1 && vs[0] == "" {
				continue // connect-go's empty list when compression is off
			}
		case "X-Deadline-Ms":
			// The time left when the service ran: the same to within
			// the time between the two calls.
			ms, _ := strconv.Atoi(vs[0])
			vs = []string{strconv.Itoa((ms + 50) / 100 * 100)}
		}
		for _, v := range vs {
			a.headers = append(a.headers, k+": "+v)
		}
	}
	slices.Sort(a.headers)
	return a
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
