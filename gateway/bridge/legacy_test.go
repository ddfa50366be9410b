package bridge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The legacy services below are what the studio runs today: Python
// FastAPI services, written here with net/http and encoding/json in their
// style. FastAPI's pydantic models use the Python field names, so the JSON
// is snake_case; errors are {"detail": "..."}, validation errors 422 with
// {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}; timestamps
// are ISO 8601 with an offset; enums are their names.

// seen is one request a legacy service received.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   map[string]any
	RawBody                string
}

// legacy is the part every legacy service shares: what it received, and
// the hanging and blocking behaviours.
type legacy struct {
	mu       sync.Mutex
	requests []seen
	// hangEnded gets a value when a hanging request's context ends
	// (the bridge gave up at the call's deadline).
	hangEnded chan time.Duration
	blocked   atomic.Int64
	release   chan struct{}
	unblocked sync.Once
	calls     atomic.Int64
}

// unblock lets the blocked requests (and later ones) answer.
func (l *legacy) unblock() { l.unblocked.Do(func() { close(l.release) }) }

func newLegacy() legacy {
	return legacy{hangEnded: make(chan time.Duration, 8), release: make(chan struct{})}
}

func (l *legacy) record(r *http.Request) seen {
	l.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), RawBody: string(b)}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &s.Body)
	}
	l.mu.Lock()
	l.requests = append(l.requests, s)
	l.mu.Unlock()
	return s
}

func (l *legacy) last() seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests[len(l.requests)-1]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// behaviour answers the special ids every legacy service knows; it
// returns false for an ordinary id.
func (l *legacy) behaviour(w http.ResponseWriter, r *http.Request, id string) bool {
	switch {
	case strings.HasPrefix(id, "status-"):
		code, _ := strconv.Atoi(strings.TrimPrefix(id, "status-"))
		writeJSON(w, code, map[string]any{"detail": fmt.Sprintf("%s: legacy says %d", id, code)})
	case id == "validation":
		writeJSON(w, 422, map[string]any{"detail": []any{map[string]any{"loc": []any{"path", "quest_id"}, "msg": "value is not a valid quest id", "type": "value_error"}}})
	case id == "hang":
		start := time.Now()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second): // bounded, so that a failing test ends
		}
		l.hangEnded <- time.Since(start)
	case id == "block":
		l.blocked.Add(1)
		<-l.release
		writeJSON(w, 200, map[string]any{})
	case id == "garbage":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
	case id == "truncated":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"quest": {"quest": {"quest_id": "trunc`)
	case id == "wrong-shape":
		writeJSON(w, 200, []int{1, 2, 3})
	case id == "error-message":
		writeJSON(w, 500, map[string]any{"error": map[string]any{"message": "database is down"}})
	case id == "plain-error":
		w.WriteHeader(503)
		_, _ = io.WriteString(w, "upstream connect error or disconnect/reset before headers")
	default:
		return false
	}
	return true
}

// legacyQuests is QuestSystemService on HTTP, routed by
// testdata/quests.yaml.
type legacyQuests struct {
	legacy
	generated atomic.Int64
}

const updatedAt = "2026-11-02T10:00:00+00:00"

func questJSON(id, title string) map[string]any {
	return map[string]any{
		"quest": map[string]any{
			"quest_id": id, "title": title, "difficulty": "QUEST_DIFFICULTY_HARD", "recommended_level": 12,
			"objectives": []any{map[string]any{"objective_id": "o1", "description": "find the cave", "location_id": "cave"}},
			"created_at": "2026-11-01T09:30:00Z",
		},
		"status":     "QUEST_STATUS_ACTIVE",
		"progress":   map[string]any{"o1": map[string]any{"objective_id": "o1", "count": 1}},
		"updated_at": updatedAt,
	}
}

func (l *legacyQuests) server(t *testing.T) *httptest.Server { return l.serverTB(t) }

func (l *legacyQuests) serverTB(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/players/{player_id}/quests/{quest_id}", func(w http.ResponseWriter, r *http.Request) {
		l.record(r)
		id := r.PathValue("quest_id")
		if l.behaviour(w, r, id) {
			return
		}
		switch id {
		case "camel": // some services answer in camelCase: both are read
			writeJSON(w, 200, map[string]any{"quest": map[string]any{"quest": map[string]any{"questId": "camel", "recommendedLevel": 3}, "status": "QUEST_STATUS_COMPLETED", "updatedAt": updatedAt}})
		case "extra":
			q := questJSON(id, "Extra")
			q["legacy_score"] = 0.93
			writeJSON(w, 200, map[string]any{"quest": q, "served_by": "quests-7f9c"})
		case "headers":
			w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
			w.Header().Set("X-Legacy-Internal", "node-3")
			title := strings.Join([]string{r.Header.Get("Traceparent"), r.Header.Get("X-Request-Id"), r.Header.Get("X-Game-Region"), r.Header.Get("X-Secret"), r.Header.Get("User-Agent")}, "|")
			writeJSON(w, 200, map[string]any{"quest": questJSON(id, title)})
		case "nulls": // pydantic's None
			writeJSON(w, 200, map[string]any{"quest": map[string]any{"quest": map[string]any{"quest_id": "nulls", "title": nil, "time_limit": nil, "objectives": nil}, "status": nil, "updated_at": nil}})
		default:
			writeJSON(w, 200, map[string]any{"quest": questJSON(id, "The "+id+" of "+r.PathValue("player_id"))})
		}
	})
	mux.HandleFunc("GET /v1/players/{player_id}/quests", func(w http.ResponseWriter, r *http.Request) {
		l.record(r)
		var quests []any
		for _, s := range r.URL.Query()["statuses"] {
			q := questJSON("q-"+s, s)
			q["status"] = s
			quests = append(quests, q)
		}
		writeJSON(w, 200, map[string]any{"quests": quests, "page": map[string]any{"next_page_token": "after-" + r.URL.Query().Get("page.page_size"), "total_size": len(quests)}})
	})
	mux.HandleFunc("POST /v1/players/{player_id}/quests", func(w http.ResponseWriter, r *http.Request) {
		s := l.record(r)
		l.generated.Add(1)
		if _, ok := s.Body["player_id"]; ok {
			writeJSON(w, 400, map[string]any{"detail": "player_id belongs in the path"})
			return
		}
		level, _ := s.Body["player_level"].(float64)
		writeJSON(w, 200, map[string]any{
			"quest": map[string]any{"quest_id": "gen-1", "title": fmt.Sprintf("A level %d quest in %v", int(level), s.Body["region_id"]), "difficulty": s.Body["difficulty"]},
			"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200, "cost_usd": 0.0004, "model": "legacy-gpt"},
		})
	})
	mux.HandleFunc("POST /gaming.quest_system.v1.QuestSystemService/{method}", func(w http.ResponseWriter, r *http.Request) {
		s := l.record(r)
		switch r.PathValue("method") {
		case "UpdateProgress":
			id, _ := s.Body["quest_id"].(string)
			if l.behaviour(w, r, id) {
				return
			}
			count, _ := s.Body["count"].(float64)
			writeJSON(w, 200, map[string]any{"quest": questJSON(id, "Updated"), "completable": count >= 3})
		case "CompleteQuest":
			writeJSON(w, 409, map[string]any{"detail": "objective o2 is not done"})
		case "AbandonQuest":
			w.WriteHeader(204)
		default:
			writeJSON(w, 404, map[string]any{"detail": "Not Found"})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		l.unblock()
		srv.Close()
	})
	return srv
}

// legacyWeather is WeatherManagerService on HTTP, routed by
// google.api.http annotations.
type legacyWeather struct{ legacy }

func regionWeather(region string) map[string]any {
	return map[string]any{
		"region_id": region,
		"current": map[string]any{"condition": "WEATHER_CONDITION_RAIN", "intensity": 0.5, "temperature_celsius": 11.5,
			"wind": map[string]any{"speed_mps": 4, "direction_degrees": 270}, "gameplay_modifiers": map[string]any{"visibility": 0.8}},
		"updated_at": "2026-11-02T10:00:00.250Z",
	}
}

func (l *legacyWeather) server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/worlds/{world_id}/regions/{region_id}/weather", func(w http.ResponseWriter, r *http.Request) {
		l.record(r)
		if l.behaviour(w, r, r.PathValue("region_id")) {
			return
		}
		writeJSON(w, 200, regionWeather(r.PathValue("world_id")+"/"+r.PathValue("region_id"))) // response_body: weather
	})
	mux.HandleFunc("GET /v1/worlds/{world_id}/regions/{region_id}/forecast", func(w http.ResponseWriter, r *http.Request) {
		l.record(r)
		writeJSON(w, 200, map[string]any{
			"entries":      []any{map[string]any{"valid_from": "2026-11-02T10:00:00Z", "probability": 0.7, "expected": map[string]any{"condition": "WEATHER_CONDITION_FOG"}}},
			"generated_at": "2026-11-02T09:59:00Z",
		})
	})
	mux.HandleFunc("POST /v1/worlds/{world_id}/weather:batchGet", func(w http.ResponseWriter, r *http.Request) {
		s := l.record(r)
		var results []any
		ids, _ := s.Body["region_ids"].([]any)
		for _, id := range ids {
			results = append(results, map[string]any{"region_id": id, "weather": regionWeather(fmt.Sprint(id))})
		}
		writeJSON(w, 200, map[string]any{"results": results})
	})
	mux.HandleFunc("POST /gaming.weather_manager.v1.WeatherManagerService/{method}", func(w http.ResponseWriter, r *http.Request) {
		s := l.record(r)
		writeJSON(w, 200, map[string]any{"transition": map[string]any{"transition_id": s.Body["transition_id"], "region_id": s.Body["region_id"], "status": "TRANSITION_STATUS_PENDING"}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		l.unblock()
		srv.Close()
	})
	return srv
}
