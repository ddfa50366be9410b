// This file is not built in place: TestFreshPlugin copies it into a
// temporary module next to the code the freshly built plugin generated from
// fresh/v1/fresh.proto, and runs it there. It checks that code against the
// wire contract (docs/wire.md) and the runtime, never against the golden
// files.
package freshgen_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	freshv1 "github.com/natsrpc/natsrpc/freshgen/gen/fresh/v1"
	"github.com/natsrpc/natsrpc/freshgen/gen/fresh/v1/freshv1natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// The Unimplemented handlers have value receivers: a value of one is a
// complete handler, and embedding one by value (below) compiles.
var (
	_ freshv1natsrpc.CheckServiceHandler    = freshv1natsrpc.UnimplementedCheckServiceHandler{}
	_ freshv1natsrpc.PrefixedServiceHandler = freshv1natsrpc.UnimplementedPrefixedServiceHandler{}
)

// checkHandler implements every CheckService method but Unfinished, which
// the embedded Unimplemented handler answers.
type checkHandler struct {
	freshv1natsrpc.UnimplementedCheckServiceHandler
	noted chan string
}

func (checkHandler) Echo(_ context.Context, n *freshv1.Note) (*freshv1.Note, error) {
	return &freshv1.Note{Text: n.GetText()}, nil
}

func (checkHandler) Renamed(_ context.Context, n *freshv1.Note) (*freshv1.Note, error) {
	return &freshv1.Note{Text: "renamed " + n.GetText()}, nil
}

func (checkHandler) Count(_ context.Context, n *freshv1.Note, s *natsrpc.HandlerSendStream[freshv1.Note]) error {
	count, err := strconv.Atoi(n.GetText())
	if err != nil {
		return natsrpc.NewError(natsrpc.CodeInvalidArgument, err)
	}
	for i := range count {
		if err := s.Send(&freshv1.Note{Text: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

func (checkHandler) Join(_ context.Context, s *natsrpc.HandlerRecvStream[freshv1.Note]) (*freshv1.Note, error) {
	var parts []string
	for n, err := range s.All() {
		if err != nil {
			return nil, err
		}
		parts = append(parts, n.GetText())
	}
	return &freshv1.Note{Text: strings.Join(parts, "+")}, nil
}

func (checkHandler) Chat(_ context.Context, s *natsrpc.HandlerBidiStream[freshv1.Note, freshv1.Note]) error {
	for n, err := range s.All() {
		if err != nil {
			return err
		}
		if err := s.Send(&freshv1.Note{Text: "echo " + n.GetText()}); err != nil {
			return err
		}
	}
	return nil
}

func (h checkHandler) Noted(_ context.Context, n *freshv1.Note) error {
	h.noted <- n.GetText()
	return nil
}

type prefixedHandler struct {
	freshv1natsrpc.UnimplementedPrefixedServiceHandler
}

func (prefixedHandler) Get(_ context.Context, n *freshv1.Note) (*freshv1.Note, error) {
	return &freshv1.Note{Text: "got " + n.GetText()}, nil
}

// serve takes the results of a generated Register function, fails t on an
// error and stops the service when t ends.
func serve(t *testing.T) func(*natsrpc.Service, error) *natsrpc.Service {
	return func(svc *natsrpc.Service, err error) *natsrpc.Service {
		t.Helper()
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := svc.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
		return svc
	}
}

// TestConstants checks the generated constants against the wire contract
// (docs/wire.md, 1: [prefix.]package.Service.Method) and the descriptors.
func TestConstants(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"CheckServiceName", freshv1natsrpc.CheckServiceName, "fresh.v1.CheckService"},
		{"PrefixedServiceName", freshv1natsrpc.PrefixedServiceName, "fresh.v1.PrefixedService"},
		{"CheckServiceSubjectWildcard", freshv1natsrpc.CheckServiceSubjectWildcard, "fresh.v1.CheckService.>"},
		{"CheckServiceEchoSubject", freshv1natsrpc.CheckServiceEchoSubject, "fresh.v1.CheckService.Echo"},
		{"CheckServiceUnfinishedSubject", freshv1natsrpc.CheckServiceUnfinishedSubject, "fresh.v1.CheckService.Unfinished"},
		{"CheckServiceRenamedSubject", freshv1natsrpc.CheckServiceRenamedSubject, "fresh.v1.CheckService.custom.renamed"},
		{"CheckServiceCountSubject", freshv1natsrpc.CheckServiceCountSubject, "fresh.v1.CheckService.Count"},
		{"CheckServiceJoinSubject", freshv1natsrpc.CheckServiceJoinSubject, "fresh.v1.CheckService.Join"},
		{"CheckServiceChatSubject", freshv1natsrpc.CheckServiceChatSubject, "fresh.v1.CheckService.Chat"},
		{"CheckServiceNotedSubject", freshv1natsrpc.CheckServiceNotedSubject, "fresh.v1.CheckService.Noted"},
		{"PrefixedServiceSubjectWildcard", freshv1natsrpc.PrefixedServiceSubjectWildcard, "studio.fresh.v1.PrefixedService.>"},
		{"PrefixedServiceGetSubject", freshv1natsrpc.PrefixedServiceGetSubject, "studio.fresh.v1.PrefixedService.Get"},
		{"CheckServiceEchoProcedure", freshv1natsrpc.CheckServiceEchoProcedure, "/fresh.v1.CheckService/Echo"},
		{"CheckServiceNotedProcedure", freshv1natsrpc.CheckServiceNotedProcedure, "/fresh.v1.CheckService/Noted"},
		{"PrefixedServiceGetProcedure", freshv1natsrpc.PrefixedServiceGetProcedure, "/fresh.v1.PrefixedService/Get"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	for _, sd := range []struct{ constant, full string }{
		{freshv1natsrpc.CheckServiceName, string(freshv1.File_fresh_v1_fresh_proto.Services().ByName("CheckService").FullName())},
		{freshv1natsrpc.PrefixedServiceName, string(freshv1.File_fresh_v1_fresh_proto.Services().ByName("PrefixedService").FullName())},
	} {
		if sd.constant != sd.full {
			t.Errorf("service name constant %q; the descriptor says %q", sd.constant, sd.full)
		}
	}
}

// TestServices serves the generated handlers and calls them through the
// generated clients on a real nats-server: each subject constant is the
// subject the service listens on, and every method kind works.
func TestServices(t *testing.T) {
	srv := natstest.Start(t)
	snc, cnc := natstest.Connect(t, srv), natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	impl := checkHandler{noted: make(chan string, 1)}
	svc := serve(t)(freshv1natsrpc.RegisterCheckServiceHandler(snc, impl))
	psvc := serve(t)(freshv1natsrpc.RegisterPrefixedServiceHandler(snc, prefixedHandler{}))
	client := freshv1natsrpc.NewCheckServiceClient(cnc)

	t.Run("subject constants are the subjects served", func(t *testing.T) {
		want := map[string]string{
			"Echo":       freshv1natsrpc.CheckServiceEchoSubject,
			"Unfinished": freshv1natsrpc.CheckServiceUnfinishedSubject,
			"Renamed":    freshv1natsrpc.CheckServiceRenamedSubject,
			"Count":      freshv1natsrpc.CheckServiceCountSubject,
			"Join":       freshv1natsrpc.CheckServiceJoinSubject,
			"Chat":       freshv1natsrpc.CheckServiceChatSubject,
			"Noted":      freshv1natsrpc.CheckServiceNotedSubject,
			"Get":        freshv1natsrpc.PrefixedServiceGetSubject,
		}
		wildcards := map[string]string{
			"Get": freshv1natsrpc.PrefixedServiceSubjectWildcard,
		}
		seen := 0
		for _, s := range []*natsrpc.Service{svc, psvc} {
			for _, ep := range s.Info().Endpoints {
				seen++
				if want[ep.Name] != ep.Subject {
					t.Errorf("endpoint %s listens on %q; its generated constant is %q", ep.Name, ep.Subject, want[ep.Name])
				}
				wildcard, ok := wildcards[ep.Name]
				if !ok {
					wildcard = freshv1natsrpc.CheckServiceSubjectWildcard
				}
				if !strings.HasPrefix(ep.Subject, strings.TrimSuffix(wildcard, ">")) {
					t.Errorf("endpoint %s's subject %q is outside the wildcard constant %q", ep.Name, ep.Subject, wildcard)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("the services have %d endpoints; want %d", seen, len(want))
		}
	})

	t.Run("a raw request on a subject constant reaches the handler", func(t *testing.T) {
		body, err := proto.Marshal(&freshv1.Note{Text: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		for subject, want := range map[string]string{
			freshv1natsrpc.CheckServiceEchoSubject:    "raw",
			freshv1natsrpc.CheckServiceRenamedSubject: "renamed raw",
			freshv1natsrpc.PrefixedServiceGetSubject:  "got raw",
		} {
			msg, err := cnc.RequestWithContext(ctx, subject, body)
			if err != nil {
				t.Errorf("request on %s: %v", subject, err)
				continue
			}
			var res freshv1.Note
			if err := proto.Unmarshal(msg.Data, &res); err != nil || res.GetText() != want {
				t.Errorf("request on %s answered %q, %v; want %q", subject, res.GetText(), err, want)
			}
		}
	})

	t.Run("unary", func(t *testing.T) {
		res, err := client.Echo(ctx, &freshv1.Note{Text: "hi"})
		if err != nil || res.GetText() != "hi" {
			t.Errorf("Echo = %v, %v; want hi", res, err)
		}
		res, err = client.Renamed(ctx, &freshv1.Note{Text: "x"})
		if err != nil || res.GetText() != "renamed x" {
			t.Errorf("Renamed = %v, %v; want renamed x", res, err)
		}
		res, err = freshv1natsrpc.NewPrefixedServiceClient(cnc).Get(ctx, &freshv1.Note{Text: "y"})
		if err != nil || res.GetText() != "got y" {
			t.Errorf("Get = %v, %v; want got y", res, err)
		}
	})

	t.Run("the embedded Unimplemented handler answers over the wire", func(t *testing.T) {
		res, err := client.Unfinished(ctx, &freshv1.Note{})
		if res != nil || natsrpc.CodeOf(err) != natsrpc.CodeUnimplemented || !natsrpc.IsWireError(err) {
			t.Fatalf("Unfinished = %v, %v; want CodeUnimplemented from the service", res, err)
		}
		if want := "fresh.v1.CheckService.Unfinished is not implemented"; !strings.Contains(err.Error(), want) {
			t.Errorf("Unfinished error %q lacks %q", err, want)
		}
	})

	t.Run("server stream", func(t *testing.T) {
		st, err := client.Count(ctx, &freshv1.Note{Text: "3"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for n, err := range st.All() {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n.GetText())
		}
		if strings.Join(got, ",") != "0,1,2" {
			t.Errorf("Count(3) streamed %q; want 0,1,2", got)
		}
	})

	t.Run("client stream", func(t *testing.T) {
		up, err := client.Join(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"a", "b", "c"} {
			if err := up.Send(&freshv1.Note{Text: s}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := up.CloseAndRecv()
		if err != nil || res.GetText() != "a+b+c" {
			t.Errorf("Join = %v, %v; want a+b+c", res, err)
		}
	})

	t.Run("bidi stream", func(t *testing.T) {
		chat, err := client.Chat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer chat.Close()
		for _, s := range []string{"a", "b"} {
			if err := chat.Send(&freshv1.Note{Text: s}); err != nil {
				t.Fatal(err)
			}
			res, err := chat.Recv()
			if err != nil || res.GetText() != "echo "+s {
				t.Fatalf("Chat answered %v, %v; want echo %s", res, err, s)
			}
		}
		if err := chat.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if res, err := chat.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("Chat after CloseSend = %v, %v; want the end", res, err)
		}
	})

	t.Run("event", func(t *testing.T) {
		if err := client.Noted(ctx, &freshv1.Note{Text: "seen"}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-impl.noted:
			if got != "seen" {
				t.Errorf("Noted handled %q; want seen", got)
			}
		case <-ctx.Done():
			t.Fatal("the Noted event never reached its handler")
		}
	})
}
