package workload

import (
	"strings"
	"time"

	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// The types below are what the studio's HTTP services use today: plain Go
// structs with encoding/json tags, written by hand, carrying the same data
// as the protobuf messages. Conventions are the common ones for Go JSON
// APIs: camelCase names, omitempty on optional scalars, enums as short
// lowercase strings ("high", not 4), timestamps as RFC 3339 strings
// (time.Time), durations in milliseconds, oneofs as one pointer field per
// member, google.protobuf.Struct as map[string]any.
//
// FromProto* converters build them from the protobuf fixtures, so both rows
// carry the same data, and DecideJSON/GenerateQuestJSON compute the same
// answers as Decide/GenerateQuest (workload_test.go proves it).

// MetaJSON is gaming.common.v1.Meta.
type MetaJSON struct {
	RequestID string            `json:"requestId"`
	TraceID   string            `json:"traceId,omitempty"`
	SpanID    string            `json:"spanId,omitempty"`
	Caller    string            `json:"caller,omitempty"`
	PlayerID  string            `json:"playerId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	Locale    string            `json:"locale,omitempty"`
	SentAt    time.Time         `json:"sentAt"`
	Deadline  time.Time         `json:"deadline"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// TokenUsageJSON is gaming.common.v1.TokenUsage.
type TokenUsageJSON struct {
	PromptTokens     int32   `json:"promptTokens"`
	CompletionTokens int32   `json:"completionTokens"`
	TotalTokens      int32   `json:"totalTokens"`
	CostUSD          float64 `json:"costUsd"`
	Model            string  `json:"model,omitempty"`
	Provider         string  `json:"provider,omitempty"`
}

// Vector3JSON is gaming.npc_behavior.v1.Vector3.
type Vector3JSON struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
	Z float32 `json:"z"`
}

// PerceivedEntityJSON is gaming.npc_behavior.v1.PerceivedEntity.
type PerceivedEntityJSON struct {
	EntityID       string       `json:"entityId"`
	Kind           string       `json:"kind"`
	Position       *Vector3JSON `json:"position,omitempty"`
	Distance       float32      `json:"distance"`
	ThreatLevel    string       `json:"threatLevel"`
	Visible        bool         `json:"visible"`
	HealthFraction float32      `json:"healthFraction"`
	FactionID      string       `json:"factionId,omitempty"`
}

// PerceptionJSON is gaming.npc_behavior.v1.Perception.
type PerceptionJSON struct {
	SelfPosition       *Vector3JSON          `json:"selfPosition,omitempty"`
	SelfHealthFraction float32               `json:"selfHealthFraction"`
	Entities           []PerceivedEntityJSON `json:"entities,omitempty"`
	InventoryItemIDs   []string              `json:"inventoryItemIds,omitempty"`
	Environment        map[string]string     `json:"environment,omitempty"`
}

// MemoryJSON is gaming.npc_behavior.v1.Memory.
type MemoryJSON struct {
	MemoryID         string    `json:"memoryId"`
	Kind             string    `json:"kind"`
	Content          string    `json:"content"`
	Importance       float32   `json:"importance"`
	SubjectEntityIDs []string  `json:"subjectEntityIds,omitempty"`
	OccurredAt       time.Time `json:"occurredAt"`
}

// GoalJSON is gaming.npc_behavior.v1.Goal.
type GoalJSON struct {
	GoalID         string       `json:"goalId"`
	Description    string       `json:"description,omitempty"`
	Priority       int32        `json:"priority"`
	TargetEntityID string       `json:"targetEntityId,omitempty"`
	TargetPosition *Vector3JSON `json:"targetPosition,omitempty"`
}

// DecideRequestJSON is gaming.npc_behavior.v1.DecideRequest.
type DecideRequestJSON struct {
	Meta            *MetaJSON       `json:"meta,omitempty"`
	NpcID           string          `json:"npcId"`
	PersonaID       string          `json:"personaId"`
	PersonaVersion  int64           `json:"personaVersion,omitempty"`
	Perception      *PerceptionJSON `json:"perception,omitempty"`
	RecentMemories  []MemoryJSON    `json:"recentMemories,omitempty"`
	CurrentGoal     *GoalJSON       `json:"currentGoal,omitempty"`
	MaxAlternatives int32           `json:"maxAlternatives,omitempty"`
}

// ActionJSON is gaming.npc_behavior.v1.Action: exactly one field is set.
type ActionJSON struct {
	Move    *MoveActionJSON    `json:"move,omitempty"`
	Speak   *SpeakActionJSON   `json:"speak,omitempty"`
	Attack  *AttackActionJSON  `json:"attack,omitempty"`
	UseItem *UseItemActionJSON `json:"useItem,omitempty"`
	Idle    *IdleActionJSON    `json:"idle,omitempty"`
	Flee    *FleeActionJSON    `json:"flee,omitempty"`
}

// MoveActionJSON is gaming.npc_behavior.v1.MoveAction.
type MoveActionJSON struct {
	Position *Vector3JSON `json:"position,omitempty"`
	EntityID string       `json:"entityId,omitempty"`
	Speed    string       `json:"speed"`
}

// SpeakActionJSON is gaming.npc_behavior.v1.SpeakAction.
type SpeakActionJSON struct {
	Text           string `json:"text"`
	TargetEntityID string `json:"targetEntityId,omitempty"`
	Emotion        string `json:"emotion"`
}

// AttackActionJSON is gaming.npc_behavior.v1.AttackAction.
type AttackActionJSON struct {
	TargetEntityID string `json:"targetEntityId"`
	AbilityID      string `json:"abilityId,omitempty"`
}

// UseItemActionJSON is gaming.npc_behavior.v1.UseItemAction.
type UseItemActionJSON struct {
	ItemID         string `json:"itemId"`
	TargetEntityID string `json:"targetEntityId,omitempty"`
}

// IdleActionJSON is gaming.npc_behavior.v1.IdleAction.
type IdleActionJSON struct {
	DurationMs  int64  `json:"durationMs"`
	AnimationID string `json:"animationId,omitempty"`
}

// FleeActionJSON is gaming.npc_behavior.v1.FleeAction.
type FleeActionJSON struct {
	FromEntityID string `json:"fromEntityId"`
}

// ScoredActionJSON is gaming.npc_behavior.v1.ScoredAction.
type ScoredActionJSON struct {
	Action     *ActionJSON `json:"action"`
	Confidence float32     `json:"confidence"`
}

// DecideResponseJSON is gaming.npc_behavior.v1.DecideResponse.
type DecideResponseJSON struct {
	DecisionID   string             `json:"decisionId"`
	Action       *ActionJSON        `json:"action"`
	Confidence   float32            `json:"confidence"`
	Rationale    string             `json:"rationale,omitempty"`
	Alternatives []ScoredActionJSON `json:"alternatives,omitempty"`
	Usage        *TokenUsageJSON    `json:"usage,omitempty"`
}

// GenerateQuestRequestJSON is gaming.quest_system.v1.GenerateQuestRequest.
type GenerateQuestRequestJSON struct {
	Meta             *MetaJSON         `json:"meta,omitempty"`
	PlayerID         string            `json:"playerId"`
	PlayerLevel      int32             `json:"playerLevel"`
	RegionID         string            `json:"regionId"`
	Difficulty       string            `json:"difficulty,omitempty"`
	StoryArcID       string            `json:"storyArcId,omitempty"`
	ExcludedQuestIDs []string          `json:"excludedQuestIds,omitempty"`
	Hints            map[string]string `json:"hints,omitempty"`
}

// ObjectiveJSON is gaming.quest_system.v1.Objective.
type ObjectiveJSON struct {
	ObjectiveID   string `json:"objectiveId"`
	Description   string `json:"description"`
	RequiredCount int32  `json:"requiredCount"`
	NpcID         string `json:"npcId,omitempty"`
	ItemID        string `json:"itemId,omitempty"`
	LocationID    string `json:"locationId,omitempty"`
	Optional      bool   `json:"optional,omitempty"`
}

// FactionReputationJSON is gaming.quest_system.v1.FactionReputation.
type FactionReputationJSON struct {
	FactionID string `json:"factionId"`
	Amount    int32  `json:"amount"`
}

// RewardJSON is gaming.quest_system.v1.Reward: exactly one field is set.
type RewardJSON struct {
	Experience int64                  `json:"experience,omitempty"`
	Currency   int64                  `json:"currency,omitempty"`
	ItemID     string                 `json:"itemId,omitempty"`
	Reputation *FactionReputationJSON `json:"reputation,omitempty"`
}

// QuestJSON is gaming.quest_system.v1.Quest.
type QuestJSON struct {
	QuestID          string          `json:"questId"`
	Title            string          `json:"title"`
	Summary          string          `json:"summary"`
	GiverNpcID       string          `json:"giverNpcId,omitempty"`
	RegionID         string          `json:"regionId"`
	Difficulty       string          `json:"difficulty"`
	RecommendedLevel int32           `json:"recommendedLevel"`
	Objectives       []ObjectiveJSON `json:"objectives"`
	Rewards          []RewardJSON    `json:"rewards"`
	TimeLimitMs      int64           `json:"timeLimitMs,omitempty"`
	CreatedAt        time.Time       `json:"createdAt"`
	Attributes       map[string]any  `json:"attributes,omitempty"`
}

// GenerateQuestResponseJSON is gaming.quest_system.v1.GenerateQuestResponse.
type GenerateQuestResponseJSON struct {
	Quest *QuestJSON      `json:"quest"`
	Usage *TokenUsageJSON `json:"usage,omitempty"`
}

// enumJSON turns THREAT_LEVEL_HIGH into "high".
func enumJSON(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

var threatRank = map[string]int{"unspecified": 0, "none": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// DecideJSON is Decide on the JSON types.
func DecideJSON(req *DecideRequestJSON) *DecideResponseJSON {
	var p PerceptionJSON
	if req.Perception != nil {
		p = *req.Perception
	}
	health := p.SelfHealthFraction
	var threat *PerceivedEntityJSON
	for i := range p.Entities {
		if e := &p.Entities[i]; e.Visible && threatRank[e.ThreatLevel] >= threatRank["medium"] {
			threat = e
			break
		}
	}
	var goalPos *Vector3JSON
	var goalID string
	if req.CurrentGoal != nil {
		goalPos, goalID = req.CurrentGoal.TargetPosition, req.CurrentGoal.GoalID
	}
	var requestID string
	if req.Meta != nil {
		requestID = req.Meta.RequestID
	}
	res := &DecideResponseJSON{DecisionID: requestID + "/" + req.NpcID, Usage: decideUsageJSON()}
	switch {
	case threat != nil && health < fleeBelowHealth:
		res.Action = &ActionJSON{Flee: &FleeActionJSON{FromEntityID: threat.EntityID}}
		res.Confidence = 0.91
		res.Rationale = "health " + percent(health) + " and " + threat.EntityID + " is THREAT_LEVEL_" + strings.ToUpper(threat.ThreatLevel) + ": flee"
	case threat != nil:
		res.Action = &ActionJSON{Attack: &AttackActionJSON{TargetEntityID: threat.EntityID, AbilityID: attackAbility}}
		res.Confidence = 0.84
		res.Rationale = "health " + percent(health) + " and " + threat.EntityID + " is THREAT_LEVEL_" + strings.ToUpper(threat.ThreatLevel) + ": engage"
	case goalPos != nil:
		res.Action = moveToJSON(goalPos)
		res.Confidence = 0.77
		res.Rationale = "no threat: pursue " + goalID
	default:
		res.Action = idleJSON()
		res.Confidence = 0.6
		res.Rationale = "no threat and no goal: idle"
	}
	for i := int32(0); i < req.MaxAlternatives && i < 3; i++ {
		var a *ActionJSON
		switch i {
		case 0:
			a = &ActionJSON{Speak: &SpeakActionJSON{Text: guardBark, Emotion: "angry"}}
		case 1:
			if goalPos != nil {
				a = moveToJSON(goalPos)
			} else {
				a = idleJSON()
			}
		default:
			a = idleJSON()
		}
		res.Alternatives = append(res.Alternatives, ScoredActionJSON{Action: a, Confidence: res.Confidence - 0.2*float32(i+1)})
	}
	return res
}

func moveToJSON(pos *Vector3JSON) *ActionJSON {
	return &ActionJSON{Move: &MoveActionJSON{Position: &Vector3JSON{X: pos.X, Y: pos.Y, Z: pos.Z}, Speed: "walk"}}
}

func idleJSON() *ActionJSON {
	return &ActionJSON{Idle: &IdleActionJSON{DurationMs: 5000, AnimationID: idleAnimation}}
}

func decideUsageJSON() *TokenUsageJSON { return tokenUsageJSON(decideUsage()) }

var difficultyJSON = map[string]int64{"easy": 1, "normal": 2, "hard": 3, "legendary": 4}

// GenerateQuestJSON is GenerateQuest on the JSON types.
func GenerateQuestJSON(req *GenerateQuestRequestJSON) *GenerateQuestResponseJSON {
	diff := req.Difficulty
	if diff == "" || diff == "unspecified" {
		diff = "normal"
	}
	mult := difficultyJSON[diff]
	level := req.PlayerLevel
	region := req.RegionID
	hints := req.Hints
	var requestID string
	var sentAt time.Time
	if req.Meta != nil {
		requestID, sentAt = req.Meta.RequestID, req.Meta.SentAt
	}
	id := "quest_" + requestID[:8]
	return &GenerateQuestResponseJSON{
		Quest: &QuestJSON{
			QuestID:          id,
			Title:            difficultyTitle[questv1.QuestDifficulty(mult)],
			Summary:          questSummary,
			GiverNpcID:       hints["giver"],
			RegionID:         region,
			Difficulty:       diff,
			RecommendedLevel: level + int32(mult) - 1,
			Objectives: []ObjectiveJSON{
				{ObjectiveID: id + "_o1", Description: "Search the river road for the missing wagons.", RequiredCount: 1, LocationID: region + "_river_road"},
				{ObjectiveID: id + "_o2", Description: "Defeat the Redcloak scouts watching the pine ridge.", RequiredCount: 3 * int32(mult), NpcID: "npc_bandit_scout_0933"},
				{ObjectiveID: id + "_o3", Description: "Recover the guild ledger from the bandit camp.", RequiredCount: 1, ItemID: "item_guild_ledger"},
				{ObjectiveID: id + "_o4", Description: "Free the captured drivers (optional).", RequiredCount: 2, Optional: true, LocationID: region + "_quarry_camp"},
			},
			Rewards: []RewardJSON{
				{Experience: 250 * int64(level) * mult},
				{Currency: 40 * int64(level) * mult},
				{ItemID: "item_" + region + "_signet_ring"},
				{Reputation: &FactionReputationJSON{FactionID: hints["faction"], Amount: -int32(50 * mult)}},
			},
			TimeLimitMs: questTimeLimit.Milliseconds(),
			CreatedAt:   sentAt,
			Attributes: map[string]any{
				"story_arc_id": req.StoryArcID,
				"theme":        hints["theme"],
				"seed":         float64(level)*7919 + float64(mult),
				"voiced":       true,
			},
		},
		Usage: tokenUsageJSON(questUsage()),
	}
}

// Converters from the protobuf messages.

func metaJSON(m *commonv1.Meta) *MetaJSON {
	if m == nil {
		return nil
	}
	return &MetaJSON{
		RequestID: m.GetRequestId(), TraceID: m.GetTraceId(), SpanID: m.GetSpanId(), Caller: m.GetCaller(),
		PlayerID: m.GetPlayerId(), SessionID: m.GetSessionId(), Locale: m.GetLocale(),
		SentAt: m.GetSentAt().AsTime(), Deadline: m.GetDeadline().AsTime(), Labels: m.GetLabels(),
	}
}

func tokenUsageJSON(u *commonv1.TokenUsage) *TokenUsageJSON {
	if u == nil {
		return nil
	}
	return &TokenUsageJSON{
		PromptTokens: u.GetPromptTokens(), CompletionTokens: u.GetCompletionTokens(), TotalTokens: u.GetTotalTokens(),
		CostUSD: u.GetCostUsd(), Model: u.GetModel(), Provider: u.GetProvider(),
	}
}

func vector3JSON(v *npcv1.Vector3) *Vector3JSON {
	if v == nil {
		return nil
	}
	return &Vector3JSON{X: v.GetX(), Y: v.GetY(), Z: v.GetZ()}
}

// FromProtoDecideRequest converts the protobuf request to the JSON twin.
func FromProtoDecideRequest(r *npcv1.DecideRequest) *DecideRequestJSON {
	out := &DecideRequestJSON{
		Meta: metaJSON(r.GetMeta()), NpcID: r.GetNpcId(),
		PersonaID: r.GetPersona().GetPersonaId(), PersonaVersion: r.GetPersona().GetVersion(),
		MaxAlternatives: r.GetMaxAlternatives(),
	}
	if p := r.GetPerception(); p != nil {
		pj := &PerceptionJSON{
			SelfPosition: vector3JSON(p.GetSelfPosition()), SelfHealthFraction: p.GetSelfHealthFraction(),
			InventoryItemIDs: p.GetInventoryItemIds(), Environment: p.GetEnvironment(),
		}
		for _, e := range p.GetEntities() {
			pj.Entities = append(pj.Entities, PerceivedEntityJSON{
				EntityID: e.GetEntityId(), Kind: enumJSON(e.GetKind().String(), "ENTITY_KIND_"),
				Position: vector3JSON(e.GetPosition()), Distance: e.GetDistance(),
				ThreatLevel: enumJSON(e.GetThreatLevel().String(), "THREAT_LEVEL_"), Visible: e.GetVisible(),
				HealthFraction: e.GetHealthFraction(), FactionID: e.GetFactionId(),
			})
		}
		out.Perception = pj
	}
	for _, m := range r.GetRecentMemories() {
		out.RecentMemories = append(out.RecentMemories, MemoryJSON{
			MemoryID: m.GetMemoryId(), Kind: enumJSON(m.GetKind().String(), "MEMORY_KIND_"), Content: m.GetContent(),
			Importance: m.GetImportance(), SubjectEntityIDs: m.GetSubjectEntityIds(), OccurredAt: m.GetOccurredAt().AsTime(),
		})
	}
	if g := r.GetCurrentGoal(); g != nil {
		out.CurrentGoal = &GoalJSON{
			GoalID: g.GetGoalId(), Description: g.GetDescription(), Priority: g.GetPriority(),
			TargetEntityID: g.GetTargetEntityId(), TargetPosition: vector3JSON(g.GetTargetPosition()),
		}
	}
	return out
}

func actionJSON(a *npcv1.Action) *ActionJSON {
	if a == nil {
		return nil
	}
	switch k := a.GetKind().(type) {
	case *npcv1.Action_Move:
		return &ActionJSON{Move: &MoveActionJSON{
			Position: vector3JSON(k.Move.GetPosition()), EntityID: k.Move.GetEntityId(),
			Speed: enumJSON(k.Move.GetSpeed().String(), "MOVE_SPEED_"),
		}}
	case *npcv1.Action_Speak:
		return &ActionJSON{Speak: &SpeakActionJSON{
			Text: k.Speak.GetText(), TargetEntityID: k.Speak.GetTargetEntityId(),
			Emotion: enumJSON(k.Speak.GetEmotion().String(), "EMOTION_"),
		}}
	case *npcv1.Action_Attack:
		return &ActionJSON{Attack: &AttackActionJSON{TargetEntityID: k.Attack.GetTargetEntityId(), AbilityID: k.Attack.GetAbilityId()}}
	case *npcv1.Action_UseItem:
		return &ActionJSON{UseItem: &UseItemActionJSON{ItemID: k.UseItem.GetItemId(), TargetEntityID: k.UseItem.GetTargetEntityId()}}
	case *npcv1.Action_Idle:
		return &ActionJSON{Idle: &IdleActionJSON{DurationMs: k.Idle.GetDuration().AsDuration().Milliseconds(), AnimationID: k.Idle.GetAnimationId()}}
	case *npcv1.Action_Flee:
		return &ActionJSON{Flee: &FleeActionJSON{FromEntityID: k.Flee.GetFromEntityId()}}
	}
	return &ActionJSON{}
}

// FromProtoDecideResponse converts the protobuf response to the JSON twin.
func FromProtoDecideResponse(r *npcv1.DecideResponse) *DecideResponseJSON {
	out := &DecideResponseJSON{
		DecisionID: r.GetDecisionId(), Action: actionJSON(r.GetAction()), Confidence: r.GetConfidence(),
		Rationale: r.GetRationale(), Usage: tokenUsageJSON(r.GetUsage()),
	}
	for _, a := range r.GetAlternatives() {
		out.Alternatives = append(out.Alternatives, ScoredActionJSON{Action: actionJSON(a.GetAction()), Confidence: a.GetConfidence()})
	}
	return out
}

// FromProtoGenerateQuestRequest converts the protobuf request to the JSON twin.
func FromProtoGenerateQuestRequest(r *questv1.GenerateQuestRequest) *GenerateQuestRequestJSON {
	return &GenerateQuestRequestJSON{
		Meta: metaJSON(r.GetMeta()), PlayerID: r.GetPlayerId(), PlayerLevel: r.GetPlayerLevel(),
		RegionID: r.GetRegionId(), Difficulty: enumJSON(r.GetDifficulty().String(), "QUEST_DIFFICULTY_"),
		StoryArcID: r.GetStoryArcId(), ExcludedQuestIDs: r.GetExcludedQuestIds(), Hints: r.GetHints(),
	}
}

// FromProtoGenerateQuestResponse converts the protobuf response to the JSON twin.
func FromProtoGenerateQuestResponse(r *questv1.GenerateQuestResponse) *GenerateQuestResponseJSON {
	q := r.GetQuest()
	out := &GenerateQuestResponseJSON{Usage: tokenUsageJSON(r.GetUsage())}
	if q == nil {
		return out
	}
	qj := &QuestJSON{
		QuestID: q.GetQuestId(), Title: q.GetTitle(), Summary: q.GetSummary(), GiverNpcID: q.GetGiverNpcId(),
		RegionID: q.GetRegionId(), Difficulty: enumJSON(q.GetDifficulty().String(), "QUEST_DIFFICULTY_"),
		RecommendedLevel: q.GetRecommendedLevel(), TimeLimitMs: q.GetTimeLimit().AsDuration().Milliseconds(),
		CreatedAt: q.GetCreatedAt().AsTime(), Attributes: q.GetAttributes().AsMap(),
	}
	for _, o := range q.GetObjectives() {
		qj.Objectives = append(qj.Objectives, ObjectiveJSON{
			ObjectiveID: o.GetObjectiveId(), Description: o.GetDescription(), RequiredCount: o.GetRequiredCount(),
			NpcID: o.GetNpcId(), ItemID: o.GetItemId(), LocationID: o.GetLocationId(), Optional: o.GetOptional(),
		})
	}
	for _, rw := range q.GetRewards() {
		rj := RewardJSON{Experience: rw.GetExperience(), Currency: rw.GetCurrency(), ItemID: rw.GetItemId()}
		if rep := rw.GetReputation(); rep != nil {
			rj.Reputation = &FactionReputationJSON{FactionID: rep.GetFactionId(), Amount: rep.GetAmount()}
		}
		qj.Rewards = append(qj.Rewards, rj)
	}
	out.Quest = qj
	return out
}
