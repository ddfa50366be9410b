package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// TestRightsSubjects: a push and a policy change travel on their module's
// subject, a payload naming another module than the subject is refused
// with permission_denied, and NATS permissions on those subjects alone
// decide who may push which module. The API before rights still answers.
func TestRightsSubjects(t *testing.T) {
	t.Parallel()
	srv := registrytest.StartNATS(t, func(o *server.Options) {
		inbox := &server.SubjectPermission{Allow: []string{"_INBOX.>"}}
		o.NoAuthUser = "registry"
		o.Users = []*server.User{
			{Username: "registry", Password: "pw"},
			{Username: "quest", Password: "pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"natsrpc.registry.v1.push.*.quest", "natsrpc.registry.v1.read.>"}},
				Subscribe: inbox,
			}},
		}
	})
	registrytest.Serve(t, srv)
	ctx := registrytest.Ctx(t, time.Minute)
	admin := client.New(natstest.Connect(t, srv, nats.UserInfo("registry", "pw")))
	set := testschema.CommonSet(t, testschema.CommonV1)

	// The client sends a push to the module's subject.
	var sent string
	spy := natsrpc.UnaryInterceptorFunc(func(next natsrpc.UnaryFunc) natsrpc.UnaryFunc {
		return func(ctx2 context.Context, req proto.Message) (proto.Message, error) {
			ci, _ := natsrpc.CallInfoFromContext(ctx2)
			sent = ci.Spec().Subject
			return next(ctx2, req)
		}
	})
	claims := &registryv1.PushClaims{User: "ci", OsUser: "alice", Host: "build-7", Client: "natsrpc test", Ci: map[string]string{"GITHUB_ACTOR": "alice"}}
	spied := client.New(natstest.Connect(t, srv, nats.UserInfo("registry", "pw")), client.WithClientOptions(natsrpc.WithInterceptors(spy)), client.WithPushClaims(claims))
	if _, err := spied.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}}); err != nil {
		t.Fatal(err)
	}
	if want := "natsrpc.registry.v1.push.Push.common"; sent != want {
		t.Errorf("push sent on %q; want %q", sent, want)
	}
	// The version records the right it came through and the claims.
	vs, err := admin.ListVersions(ctx, "common")
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions: %v, %v", vs, err)
	}
	if pb := vs[0].GetPushedBy(); pb.GetRight() != "push:common" || !proto.Equal(pb.GetClaimed(), claims) {
		t.Errorf("pushed_by = %v; want right push:common and the claims %v", pb, claims)
	}
	// Claims beyond the limits are refused, and nothing is stored.
	big := &registryv1.PushClaims{Host: strings.Repeat("h", 300)}
	_, err = client.New(admin.Conn(), client.WithPushClaims(big)).Push(ctx, &registryv1.PushRequest{Module: "other", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}})
	if natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument || !strings.Contains(err.Error(), "host") {
		t.Errorf("push with a 300-byte host claim: %v; want invalid_argument naming the host", err)
	}
	if _, err := spied.API().SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: "common", Policy: &registryv1.Policy{Categories: []string{"FILE"}}}); err != nil {
		t.Fatal(err)
	}
	if want := "natsrpc.registry.v1.policy.SetPolicy.common"; sent != want {
		t.Errorf("set policy sent on %q; want %q", sent, want)
	}

	// A payload naming another module than the subject: permission_denied.
	pushAPI := registryv1natsrpc.NewRegistryPushServiceClient(admin.Conn())
	_, err = pushAPI.Push(ctx, &registryv1.PushRequest{Module: "payment", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}}, natsrpc.WithSubjectToken("quest"))
	if natsrpc.CodeOf(err) != natsrpc.CodePermissionDenied || !strings.Contains(err.Error(), `"payment"`) {
		t.Errorf("push of payment on quest's subject: %v; want permission_denied naming payment", err)
	}
	policyAPI := registryv1natsrpc.NewRegistryPolicyServiceClient(admin.Conn())
	_, err = policyAPI.SetPolicy(ctx, &registryv1.SetPolicyRequest{Module: "payment", Policy: &registryv1.Policy{Categories: []string{"FILE"}}}, natsrpc.WithSubjectToken("quest"))
	if natsrpc.CodeOf(err) != natsrpc.CodePermissionDenied {
		t.Errorf("set policy of payment on quest's subject: %v; want permission_denied", err)
	}
	// A token that is no module name is refused as such.
	_, err = pushAPI.Push(ctx, &registryv1.PushRequest{Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}}, natsrpc.WithSubjectToken("Not-A-Module"))
	if natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument {
		t.Errorf("push on a token that is no module name: %v; want invalid_argument", err)
	}
	// The payload may leave the module out: the subject names it.
	res, err := pushAPI.Push(ctx, &registryv1.PushRequest{Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}, DryRun: true}, natsrpc.WithSubjectToken("common"))
	if err != nil || res.GetVersion().GetModule() != "common" {
		t.Errorf("push without a payload module on common's subject: %v, %v; want a dry run of common", res, err)
	}

	// NATS permissions: quest's user may push quest, not common.
	var (
		mu         sync.Mutex
		violations []string
	)
	qnc := natstest.Connect(t, srv, nats.UserInfo("quest", "pw"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		violations = append(violations, err.Error())
		mu.Unlock()
	}))
	quest := client.New(qnc)
	if _, err := quest.ListModules(ctx); err != nil {
		t.Fatalf("quest reads: %v", err)
	}
	if _, err := quest.Push(ctx, &registryv1.PushRequest{Module: "quest", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}, DryRun: true}); err != nil && natsrpc.CodeOf(err) != natsrpc.CodeInvalidArgument {
		// common's files under module quest are refused by ownership
		// (invalid argument or a refusal), never by NATS.
		t.Fatalf("quest pushes quest: %v", err)
	}
	short := registrytest.Ctx(t, 2*time.Second)
	_, err = quest.Push(short, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: set}})
	if err == nil {
		t.Fatal("quest pushed common")
	}
	mu.Lock()
	if got := strings.Join(violations, "\n"); !strings.Contains(got, "natsrpc.registry.v1.push.Push.common") {
		t.Errorf("NATS reported %q; want a violation on common's push subject", got)
	}
	mu.Unlock()
	if vs, _ := admin.ListVersions(ctx, "common"); len(vs) != 1 {
		t.Errorf("common has %d versions after quest's push; want 1", len(vs))
	}

	// The API before rights still answers.
	legacy := registryv1natsrpc.NewRegistryServiceClient(admin.Conn())
	if _, err := legacy.ListModules(ctx, &registryv1.ListModulesRequest{}); err != nil {
		t.Errorf("RegistryService.ListModules: %v", err)
	}
	// A push through it is recorded as an administrator's.
	two := testschema.CommonSet(t, testschema.CommonV2)
	if _, err := legacy.Push(ctx, &registryv1.PushRequest{Module: "common", Source: &registryv1.PushRequest_FileDescriptorSet{FileDescriptorSet: two}}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := admin.ListVersions(ctx, "common"); len(vs) != 2 || vs[1].GetPushedBy().GetRight() != "admin" {
		t.Errorf("versions after a push through RegistryService: %v; want the second pushed by admin", vs)
	}
}
