package protodiff

import (
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	aiv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

func quest() *questv1.GetQuestResponse {
	return &questv1.GetQuestResponse{Quest: &questv1.PlayerQuest{
		Quest: &questv1.Quest{
			QuestId: "q-1",
			Title:   "The lost sword",
			Objectives: []*questv1.Objective{
				{ObjectiveId: "o1", Description: "find the cave", Target: &questv1.Objective_LocationId{LocationId: "cave"}},
				{ObjectiveId: "o2", Description: "slay the troll", Target: &questv1.Objective_NpcId{NpcId: "troll"}},
			},
			Rewards:   []*questv1.Reward{{Kind: &questv1.Reward_Experience{Experience: 100}}},
			CreatedAt: timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9)),
		},
		Status: questv1.QuestStatus_QUEST_STATUS_ACTIVE,
		Progress: map[string]*questv1.ObjectiveProgress{
			"o1": {ObjectiveId: "o1", Count: 1, Done: true},
			"o2": {ObjectiveId: "o2"},
		},
	}}
}

func mustNew(t *testing.T, o Options) *Comparer {
	t.Helper()
	c, err := New((&questv1.GetQuestResponse{}).ProtoReflect().Descriptor(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		edit func(m *questv1.GetQuestResponse)
		want []string
	}{
		{"equal", Options{}, func(*questv1.GetQuestResponse) {}, nil},
		{"scalar", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.Title = "The found sword" }, []string{"quest.quest.title"}},
		{"enum", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Status = questv1.QuestStatus_QUEST_STATUS_FAILED }, []string{"quest.status"}},
		{"ignored scalar", Options{Ignore: []string{"quest.quest.title"}}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.Title = "x" }, nil},
		{"ignored message", Options{Ignore: []string{"quest.quest.created_at"}}, func(m *questv1.GetQuestResponse) {
			m.Quest.Quest.CreatedAt = timestamppb.New(m.Quest.Quest.CreatedAt.AsTime().Add(1))
		}, nil},
		{"ignore one field, another differs", Options{Ignore: []string{"quest.quest.created_at"}}, func(m *questv1.GetQuestResponse) {
			m.Quest.Quest.CreatedAt = nil
			m.Quest.Quest.Summary = "s"
		}, []string{"quest.quest.summary"}},
		{"nested timestamp", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.CreatedAt.Nanos = 5 }, []string{"quest.quest.created_at.nanos"}},
		{"element", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.Objectives[1].Description = "befriend the troll" }, []string{"quest.quest.objectives[1].description"}},
		{"ignored through a list", Options{Ignore: []string{"quest.quest.objectives.description"}}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.Objectives[1].Description = "x" }, nil},
		{"oneof member", Options{}, func(m *questv1.GetQuestResponse) {
			m.Quest.Quest.Objectives[0].Target = &questv1.Objective_NpcId{NpcId: "cave"}
		}, []string{"quest.quest.objectives[0].npc_id", "quest.quest.objectives[0].location_id"}},
		{"length", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.Objectives = m.Quest.Quest.Objectives[:1] }, []string{"quest.quest.objectives"}},
		{"order", Options{}, func(m *questv1.GetQuestResponse) {
			o := m.Quest.Quest.Objectives
			o[0], o[1] = o[1], o[0]
		}, []string{"quest.quest.objectives[0].objective_id", "quest.quest.objectives[0].description", "quest.quest.objectives[0].npc_id", "quest.quest.objectives[0].location_id",
			"quest.quest.objectives[1].objective_id", "quest.quest.objectives[1].description", "quest.quest.objectives[1].npc_id", "quest.quest.objectives[1].location_id"}},
		{"unordered, permuted", Options{Unordered: []string{"quest.quest.objectives"}}, func(m *questv1.GetQuestResponse) {
			o := m.Quest.Quest.Objectives
			o[0], o[1] = o[1], o[0]
		}, nil},
		{"unordered, element differs", Options{Unordered: []string{"quest.quest.objectives"}}, func(m *questv1.GetQuestResponse) {
			o := m.Quest.Quest.Objectives
			o[0], o[1] = o[1], o[0]
			o[0].Description = "x"
		}, []string{"quest.quest.objectives"}},
		{"unordered with an ignored field", Options{Unordered: []string{"quest.quest.objectives"}, Ignore: []string{"quest.quest.objectives.description"}}, func(m *questv1.GetQuestResponse) {
			o := m.Quest.Quest.Objectives
			o[0], o[1] = o[1], o[0]
			o[0].Description = "x"
		}, nil},
		{"map value", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Progress["o1"].Count = 2 }, []string{`quest.progress["o1"].count`}},
		{"map key", Options{}, func(m *questv1.GetQuestResponse) {
			delete(m.Quest.Progress, "o2")
			m.Quest.Progress["o3"] = &questv1.ObjectiveProgress{}
		}, []string{`quest.progress["o2"]`, `quest.progress["o3"]`}},
		{"map ignored inside", Options{Ignore: []string{"quest.progress.count"}}, func(m *questv1.GetQuestResponse) { m.Quest.Progress["o1"].Count = 2 }, nil},
		{"unset equals empty", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest.TimeLimit = &durationpb.Duration{} }, nil},
		{"a nil map value is an empty message", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Progress["o2"] = nil }, []string{`quest.progress["o2"].objective_id`}},
		{"unset against a set field", Options{}, func(m *questv1.GetQuestResponse) { m.Quest.Quest = nil }, []string{
			"quest.quest.quest_id", "quest.quest.title", "quest.quest.objectives", "quest.quest.rewards", "quest.quest.created_at.seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := quest(), quest()
			b.Quest.Quest.CreatedAt = proto.CloneOf(a.Quest.Quest.CreatedAt)
			tc.edit(b)
			c := mustNew(t, tc.opts)
			got := c.Diff(a.ProtoReflect(), b.ProtoReflect())
			if !slices.Equal(got, tc.want) {
				t.Errorf("Diff = %q; want %q", got, tc.want)
			}
			if eq := c.Equal(a.ProtoReflect(), b.ProtoReflect()); eq != (len(tc.want) == 0) {
				t.Errorf("Equal = %v with paths %q", eq, got)
			}
			// Symmetric, and the same for a dynamic message of the type.
			if back := c.Diff(b.ProtoReflect(), a.ProtoReflect()); len(back) != len(got) {
				t.Errorf("Diff(b, a) = %q; Diff(a, b) = %q", back, got)
			}
			dyn := dynamicpb.NewMessage(a.ProtoReflect().Descriptor())
			raw, err := proto.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(raw, dyn); err != nil {
				t.Fatal(err)
			}
			if got2 := c.Diff(dyn, b.ProtoReflect()); !slices.Equal(got2, got) {
				t.Errorf("dynamic: Diff = %q; want %q", got2, got)
			}
		})
	}
}

func TestPresenceAndFloats(t *testing.T) {
	c, err := New((&aiv1.SamplingParams{}).ProtoReflect().Descriptor(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	zero := float32(0)
	a := &aiv1.SamplingParams{Temperature: &zero, PresencePenalty: float32(math.NaN())}
	b := &aiv1.SamplingParams{PresencePenalty: float32(math.NaN())}
	if got := c.Diff(a.ProtoReflect(), b.ProtoReflect()); !slices.Equal(got, []string{"temperature"}) {
		t.Errorf("an explicit zero against unset: %q; want [temperature]", got)
	}
	b.Temperature = &zero
	if got := c.Diff(a.ProtoReflect(), b.ProtoReflect()); got != nil {
		t.Errorf("NaN against NaN: %q; want none", got)
	}
}

func TestMaxPaths(t *testing.T) {
	c := mustNew(t, Options{})
	a, b := quest(), quest()
	for i := 0; i < 2*MaxPaths; i++ {
		k := strings.Repeat("k", i+1)
		a.Quest.Progress[k] = &questv1.ObjectiveProgress{Count: 1}
	}
	b.Quest.Quest.CreatedAt = a.Quest.Quest.CreatedAt
	if got := c.Diff(a.ProtoReflect(), b.ProtoReflect()); len(got) != MaxPaths {
		t.Errorf("%d paths; want the bound, %d", len(got), MaxPaths)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Ignore: []string{"quest.nope"}}, `ignore "quest.nope": gaming.quest_system.v1.PlayerQuest has no field "nope"`},
		{Options{Ignore: []string{""}}, `ignore "": empty path: name a field, e.g. "quest"`},
		{Options{Ignore: []string{"quest.status.x"}}, `field "status" is not a message: "x" cannot follow it`},
		{Options{Unordered: []string{"quest.quest"}}, `unordered "quest.quest": field "quest" is not repeated`},
		{Options{Unordered: []string{"quest.progress"}}, `field "progress" is not repeated (maps are always compared by key)`},
		{Options{Ignore: []string{"quest.progress.count"}, Unordered: []string{"quest.quest.objectives"}}, ""},
	} {
		_, err := New((&questv1.GetQuestResponse{}).ProtoReflect().Descriptor(), tc.opts)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("New(%+v): %v", tc.opts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("New(%+v) = %v; want %q", tc.opts, err, tc.want)
		}
	}
}
