package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	rpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/protofill"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_router/v1/airouterv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/body_broker_qa_orchestrator/v1/bodybrokerqaorchestratorv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/capability_registry/v1/capabilityregistryv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/environmental_narrative/v1/environmentalnarrativev1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/knowledge_base/v1/knowledgebasev1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/language_system/v1/languagesystemv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/model_management/v1/modelmanagementv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/npc_behavior/v1/npcbehaviorv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/orchestration/v1/orchestrationv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/payment/v1/paymentv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/performance_mode/v1/performancemodev1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/router/v1/routerv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/settings/v1/settingsv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/state_manager/v1/statemanagerv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/story_teller/v1/storytellerv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/time_manager/v1/timemanagerv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/ue_version_monitor/v1/ueversionmonitorv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1/weathermanagerv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/world_state/v1/worldstatev1natsrpc"
)

// gamingServices registers each of the 22 gaming services' generated
// Unimplemented handler: the generated code, its subjects, queue groups
// and discovery, with every method answered by the echo interceptor.
var gamingServices = []func(*nats.Conn, ...rpc.HandlerOption) (*rpc.Service, error){
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(nc, aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return airouterv1natsrpc.RegisterAIRouterServiceHandler(nc, airouterv1natsrpc.UnimplementedAIRouterServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return bodybrokerqaorchestratorv1natsrpc.RegisterBodyBrokerQAOrchestratorServiceHandler(nc, bodybrokerqaorchestratorv1natsrpc.UnimplementedBodyBrokerQAOrchestratorServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return capabilityregistryv1natsrpc.RegisterCapabilityRegistryServiceHandler(nc, capabilityregistryv1natsrpc.UnimplementedCapabilityRegistryServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return environmentalnarrativev1natsrpc.RegisterEnvironmentalNarrativeServiceHandler(nc, environmentalnarrativev1natsrpc.UnimplementedEnvironmentalNarrativeServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return eventbusv1natsrpc.RegisterEventBusServiceHandler(nc, eventbusv1natsrpc.UnimplementedEventBusServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return knowledgebasev1natsrpc.RegisterKnowledgeBaseServiceHandler(nc, knowledgebasev1natsrpc.UnimplementedKnowledgeBaseServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return languagesystemv1natsrpc.RegisterLanguageSystemServiceHandler(nc, languagesystemv1natsrpc.UnimplementedLanguageSystemServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return modelmanagementv1natsrpc.RegisterModelManagementServiceHandler(nc, modelmanagementv1natsrpc.UnimplementedModelManagementServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return npcbehaviorv1natsrpc.RegisterNPCBehaviorServiceHandler(nc, npcbehaviorv1natsrpc.UnimplementedNPCBehaviorServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return orchestrationv1natsrpc.RegisterOrchestrationServiceHandler(nc, orchestrationv1natsrpc.UnimplementedOrchestrationServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return paymentv1natsrpc.RegisterPaymentServiceHandler(nc, paymentv1natsrpc.UnimplementedPaymentServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return performancemodev1natsrpc.RegisterPerformanceModeServiceHandler(nc, performancemodev1natsrpc.UnimplementedPerformanceModeServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return routerv1natsrpc.RegisterRouterServiceHandler(nc, routerv1natsrpc.UnimplementedRouterServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return settingsv1natsrpc.RegisterSettingsServiceHandler(nc, settingsv1natsrpc.UnimplementedSettingsServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return statemanagerv1natsrpc.RegisterStateManagerServiceHandler(nc, statemanagerv1natsrpc.UnimplementedStateManagerServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return storytellerv1natsrpc.RegisterStoryTellerServiceHandler(nc, storytellerv1natsrpc.UnimplementedStoryTellerServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return timemanagerv1natsrpc.RegisterTimeManagerServiceHandler(nc, timemanagerv1natsrpc.UnimplementedTimeManagerServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return ueversionmonitorv1natsrpc.RegisterUEVersionMonitorServiceHandler(nc, ueversionmonitorv1natsrpc.UnimplementedUEVersionMonitorServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return weathermanagerv1natsrpc.RegisterWeatherManagerServiceHandler(nc, weathermanagerv1natsrpc.UnimplementedWeatherManagerServiceHandler{}, o...)
	},
	func(nc *nats.Conn, o ...rpc.HandlerOption) (*rpc.Service, error) {
		return worldstatev1natsrpc.RegisterWorldStateServiceHandler(nc, worldstatev1natsrpc.UnimplementedWorldStateServiceHandler{}, o...)
	},
}

// echo is a handler interceptor that answers every method of every kind
// itself, so that the generated Unimplemented handlers serve as real
// services: it records each request it receives (as protojson) by
// procedure and answers with a filled response of the method's output
// type (protofill), two messages for server streams and one per message
// for bidi streams.
type echo struct {
	mu       sync.Mutex
	received map[string][]string
}

func newEcho() *echo { return &echo{received: map[string][]string{}} }

func (e *echo) record(procedure string, m proto.Message) {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		b = []byte(err.Error())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.received[procedure] = append(e.received[procedure], compactJSON(b))
}

// got returns what procedure received.
func (e *echo) got(procedure string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.received[procedure]...)
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// newMessage returns a new message of a generated type.
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		panic(err)
	}
	return mt.New().Interface()
}

func (e *echo) WrapUnary(next rpc.UnaryFunc) rpc.UnaryFunc {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		ci, _ := rpc.CallInfoFromContext(ctx)
		spec := ci.Spec()
		e.record(spec.Procedure, req)
		if spec.Kind == rpc.MethodKindEvent {
			return &emptypb.Empty{}, nil
		}
		return protofill.Fill(newMessage(spec.Method.Output()), 0), nil
	}
}

func (e *echo) WrapStreamingClient(next rpc.StreamingClientFunc) rpc.StreamingClientFunc { return next }

func (e *echo) WrapStreamingHandler(next rpc.StreamingHandlerFunc) rpc.StreamingHandlerFunc {
	return func(ctx context.Context, conn rpc.StreamingHandlerConn) error {
		spec := conn.Spec()
		in, out := spec.Method.Input(), spec.Method.Output()
		switch spec.Kind {
		case rpc.MethodKindServerStream:
			req := newMessage(in)
			if err := conn.Receive(req); err != nil {
				return err
			}
			e.record(spec.Procedure, req)
			for i := range 2 {
				if err := conn.Send(protofill.Fill(newMessage(out), i)); err != nil {
					return err
				}
			}
			return nil
		default: // client and bidi streams
			for i := 0; ; i++ {
				req := newMessage(in)
				err := conn.Receive(req)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				e.record(spec.Procedure, req)
				if spec.Kind == rpc.MethodKindBidiStream {
					if err := conn.Send(protofill.Fill(newMessage(out), i)); err != nil {
						return err
					}
				}
			}
			if spec.Kind == rpc.MethodKindClientStream {
				return conn.Send(protofill.Fill(newMessage(out), 0))
			}
			return nil
		}
	}
}

// serveGaming starts the 22 gaming services on a new connection to url,
// answered by e, and stops them when t ends.
func serveGaming(t *testing.T, url string, e *echo) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*rpc.Service
	for _, register := range gamingServices {
		svc, err := register(nc, rpc.WithInterceptors(e))
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range svcs {
			_ = s.Stop(ctx)
		}
		nc.Close()
	})
}
