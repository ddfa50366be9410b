package workload

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// GenerateQuestRequest asks for a hard quest for a level 23 player in the
// Ironvale region: a small request (about 400 bytes of protobuf) that gets
// a large answer.
func GenerateQuestRequest() *questv1.GenerateQuestRequest {
	return &questv1.GenerateQuestRequest{
		Meta:             Meta("story-teller"),
		PlayerId:         "player_8d41c2e7",
		PlayerLevel:      23,
		RegionId:         "region_ironvale",
		Difficulty:       questv1.QuestDifficulty_QUEST_DIFFICULTY_HARD,
		StoryArcId:       "arc_redcloak_rising",
		ExcludedQuestIds: []string{"quest_3c1a77e0", "quest_91b2f4d5", "quest_0e6d3a18", "quest_57c9e2b4"},
		Hints:            map[string]string{"giver": "npc_captain_maren_0012", "theme": "missing caravan", "faction": "faction_redcloak_bandits"},
	}
}

func questUsage() *commonv1.TokenUsage {
	return &commonv1.TokenUsage{
		PromptTokens: 1460, CompletionTokens: 538, TotalTokens: 1998,
		CostUsd: 0.00412, Model: "story-weaver-70b", Provider: "studio-gpu-pool",
	}
}

const (
	questSummary = "The supply caravan from the river road never reached the gate. Captain Maren suspects the Redcloaks, " +
		"who have been seen scouting the pine ridge at dusk. Find the wagons, learn who took the cargo, and bring " +
		"back proof before the guild council meets at dawn. The wolves on the ridge have grown bold; travel light " +
		"and keep to the old quarry path."
	questTimeLimit = 45 * time.Minute
)

var difficultyTitle = map[questv1.QuestDifficulty]string{
	questv1.QuestDifficulty_QUEST_DIFFICULTY_EASY:      "A Quiet Errand",
	questv1.QuestDifficulty_QUEST_DIFFICULTY_NORMAL:    "Trouble on the Road",
	questv1.QuestDifficulty_QUEST_DIFFICULTY_HARD:      "The Vanished Caravan",
	questv1.QuestDifficulty_QUEST_DIFFICULTY_LEGENDARY: "Ashes of the Redcloak",
}

// GenerateQuest is the quest generation handler: a four-objective quest
// scaled to the player's level and the difficulty, with its rewards.
func GenerateQuest(req *questv1.GenerateQuestRequest) *questv1.GenerateQuestResponse {
	diff := req.GetDifficulty()
	if diff == questv1.QuestDifficulty_QUEST_DIFFICULTY_UNSPECIFIED {
		diff = questv1.QuestDifficulty_QUEST_DIFFICULTY_NORMAL
	}
	level := req.GetPlayerLevel()
	mult := int64(diff)
	region := req.GetRegionId()
	hints := req.GetHints()
	faction := hints["faction"]
	id := "quest_" + req.GetMeta().GetRequestId()[:8]
	attrs := &structpb.Struct{Fields: map[string]*structpb.Value{
		"story_arc_id": structpb.NewStringValue(req.GetStoryArcId()),
		"theme":        structpb.NewStringValue(hints["theme"]),
		"seed":         structpb.NewNumberValue(float64(level)*7919 + float64(mult)),
		"voiced":       structpb.NewBoolValue(true),
	}}
	return &questv1.GenerateQuestResponse{
		Quest: &questv1.Quest{
			QuestId:          id,
			Title:            difficultyTitle[diff],
			Summary:          questSummary,
			GiverNpcId:       hints["giver"],
			RegionId:         region,
			Difficulty:       diff,
			RecommendedLevel: level + int32(mult) - 1,
			Objectives: []*questv1.Objective{
				{ObjectiveId: id + "_o1", Description: "Search the river road for the missing wagons.", RequiredCount: 1,
					Target: &questv1.Objective_LocationId{LocationId: region + "_river_road"}},
				{ObjectiveId: id + "_o2", Description: "Defeat the Redcloak scouts watching the pine ridge.", RequiredCount: 3 * int32(mult),
					Target: &questv1.Objective_NpcId{NpcId: "npc_bandit_scout_0933"}},
				{ObjectiveId: id + "_o3", Description: "Recover the guild ledger from the bandit camp.", RequiredCount: 1,
					Target: &questv1.Objective_ItemId{ItemId: "item_guild_ledger"}},
				{ObjectiveId: id + "_o4", Description: "Free the captured drivers (optional).", RequiredCount: 2, Optional: true,
					Target: &questv1.Objective_LocationId{LocationId: region + "_quarry_camp"}},
			},
			Rewards: []*questv1.Reward{
				{Kind: &questv1.Reward_Experience{Experience: 250 * int64(level) * mult}},
				{Kind: &questv1.Reward_Currency{Currency: 40 * int64(level) * mult}},
				{Kind: &questv1.Reward_ItemId{ItemId: "item_" + region + "_signet_ring"}},
				{Kind: &questv1.Reward_Reputation{Reputation: &questv1.FactionReputation{FactionId: faction, Amount: -int32(50 * mult)}}},
			},
			TimeLimit:  durationpb.New(questTimeLimit),
			CreatedAt:  timestamppb.New(req.GetMeta().GetSentAt().AsTime()),
			Attributes: attrs,
		},
		Usage: questUsage(),
	}
}
