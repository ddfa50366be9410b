package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1/statemanagerv1natsrpc"
)

// questMicroName is the micro service name of the QuestSystemService.
const questMicroName = "gaming_quest_system_v1_QuestSystemService"

// questBook is a quest system that knows one quest ("q-1"): GetQuest finds
// it (after a short pause, so that handler time is measurable) and answers
// not_found for any other; ListQuests wants a player; the other methods are
// the generated Unimplemented ones.
type questBook struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

// questOne is what GetQuest answers for "q-1".
func questOne() *questsystemv1.GetQuestResponse {
	return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
		Quest: &questsystemv1.Quest{
			QuestId:          "q-1",
			Title:            "The Lost Lantern",
			RegionId:         "marsh",
			Difficulty:       questsystemv1.QuestDifficulty_QUEST_DIFFICULTY_HARD,
			RecommendedLevel: 12,
		},
		Status:     questsystemv1.QuestStatus_QUEST_STATUS_ACTIVE,
		AcceptedAt: timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		Progress:   map[string]*questsystemv1.ObjectiveProgress{"o-1": {ObjectiveId: "o-1", Count: 2}},
	}}
}

// handlerPause is how long a successful GetQuest takes at least.
const handlerPause = 2 * time.Millisecond

func (questBook) GetQuest(_ context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	if req.GetQuestId() != "q-1" {
		return nil, natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("no quest %q", req.GetQuestId()))
	}
	time.Sleep(handlerPause)
	return questOne(), nil
}

func (questBook) ListQuests(_ context.Context, req *questsystemv1.ListQuestsRequest) (*questsystemv1.ListQuestsResponse, error) {
	if req.GetPlayerId() == "" {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, errors.New("player_id is required"))
	}
	return &questsystemv1.ListQuestsResponse{}, nil
}

// natsCLI runs the real nats command line tool (natscli, pinned in
// tools/natscli/go.mod) against one server.
type natsCLI struct {
	bin     string
	url     string
	home    string
	timeout time.Duration // natscli's --timeout
}

// buildNatsCLI builds natscli from the pinned modfile into a temporary
// directory, so that nothing is installed by hand: `go build
// -modfile=tools/natscli/go.mod github.com/nats-io/natscli/nats`, run from
// the repository root. A cold build (empty build cache) takes about a
// minute on a 2-core machine; with the build cache warm, a few seconds.
func buildNatsCLI(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	modfile := filepath.Join(root, "tools", "natscli", "go.mod")
	if _, err := os.Stat(modfile); err != nil {
		t.Fatalf("natscli modfile: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build natscli: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nats")
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-modfile="+modfile, "-o", bin, "github.com/nats-io/natscli/nats")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build natscli: %v\n%s", err, out)
	}
	t.Logf("built natscli in %v", time.Since(start).Round(time.Millisecond))
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("nats --version: %v\n%s", err, out)
	}
	if v := strings.TrimSpace(string(out)); v != "v0.5.0" {
		t.Fatalf("nats --version = %q; want v0.5.0, the version tools/natscli/go.mod pins", v)
	}
	return bin
}

// cli returns a natsCLI for srv with an empty home directory, so that no
// nats context of the machine's user applies.
func cli(t *testing.T, bin string, srv *server.Server) natsCLI {
	t.Helper()
	return natsCLI{bin: bin, url: srv.ClientURL(), home: t.TempDir(), timeout: 5 * time.Second}
}

// run runs `nats --server URL args...` and returns its standard output and
// error; it fails t if nats exits with an error.
func (c natsCLI) run(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := c.try(t, args...)
	if err != nil {
		t.Fatalf("nats %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

func (c natsCLI) try(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--server", c.url, "--timeout", c.timeout.String()}, args...)...)
	env := []string{"HOME=" + c.home, "XDG_CONFIG_HOME=" + filepath.Join(c.home, ".config"), "NO_COLOR=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "NATS_") || name == "NOVALIDATE" || name == "HOME" || name == "XDG_CONFIG_HOME" {
			continue // the machine's nats settings, and schema validation stays on
		}
		env = append(env, kv)
	}
	cmd.Env = env
	cmd.Stdin = strings.NewReader("") // not a terminal: no prompts
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// decodeJSON decodes the JSON natscli printed into v, strictly.
func decodeJSON(t *testing.T, what, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
}

// headerLine matches a header natscli's req logs: "15:04:05 Name: value".
var headerLine = regexp.MustCompile(`(?m)^(?:[0-9/]+ )?(?:[0-9:.]+ )?([A-Za-z0-9-]+): (.*)$`)

// loggedHeaders collects the reply headers `nats req` logged on stderr.
func loggedHeaders(stderr string) map[string]string {
	h := map[string]string{}
	for _, m := range headerLine.FindAllStringSubmatch(stderr, -1) {
		h[m[1]] = strings.TrimRight(m[2], "\r")
	}
	return h
}

// TestNatsCLI checks the claims of docs/wire.md §8 and §10 with the real
// nats command line tool: natsrpc services are listed by `nats micro ls`,
// described by `nats micro info`, counted exactly by `nats micro stats`
// (all three validate the answers against the micro JSON schemas and drop
// what does not match), and `nats req` with a JSON content type gets a
// protojson answer, or the error in the headers.
func TestNatsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds natscli: skipped in -short mode")
	}
	t.Parallel()
	bin := buildNatsCLI(t)

	t.Run("ls", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		var quests []*natsrpc.Service
		for range 2 {
			quests = append(quests, serve(t)(questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, srv), questBook{})))
		}
		state := serve(t)(statemanagerv1natsrpc.RegisterStateManagerServiceHandler(natstest.Connect(t, srv), newStateManager()))
		nats := cli(t, bin, srv)

		out, _ := nats.run(t, "micro", "ls", "--json")
		var all []micro.Info
		decodeJSON(t, "micro ls", out, &all)
		got := map[string]string{} // id -> name
		for _, nfo := range all {
			got[nfo.ID] = nfo.Name
		}
		want := map[string]string{quests[0].ID(): questMicroName, quests[1].ID(): questMicroName, state.ID(): "gaming_state_manager_v1_StateManagerService"}
		if !maps.Equal(got, want) {
			t.Errorf("micro ls lists %v; want %v\n%s", got, want, out)
		}
		for _, nfo := range all {
			if nfo.Name == questMicroName && (nfo.Version != "1.0.0" || nfo.Description != questsystemv1natsrpc.QuestSystemServiceName) {
				t.Errorf("micro ls: %s version %q description %q", nfo.ID, nfo.Version, nfo.Description)
			}
		}

		out, _ = nats.run(t, "micro", "ls", questMicroName, "--json")
		var some []micro.Info
		decodeJSON(t, "micro ls NAME", out, &some)
		if len(some) != 2 || some[0].Name != questMicroName || some[1].Name != questMicroName {
			t.Errorf("micro ls %s lists %d instances; want the 2 quest systems\n%s", questMicroName, len(some), out)
		}

		// The table and ping read the same answers.
		out, _ = nats.run(t, "micro", "ls")
		for _, s := range []string{questMicroName, quests[0].ID(), quests[1].ID(), state.ID(), "1.0.0"} {
			if !strings.Contains(out, s) {
				t.Errorf("micro ls table lacks %q:\n%s", s, out)
			}
		}
		pinger := nats
		pinger.timeout = 500 * time.Millisecond // ping listens this long
		out, _ = pinger.run(t, "micro", "ping", questMicroName)
		for _, svc := range quests {
			if !strings.Contains(out, questMicroName+" "+svc.ID()) {
				t.Errorf("micro ping lacks instance %s:\n%s", svc.ID(), out)
			}
		}
	})

	t.Run("info", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		svc := serve(t)(questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, srv), questBook{}))
		nats := cli(t, bin, srv)

		out, _ := nats.run(t, "micro", "info", questMicroName, "--json")
		var got struct {
			Info  micro.Info  `json:"info"`
			Stats micro.Stats `json:"stats"`
		}
		decodeJSON(t, "micro info", out, &got)
		nfo := got.Info
		if nfo.Name != questMicroName || nfo.ID != svc.ID() || nfo.Version != "1.0.0" || nfo.Description != questsystemv1natsrpc.QuestSystemServiceName {
			t.Errorf("micro info: name %q id %q version %q description %q", nfo.Name, nfo.ID, nfo.Version, nfo.Description)
		}
		if nfo.Metadata["proto.service"] != questsystemv1natsrpc.QuestSystemServiceName || nfo.Metadata["natsrpc.version"] == "" {
			t.Errorf("micro info metadata %v", nfo.Metadata)
		}
		var names []string
		for _, ep := range nfo.Endpoints {
			names = append(names, ep.Name)
			if ep.Subject != "gaming.quest_system.v1.QuestSystemService."+ep.Name || ep.QueueGroup != "q" {
				t.Errorf("endpoint %s: subject %q queue group %q", ep.Name, ep.Subject, ep.QueueGroup)
			}
		}
		slices.Sort(names)
		if want := []string{"AbandonQuest", "CompleteQuest", "GenerateQuest", "GetQuest", "ListQuests", "UpdateProgress"}; !slices.Equal(names, want) {
			t.Errorf("micro info endpoints %v; want %v", names, want)
		}
		for _, ep := range nfo.Endpoints {
			if ep.Name != "GetQuest" {
				continue
			}
			for k, v := range map[string]string{
				"natsrpc.procedure":     questsystemv1natsrpc.QuestSystemServiceGetQuestProcedure,
				"natsrpc.request":       "gaming.quest_system.v1.GetQuestRequest",
				"natsrpc.response":      "gaming.quest_system.v1.GetQuestResponse",
				"natsrpc.kind":          "unary",
				"natsrpc.idempotency":   "no_side_effects",
				"natsrpc.content_types": "application/protobuf,application/json",
			} {
				if ep.Metadata[k] != v {
					t.Errorf("GetQuest metadata %s = %q; want %q", k, ep.Metadata[k], v)
				}
			}
		}
		if got.Stats.ID != svc.ID() || len(got.Stats.Endpoints) != 6 {
			t.Errorf("micro info stats: id %q, %d endpoints", got.Stats.ID, len(got.Stats.Endpoints))
		}

		// The human-readable form, and one instance by id.
		out, _ = nats.run(t, "micro", "info", questMicroName, svc.ID())
		for _, s := range []string{questMicroName, svc.ID(), "gaming.quest_system.v1.QuestSystemService.GetQuest", "natsrpc.procedure", "pool_concurrency"} {
			if !strings.Contains(out, s) {
				t.Errorf("micro info lacks %q:\n%s", s, out)
			}
		}
	})

	t.Run("stats", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		svc := serve(t)(questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, srv), questBook{}))
		client := questsystemv1natsrpc.NewQuestSystemServiceClient(natstest.Connect(t, srv))
		const ok, failed = 7, 3
		for i := range ok + failed {
			id := "q-1"
			if i >= ok {
				id = fmt.Sprintf("q-missing-%d", i)
			}
			_, err := client.GetQuest(t.Context(), &questsystemv1.GetQuestRequest{PlayerId: "p-1", QuestId: id})
			if (err == nil) != (i < ok) {
				t.Fatalf("GetQuest %s: %v", id, err)
			}
		}
		if _, err := client.ListQuests(t.Context(), &questsystemv1.ListQuestsRequest{PlayerId: "p-1"}); err != nil {
			t.Fatal(err)
		}
		nats := cli(t, bin, srv)

		out, _ := nats.run(t, "micro", "stats", questMicroName, "--json")
		var all []micro.Stats
		decodeJSON(t, "micro stats", out, &all)
		if len(all) != 1 || all[0].ID != svc.ID() || all[0].Name != questMicroName {
			t.Fatalf("micro stats answered %d instances; want the one service %s\n%s", len(all), svc.ID(), out)
		}
		if all[0].Started.IsZero() || time.Since(all[0].Started) > time.Minute {
			t.Errorf("started %v", all[0].Started)
		}
		eps := map[string]*micro.EndpointStats{}
		for _, ep := range all[0].Endpoints {
			eps[ep.Name] = ep
		}
		get := eps["GetQuest"]
		if get == nil {
			t.Fatalf("no GetQuest in the stats:\n%s", out)
		}
		if get.NumRequests != ok+failed || get.NumErrors != failed {
			t.Errorf("GetQuest: %d requests, %d errors; want %d and %d", get.NumRequests, get.NumErrors, ok+failed, failed)
		}
		if want := `not_found: no quest "q-missing-9"`; get.LastError != want {
			t.Errorf("GetQuest last_error %q; want %q", get.LastError, want)
		}
		if get.ProcessingTime < ok*handlerPause || get.AverageProcessingTime != get.ProcessingTime/time.Duration(ok+failed) {
			t.Errorf("GetQuest processing time %v, average %v; want at least %v in total", get.ProcessingTime, get.AverageProcessingTime, ok*handlerPause)
		}
		if get.QueueGroup != "q" || get.Subject != questsystemv1natsrpc.QuestSystemServiceGetQuestSubject {
			t.Errorf("GetQuest subject %q queue group %q", get.Subject, get.QueueGroup)
		}
		var data struct {
			InFlight int64 `json:"in_flight"`
			Rejected int64 `json:"rejected"`
		}
		if err := json.Unmarshal(get.Data, &data); err != nil || data.InFlight != 0 || data.Rejected != 0 {
			t.Errorf("GetQuest data %s: %v", get.Data, err)
		}
		if l := eps["ListQuests"]; l == nil || l.NumRequests != 1 || l.NumErrors != 0 || l.ProcessingTime <= 0 {
			t.Errorf("ListQuests stats %+v; want one successful request", l)
		}
		if g := eps["GenerateQuest"]; g == nil || g.NumRequests != 0 || g.ProcessingTime != 0 {
			t.Errorf("GenerateQuest stats %+v; want untouched", g)
		}

		out, _ = nats.run(t, "micro", "stats", questMicroName)
		if !regexp.MustCompile(`GetQuest\s*│\s*10\s*│\s*q\s*│\s*3\s*│`).MatchString(out) {
			t.Errorf("micro stats table does not show GetQuest with 10 requests in q and 3 errors:\n%s", out)
		}
	})

	t.Run("req", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		svc := serve(t)(questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, srv), questBook{}))
		serve(t)(statemanagerv1natsrpc.RegisterStateManagerServiceHandler(natstest.Connect(t, srv), newStateManager()))
		nats := cli(t, bin, srv)
		jsonType := "Content-Type:application/json"

		// Success: a protojson answer, marked as JSON.
		stdout, stderr := nats.run(t, "req", questsystemv1natsrpc.QuestSystemServiceGetQuestSubject, `{"playerId": "p-1", "quest_id": "q-1"}`, "-H", jsonType)
		var res questsystemv1.GetQuestResponse
		if err := protojson.Unmarshal([]byte(strings.TrimSpace(stdout)), &res); err != nil {
			t.Fatalf("nats req: the answer is not protojson: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !proto.Equal(&res, questOne()) {
			t.Errorf("nats req answered %v; want %v", &res, questOne())
		}
		if !strings.Contains(stdout, `"questId":"q-1"`) && !strings.Contains(stdout, `"questId": "q-1"`) {
			t.Errorf("the answer does not use protojson's lowerCamelCase names:\n%s", stdout)
		}
		h := loggedHeaders(stderr)
		if h["Content-Type"] != "application/json" {
			t.Errorf("success headers %v; want Content-Type application/json\n%s", h, stderr)
		}
		for _, k := range []string{"Nats-Service-Error", "Nats-Service-Error-Code", "Nats-Rpc-Code"} {
			if _, ok := h[k]; ok {
				t.Errorf("a success carries %s\n%s", k, stderr)
			}
		}

		// `nats micro request` finds the endpoint through $SRV.INFO.
		stdout, _ = nats.run(t, "micro", "request", questMicroName, "GetQuest", `{"questId": "q-1"}`, "-H", jsonType, "--raw")
		res.Reset()
		if err := protojson.Unmarshal([]byte(strings.TrimSpace(stdout)), &res); err != nil || res.GetQuest().GetQuest().GetTitle() != "The Lost Lantern" {
			t.Errorf("nats micro request: %v\n%s", err, stdout)
		}

		// Errors arrive in the headers, with an empty body (no details).
		for _, tc := range []struct {
			name, subject, body, svcCode, rpcCode, message string
		}{
			{"handler error", questsystemv1natsrpc.QuestSystemServiceGetQuestSubject, `{"questId": "q-9"}`, "404", "not_found", `no quest "q-9"`},
			{"unimplemented method", questsystemv1natsrpc.QuestSystemServiceAbandonQuestSubject, `{"questId": "q-1"}`, "501", "unimplemented", ""},
			{"undecodable request", questsystemv1natsrpc.QuestSystemServiceGetQuestSubject, `{"questId": 7`, "400", "invalid_argument", ""},
			{"validation", questsystemv1natsrpc.QuestSystemServiceListQuestsSubject, `{}`, "400", "invalid_argument", "player_id is required"},
			{"plain request on a stream", statemanagerv1natsrpc.StateManagerServiceWatchSubject, `{}`, "400", "invalid_argument", ""},
		} {
			stdout, stderr := nats.run(t, "req", tc.subject, tc.body, "-H", jsonType)
			h := loggedHeaders(stderr)
			if h["Nats-Service-Error-Code"] != tc.svcCode || h["Nats-Rpc-Code"] != tc.rpcCode || h["Nats-Service-Error"] == "" {
				t.Errorf("%s: headers %v; want Nats-Service-Error-Code %s, Nats-Rpc-Code %s and a message\n%s", tc.name, h, tc.svcCode, tc.rpcCode, stderr)
			}
			if tc.message != "" && h["Nats-Service-Error"] != tc.message {
				t.Errorf("%s: Nats-Service-Error %q; want %q", tc.name, h["Nats-Service-Error"], tc.message)
			}
			if body := strings.TrimSpace(stdout); body != "nil body" { // natscli's word for an empty body
				t.Errorf("%s: body %q; want none", tc.name, body)
			}
		}

		// A method the service does not have: nobody subscribes, and
		// nats-server's no-responders status says so at once.
		start := time.Now()
		_, stderr = nats.run(t, "req", "gaming.quest_system.v1.QuestSystemService.NoSuchMethod", `{}`, "-H", jsonType)
		if !strings.Contains(stderr, "No responders are available") || time.Since(start) > 4*time.Second {
			t.Errorf("a missing method: %v later\n%s", time.Since(start), stderr)
		}

		// Every call above is in the stats natscli reads.
		out, _ := nats.run(t, "micro", "stats", questMicroName, "--json")
		var all []micro.Stats
		decodeJSON(t, "micro stats", out, &all)
		counts := map[string][2]int{}
		for _, st := range all {
			if st.ID != svc.ID() {
				t.Errorf("stats from %s", st.ID)
			}
			for _, ep := range st.Endpoints {
				counts[ep.Name] = [2]int{ep.NumRequests, ep.NumErrors}
			}
		}
		if counts["GetQuest"] != [2]int{4, 2} || counts["AbandonQuest"] != [2]int{1, 1} || counts["ListQuests"] != [2]int{1, 1} {
			t.Errorf("requests and errors per method after the nats req calls: %v", counts)
		}
	})
}
