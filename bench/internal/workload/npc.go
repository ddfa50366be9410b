// Package workload holds the two calls the unary benchmark makes, NPC
// decisions (gaming.npc_behavior.v1.NPCBehaviorService.Decide, the hot path
// called every decision tick) and quest generation
// (gaming.quest_system.v1.QuestSystemService.GenerateQuest): realistic
// requests, the handler logic that computes the answer, and a plain Go
// struct twin of both for the HTTP+JSON row.
//
// Every transport's handler runs the same logic on the same data, so the
// rows differ only in what the transport costs: encoding, framing, headers,
// connections, dispatch.
package workload

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
)

// fixtureTime is the fixed instant the fixtures are stamped with, so that
// payloads have the same size in every run.
var fixtureTime = time.Date(2026, 3, 14, 18, 42, 7, 312_845_000, time.UTC)

// Meta is the request metadata every studio service sends: ids are the
// real lengths (UUID request id, W3C trace and span ids).
func Meta(caller string) *commonv1.Meta {
	return &commonv1.Meta{
		RequestId: "5f0c9a7e-3b1d-4c62-9e8f-a41d27c6b903",
		TraceId:   "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanId:    "00f067aa0ba902b7",
		Caller:    caller,
		PlayerId:  "player_8d41c2e7",
		SessionId: "sess_2f9b6a1c7e30",
		Locale:    "en-US",
		SentAt:    timestamppb.New(fixtureTime),
		Deadline:  timestamppb.New(fixtureTime.Add(2 * time.Second)),
		Labels:    map[string]string{"region": "eu-west", "shard": "7", "build": "1.8.3-rc2"},
	}
}

// DecideRequest is the request of one decision tick for a town guard who
// sees a wolf pack while on patrol: eight perceived entities, five recent
// memories, a goal. About 1.6 KB of protobuf.
func DecideRequest() *npcv1.DecideRequest {
	entity := func(id string, kind npcv1.EntityKind, x, y, z, dist float32, threat npcv1.ThreatLevel, visible bool, health float32, faction string) *npcv1.PerceivedEntity {
		return &npcv1.PerceivedEntity{
			EntityId: id, Kind: kind, Position: &npcv1.Vector3{X: x, Y: y, Z: z}, Distance: dist,
			ThreatLevel: threat, Visible: visible, HealthFraction: health, FactionId: faction,
		}
	}
	memory := func(id string, kind npcv1.MemoryKind, content string, importance float32, ago time.Duration, subjects ...string) *npcv1.Memory {
		return &npcv1.Memory{
			MemoryId: id, Kind: kind, Content: content, Importance: importance,
			SubjectEntityIds: subjects, OccurredAt: timestamppb.New(fixtureTime.Add(-ago)),
		}
	}
	return &npcv1.DecideRequest{
		Meta:    Meta("world-simulation"),
		NpcId:   "npc_guard_ironvale_0421",
		Persona: &npcv1.PersonaRef{PersonaId: "persona_town_guard_veteran", Version: 12},
		Perception: &npcv1.Perception{
			SelfPosition:       &npcv1.Vector3{X: 18452.5, Y: -3320.25, Z: 412},
			SelfHealthFraction: 0.62,
			Entities: []*npcv1.PerceivedEntity{
				entity("player_8d41c2e7", npcv1.EntityKind_ENTITY_KIND_PLAYER, 18530, -3290.5, 410, 84.3, npcv1.ThreatLevel_THREAT_LEVEL_NONE, true, 0.95, "faction_ironvale"),
				entity("item_dropped_sword_77", npcv1.EntityKind_ENTITY_KIND_ITEM, 18610.75, -3350, 408, 161.2, npcv1.ThreatLevel_THREAT_LEVEL_NONE, true, 1, ""),
				entity("creature_wolf_alpha_19", npcv1.EntityKind_ENTITY_KIND_CREATURE, 18890, -3120, 415, 481.7, npcv1.ThreatLevel_THREAT_LEVEL_HIGH, true, 1, "faction_wild_beasts"),
				entity("creature_wolf_20", npcv1.EntityKind_ENTITY_KIND_CREATURE, 18940.5, -3080, 416, 543.9, npcv1.ThreatLevel_THREAT_LEVEL_MEDIUM, true, 0.8, "faction_wild_beasts"),
				entity("creature_wolf_21", npcv1.EntityKind_ENTITY_KIND_CREATURE, 18975, -3060.25, 417, 583.1, npcv1.ThreatLevel_THREAT_LEVEL_MEDIUM, false, 0, "faction_wild_beasts"),
				entity("npc_merchant_hilda_0107", npcv1.EntityKind_ENTITY_KIND_NPC, 18201, -3402, 411, 264.8, npcv1.ThreatLevel_THREAT_LEVEL_NONE, true, 1, "faction_ironvale"),
				entity("object_gate_lever_east", npcv1.EntityKind_ENTITY_KIND_OBJECT, 18399.5, -3512, 409, 199.4, npcv1.ThreatLevel_THREAT_LEVEL_NONE, true, 0, ""),
				entity("npc_bandit_scout_0933", npcv1.EntityKind_ENTITY_KIND_NPC, 19610, -2900, 430, 1232.6, npcv1.ThreatLevel_THREAT_LEVEL_LOW, false, 0, "faction_redcloak_bandits"),
			},
			InventoryItemIds: []string{"item_iron_halberd_03", "item_health_potion_minor", "item_signal_horn", "item_torch"},
			Environment:      map[string]string{"time_of_day": "dusk", "weather": "light_rain", "alert_level": "raised", "zone": "ironvale_east_gate"},
		},
		RecentMemories: []*npcv1.Memory{
			memory("mem_0421_1882", npcv1.MemoryKind_MEMORY_KIND_OBSERVATION, "Heard wolves howling beyond the east gate shortly after sunset; the sound came from the pine ridge.", 0.7, 9*time.Minute, "creature_wolf_alpha_19"),
			memory("mem_0421_1879", npcv1.MemoryKind_MEMORY_KIND_DIALOGUE, "The player asked about the missing caravan; I told them the last wagons were seen on the river road.", 0.55, 31*time.Minute, "player_8d41c2e7"),
			memory("mem_0421_1871", npcv1.MemoryKind_MEMORY_KIND_INTERACTION, "Hilda the merchant paid me to keep an eye on her stall until the night watch arrives.", 0.4, 74*time.Minute, "npc_merchant_hilda_0107"),
			memory("mem_0421_1850", npcv1.MemoryKind_MEMORY_KIND_OBSERVATION, "A scout in a red cloak watched the gate from the tree line and left when I approached.", 0.8, 3*time.Hour, "npc_bandit_scout_0933"),
			memory("mem_0421_1802", npcv1.MemoryKind_MEMORY_KIND_REFLECTION, "The wolves have grown bolder since the bandits started hunting deer in the valley.", 0.65, 26*time.Hour),
		},
		CurrentGoal: &npcv1.Goal{
			GoalId:      "goal_patrol_east_wall",
			Description: "Patrol the east wall until the night watch relieves you, and keep the gate closed after dark.",
			Priority:    6,
			Target:      &npcv1.Goal_TargetPosition{TargetPosition: &npcv1.Vector3{X: 18620, Y: -3515.5, Z: 409}},
		},
		MaxAlternatives: 2,
	}
}

// decideUsage is the LLM usage the decision reports.
func decideUsage() *commonv1.TokenUsage {
	return &commonv1.TokenUsage{
		PromptTokens: 812, CompletionTokens: 64, TotalTokens: 876,
		CostUsd: 0.000331, Model: "npc-brain-8b-q4", Provider: "local",
	}
}

const (
	fleeBelowHealth = 0.35
	guardBark       = "Wolves at the gate! Everyone inside, now!"
	attackAbility   = "ability_halberd_sweep"
	idleAnimation   = "anim_idle_lean_on_halberd"
)

// percent renders a 0-1 fraction as a whole percentage.
func percent(f float32) string {
	return strconv.Itoa(int(f*100+0.5)) + "%"
}

// Decide is the NPC decision handler: flee from the nearest visible threat
// when hurt, fight it otherwise, else walk towards the current goal, else
// idle; plus up to max_alternatives runner-up actions.
func Decide(req *npcv1.DecideRequest) *npcv1.DecideResponse {
	p := req.GetPerception()
	health := p.GetSelfHealthFraction()
	var threat *npcv1.PerceivedEntity
	for _, e := range p.GetEntities() { // nearest first
		if e.GetVisible() && e.GetThreatLevel() >= npcv1.ThreatLevel_THREAT_LEVEL_MEDIUM {
			threat = e
			break
		}
	}
	goalPos := req.GetCurrentGoal().GetTargetPosition()
	res := &npcv1.DecideResponse{
		DecisionId: req.GetMeta().GetRequestId() + "/" + req.GetNpcId(),
		Usage:      decideUsage(),
	}
	switch {
	case threat != nil && health < fleeBelowHealth:
		res.Action = &npcv1.Action{Kind: &npcv1.Action_Flee{Flee: &npcv1.FleeAction{FromEntityId: threat.GetEntityId()}}}
		res.Confidence = 0.91
		res.Rationale = "health " + percent(health) + " and " + threat.GetEntityId() + " is " + threat.GetThreatLevel().String() + ": flee"
	case threat != nil:
		res.Action = &npcv1.Action{Kind: &npcv1.Action_Attack{Attack: &npcv1.AttackAction{TargetEntityId: threat.GetEntityId(), AbilityId: attackAbility}}}
		res.Confidence = 0.84
		res.Rationale = "health " + percent(health) + " and " + threat.GetEntityId() + " is " + threat.GetThreatLevel().String() + ": engage"
	case goalPos != nil:
		res.Action = moveTo(goalPos)
		res.Confidence = 0.77
		res.Rationale = "no threat: pursue " + req.GetCurrentGoal().GetGoalId()
	default:
		res.Action = idle()
		res.Confidence = 0.6
		res.Rationale = "no threat and no goal: idle"
	}
	for i := int32(0); i < req.GetMaxAlternatives() && i < 3; i++ {
		var a *npcv1.Action
		switch i {
		case 0:
			a = &npcv1.Action{Kind: &npcv1.Action_Speak{Speak: &npcv1.SpeakAction{Text: guardBark, Emotion: npcv1.Emotion_EMOTION_ANGRY}}}
		case 1:
			if goalPos != nil {
				a = moveTo(goalPos)
			} else {
				a = idle()
			}
		default:
			a = idle()
		}
		res.Alternatives = append(res.Alternatives, &npcv1.ScoredAction{Action: a, Confidence: res.Confidence - 0.2*float32(i+1)})
	}
	return res
}

func moveTo(pos *npcv1.Vector3) *npcv1.Action {
	return &npcv1.Action{Kind: &npcv1.Action_Move{Move: &npcv1.MoveAction{
		Destination: &npcv1.MoveAction_Position{Position: &npcv1.Vector3{X: pos.GetX(), Y: pos.GetY(), Z: pos.GetZ()}},
		Speed:       npcv1.MoveSpeed_MOVE_SPEED_WALK,
	}}}
}

func idle() *npcv1.Action {
	return &npcv1.Action{Kind: &npcv1.Action_Idle{Idle: &npcv1.IdleAction{Duration: durationpb.New(5 * time.Second), AnimationId: idleAnimation}}}
}
