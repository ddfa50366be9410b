package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/shadow"
	"github.com/natsrpc/natsrpc/gateway/bridge"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	weatherv1 "github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1/weathermanagerv1natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

const (
	questService   = "gaming.quest_system.v1.QuestSystemService"
	weatherService = "gaming.weather_manager.v1.WeatherManagerService"
	weatherFile    = "gaming/weather_manager/v1/weather_manager.proto"
)

// env is what the bridge's tests share: a NATS server with JetStream and
// the registry, holding the gaming schemas with WeatherManagerService
// annotated with google.api.http (as its authors would write it), and the
// two legacy HTTP services.
type env struct {
	reg        *registrytest.Env
	nc         *nats.Conn // the callers'
	quests     *legacyQuests
	questsURL  string
	weather    *legacyWeather
	weatherURL string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{reg: registrytest.Start(t)}
	e.nc = natstest.Connect(t, e.reg.Server)
	set, own := testschema.GamingSet()
	annotateWeather(t, set)
	if _, err := e.reg.Client.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{
		Module: "gaming", OwnFiles: own, Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set},
	}); err != nil {
		t.Fatalf("push: %v", err)
	}
	e.quests = &legacyQuests{legacy: newLegacy()}
	e.questsURL = e.quests.server(t).URL
	e.weather = &legacyWeather{legacy: newLegacy()}
	e.weatherURL = e.weather.server(t).URL
	return e
}

// annotateWeather adds google.api.http annotations to
// WeatherManagerService in set, and google/api/annotations.proto with its
// imports.
func annotateWeather(t *testing.T, set *descriptorpb.FileDescriptorSet) {
	t.Helper()
	rules := map[string]*annotations.HttpRule{
		"GetWeather":      {Pattern: &annotations.HttpRule_Get{Get: "/v1/worlds/{world_id}/regions/{region_id}/weather"}, ResponseBody: "weather"},
		"GetForecast":     {Pattern: &annotations.HttpRule_Get{Get: "/v1/worlds/{world_id}/regions/{region_id}/forecast"}},
		"BatchGetWeather": {Pattern: &annotations.HttpRule_Post{Post: "/v1/worlds/{world_id}/weather:batchGet"}, Body: "*"},
	}
	for _, f := range set.GetFile() {
		if f.GetName() != weatherFile {
			continue
		}
		f.Dependency = append(f.Dependency, "google/api/annotations.proto")
		for _, m := range f.GetService()[0].GetMethod() {
			if r, ok := rules[m.GetName()]; ok {
				if m.Options == nil {
					m.Options = &descriptorpb.MethodOptions{}
				}
				proto.SetExtension(m.Options, annotations.E_Http, r)
			}
		}
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath("google/api/annotations.proto")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range set.GetFile() {
		have[f.GetName()] = true
	}
	var extra []*descriptorpb.FileDescriptorProto
	for _, f := range descset.Closure([]protoreflect.FileDescriptor{fd}...).GetFile() {
		if !have[f.GetName()] {
			extra = append(extra, f)
		}
	}
	set.File = append(extra, set.File...)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run runs bridge.Run as `natsrpc bridge` does, until the test ends, and
// returns its banner.
func (e *env) run(t *testing.T, cfg bridge.RunConfig) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	cfg.Out = out
	cfg.Connect = func(context.Context) (*nats.Conn, error) { return nats.Connect(e.reg.Server.ClientURL()) }
	done := make(chan error, 1)
	go func() { done <- bridge.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge.Run: %v", err)
		}
		if !strings.Contains(out.String(), "natsrpc bridge stopped") {
			t.Errorf("no goodbye:\n%s", out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("bridge.Run returned %v:\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out.String()
}

func wantCode(t *testing.T, err error, want natsrpc.Code, msgParts ...string) {
	t.Helper()
	if natsrpc.CodeOf(err) != want {
		t.Fatalf("error %v; want code %v", err, want)
	}
	for _, p := range msgParts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q lacks %q", err, p)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBridge runs generated Go clients against the two legacy services
// through bridges started as `natsrpc bridge` starts them, with their
// descriptors from the registry.
func TestBridge(t *testing.T) {
	e := newEnv(t)
	questBanner := e.run(t, bridge.RunConfig{Service: questService, HTTP: e.questsURL, HTTPRules: "testdata/quests.yaml", ForwardHeaders: []string{"X-Game-*"}})
	weatherBanner := e.run(t, bridge.RunConfig{Service: weatherService, HTTP: e.weatherURL})
	quests := questsystemv1natsrpc.NewQuestSystemServiceClient(e.nc)
	weather := weathermanagerv1natsrpc.NewWeatherManagerServiceClient(e.nc)

	t.Run("routes", func(t *testing.T) {
		for _, want := range []string{
			"natsrpc bridge serving gaming.quest_system.v1.QuestSystemService on NATS",
			"descriptors from the registry (module gaming, version 1)",
			"GetQuest                 GET /v1/players/{player_id}/quests/{quest_id}  [rules file]",
			"GenerateQuest            POST /v1/players/{player_id}/quests (body *)  [rules file]",
			"UpdateProgress           POST /gaming.quest_system.v1.QuestSystemService/UpdateProgress (body *)  [default]",
			"warning: GET /v1/players/{player_id}/quests: field meta.labels cannot travel in a query string",
		} {
			if !strings.Contains(questBanner, want) {
				t.Errorf("quests banner lacks %q:\n%s", want, questBanner)
			}
		}
		for _, want := range []string{
			"GetWeather               GET /v1/worlds/{world_id}/regions/{region_id}/weather  [google.api.http]",
			"BatchGetWeather          POST /v1/worlds/{world_id}/weather:batchGet (body *)  [google.api.http]",
			"StartTransition          POST /gaming.weather_manager.v1.WeatherManagerService/StartTransition (body *)  [default]",
		} {
			if !strings.Contains(weatherBanner, want) {
				t.Errorf("weather banner lacks %q:\n%s", want, weatherBanner)
			}
		}
	})

	t.Run("rules file: path, JSON in both name styles, enums, maps, timestamps", func(t *testing.T) {
		res, err := quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p 1/x", QuestId: "q-7"})
		if err != nil {
			t.Fatal(err)
		}
		q := res.GetQuest()
		if q.GetQuest().GetTitle() != "The q-7 of p 1/x" || q.GetQuest().GetDifficulty() != questv1.QuestDifficulty_QUEST_DIFFICULTY_HARD ||
			q.GetStatus() != questv1.QuestStatus_QUEST_STATUS_ACTIVE || q.GetProgress()["o1"].GetCount() != 1 ||
			q.GetQuest().GetObjectives()[0].GetLocationId() != "cave" || !q.GetUpdatedAt().AsTime().Equal(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("response %v", res)
		}
		if got := e.quests.last(); got.Path != "/v1/players/p 1/x/quests/q-7" || got.Method != "GET" {
			t.Fatalf("the legacy service got %s %s", got.Method, got.Path)
		}
		res, err = quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "camel"})
		if err != nil || res.GetQuest().GetQuest().GetRecommendedLevel() != 3 || res.GetQuest().GetStatus() != questv1.QuestStatus_QUEST_STATUS_COMPLETED {
			t.Fatalf("camelCase answer: %v, %v", res, err)
		}
		res, err = quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "nulls"})
		if err != nil || res.GetQuest().GetQuest().GetQuestId() != "nulls" || res.GetQuest().GetUpdatedAt() != nil {
			t.Fatalf("nulls: %v, %v", res, err)
		}
		// Unknown fields are ignored (strict bridges refuse them: below).
		if res, err = quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "extra"}); err != nil || res.GetQuest().GetQuest().GetTitle() != "Extra" {
			t.Fatalf("extra fields: %v, %v", res, err)
		}
		// An empty path variable is refused before any HTTP call.
		before := e.quests.calls.Load()
		_, err = quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1"})
		wantCode(t, err, natsrpc.CodeInvalidArgument, "quest_id is required: it is part of the URL path")
		if e.quests.calls.Load() != before {
			t.Fatal("the legacy service was called")
		}
	})

	t.Run("query string and body", func(t *testing.T) {
		res, err := quests.ListQuests(ctxT(t), &questv1.ListQuestsRequest{
			PlayerId: "p1", Statuses: []questv1.QuestStatus{questv1.QuestStatus_QUEST_STATUS_ACTIVE, questv1.QuestStatus_QUEST_STATUS_FAILED},
			Page: &commonv1.PageRequest{PageSize: 10}, Meta: &commonv1.Meta{RequestId: "r-1", SentAt: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), Labels: map[string]string{"a": "b"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.GetQuests()) != 2 || res.GetQuests()[1].GetStatus() != questv1.QuestStatus_QUEST_STATUS_FAILED || res.GetPage().GetNextPageToken() != "after-10" {
			t.Fatalf("response %v", res)
		}
		q, _ := url.ParseQuery(e.quests.last().RawQuery)
		want := url.Values{"statuses": {"QUEST_STATUS_ACTIVE", "QUEST_STATUS_FAILED"}, "page.page_size": {"10"}, "meta.request_id": {"r-1"}, "meta.sent_at": {"2026-01-02T03:04:05Z"}}
		if len(q) != len(want) {
			t.Fatalf("query %v; want %v", q, want)
		}
		for k, v := range want {
			if !slices.Equal(q[k], v) {
				t.Fatalf("query %v; want %v", q, want)
			}
		}
		gen, err := quests.GenerateQuest(ctxT(t), &questv1.GenerateQuestRequest{PlayerId: "p1", PlayerLevel: 12, RegionId: "swamp", Difficulty: questv1.QuestDifficulty_QUEST_DIFFICULTY_LEGENDARY, Hints: map[string]string{"tone": "grim"}})
		if err != nil {
			t.Fatal(err)
		}
		if gen.GetQuest().GetTitle() != "A level 12 quest in swamp" || gen.GetQuest().GetDifficulty() != questv1.QuestDifficulty_QUEST_DIFFICULTY_LEGENDARY || gen.GetUsage().GetTotalTokens() != 200 {
			t.Fatalf("response %v", gen)
		}
		got := e.quests.last()
		if got.Header.Get("Content-Type") != "application/json" || !strings.Contains(got.RawBody, `"player_level":12`) || !strings.Contains(got.RawBody, `"hints":{"tone":"grim"}`) {
			t.Fatalf("body %s, headers %v", got.RawBody, got.Header)
		}
	})

	t.Run("default route", func(t *testing.T) {
		res, err := quests.UpdateProgress(ctxT(t), &questv1.UpdateProgressRequest{PlayerId: "p1", QuestId: "q-7", ObjectiveId: "o1", Count: 3})
		if err != nil || !res.GetCompletable() || res.GetQuest().GetQuest().GetTitle() != "Updated" {
			t.Fatalf("%v, %v", res, err)
		}
		if got := e.quests.last(); got.Path != "/gaming.quest_system.v1.QuestSystemService/UpdateProgress" || got.Body["objective_id"] != "o1" || got.Body["player_id"] != "p1" {
			t.Fatalf("the legacy service got %s %s", got.Path, got.RawBody)
		}
		// 204 No Content is the empty response.
		if res, err := quests.AbandonQuest(ctxT(t), &questv1.AbandonQuestRequest{PlayerId: "p1", QuestId: "q-7"}); err != nil || proto.Size(res) != 0 {
			t.Fatalf("%v, %v", res, err)
		}
	})

	t.Run("status table", func(t *testing.T) {
		for _, tc := range []struct {
			status int
			code   natsrpc.Code
		}{
			{400, natsrpc.CodeInvalidArgument}, {422, natsrpc.CodeInvalidArgument}, {401, natsrpc.CodeUnauthenticated},
			{403, natsrpc.CodePermissionDenied}, {404, natsrpc.CodeNotFound}, {408, natsrpc.CodeDeadlineExceeded},
			{504, natsrpc.CodeDeadlineExceeded}, {409, natsrpc.CodeAborted}, {412, natsrpc.CodeFailedPrecondition},
			{413, natsrpc.CodeResourceExhausted}, {429, natsrpc.CodeResourceExhausted}, {499, natsrpc.CodeCanceled},
			{501, natsrpc.CodeUnimplemented}, {502, natsrpc.CodeUnavailable}, {503, natsrpc.CodeUnavailable},
			{418, natsrpc.CodeFailedPrecondition}, {451, natsrpc.CodeFailedPrecondition}, {500, natsrpc.CodeInternal}, {507, natsrpc.CodeInternal},
		} {
			id := "status-" + itoa(tc.status)
			// No retries: 502 and 503 are unavailable, which the client
			// retries for this NO_SIDE_EFFECTS method.
			c := questsystemv1natsrpc.NewQuestSystemServiceClient(e.nc, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
			_, err := c.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: id})
			wantCode(t, err, tc.code, "GET /v1/players/{player_id}/quests/{quest_id} answered "+itoa(tc.status), id+": legacy says "+itoa(tc.status))
			if !natsrpc.IsWireError(err) {
				t.Fatalf("%d: %v did not come from the bridge", tc.status, err)
			}
		}
		_, err := quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "validation"})
		wantCode(t, err, natsrpc.CodeInvalidArgument, "answered 422 Unprocessable Entity: path.quest_id: value is not a valid quest id")
		// The rules file overrides 409 for CompleteQuest only.
		_, err = quests.CompleteQuest(ctxT(t), &questv1.CompleteQuestRequest{PlayerId: "p1", QuestId: "q-7"})
		wantCode(t, err, natsrpc.CodeFailedPrecondition, "answered 409 Conflict: objective o2 is not done")
		_, err = quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "error-message"})
		wantCode(t, err, natsrpc.CodeInternal, "answered 500 Internal Server Error: database is down")
	})

	t.Run("garbage", func(t *testing.T) {
		noRetry := questsystemv1natsrpc.NewQuestSystemServiceClient(e.nc, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
		for id, want := range map[string]string{
			"garbage":     `answered 200 with a body that is not a gaming.quest_system.v1.GetQuestResponse in JSON`,
			"truncated":   `"{\"quest\": {\"quest\": {\"quest_id\": \"trunc"`,
			"wrong-shape": `"[1,2,3]\n"`,
		} {
			_, err := noRetry.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: id})
			wantCode(t, err, natsrpc.CodeInternal, want)
		}
		_, err := noRetry.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "garbage"})
		wantCode(t, err, natsrpc.CodeInternal, `"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"`)
		_, err = noRetry.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "plain-error"})
		wantCode(t, err, natsrpc.CodeUnavailable, `answered 503 Service Unavailable: "upstream connect error`)
	})

	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		_, err := quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "hang"}, natsrpc.WithCallTimeout(300*time.Millisecond))
		wantCode(t, err, natsrpc.CodeDeadlineExceeded)
		select {
		case held := <-e.quests.hangEnded:
			// The HTTP request is cut at the call's deadline, not at the
			// schema's 5 s default.
			if held > 2*time.Second {
				t.Fatalf("the legacy request was held %s", held)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the legacy request was not cut (call returned after %s)", time.Since(start))
		}
	})

	t.Run("metadata", func(t *testing.T) {
		var hdr nats.Header
		res, err := quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "headers"},
			natsrpc.WithHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
			natsrpc.WithHeader("X-Request-Id", "req-9"), natsrpc.WithHeader("X-Game-Region", "eu"), natsrpc.WithHeader("X-Secret", "s3cr3t"),
			natsrpc.WithResponseHeader(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01|req-9|eu||natsrpc-bridge/" + natsrpc.Version
		if got := res.GetQuest().GetQuest().GetTitle(); got != want {
			t.Fatalf("the legacy service saw %q; want %q", got, want)
		}
		if hdr.Get("X-Request-Id") != "req-9" || hdr.Get("X-Legacy-Internal") != "" {
			t.Fatalf("response headers %v", hdr)
		}
	})

	t.Run("annotations", func(t *testing.T) {
		w, err := weather.GetWeather(ctxT(t), &weatherv1.GetWeatherRequest{WorldId: "w1", RegionId: "north"})
		if err != nil {
			t.Fatal(err)
		}
		// response_body: the HTTP answer is the weather field.
		if w.GetWeather().GetRegionId() != "w1/north" || w.GetWeather().GetCurrent().GetCondition() != weatherv1.WeatherCondition_WEATHER_CONDITION_RAIN ||
			w.GetWeather().GetCurrent().GetGameplayModifiers()["visibility"] != 0.8 || w.GetWeather().GetUpdatedAt().GetNanos() != 250e6 {
			t.Fatalf("response %v", w)
		}
		f, err := weather.GetForecast(ctxT(t), &weatherv1.GetForecastRequest{WorldId: "w1", RegionId: "north", Horizon: durationpb.New(90 * time.Minute), Meta: &commonv1.Meta{RequestId: "r2"}})
		if err != nil || len(f.GetEntries()) != 1 || f.GetEntries()[0].GetExpected().GetCondition() != weatherv1.WeatherCondition_WEATHER_CONDITION_FOG {
			t.Fatalf("%v, %v", f, err)
		}
		if got := e.weather.last(); got.Path != "/v1/worlds/w1/regions/north/forecast" || got.RawQuery != "horizon=5400s&meta.request_id=r2" {
			t.Fatalf("the legacy service got %s?%s", got.Path, got.RawQuery)
		}
		b, err := weather.BatchGetWeather(ctxT(t), &weatherv1.BatchGetWeatherRequest{WorldId: "w1", RegionIds: []string{"a", "b"}})
		if err != nil || len(b.GetResults()) != 2 || b.GetResults()[1].GetWeather().GetRegionId() != "b" {
			t.Fatalf("%v, %v", b, err)
		}
		if got := e.weather.last(); got.Path != "/v1/worlds/w1/weather:batchGet" || len(got.Body) != 1 || fmt.Sprint(got.Body["region_ids"]) != "[a b]" {
			t.Fatalf("the legacy service got %s %s", got.Path, got.RawBody)
		}
		st, err := weather.StartTransition(ctxT(t), &weatherv1.StartTransitionRequest{WorldId: "w1", RegionId: "north", TransitionId: "t1"})
		if err != nil || st.GetTransition().GetStatus() != weatherv1.TransitionStatus_TRANSITION_STATUS_PENDING || st.GetTransition().GetTransitionId() != "t1" {
			t.Fatalf("%v, %v", st, err)
		}
		_, err = weather.GetWeather(ctxT(t), &weatherv1.GetWeatherRequest{WorldId: "w1", RegionId: "status-404"})
		wantCode(t, err, natsrpc.CodeNotFound)
	})

	t.Run("discovery", func(t *testing.T) {
		msg, err := e.nc.Request("$SRV.INFO.gaming_weather_manager_v1_WeatherManagerService", nil, 2*time.Second)
		if err != nil || !strings.Contains(string(msg.Data), `"subject":"gaming.weather_manager.v1.WeatherManagerService.GetWeather"`) ||
			!strings.Contains(string(msg.Data), `"queue_group":"q"`) {
			t.Fatalf("%s, %v", msg.Data, err)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// startQuestBridge starts a bridge with New, on descriptors from the
// registry, under its own subject prefix.
func (e *env) startQuestBridge(t *testing.T, base, prefix string, opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	_, set, err := e.reg.Client.ResolveSymbol(ctxT(t), &registryv1.ResolveSymbolRequest{Symbol: questService})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := bridge.FindService(set, questService)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]bridge.Option{bridge.WithRules(loadRules(t)), bridge.WithHandlerOptions(natsrpc.WithSubjectPrefix(prefix))}, opts...)
	b, err := bridge.New(natstest.Connect(t, e.reg.Server), sd, base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b
}

// TestBridgeOptions: --strict, --max-in-flight, a legacy service that is
// not there, and invalid configurations.
func TestBridgeOptions(t *testing.T) {
	e := newEnv(t)
	client := func(prefix string) questsystemv1natsrpc.QuestSystemServiceClient {
		return questsystemv1natsrpc.NewQuestSystemServiceClient(e.nc, natsrpc.WithSubjectPrefix(prefix), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	}

	t.Run("strict", func(t *testing.T) {
		e.startQuestBridge(t, e.questsURL, "strict", bridge.WithStrict())
		_, err := client("strict").GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "extra"})
		wantCode(t, err, natsrpc.CodeInternal, `unknown field "legacy_score"`)
		if _, err := client("strict").GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "q-1"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("max in flight", func(t *testing.T) {
		e.startQuestBridge(t, e.questsURL, "bounded", bridge.WithMaxInFlight(1))
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range 2 { // one in flight, one waiting
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := client("bounded").GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "block"}); err == nil {
					ok.Add(1)
				}
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for e.quests.blocked.Load() < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the second call reaches the queue
		_, err := client("bounded").GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "q-1"})
		wantCode(t, err, natsrpc.CodeResourceExhausted, "service overloaded")
		if n := e.quests.blocked.Load(); n != 1 {
			t.Fatalf("%d HTTP calls in flight; want 1", n)
		}
		e.quests.unblock()
		wg.Wait()
		if ok.Load() != 2 {
			t.Fatalf("%d of the 2 admitted calls succeeded", ok.Load())
		}
	})

	t.Run("the legacy service is not there", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		e.startQuestBridge(t, "http://"+addr, "gone")
		_, err = client("gone").GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "q-1"})
		wantCode(t, err, natsrpc.CodeUnavailable, "the HTTP service cannot be reached")
	})

	t.Run("invalid", func(t *testing.T) {
		sd := questv1.File_gaming_quest_system_v1_quest_system_proto.Services().ByName("QuestSystemService")
		for _, tc := range []struct {
			base string
			opts []bridge.Option
			want string
		}{
			{"127.0.0.1:8000", nil, "must be http://HOST[:PORT][/PREFIX]"},
			{"http://h/?x=1", nil, "must be http://HOST"},
			{"http://h", []bridge.Option{bridge.WithForwardHeaders("Content-Type")}, `forward header "Content-Type": the bridge sets this header itself`},
			{"http://h", []bridge.Option{bridge.WithForwardHeaders("Nats-*")}, `forward header "Nats-*": natsrpc's wire contract owns this header`},
			{"http://h", []bridge.Option{bridge.WithMaxInFlight(0)}, "max in flight 0"},
			{"http://h", []bridge.Option{bridge.WithRules(&httprule.Config{Rules: []*annotations.HttpRule{{Selector: questService + ".GetQuest", Pattern: &annotations.HttpRule_Get{Get: "/v1/{nope}"}}}})}, `has no field "nope"`},
			{"http://h", []bridge.Option{bridge.WithRules(&httprule.Config{Rules: []*annotations.HttpRule{{Selector: questService + ".GetQuest", Pattern: &annotations.HttpRule_Get{Get: "/v1/*/quests"}}}})}, `the segment "*" binds no field`},
			{"http://h", []bridge.Option{bridge.WithHandlerOptions(natsrpc.WithShadow(natsrpc.ShadowPolicy{Prefix: "next", Methods: map[string]natsrpc.ShadowMethod{"GetQuest": {Rate: 1, Ignore: []string{"quest.nope"}}}}))}, `gaming.quest_system.v1.PlayerQuest has no field "nope"`},
		} {
			_, err := bridge.New(e.nc, sd, tc.base, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%q) = %v; want %q", tc.base, err, tc.want)
			}
		}
	})
}

// candidate is the quest service's replacement, written in Go on NATS:
// it answers GetQuest like the legacy service except for one deliberate
// difference (the status) and a field the shadow policy ignores
// (updated_at), and counts the calls of the side-effecting GenerateQuest.
type candidate struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
	gets, generates atomic.Int64
	shadowed        atomic.Int64
}

func (c *candidate) GetQuest(ctx context.Context, req *questv1.GetQuestRequest) (*questv1.GetQuestResponse, error) {
	c.gets.Add(1)
	if ci, ok := natsrpc.CallInfoFromContext(ctx); ok && ci.RequestHeader().Get(natsrpc.ShadowHeader) == "1" {
		c.shadowed.Add(1)
	}
	if strings.HasPrefix(req.GetQuestId(), "status-") {
		return nil, natsrpc.NewError(natsrpc.CodeNotFound, errors.New("no such quest"))
	}
	return &questv1.GetQuestResponse{Quest: &questv1.PlayerQuest{
		Quest: &questv1.Quest{QuestId: req.GetQuestId(), Title: "The " + req.GetQuestId() + " of " + req.GetPlayerId(), Difficulty: questv1.QuestDifficulty_QUEST_DIFFICULTY_HARD, RecommendedLevel: 12,
			Objectives: []*questv1.Objective{{ObjectiveId: "o1", Description: "find the cave", Target: &questv1.Objective_LocationId{LocationId: "cave"}}},
			CreatedAt:  timestamppb.New(time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC))},
		Status:    questv1.QuestStatus_QUEST_STATUS_AVAILABLE, // the deliberate difference
		Progress:  map[string]*questv1.ObjectiveProgress{"o1": {ObjectiveId: "o1", Count: 1}},
		UpdatedAt: timestamppb.Now(), // differs every time: ignored by the policy
	}}, nil
}

func (c *candidate) GenerateQuest(context.Context, *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	c.generates.Add(1)
	return &questv1.GenerateQuestResponse{}, nil
}

func (c *candidate) ListQuests(_ context.Context, req *questv1.ListQuestsRequest) (*questv1.ListQuestsResponse, error) {
	return &questv1.ListQuestsResponse{Page: &commonv1.PageResponse{NextPageToken: "after-"}}, nil
}

// TestBridgeShadow mirrors the bridge's calls to a Go candidate and reads
// the shadow report: the deliberate difference found, the ignored field
// never reported, the side-effecting method never mirrored, the
// primary's answers unchanged.
func TestBridgeShadow(t *testing.T) {
	e := newEnv(t)
	cand := &candidate{}
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, e.reg.Server), cand, natsrpc.WithSubjectPrefix("next"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	banner := e.run(t, bridge.RunConfig{Service: questService, HTTP: e.questsURL, HTTPRules: "testdata/quests.yaml", ShadowPrefix: "next", ShadowRate: 0.5})
	if !strings.Contains(banner, `shadow traffic to the candidate under "next"`) {
		t.Fatalf("banner:\n%s", banner)
	}
	quests := questsystemv1natsrpc.NewQuestSystemServiceClient(e.nc, natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1}))
	const n = 20
	for i := range n {
		res, err := quests.GetQuest(ctxT(t), &questv1.GetQuestRequest{PlayerId: "p1", QuestId: "q-" + itoa(i)})
		if err != nil || res.GetQuest().GetStatus() != questv1.QuestStatus_QUEST_STATUS_ACTIVE {
			t.Fatalf("the primary's answer changed: %v, %v", res, err)
		}
	}
	for range 5 {
		if _, err := quests.GenerateQuest(ctxT(t), &questv1.GenerateQuestRequest{PlayerId: "p1", RegionId: "swamp"}); err != nil {
			t.Fatal(err)
		}
		if _, err := quests.ListQuests(ctxT(t), &questv1.ListQuestsRequest{PlayerId: "p1"}); err != nil {
			t.Fatal(err)
		}
	}
	var rep *shadow.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep, err = shadow.Collect(ctxT(t), e.nc, shadow.CollectOptions{Service: questService, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if m, l := method(rep, "GetQuest"), method(rep, "ListQuests"); m != nil && m.Stats.Compared == n && m.Kept == n && l != nil && l.Stats.Compared == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report %+v", rep)
		}
		time.Sleep(50 * time.Millisecond)
	}
	get := method(rep, "GetQuest")
	if get.Stats.Different != n || get.Stats.CandidateErrors != 0 || get.Stats.Rate != 1 ||
		!slices.Equal(get.Paths, []shadow.PathCount{{Path: "quest.status", Count: n}}) ||
		get.PrimaryP50 <= 0 || get.CandidateP50 <= 0 {
		t.Fatalf("GetQuest's report %+v", get)
	}
	// ListQuests (NO_SIDE_EFFECTS, matched by the wildcard entry) is
	// mirrored and equal; GenerateQuest, which may have side effects, is
	// not mirrored although the wildcard matches it.
	if l := method(rep, "ListQuests"); l == nil || l.Stats.Equal != 5 {
		t.Fatalf("ListQuests' report %+v", l)
	}
	if g := method(rep, "GenerateQuest"); g != nil || cand.generates.Load() != 0 || e.quests.generated.Load() != 5 {
		t.Fatalf("GenerateQuest was mirrored: report %+v, candidate calls %d", g, cand.generates.Load())
	}
	if cand.shadowed.Load() != n {
		t.Fatalf("the candidate saw %d calls marked as shadow traffic; want %d", cand.shadowed.Load(), n)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "quest.status") || strings.Contains(text.String(), "updated_at") {
		t.Fatalf("report:\n%s", text.String())
	}
}

func method(rep *shadow.Report, name string) *shadow.MethodReport {
	for _, s := range rep.Services {
		for i := range s.Methods {
			if s.Methods[i].Method == name {
				return &s.Methods[i]
			}
		}
	}
	return nil
}

func loadRules(t testing.TB) *httprule.Config {
	t.Helper()
	rules, err := httprule.LoadConfig("testdata/quests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestBridgeEvents bridges EventBusService: plain events are POSTed to
// the HTTP service, durable ones redelivered while it fails, the
// streaming method left out.
func TestBridgeEvents(t *testing.T) {
	srv := natstest.Start(t, natstest.WithJetStream())
	var mu sync.Mutex
	got := map[string][]string{}
	var payments atomic.Int64
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		method := strings.TrimPrefix(r.URL.Path, "/gaming.event_bus.v1.EventBusService/")
		if method == "PaymentCompleted" && payments.Add(1) == 1 {
			writeJSON(w, 503, map[string]any{"detail": "ledger warming up"})
			return
		}
		mu.Lock()
		got[method] = append(got[method], fmt.Sprint(body["event_id"]))
		mu.Unlock()
		writeJSON(w, 200, map[string]any{})
	}))
	defer legacy.Close()
	sd := eventbusv1.File_gaming_event_bus_v1_event_bus_proto.Services().ByName("EventBusService")
	b, err := bridge.New(natstest.Connect(t, srv), sd, legacy.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())
	for _, r := range b.Routes() {
		if strings.HasSuffix(r.Method, ".Subscribe") != (r.Skipped != "") {
			t.Fatalf("route %+v", r)
		}
	}
	c := eventbusv1natsrpc.NewEventBusServiceClient(natstest.Connect(t, srv))
	if err := c.QuestCompleted(ctxT(t), &eventbusv1.QuestCompletedRequest{EventId: "e1", QuestId: "q-7"}); err != nil {
		t.Fatal(err)
	}
	if err := c.PaymentCompleted(ctxT(t), &eventbusv1.PaymentCompletedRequest{EventId: "e2", PaymentId: "pay-1"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		done := len(got["QuestCompleted"]) == 1 && len(got["PaymentCompleted"]) == 1
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTTP service got %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if payments.Load() != 2 || got["QuestCompleted"][0] != "e1" || got["PaymentCompleted"][0] != "e2" {
		t.Fatalf("payments posted %d times (want 2: a 503, then the redelivery); got %v", payments.Load(), got)
	}
	_, err = eventbusv1natsrpc.NewEventBusServiceClient(natstest.Connect(t, srv), natsrpc.WithRetry(natsrpc.RetryPolicy{MaxAttempts: 1})).
		Subscribe(ctxT(t), &eventbusv1.SubscribeRequest{})
	if err == nil {
		t.Fatal("the streaming method answered")
	}
}
