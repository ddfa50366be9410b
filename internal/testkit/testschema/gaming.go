package testschema

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"

	// The generated gaming packages register their files in
	// protoregistry.GlobalFiles; TestGamingSetHasEveryFile checks that
	// none is missing here.
	_ "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/ai_router/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/capability_registry/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/environmental_narrative/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/knowledge_base/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/language_system/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/model_management/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/orchestration/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/payment/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/performance_mode/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/router/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/settings/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/story_teller/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/time_manager/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/ue_version_monitor/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1"
	_ "github.com/natsrpc/natsrpc/proto/gaming/world_state/v1"
)

// GamingSet returns the gaming schemas as the generated code compiled
// them in (protoregistry.GlobalFiles), with their imports, as a descriptor
// set in dependency order, and the gaming files' paths, sorted. Generated
// descriptors carry no source info. It needs no compiler and no input
// loader: benchmarks push it instead of loading proto/.
func GamingSet() (*descriptorpb.FileDescriptorSet, []string) {
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(fd.Path(), "gaming/") {
			files = append(files, fd)
		}
		return true
	})
	set := descset.Closure(files...)
	byPath := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range set.GetFile() {
		byPath[f.GetName()] = f
	}
	set.File = descset.Sort(byPath)
	var own []string
	for _, f := range set.GetFile() {
		if strings.HasPrefix(f.GetName(), "gaming/") {
			own = append(own, f.GetName())
		}
	}
	return set, own
}

// GamingPushRequest is a push of the gaming schemas ([GamingSet]) as
// module "gaming".
func GamingPushRequest() *registryv1.PushRequest {
	set, own := GamingSet()
	return &registryv1.PushRequest{
		Module:   "gaming",
		OwnFiles: own,
		Source:   &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set},
	}
}
