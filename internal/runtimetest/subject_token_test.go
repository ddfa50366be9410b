package runtimetest

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// TestSubjectToken serves Get on "<subject>.*": each call names its token,
// the handler reads it, a call without one finds nobody, and NATS
// permissions can grant one token and refuse another.
func TestSubjectToken(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithConfigure(func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "svc", Password: "pw"},
			{Username: "quest", Password: "pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{getItemSubject + ".quest"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
		}
	}))
	snc := natstest.Connect(t, srv, nats.UserInfo("svc", "pw"))
	var violations atomic.Int64
	qnc := natstest.Connect(t, srv, nats.UserInfo("quest", "pw"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), getItemSubject+".payment") {
			violations.Add(1)
		}
	}))
	testService(t, snc, []natsrpc.Handler{getItemHandler(func(ctx context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
		ci, _ := natsrpc.CallInfoFromContext(ctx)
		return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId(), Title: ci.SubjectToken()}}, nil
	})}, natsrpc.WithSubjectWildcard("Get"))

	// A client interceptor sees the subject the call goes to.
	var sent atomic.Value
	spy := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx)
			sent.Store(ci.Spec().Subject + " " + ci.SubjectToken())
			return next(ctx, req)
		}
	})
	for _, c := range []*natsrpc.UnaryClient[natsrpctestv1.GetRequest, natsrpctestv1.GetResponse]{getItemClient(snc), getItemClient(snc, natsrpc.WithInterceptors(spy))} {
		for _, token := range []string{"quest", "payment", "a-b_c"} {
			res, err := c.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "x"}, natsrpc.WithSubjectToken(token))
			if err != nil {
				t.Fatalf("token %q: %v", token, err)
			}
			if res.GetItem().GetTitle() != token {
				t.Errorf("handler saw token %q; want %q", res.GetItem().GetTitle(), token)
			}
		}
	}
	if got, want := sent.Load(), getItemSubject+".a-b_c a-b_c"; got != want {
		t.Errorf("the interceptor saw %q; want %q", got, want)
	}
	c := getItemClient(snc)
	// Without a token nobody listens on the bare subject.
	_, err := c.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "x"})
	wantCode(t, err, natsrpc.CodeUnavailable)
	// Invalid tokens never reach NATS.
	for _, bad := range []string{"", "a.b", "*", ">", "a b", "$x", strings.Repeat("x", 129)} {
		_, err := c.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "x"}, natsrpc.WithSubjectToken(bad))
		wantCode(t, err, natsrpc.CodeInvalidArgument)
	}

	// Permissions: the quest user may call with "quest" only.
	q := getItemClient(qnc)
	res, err := q.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "y"}, natsrpc.WithSubjectToken("quest"))
	if err != nil || res.GetItem().GetTitle() != "quest" {
		t.Fatalf("allowed token: %v, %v", res, err)
	}
	_, err = q.CallUnary(t.Context(), &natsrpctestv1.GetRequest{Id: "y"}, natsrpc.WithSubjectToken("payment"), natsrpc.WithCallTimeout(300*time.Millisecond))
	wantCode(t, err, natsrpc.CodeDeadlineExceeded)
	waitFor(t, "the permission violation", func() bool { return violations.Load() > 0 })
}

// TestSubjectWildcardNeedsAUnaryMethod refuses the option on methods it
// cannot apply to, and the call option on streams and events.
func TestSubjectWildcardNeedsAUnaryMethod(t *testing.T) {
	t.Parallel()
	_, cnc, snc := testConns(t)
	if _, err := natsrpc.NewService(snc, itemService, []natsrpc.Handler{getItemHandler(echoGetItem)}, natsrpc.WithSubjectWildcard("Nope")); err == nil || !strings.Contains(err.Error(), `WithSubjectWildcard names "Nope"`) {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := natsrpc.NewService(snc, streamService, []natsrpc.Handler{watchHandler(countTo)}, natsrpc.WithSubjectWildcard("Watch")); err == nil || !strings.Contains(err.Error(), "not a unary method") {
		t.Errorf("streaming method: %v", err)
	}
	_, err := watchClient(cnc).CallServerStream(t.Context(), &str{Value: "1"}, natsrpc.WithSubjectToken("x"))
	wantCode(t, err, natsrpc.CodeInvalidArgument)
}
