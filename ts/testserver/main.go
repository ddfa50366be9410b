// Command testserver is the Go side of the TypeScript runtime's tests and
// benchmark: an in-process nats-server (JetStream in a temporary
// directory, a WebSocket listener, both on random loopback ports) with Go
// services built from the generated code of proto/gaming registered on it.
// It prints one JSON line, {"natsUrl": ..., "wsUrl": ...}, and serves until
// its standard input closes (the test's end), then stops cleanly.
//
// It is a module of its own so that it needs nothing from the lean
// runtime module but its public packages and generated code:
//
//	cd ts/testserver && GOWORK=off go run .
//
// Services (what the TypeScript tests rely on):
//   - gaming.quest_system.v1.QuestSystemService: GetQuest answers quest
//     "q-1" (with the response header X-Served-By: go, and Echo-<name> for
//     each request header named in X-Echo), "bench" with the same quest and
//     no header (the benchmark's call), "fail:<code name>" with that
//     code and a gaming.common.v1.Error detail, "deadline" with the
//     handler's remaining time in milliseconds as the quest's
//     recommended_level, "slow" a second after its deadline, anything
//     else not_found; ListQuests wants a player id (invalid_argument).
//   - gaming.ai_integration.v1.AIIntegrationService: StreamGenerate sends
//     sampling.max_tokens token deltas, then the usage.
//   - gaming.event_bus.v1.EventBusService: every event handler (the plain
//     QuestCompleted, NpcReacted and WorldChanged, the durable
//     PaymentCompleted) republishes what it got on
//     "tstest.events.<Method>" (protojson, the event's headers kept).
//   - "tstest.call": a Go client call for the TypeScript side, so that Go
//     clients are tested against TypeScript handlers (see callRequest).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	aiintegrationv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	commonv1 "github.com/natsrpc/natsrpc/proto/gaming/common/v1"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "natsrpc-ts-testserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	wsPort, err := freePort()
	if err != nil {
		return err
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  dir,
		NoSigs:    true,
		NoLog:     true,
		Websocket: server.WebsocketOpts{Host: "127.0.0.1", Port: wsPort, NoTLS: true},
	})
	if err != nil {
		return err
	}
	srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	var services []*natsrpc.Service
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range services {
			_ = s.Stop(ctx)
		}
	}
	defer stop()
	for _, register := range []func() (*natsrpc.Service, error){
		func() (*natsrpc.Service, error) {
			return questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, quests{})
		},
		func() (*natsrpc.Service, error) {
			return aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(nc, tokens{})
		},
		func() (*natsrpc.Service, error) {
			return eventbusv1natsrpc.RegisterEventBusServiceHandler(nc, events{nc: nc})
		},
	} {
		s, err := register()
		if err != nil {
			return err
		}
		services = append(services, s)
	}
	callSub, err := nc.Subscribe("tstest.call", func(m *nats.Msg) { _ = m.Respond(call(nc, m.Data)) })
	if err != nil {
		return err
	}
	defer callSub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}
	out, _ := json.Marshal(map[string]string{"natsUrl": srv.ClientURL(), "wsUrl": fmt.Sprintf("ws://127.0.0.1:%d", wsPort)})
	if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
		return err
	}
	// Serve until the test closes our standard input.
	_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
	return nil
}

// freePort asks the kernel for a free loopback port (nats-server's
// websocket listener has no "random port" setting that reports back).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type quests struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
}

func (quests) GetQuest(ctx context.Context, req *questsystemv1.GetQuestRequest) (*questsystemv1.GetQuestResponse, error) {
	ci, _ := natsrpc.CallInfoFromContext(ctx)
	for _, name := range strings.Split(ci.RequestHeader().Get("X-Echo"), ",") {
		if name != "" {
			ci.ResponseHeader().Set("Echo-"+name, ci.RequestHeader().Get(name))
		}
	}
	id := req.GetQuestId()
	switch {
	case id == "q-1", id == "bench":
		if id == "q-1" {
			ci.ResponseHeader().Set("X-Served-By", "go")
		}
		return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{
			Quest: &questsystemv1.Quest{
				QuestId:          "q-1",
				Title:            "The Lost Lantern",
				RegionId:         "marsh",
				Difficulty:       questsystemv1.QuestDifficulty_QUEST_DIFFICULTY_HARD,
				RecommendedLevel: 12,
			},
			Status:     questsystemv1.QuestStatus_QUEST_STATUS_ACTIVE,
			AcceptedAt: timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
			Progress:   map[string]*questsystemv1.ObjectiveProgress{"o-1": {ObjectiveId: "o-1", Count: 2}},
		}}, nil
	case id == "deadline":
		dl, _ := ctx.Deadline()
		return &questsystemv1.GetQuestResponse{Quest: &questsystemv1.PlayerQuest{Quest: &questsystemv1.Quest{
			QuestId: id, RecommendedLevel: int32(time.Until(dl).Milliseconds()),
		}}}, nil
	case id == "slow":
		// Answers a second after its deadline, so that the tests of the
		// client's own deadline and cancellation see the client's error,
		// never this one (under load the service's came first, once).
		<-ctx.Done()
		time.Sleep(time.Second)
		return nil, ctx.Err()
	case strings.HasPrefix(id, "fail:"):
		var code natsrpc.Code
		if err := code.UnmarshalText([]byte(strings.TrimPrefix(id, "fail:"))); err != nil {
			return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, err)
		}
		e := natsrpc.NewError(code, fmt.Errorf("quest failed with %s", code))
		_ = e.AddDetail(&commonv1.Error{Message: "detail for " + code.String(), Retryable: code == natsrpc.CodeUnavailable})
		return nil, e
	}
	e := natsrpc.NewError(natsrpc.CodeNotFound, fmt.Errorf("no quest %q", id))
	_ = e.AddDetail(&commonv1.Error{Message: "no quest " + strconv.Quote(id)})
	return nil, e
}

func (quests) ListQuests(_ context.Context, req *questsystemv1.ListQuestsRequest) (*questsystemv1.ListQuestsResponse, error) {
	if req.GetPlayerId() == "" {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, errors.New("player_id is required"))
	}
	return &questsystemv1.ListQuestsResponse{}, nil
}

type tokens struct {
	aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler
}

func (tokens) StreamGenerate(ctx context.Context, req *aiintegrationv1.StreamGenerateRequest, stream *natsrpc.HandlerSendStream[aiintegrationv1.StreamGenerateResponse]) error {
	n := int(req.GetSampling().GetMaxTokens())
	for i := 1; i <= n; i++ {
		if err := stream.Send(&aiintegrationv1.StreamGenerateResponse{
			GenerationId: "g-1",
			Sequence:     int32(i),
			Event:        &aiintegrationv1.StreamGenerateResponse_Delta{Delta: &aiintegrationv1.TokenDelta{Text: "tok-" + strconv.Itoa(i), TokenCount: 1}},
		}); err != nil {
			return err
		}
	}
	return stream.Send(&aiintegrationv1.StreamGenerateResponse{
		GenerationId: "g-1",
		Sequence:     int32(n + 1),
		Event:        &aiintegrationv1.StreamGenerateResponse_Usage{Usage: &commonv1.TokenUsage{CompletionTokens: int32(n), TotalTokens: int32(n)}},
	})
}

// events republishes every event it handles on tstest.events.<Method>.
type events struct {
	eventbusv1natsrpc.UnimplementedEventBusServiceHandler
	nc *nats.Conn
}

func (e events) forward(ctx context.Context, method string, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	h := nats.Header{}
	if ci, ok := natsrpc.CallInfoFromContext(ctx); ok {
		for k, vs := range ci.RequestHeader() {
			h[k] = vs
		}
	}
	return e.nc.PublishMsg(&nats.Msg{Subject: "tstest.events." + method, Header: h, Data: b})
}

func (e events) QuestCompleted(ctx context.Context, req *eventbusv1.QuestCompletedRequest) error {
	return e.forward(ctx, "QuestCompleted", req)
}

func (e events) NpcReacted(ctx context.Context, req *eventbusv1.NpcReactedRequest) error {
	return e.forward(ctx, "NpcReacted", req)
}

func (e events) WorldChanged(ctx context.Context, req *eventbusv1.WorldChangedRequest) error {
	return e.forward(ctx, "WorldChanged", req)
}

func (e events) PaymentCompleted(ctx context.Context, req *eventbusv1.PaymentCompletedRequest) error {
	return e.forward(ctx, "PaymentCompleted", req)
}

// callRequest asks the Go client to call a QuestSystemService method (the
// TypeScript side serves it), so that the test sees what a Go caller gets.
type callRequest struct {
	Method    string            `json:"method"` // GetQuest or ListQuests
	Request   json.RawMessage   `json:"request"`
	Headers   map[string]string `json:"headers"`
	TimeoutMs int               `json:"timeoutMs"`
	JSON      bool              `json:"json"`
	Prefix    string            `json:"subjectPrefix"`
}

// callResult is what the Go client got.
type callResult struct {
	Code            string            `json:"code"`
	Message         string            `json:"message,omitempty"`
	Wire            bool              `json:"wire,omitempty"`
	Response        json.RawMessage   `json:"response,omitempty"`
	ResponseHeaders map[string]string `json:"responseHeaders,omitempty"`
	Details         []json.RawMessage `json:"details,omitempty"`
}

func call(nc *nats.Conn, data []byte) []byte {
	res, err := doCall(nc, data)
	if err != nil {
		res = &callResult{Code: "harness_error", Message: err.Error()}
	}
	b, _ := json.Marshal(res)
	return b
}

func doCall(nc *nats.Conn, data []byte) (*callResult, error) {
	var req callRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	var opts []natsrpc.ClientOption
	if req.JSON {
		opts = append(opts, natsrpc.WithJSON())
	}
	if req.Prefix != "" {
		opts = append(opts, natsrpc.WithSubjectPrefix(req.Prefix))
	}
	client := questsystemv1natsrpc.NewQuestSystemServiceClient(nc, opts...)
	var respHeader nats.Header
	callOpts := []natsrpc.CallOption{natsrpc.WithResponseHeader(&respHeader)}
	if req.TimeoutMs > 0 {
		callOpts = append(callOpts, natsrpc.WithCallTimeout(time.Duration(req.TimeoutMs)*time.Millisecond))
	}
	for k, v := range req.Headers {
		callOpts = append(callOpts, natsrpc.WithHeader(k, v))
	}
	var (
		res proto.Message
		err error
	)
	ctx := context.Background()
	switch req.Method {
	case "GetQuest":
		in := &questsystemv1.GetQuestRequest{}
		if err := protojson.Unmarshal(req.Request, in); err != nil {
			return nil, err
		}
		res, err = client.GetQuest(ctx, in, callOpts...)
	case "ListQuests":
		in := &questsystemv1.ListQuestsRequest{}
		if err := protojson.Unmarshal(req.Request, in); err != nil {
			return nil, err
		}
		res, err = client.ListQuests(ctx, in, callOpts...)
	default:
		return nil, fmt.Errorf("unknown method %q", req.Method)
	}
	out := &callResult{Code: natsrpc.CodeOf(err).String(), ResponseHeaders: map[string]string{}}
	for k, vs := range respHeader {
		out.ResponseHeaders[k] = vs[0]
	}
	if err != nil {
		var e *natsrpc.Error
		if errors.As(err, &e) {
			out.Message = e.Message()
			out.Wire = natsrpc.IsWireError(err)
			for _, d := range e.Details() {
				b, err := marshalAny(d)
				if err != nil {
					return nil, err
				}
				out.Details = append(out.Details, b)
			}
		}
		return out, nil
	}
	if out.Response, err = protojson.Marshal(res); err != nil {
		return nil, err
	}
	return out, nil
}

// marshalAny renders a detail as protojson ({"@type": ..., fields}).
func marshalAny(a *anypb.Any) ([]byte, error) {
	return protojson.Marshal(a)
}
