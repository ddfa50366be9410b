package payload

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/natsrpc/natsrpc/bench/internal/workload"
	"github.com/natsrpc/natsrpc/internal/spec"
	aiintegrationv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	airouterv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_router/v1"
	bodybrokerqaorchestratorv1 "github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1"
	capabilityregistryv1 "github.com/natsrpc/natsrpc/proto/gaming/capability_registry/v1"
	environmentalnarrativev1 "github.com/natsrpc/natsrpc/proto/gaming/environmental_narrative/v1"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	knowledgebasev1 "github.com/natsrpc/natsrpc/proto/gaming/knowledge_base/v1"
	languagesystemv1 "github.com/natsrpc/natsrpc/proto/gaming/language_system/v1"
	modelmanagementv1 "github.com/natsrpc/natsrpc/proto/gaming/model_management/v1"
	npcbehaviorv1 "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	orchestrationv1 "github.com/natsrpc/natsrpc/proto/gaming/orchestration/v1"
	paymentv1 "github.com/natsrpc/natsrpc/proto/gaming/payment/v1"
	performancemodev1 "github.com/natsrpc/natsrpc/proto/gaming/performance_mode/v1"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	routerv1 "github.com/natsrpc/natsrpc/proto/gaming/router/v1"
	settingsv1 "github.com/natsrpc/natsrpc/proto/gaming/settings/v1"
	statemanagerv1 "github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1"
	storytellerv1 "github.com/natsrpc/natsrpc/proto/gaming/story_teller/v1"
	timemanagerv1 "github.com/natsrpc/natsrpc/proto/gaming/time_manager/v1"
	ueversionmonitorv1 "github.com/natsrpc/natsrpc/proto/gaming/ue_version_monitor/v1"
	weathermanagerv1 "github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1"
	worldstatev1 "github.com/natsrpc/natsrpc/proto/gaming/world_state/v1"
)

// Services are the 22 services' files, in the README's order.
var Services = []struct {
	Name string
	File protoreflect.FileDescriptor
}{
	{"ai-integration", aiintegrationv1.File_gaming_ai_integration_v1_ai_integration_proto},
	{"ai-router", airouterv1.File_gaming_ai_router_v1_ai_router_proto},
	{"model-management", modelmanagementv1.File_gaming_model_management_v1_model_management_proto},
	{"capability-registry", capabilityregistryv1.File_gaming_capability_registry_v1_capability_registry_proto},
	{"state-manager", statemanagerv1.File_gaming_state_manager_v1_state_manager_proto},
	{"world-state", worldstatev1.File_gaming_world_state_v1_world_state_proto},
	{"time-manager", timemanagerv1.File_gaming_time_manager_v1_time_manager_proto},
	{"weather-manager", weathermanagerv1.File_gaming_weather_manager_v1_weather_manager_proto},
	{"language-system", languagesystemv1.File_gaming_language_system_v1_language_system_proto},
	{"settings", settingsv1.File_gaming_settings_v1_settings_proto},
	{"story-teller", storytellerv1.File_gaming_story_teller_v1_story_teller_proto},
	{"npc-behavior", npcbehaviorv1.File_gaming_npc_behavior_v1_npc_behavior_proto},
	{"quest-system", questsystemv1.File_gaming_quest_system_v1_quest_system_proto},
	{"knowledge-base", knowledgebasev1.File_gaming_knowledge_base_v1_knowledge_base_proto},
	{"payment", paymentv1.File_gaming_payment_v1_payment_proto},
	{"performance-mode", performancemodev1.File_gaming_performance_mode_v1_performance_mode_proto},
	{"body-broker-qa-orchestrator", bodybrokerqaorchestratorv1.File_gaming_body_broker_qa_orchestrator_v1_body_broker_qa_orchestrator_proto},
	{"ue-version-monitor", ueversionmonitorv1.File_gaming_ue_version_monitor_v1_ue_version_monitor_proto},
	{"router", routerv1.File_gaming_router_v1_router_proto},
	{"orchestration", orchestrationv1.File_gaming_orchestration_v1_orchestration_proto},
	{"event-bus", eventbusv1.File_gaming_event_bus_v1_event_bus_proto},
	{"environmental-narrative", environmentalnarrativev1.File_gaming_environmental_narrative_v1_environmental_narrative_proto},
}

// Size is the encoded size of one message.
type Size struct {
	Service string
	// Message is "<Service>.<Method> request|response".
	Message string
	// Proto is the binary protobuf size; ProtoJSON is protojson's (compact,
	// the canonical proto3 JSON mapping: camelCase names, enum names,
	// int64 as strings, RFC 3339 timestamps); StdJSON is encoding/json on
	// the same generated Go structs (snake_case names from the json tags,
	// enums as numbers, oneofs as wrapper objects, timestamps as
	// {seconds, nanos}).
	Proto, ProtoJSON, StdJSON int
	// Compressed is what natsrpc sends for the message with
	// WithCompression(CompressThreshold) on both sides (wire.md §15): for
	// a response (unary, or a stream's S→C frame) or an event, the protobuf body
	// compressed with S2 plus the Nats-Rpc-Encoding header (CompressHeader
	// bytes) when the message is at least the threshold and comes out
	// smaller, else the protobuf body as it is; the protobuf body for the
	// rest (requests of calls and C→S stream frames: never compressed).
	Compressed int
	// Compressible says the runtime compresses this message when asked:
	// a response or an event.
	Compressible bool
}

// CompressThreshold is the WithCompression threshold the payload table
// uses: 1 KiB of protobuf, below which a message goes as it is.
const CompressThreshold = 1024

// CompressHeader is what the Nats-Rpc-Encoding header adds to a message
// that has no other header: "NATS/1.0\r\nNats-Rpc-Encoding: s2\r\n\r\n".
const CompressHeader = len("NATS/1.0\r\n") + len("Nats-Rpc-Encoding: s2\r\n") + len("\r\n")

// Row sums the sizes of one service's requests and responses.
type Row struct {
	Service                   string
	Messages                  int
	Proto, ProtoJSON, StdJSON int
	Compressed                int
}

// fixtures are the hand-built messages of the unary benchmark, used instead
// of filled ones so that both tables describe the same bytes.
func fixtures() map[protoreflect.FullName]proto.Message {
	out := map[protoreflect.FullName]proto.Message{}
	for _, c := range workload.Calls {
		req := c.Request()
		out[req.ProtoReflect().Descriptor().FullName()] = req
		res := c.Handle(req)
		out[res.ProtoReflect().Descriptor().FullName()] = res
	}
	return out
}

// Measure encodes a realistic request and response of every RPC of every
// service (an event's google.protobuf.Empty response is left out).
func Measure() ([]Size, error) {
	return measure(false)
}

// MeasureWords is Measure with text fields of words drawn at random from
// Fill's paragraph rather than slices of it (see fill), for the
// compression column's harder case.
func MeasureWords() ([]Size, error) {
	return measure(true)
}

func measure(words bool) ([]Size, error) {
	fx := fixtures()
	var out []Size
	for _, s := range Services {
		svcs := s.File.Services()
		for i := 0; i < svcs.Len(); i++ {
			sv, err := spec.ForService(svcs.Get(i))
			if err != nil {
				return nil, err
			}
			methods := svcs.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				md := methods.Get(j)
				if sv.Methods[j].Desc != md {
					return nil, fmt.Errorf("%s: spec's methods out of order", md.FullName())
				}
				kind := sv.Methods[j].Kind
				for _, role := range []struct {
					name string
					desc protoreflect.MessageDescriptor
				}{{"request", md.Input()}, {"response", md.Output()}} {
					if role.desc.FullName() == "google.protobuf.Empty" {
						continue
					}
					m, ok := fx[role.desc.FullName()]
					if !ok {
						mt, err := protoregistry.GlobalTypes.FindMessageByName(role.desc.FullName())
						if err != nil {
							return nil, err
						}
						m = fill(mt.New().Interface(), words)
					}
					// The runtime compresses responses (unary, and the
					// server-to-client frames of streams) and events
					// (wire.md §15); requests of calls and client-to-server
					// stream frames go as they are.
					compressible := role.name == "response" || kind == spec.KindEvent
					size, err := encode(m, compressible)
					if err != nil {
						return nil, fmt.Errorf("%s %s: %w", md.FullName(), role.name, err)
					}
					size.Service = s.Name
					size.Message = string(svcs.Get(i).Name()) + "." + string(md.Name()) + " " + role.name
					out = append(out, size)
				}
			}
		}
	}
	return out, nil
}

func encode(m proto.Message, compressible bool) (Size, error) {
	// Deterministic: map order changes what S2 finds, and the table must
	// be the same from run to run.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return Size{}, err
	}
	pj, err := protojson.Marshal(m)
	if err != nil {
		return Size{}, err
	}
	// protojson randomly adds spaces to keep people from comparing its
	// output byte for byte; compact it to the canonical size.
	var compact bytes.Buffer
	if err := json.Compact(&compact, pj); err != nil {
		return Size{}, err
	}
	sj, err := json.Marshal(m)
	if err != nil {
		return Size{}, err
	}
	size := Size{Proto: len(b), ProtoJSON: compact.Len(), StdJSON: len(sj), Compressed: len(b), Compressible: compressible}
	if compressible {
		size.Compressed = compressedSize(b)
	}
	return size, nil
}

// compressedSize is the size natsrpc's runtime puts on the wire for the
// protobuf body b with WithCompression(CompressThreshold): the runtime
// uses s2.Encode, as here.
func compressedSize(b []byte) int {
	if len(b) < CompressThreshold {
		return len(b)
	}
	if c := s2.Encode(nil, b); len(c)+CompressHeader < len(b) {
		return len(c) + CompressHeader
	}
	return len(b)
}

// ByService sums sizes per service, in order, plus a last "all 22
// services" row.
func ByService(sizes []Size) []Row {
	var rows []Row
	idx := map[string]int{}
	total := Row{Service: "all 22 services"}
	for _, s := range sizes {
		i, ok := idx[s.Service]
		if !ok {
			i = len(rows)
			idx[s.Service] = i
			rows = append(rows, Row{Service: s.Service})
		}
		for _, r := range []*Row{&rows[i], &total} {
			r.Messages++
			r.Proto += s.Proto
			r.ProtoJSON += s.ProtoJSON
			r.StdJSON += s.StdJSON
			r.Compressed += s.Compressed
		}
	}
	return append(rows, total)
}
