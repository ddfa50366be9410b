package workload

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	npcv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

// Call is one benchmarked RPC with everything a transport needs to serve
// and make it, in protobuf and in JSON.
type Call struct {
	// Name is the method name, e.g. "Decide".
	Name string
	// Service is the full proto name of the service.
	Service string
	// Subject is the NATS subject natsrpc derives for the method (the raw
	// nats.go row uses the same subject).
	Subject string
	// Request returns the fixture request.
	Request func() proto.Message
	// NewResponse returns an empty response to unmarshal into.
	NewResponse func() proto.Message
	// NewRequest returns an empty request to unmarshal into.
	NewRequest func() proto.Message
	// Handle is the handler logic.
	Handle func(proto.Message) proto.Message
	// Check verifies a response cheaply (inside the measured loop).
	Check func(proto.Message) error

	// JSONRequest returns the fixture request as the JSON twin.
	JSONRequest func() any
	// NewJSONRequest and NewJSONResponse return empty JSON twins.
	NewJSONRequest, NewJSONResponse func() any
	// HandleJSON is Handle on the JSON twins.
	HandleJSON func(any) any
	// CheckJSON is Check on the JSON twin of the response.
	CheckJSON func(any) error
	// ResponseJSON converts a protobuf response to its JSON twin (tests).
	ResponseJSON func(proto.Message) any
}

var errWrongAnswer = errors.New("wrong answer")

// DecideCall is NPCBehaviorService.Decide.
var DecideCall = &Call{
	Name:        "Decide",
	Service:     "gaming.npc_behavior.v1.NPCBehaviorService",
	Subject:     "gaming.npc_behavior.v1.NPCBehaviorService.Decide",
	Request:     func() proto.Message { return DecideRequest() },
	NewRequest:  func() proto.Message { return new(npcv1.DecideRequest) },
	NewResponse: func() proto.Message { return new(npcv1.DecideResponse) },
	Handle:      func(m proto.Message) proto.Message { return Decide(m.(*npcv1.DecideRequest)) },
	Check: func(m proto.Message) error {
		r, ok := m.(*npcv1.DecideResponse)
		if !ok || r.GetAction().GetAttack().GetTargetEntityId() != "creature_wolf_alpha_19" || len(r.GetAlternatives()) != 2 {
			return fmt.Errorf("Decide: %w", errWrongAnswer)
		}
		return nil
	},
	JSONRequest:     func() any { return FromProtoDecideRequest(DecideRequest()) },
	NewJSONRequest:  func() any { return new(DecideRequestJSON) },
	NewJSONResponse: func() any { return new(DecideResponseJSON) },
	HandleJSON:      func(v any) any { return DecideJSON(v.(*DecideRequestJSON)) },
	ResponseJSON:    func(m proto.Message) any { return FromProtoDecideResponse(m.(*npcv1.DecideResponse)) },
	CheckJSON: func(v any) error {
		r, ok := v.(*DecideResponseJSON)
		if !ok || r.Action == nil || r.Action.Attack == nil || r.Action.Attack.TargetEntityID != "creature_wolf_alpha_19" || len(r.Alternatives) != 2 {
			return fmt.Errorf("Decide: %w", errWrongAnswer)
		}
		return nil
	},
}

// GenerateQuestCall is QuestSystemService.GenerateQuest.
var GenerateQuestCall = &Call{
	Name:        "GenerateQuest",
	Service:     "gaming.quest_system.v1.QuestSystemService",
	Subject:     "gaming.quest_system.v1.QuestSystemService.GenerateQuest",
	Request:     func() proto.Message { return GenerateQuestRequest() },
	NewRequest:  func() proto.Message { return new(questv1.GenerateQuestRequest) },
	NewResponse: func() proto.Message { return new(questv1.GenerateQuestResponse) },
	Handle:      func(m proto.Message) proto.Message { return GenerateQuest(m.(*questv1.GenerateQuestRequest)) },
	Check: func(m proto.Message) error {
		r, ok := m.(*questv1.GenerateQuestResponse)
		if !ok || r.GetQuest().GetQuestId() != "quest_5f0c9a7e" || len(r.GetQuest().GetObjectives()) != 4 {
			return fmt.Errorf("GenerateQuest: %w", errWrongAnswer)
		}
		return nil
	},
	JSONRequest:     func() any { return FromProtoGenerateQuestRequest(GenerateQuestRequest()) },
	NewJSONRequest:  func() any { return new(GenerateQuestRequestJSON) },
	NewJSONResponse: func() any { return new(GenerateQuestResponseJSON) },
	HandleJSON:      func(v any) any { return GenerateQuestJSON(v.(*GenerateQuestRequestJSON)) },
	ResponseJSON:    func(m proto.Message) any { return FromProtoGenerateQuestResponse(m.(*questv1.GenerateQuestResponse)) },
	CheckJSON: func(v any) error {
		r, ok := v.(*GenerateQuestResponseJSON)
		if !ok || r.Quest == nil || r.Quest.QuestID != "quest_5f0c9a7e" || len(r.Quest.Objectives) != 4 {
			return fmt.Errorf("GenerateQuest: %w", errWrongAnswer)
		}
		return nil
	},
}

// Calls are the benchmarked RPCs in table order.
var Calls = []*Call{DecideCall, GenerateQuestCall}
