package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/gateway"
	"github.com/natsrpc/natsrpc/gateway/httprule"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	aiv1 "github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/ai_integration/v1/aiintegrationv1natsrpc"
	eventbusv1 "github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/event_bus/v1/eventbusv1natsrpc"
	questv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// maxPayload is the NATS server's max_payload in these tests: small, so
// that oversized bodies are cheap to send.
const maxPayload = 256 << 10

// env is what every gateway test shares, built once per test binary: a
// NATS server with JetStream, a registry holding the gaming schemas and
// the library's test schema (annotated with google.api.http), real
// services built from generated code, and the gateway serving on a
// loopback port.
type env struct {
	t        *testing.T
	nc       *nats.Conn // services' and tests' connection
	reg      *store.Registry
	regEnv   *registrytest.Env
	gw       *gateway.Gateway
	addr     string // host:port
	url      string // http://host:port
	quests   *questService
	events   *eventBus
	items    *itemService
	rules    []*annotations.HttpRule
	tools    *tools
	stopServ context.CancelFunc
	served   chan error
}

// newEnv starts the shared environment, under t (the top-level test).
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	e.regEnv = registrytest.Start(t, func(o *server.Options) { o.MaxPayload = maxPayload })
	e.reg = e.regEnv.Registry
	e.nc = e.regEnv.Conn
	ctx := registrytest.Ctx(t, 2*time.Minute)
	// The gaming module, as make run pushes it.
	gaming := testschema.Compile(t, nil, testschema.GamingFiles(t)...)
	push(t, e, "gaming", gaming, testschema.GamingFiles(t))
	// The test schema, annotated: it is what the gateway's REST routes
	// from google.api.http are tested with.
	push(t, e, "natsrpctest", annotatedTestSchema(t, 1), []string{"natsrpctest/v1/test.proto"})
	if _, err := e.reg.SetPolicy(ctx, "natsrpctest", store.Policy{}); err != nil {
		t.Fatal(err)
	}
	// Services.
	e.quests = &questService{}
	mustService(t)(questsystemv1natsrpc.RegisterQuestSystemServiceHandler(natstest.Connect(t, e.regEnv.Server), e.quests))
	mustService(t)(aiintegrationv1natsrpc.RegisterAIIntegrationServiceHandler(natstest.Connect(t, e.regEnv.Server), &aiService{}))
	e.events = &eventBus{seen: make(chan string, 64)}
	mustService(t)(eventbusv1natsrpc.RegisterEventBusServiceHandler(natstest.Connect(t, e.regEnv.Server), e.events))
	e.items = &itemService{}
	e.items.start(t, natstest.Connect(t, e.regEnv.Server))
	// The gateway.
	rules, err := httprule.Load(filepath.Join("httprule", "testdata", "gaming.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.rules = rules
	gnc := natstest.Connect(t, e.regEnv.Server, nats.MaxReconnects(-1))
	e.gw, err = gateway.New(gnc,
		gateway.WithHTTPRules(rules),
		gateway.WithMaxTimeout(2*time.Second),
		gateway.WithForwardHeaders("X-Player-*", "Authorization"),
		gateway.WithCORSOrigins("https://dashboard.example.com"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.gw.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.url = "http://" + e.addr
	sctx, cancel := context.WithCancel(context.Background())
	e.stopServ = cancel
	e.served = make(chan error, 1)
	go func() {
		e.served <- gateway.Serve(sctx, ln, e.gw, gateway.ServerOptions{DrainTimeout: 5 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		<-e.served
	})
	waitFor(t, "the gateway's routes", func() bool {
		ok, _ := e.gw.Ready()
		v := e.gw.Versions()
		return ok && len(v.Modules) == 2
	})
	e.tools = buildTools(t)
	return e
}

func mustService(t *testing.T) func(*natsrpc.Service, error) {
	return func(s *natsrpc.Service, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
		})
	}
}

// push pushes a module version through the registry's NATS API.
func push(t testing.TB, e *env, module string, set *descriptorpb.FileDescriptorSet, own []string) *registryv1.PushResponse {
	t.Helper()
	res, err := e.regEnv.Client.Push(registrytest.Ctx(t, time.Minute), &registryv1.PushRequest{
		Module: module, Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}, OwnFiles: own,
	})
	if err != nil {
		t.Fatalf("push %s: %v", module, err)
	}
	return res
}

// annotatedTestSchema is internal/testproto's test.proto with
// google.api.http annotations, as a service's authors would write them,
// in version v: v2 adds TestService.Echo, v3 drops DurableService.
func annotatedTestSchema(t testing.TB, v int) *descriptorpb.FileDescriptorSet {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(natsrpctestv1.File_natsrpctest_v1_test_proto)
	fdp.Dependency = append(fdp.Dependency, "google/api/annotations.proto")
	rule := map[string]*annotations.HttpRule{
		"Get":      {Pattern: &annotations.HttpRule_Get{Get: "/v1/items/{id}"}, AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/owners/{owner_id}/items/{id}"}}}},
		"Generate": {Pattern: &annotations.HttpRule_Post{Post: "/v1/owners/{owner_id}/items"}, Body: "*"},
		"Watch":    {Pattern: &annotations.HttpRule_Get{Get: "/v1/items:watch"}},
		"Upload":   {Pattern: &annotations.HttpRule_Post{Post: "/v1/uploads"}, Body: "*"},
		"Notify":   {Pattern: &annotations.HttpRule_Post{Post: "/v1/items/{id}:notify"}, Body: "*"},
		"Echo":     {Pattern: &annotations.HttpRule_Get{Get: "/v1/echo/{id}"}},
	}
	svcs := fdp.GetService()
	if v >= 2 {
		get := proto.CloneOf(svcs[0].GetMethod()[0])
		get.Name = proto.String("Echo")
		get.Options = &descriptorpb.MethodOptions{}
		svcs[0].Method = append(svcs[0].Method, get)
	}
	if v >= 3 {
		fdp.Service = svcs[:1]
	}
	for _, s := range fdp.GetService() {
		for _, m := range s.GetMethod() {
			if r, ok := rule[m.GetName()]; ok {
				if m.Options == nil {
					m.Options = &descriptorpb.MethodOptions{}
				}
				proto.SetExtension(m.Options, annotations.E_Http, r)
			}
		}
	}
	set := closure(t, "natsrpctest/v1/test.proto", "google/api/annotations.proto")
	for i, f := range set.File {
		if f.GetName() == "natsrpctest/v1/test.proto" {
			set.File[i] = fdp
		}
	}
	return set
}

// closure returns the files at paths (linked into this binary) and their
// imports, dependencies first.
func closure(t testing.TB, paths ...string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, p := range paths {
		fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
		if err != nil {
			t.Fatal(err)
		}
		add(fd)
	}
	return set
}

// questService answers by quest id: "code-<name>" fails with that code
// (with a detail), "slow" answers a second after its deadline, "hold-<ms>" answers after
// that long; otherwise it echoes the request and the headers it got.
type questService struct {
	questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler
	calls atomic.Int64
}

func (q *questService) GetQuest(ctx context.Context, req *questv1.GetQuestRequest) (*questv1.GetQuestResponse, error) {
	q.calls.Add(1)
	ci, _ := natsrpc.CallInfoFromContext(ctx)
	id := req.GetQuestId()
	switch {
	case strings.HasPrefix(id, "code-"):
		var c natsrpc.Code
		if err := c.UnmarshalText([]byte(strings.TrimPrefix(id, "code-"))); err != nil {
			return nil, err
		}
		e := natsrpc.NewError(c, fmt.Errorf("quest %q: %s", id, c))
		_ = e.AddDetail(wrapperspb.String("detail of " + c.String()))
		e.Meta().Set("X-Quest-Error", "yes")
		return nil, e
	case id == "slow":
		// Answers a second after its deadline, so that the caller's own
		// deadline error always comes first (answering at the deadline
		// raced it, and the two are worded differently).
		<-ctx.Done()
		time.Sleep(time.Second)
		return nil, ctx.Err()
	case strings.HasPrefix(id, "hold-"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(id, "hold-"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	rh := ci.RequestHeader()
	ci.ResponseHeader().Set("X-Quest-Cache", "hit")
	var seen []string
	for k := range rh {
		if !strings.HasPrefix(k, "Nats-Rpc-") { // the runtime's own
			seen = append(seen, k)
		}
	}
	ci.ResponseHeader().Set("X-Seen-Headers", strings.Join(sorted(seen), ","))
	ci.ResponseHeader().Set("X-Seen-Traceparent", rh.Get("traceparent"))
	dl, _ := ctx.Deadline()
	ci.ResponseHeader().Set("X-Deadline-Ms", strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	return &questv1.GetQuestResponse{Quest: &questv1.PlayerQuest{
		Quest:  &questv1.Quest{QuestId: id, Title: "Quest " + id, Summary: "for " + req.GetPlayerId()},
		Status: questv1.QuestStatus_QUEST_STATUS_ACTIVE,
	}}, nil
}

func (q *questService) GenerateQuest(ctx context.Context, req *questv1.GenerateQuestRequest) (*questv1.GenerateQuestResponse, error) {
	q.calls.Add(1)
	return &questv1.GenerateQuestResponse{Quest: &questv1.Quest{QuestId: "gen-" + req.GetPlayerId(), Title: req.GetHints()["theme"], RecommendedLevel: req.GetPlayerLevel()}}, nil
}

// aiService streams the words of the last message's content, one token
// each, then the finish reason; content "fail" fails after two tokens.
type aiService struct {
	aiintegrationv1natsrpc.UnimplementedAIIntegrationServiceHandler
}

func (aiService) StreamGenerate(ctx context.Context, req *aiv1.StreamGenerateRequest, s *natsrpc.HandlerSendStream[aiv1.StreamGenerateResponse]) error {
	var content string
	if n := len(req.GetMessages()); n > 0 {
		content = req.GetMessages()[n-1].GetContent()
	}
	if content == "unavailable-now" {
		return natsrpc.NewError(natsrpc.CodeUnavailable, errors.New("model warming up"))
	}
	s.ResponseHeader().Set("X-Model", "test-model")
	for i, w := range strings.Fields(content) {
		if content == "fail now please" && i == 2 {
			return natsrpc.NewError(natsrpc.CodeResourceExhausted, errors.New("token budget spent"))
		}
		if err := s.Send(&aiv1.StreamGenerateResponse{GenerationId: "g1", Sequence: int32(i + 1), Event: &aiv1.StreamGenerateResponse_Delta{Delta: &aiv1.TokenDelta{Text: w, TokenCount: 1}}}); err != nil {
			return err
		}
	}
	return s.Send(&aiv1.StreamGenerateResponse{GenerationId: "g1", Sequence: int32(len(strings.Fields(content)) + 1), Event: &aiv1.StreamGenerateResponse_FinishReason{FinishReason: aiv1.FinishReason_FINISH_REASON_STOP}})
}

// eventBus records the events it handles.
type eventBus struct {
	eventbusv1natsrpc.UnimplementedEventBusServiceHandler
	seen chan string
}

func (b *eventBus) WorldChanged(ctx context.Context, req *eventbusv1.WorldChangedRequest) error {
	b.seen <- "world " + req.GetWorldId() + " " + req.GetEventId()
	return nil
}

func (b *eventBus) PaymentCompleted(ctx context.Context, req *eventbusv1.PaymentCompletedRequest) error {
	b.seen <- "payment " + req.GetPaymentId()
	return nil
}

// wantEvent waits for an event the bus handled.
func (b *eventBus) wantEvent(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-b.seen:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("event %q never handled", want)
		}
	}
}

// itemService is the test schema's TestService, every kind of method.
type itemService struct {
	calls atomic.Int64
}

func (s *itemService) start(t *testing.T, nc *nats.Conn) {
	svc := natsrpctestv1.File_natsrpctest_v1_test_proto.Services().ByName("TestService")
	m := svc.Methods()
	mustService(t)(natsrpc.NewService(nc, svc, []natsrpc.Handler{
		natsrpc.NewUnaryHandler(m.ByName("Get"), func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
			s.calls.Add(1)
			return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: "owner " + req.GetOwnerId(), Status: natsrpctestv1.Status_STATUS_ACTIVE}}, nil
		}),
		natsrpc.NewUnaryHandler(m.ByName("Generate"), func(ctx context.Context, req *natsrpctestv1.GenerateRequest) (*natsrpctestv1.GenerateResponse, error) {
			s.calls.Add(1)
			return &natsrpctestv1.GenerateResponse{Item: &natsrpctestv1.Item{Id: "new", Title: req.GetTopic(), Level: req.GetLevel()}}, nil
		}),
		natsrpc.NewServerStreamHandler(m.ByName("Watch"), func(ctx context.Context, req *natsrpctestv1.WatchRequest, out *natsrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
			s.calls.Add(1)
			for i := uint64(1); i <= req.GetCount(); i++ {
				if err := out.Send(&natsrpctestv1.WatchResponse{Revision: i, Key: req.GetScript()}); err != nil {
					return err
				}
			}
			if req.GetScript() == "fail" {
				return natsrpc.NewError(natsrpc.CodeAborted, errors.New("revision conflict"))
			}
			return nil
		}),
		natsrpc.NewClientStreamHandler(m.ByName("Upload"), func(ctx context.Context, in *natsrpc.HandlerRecvStream[natsrpctestv1.UploadRequest]) (*natsrpctestv1.UploadResponse, error) {
			s.calls.Add(1)
			var all []string
			for {
				msg, err := in.Recv()
				if err == io.EOF {
					return &natsrpctestv1.UploadResponse{Value: strings.Join(all, "+")}, nil
				}
				if err != nil {
					return nil, err
				}
				all = append(all, msg.GetValue())
			}
		}),
		natsrpc.NewBidiStreamHandler(m.ByName("Chat"), func(ctx context.Context, st *natsrpc.HandlerBidiStream[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]) error {
			s.calls.Add(1)
			for {
				msg, err := st.Recv()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := st.Send(&natsrpctestv1.ChatResponse{Value: "re: " + msg.GetValue()}); err != nil {
					return err
				}
			}
		}),
		natsrpc.NewEventHandler(m.ByName("Notify"), func(ctx context.Context, req *natsrpctestv1.NotifyRequest) error {
			s.calls.Add(1)
			return nil
		}),
	}))
}

// tools are the real clients the tests drive: curl from the system,
// grpcurl and buf built from their pinned modfiles.
type tools struct {
	grpcurl string
	buf     string
}

// buildTools builds grpcurl (tools/grpcurl/go.mod) and buf
// (tools/go.mod) once, with GOWORK=off as their modfiles require.
func buildTools(t *testing.T) *tools {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed: %v", err)
	}
	root := testschema.RepoRoot(t)
	dir := t.TempDir()
	tl := &tools{grpcurl: filepath.Join(dir, "grpcurl"), buf: filepath.Join(dir, "buf")}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []struct{ modfile, pkg, out string }{
		{filepath.Join(root, "tools", "grpcurl", "go.mod"), "github.com/fullstorydev/grpcurl/cmd/grpcurl", tl.grpcurl},
		{filepath.Join(root, "tools", "go.mod"), "github.com/bufbuild/buf/cmd/buf", tl.buf},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-modfile="+b.modfile, "-o", b.out, b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return tl
}

// result is a client's output.
type result struct {
	stdout, stderr string
	code           int
}

// run runs a client with a time limit.
func run(t testing.TB, stdin string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// curl runs curl with -sS and returns the body, with the status line and
// headers first when -i is among args.
func (e *env) curl(t testing.TB, args ...string) result {
	t.Helper()
	return run(t, "", "curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
}

func (e *env) grpcurl(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return run(t, stdin, e.tools.grpcurl, append([]string{"-plaintext", "-max-time", "20"}, args...)...)
}

func (e *env) bufCurl(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return run(t, stdin, e.tools.buf, append([]string{"curl", "--timeout", "20s"}, args...)...)
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// response is what curl received.
type response struct {
	status int
	header http.Header
	body   string
}

// call runs curl, keeping the status, the headers and the body apart.
func (e *env) call(t testing.TB, args ...string) response {
	t.Helper()
	dir := t.TempDir()
	hf, bf := filepath.Join(dir, "h"), filepath.Join(dir, "b")
	r := e.curl(t, append([]string{"-D", hf, "-o", bf}, args...)...)
	if r.code != 0 {
		t.Fatalf("curl %v: exit %d: %s", args, r.code, r.stderr)
	}
	hb, _ := os.ReadFile(hf)
	bb, _ := os.ReadFile(bf)
	res := response{header: http.Header{}, body: string(bb)}
	for _, line := range strings.Split(string(hb), "\r\n") {
		if strings.HasPrefix(line, "HTTP/") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				res.status, _ = strconv.Atoi(f[1])
			}
			res.header = http.Header{} // the last response's headers
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			res.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return res
}
