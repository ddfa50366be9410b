package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	nrpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/contrib/shadow"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

const questSvc = "gaming.quest_system.v1.QuestSystemService"

// nextQuests is the quest service's replacement under the prefix "next":
// its titles differ from the legacy service's (the difference the report
// must find), its updated_at always does (ignored by the rules file).
type nextQuests struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (nextQuests) GetQuest(_ context.Context, req *questv1.GetQuestRequest) (*questv1.GetQuestResponse, error) {
	return &questv1.GetQuestResponse{Quest: &questv1.PlayerQuest{
		Quest:     &questv1.Quest{QuestId: req.GetQuestId(), Title: "Quest " + req.GetQuestId()},
		UpdatedAt: timestamppb.Now(),
	}}, nil
}

// TestMigrationCommands runs the migration as the docs tell it: `natsrpc
// bridge` in front of an HTTP service with shadow traffic to a
// replacement, `natsrpc shadow report` in both formats, `natsrpc cutover`
// from the registry and from a descriptor set. The libraries are tested
// in their modules.
func TestMigrationCommands(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	if _, err := env.Client.Push(registrytest.Ctx(t, time.Minute), testschema.GamingPushRequest()); err != nil {
		t.Fatal(err)
	}
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/v1/quests/")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"quest": map[string]any{"quest": map[string]any{"quest_id": id, "title": "The " + id}, "updated_at": "2026-01-01T00:00:00Z"}})
	}))
	defer legacy.Close()
	dir := t.TempDir()
	rules := filepath.Join(dir, "quests.yaml")
	if err := os.WriteFile(rules, []byte(`http:
  rules:
  - selector: gaming.quest_system.v1.QuestSystemService.GetQuest
    get: /v1/quests/{quest_id}
natsrpc:
  shadow:
  - selector: gaming.quest_system.v1.QuestSystemService.GetQuest
    rate: 1
    ignore: [quest.updated_at]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, env.Server), nextQuests{}, nrpc.WithSubjectPrefix("next"))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())

	url := env.Server.ClientURL()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startNatsrpc(ctx, "-s", url, "bridge", "--service", questSvc, "--http", legacy.URL, "--http-rules", rules, "--shadow-prefix", "next")
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(r.stdout.String(), "press Ctrl-C") {
		select {
		case code := <-r.done:
			t.Fatalf("natsrpc bridge exited %d:\n%s\n%s", code, r.stdout, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", r.stdout, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		"natsrpc bridge serving gaming.quest_system.v1.QuestSystemService",
		"GetQuest                 GET /v1/quests/{quest_id}  [rules file]",
		`shadow traffic to the candidate under "next": GetQuest 1`,
	} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, r.stdout)
		}
	}
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(env.Conn)
	for _, id := range []string{"q-1", "q-2", "q-3"} {
		res, err := client.GetQuest(registrytest.Ctx(t, 10*time.Second), &questv1.GetQuestRequest{QuestId: id})
		if err != nil || res.GetQuest().GetQuest().GetTitle() != "The "+id {
			t.Fatalf("through the bridge: %v, %v", res, err)
		}
	}
	var rep shadow.Report
	for {
		out := natsrpc(t, "-s", url, "shadow", "report", "--service", questSvc, "--format", "json")
		if out.code != 0 {
			t.Fatalf("shadow report: %d\n%s", out.code, out.stderr)
		}
		if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, out.stdout)
		}
		if strings.Count(out.stdout, "\n") != 1 {
			t.Fatalf("--format json is not one line:\n%s", out.stdout)
		}
		if len(rep.Services) == 1 && rep.Services[0].Methods[0].Kept == 3 && rep.Services[0].Methods[0].Stats.Compared == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report: %s", out.stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := rep.Services[0].Methods[0]
	if m.Method != "GetQuest" || m.Stats.Different != 3 || len(m.Paths) != 1 || m.Paths[0].Path != "quest.quest.title" {
		t.Fatalf("report %+v", m)
	}
	text := natsrpc(t, "-s", url, "shadow", "report")
	text.want(t, 0, "gaming_quest_system_v1_QuestSystemService: 1 instance(s) mirroring", "")
	for _, want := range []string{"GetQuest: 3 difference(s) kept", "quest.quest.title", "differs in 3"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, text.stdout)
		}
	}
	// The latest pair kept (the mirrors run concurrently: any of the three).
	if !regexp.MustCompile(`quest\.quest\.title: primary "The (q-\d)", candidate "Quest (q-\d)"`).MatchString(text.stdout) {
		t.Errorf("text report lacks the latest pair's values:\n%s", text.stdout)
	}
	if strings.Contains(text.stdout, "updated_at\n") || strings.Contains(text.stdout, "quest.updated_at") {
		t.Errorf("the ignored field is reported:\n%s", text.stdout)
	}
	cancel()
	select {
	case code := <-r.done:
		if code != 0 || !strings.Contains(r.stdout.String(), "natsrpc bridge stopped") {
			t.Errorf("exit %d\n%s\n%s", code, r.stdout, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bridge did not stop")
	}

	// cutover, from the registry and from a descriptor set.
	fromRegistry := natsrpc(t, "-s", url, "cutover", "--service", questSvc, "--percent", "25", "--method", "GetQuest")
	fromRegistry.want(t, 0, `"gaming.quest_system.v1.QuestSystemService.GetQuest": [
    {destination: "next.gaming.quest_system.v1.QuestSystemService.GetQuest", weight: 25%}
    {destination: "gaming.quest_system.v1.QuestSystemService.GetQuest", weight: 75%}
  ]`, "")
	set, _ := testschema.GamingSet()
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	setFile := filepath.Join(dir, "gaming.binpb")
	if err := os.WriteFile(setFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := natsrpc(t, "-s", "nats://127.0.0.1:1", "cutover", "--service", questSvc, "--percent", "25", "--method", "GetQuest", "--descriptor-set", setFile)
	if fromFile.code != 0 || fromFile.stdout != fromRegistry.stdout {
		t.Fatalf("from a file (no NATS needed): %d\n%s\n%s\nfrom the registry:\n%s", fromFile.code, fromFile.stdout, fromFile.stderr, fromRegistry.stdout)
	}
}

func TestMigrationCommandErrors(t *testing.T) {
	t.Parallel()
	natsrpc(t, "bridge", "--http", "http://127.0.0.1:1").want(t, 1, "", "--service is required")
	natsrpc(t, "bridge", "--service", questSvc).want(t, 1, "", "--http is required")
	natsrpc(t, "bridge", "--service", questSvc, "--http", "http://h", "--shadow-rate", "0.5").want(t, 1, "", "--shadow-rate and --shadow-timeout need --shadow-prefix")
	rules := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(rules, []byte("natsrpc:\n  bridge:\n  - selector: a.B.C\n    status: {404: gone}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	natsrpc(t, "bridge", "--service", questSvc, "--http", "http://h", "--http-rules", rules).want(t, 1, "", rules+`:4: status 404: "gone" is not a natsrpc error code`)
	natsrpc(t, "cutover", "--service", questSvc).want(t, 1, "", "--percent is required")
	natsrpc(t, "cutover", "--percent", "5").want(t, 1, "", "--service is required")
	natsrpc(t, "cutover", "--service", questSvc, "--percent", "120", "--descriptor-set", filepath.Join(t.TempDir(), "none.binpb")).want(t, 1, "", "no such file")
	natsrpc(t, "shadow", "report", "--format", "yaml").want(t, 1, "", `--format "yaml": use text or json`)
	natsrpc(t, "shadow", "report", "extra").want(t, 1, "", "no arguments")
}
