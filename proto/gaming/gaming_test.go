// Package gaming_test checks the 22 service schemas as a whole: the names
// other tools rely on, and that every request and response survives the
// binary and the JSON encoding unchanged.
package gaming_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/natsrpc/natsrpc/internal/protofill"
	aiintegrationv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	airouterv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_router/v1"
	bodybrokerqaorchestratorv1 "github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1"
	capabilityregistryv1 "github.com/natsrpc/natsrpc/proto/gaming/capability_registry/v1"
	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
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

// services is the table of issue 2: subjects and generated Go names derive
// from these names, so they must never drift.
var services = []struct {
	file    protoreflect.FileDescriptor
	pkg     protoreflect.FullName
	service protoreflect.Name
}{
	{aiintegrationv1.File_gaming_ai_integration_v1_ai_integration_proto, "gaming.ai_integration.v1", "AIIntegrationService"},
	{airouterv1.File_gaming_ai_router_v1_ai_router_proto, "gaming.ai_router.v1", "AIRouterService"},
	{modelmanagementv1.File_gaming_model_management_v1_model_management_proto, "gaming.model_management.v1", "ModelManagementService"},
	{capabilityregistryv1.File_gaming_capability_registry_v1_capability_registry_proto, "gaming.capability_registry.v1", "CapabilityRegistryService"},
	{statemanagerv1.File_gaming_state_manager_v1_state_manager_proto, "gaming.state_manager.v1", "StateManagerService"},
	{worldstatev1.File_gaming_world_state_v1_world_state_proto, "gaming.world_state.v1", "WorldStateService"},
	{timemanagerv1.File_gaming_time_manager_v1_time_manager_proto, "gaming.time_manager.v1", "TimeManagerService"},
	{weathermanagerv1.File_gaming_weather_manager_v1_weather_manager_proto, "gaming.weather_manager.v1", "WeatherManagerService"},
	{languagesystemv1.File_gaming_language_system_v1_language_system_proto, "gaming.language_system.v1", "LanguageSystemService"},
	{settingsv1.File_gaming_settings_v1_settings_proto, "gaming.settings.v1", "SettingsService"},
	{storytellerv1.File_gaming_story_teller_v1_story_teller_proto, "gaming.story_teller.v1", "StoryTellerService"},
	{npcbehaviorv1.File_gaming_npc_behavior_v1_npc_behavior_proto, "gaming.npc_behavior.v1", "NPCBehaviorService"},
	{questsystemv1.File_gaming_quest_system_v1_quest_system_proto, "gaming.quest_system.v1", "QuestSystemService"},
	{knowledgebasev1.File_gaming_knowledge_base_v1_knowledge_base_proto, "gaming.knowledge_base.v1", "KnowledgeBaseService"},
	{paymentv1.File_gaming_payment_v1_payment_proto, "gaming.payment.v1", "PaymentService"},
	{performancemodev1.File_gaming_performance_mode_v1_performance_mode_proto, "gaming.performance_mode.v1", "PerformanceModeService"},
	{bodybrokerqaorchestratorv1.File_gaming_body_broker_qa_orchestrator_v1_body_broker_qa_orchestrator_proto, "gaming.body_broker_qa_orchestrator.v1", "BodyBrokerQAOrchestratorService"},
	{ueversionmonitorv1.File_gaming_ue_version_monitor_v1_ue_version_monitor_proto, "gaming.ue_version_monitor.v1", "UEVersionMonitorService"},
	{routerv1.File_gaming_router_v1_router_proto, "gaming.router.v1", "RouterService"},
	{orchestrationv1.File_gaming_orchestration_v1_orchestration_proto, "gaming.orchestration.v1", "OrchestrationService"},
	{eventbusv1.File_gaming_event_bus_v1_event_bus_proto, "gaming.event_bus.v1", "EventBusService"},
	{environmentalnarrativev1.File_gaming_environmental_narrative_v1_environmental_narrative_proto, "gaming.environmental_narrative.v1", "EnvironmentalNarrativeService"},
}

func TestServiceNames(t *testing.T) {
	t.Parallel()
	if len(services) != 22 {
		t.Fatalf("%d services in the table; want 22", len(services))
	}
	// Every schema under proto/gaming with a service is in the table, so
	// that a service added there is not left out of these checks.
	inTable := map[string]bool{}
	for _, s := range services {
		inTable[s.file.Path()] = true
	}
	sources, err := filepath.Glob("*/*/*.proto")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no schemas found under proto/gaming: %v", err)
	}
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if p := "gaming/" + filepath.ToSlash(src); regexp.MustCompile(`(?m)^service `).Match(b) && !inTable[p] {
			t.Errorf("%s defines a service but is not in the services table", p)
		}
	}
	for _, s := range services {
		if s.file.Package() != s.pkg {
			t.Errorf("%s: package %q; want %q", s.file.Path(), s.file.Package(), s.pkg)
		}
		if n := s.file.Services().Len(); n != 1 {
			t.Errorf("%s: %d services; want exactly 1", s.file.Path(), n)
			continue
		}
		sd := s.file.Services().Get(0)
		if sd.Name() != s.service {
			t.Errorf("%s: service %q; want %q", s.file.Path(), sd.Name(), s.service)
		}
		if n := sd.Methods().Len(); n < 3 || n > 8 {
			t.Errorf("%s: %d RPCs; want 3 to 8", sd.FullName(), n)
		}
	}
	common := commonv1.File_gaming_common_v1_common_proto
	for _, name := range []protoreflect.Name{"Meta", "Error", "TokenUsage"} {
		if common.Messages().ByName(name) == nil {
			t.Errorf("gaming.common.v1.%s is missing", name)
		}
	}
}

// TestRoundTrip fills every request and response of every service (every
// field set, nested messages, maps, lists, and each member of every oneof
// across variants) and checks that the binary and the JSON encodings both
// give back an equal message.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	seen := map[protoreflect.FullName]bool{}
	for _, s := range services {
		methods := s.file.Services().Get(0).Methods()
		for i := 0; i < methods.Len(); i++ {
			md := methods.Get(i)
			for _, msg := range []protoreflect.MessageDescriptor{md.Input(), md.Output()} {
				if seen[msg.FullName()] {
					continue
				}
				seen[msg.FullName()] = true
				testRoundTrip(t, msg)
			}
		}
	}
	if len(seen) < 22*3 {
		t.Errorf("round-tripped %d message types; want at least %d", len(seen), 22*3)
	}
}

func testRoundTrip(t *testing.T, md protoreflect.MessageDescriptor) {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		t.Errorf("%s: %v", md.FullName(), err)
		return
	}
	variants := protofill.MaxOneofMembers(md)
	for v := 0; v < variants; v++ {
		orig := protofill.Fill(mt.New().Interface(), v)
		if missing := protofill.Missing(orig, v); len(missing) > 0 {
			t.Errorf("%s variant %d: fields left unset: %v", md.FullName(), v, missing)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(orig)
		if err != nil {
			t.Errorf("%s variant %d: marshal: %v", md.FullName(), v, err)
			continue
		}
		fromBinary := mt.New().Interface()
		if err := proto.Unmarshal(b, fromBinary); err != nil {
			t.Errorf("%s variant %d: unmarshal: %v", md.FullName(), v, err)
			continue
		}
		if !proto.Equal(orig, fromBinary) {
			t.Errorf("%s variant %d: binary round trip changed the message", md.FullName(), v)
		}
		j, err := protojson.Marshal(orig)
		if err != nil {
			t.Errorf("%s variant %d: JSON marshal: %v", md.FullName(), v, err)
			continue
		}
		fromJSON := mt.New().Interface()
		if err := protojson.Unmarshal(j, fromJSON); err != nil {
			t.Errorf("%s variant %d: JSON unmarshal: %v\n%s", md.FullName(), v, err, j)
			continue
		}
		if !proto.Equal(orig, fromJSON) {
			t.Errorf("%s variant %d: JSON round trip changed the message\n%s", md.FullName(), v, j)
		}
		// A dynamic message built from the descriptor alone decodes the
		// same bytes into an equal message, as the registry's clients do.
		dyn := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(b, dyn); err != nil {
			t.Errorf("%s variant %d: dynamic unmarshal: %v", md.FullName(), v, err)
		} else {
			deterministic := proto.MarshalOptions{Deterministic: true}
			b2, err := deterministic.Marshal(dyn)
			if err != nil || string(b2) != string(b) {
				t.Errorf("%s variant %d: dynamic message re-encodes differently (err %v)", md.FullName(), v, err)
			}
		}
	}
}
