package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	nrpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
	"github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1/natsrpctestv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// The perms tests run the real thing under exactly the permissions
// `natsrpc perms` prints: each user of the nats-server gets one role's
// block, as conf or as JSON, in a configuration file nats-server parses.

// permsServer starts a JetStream nats-server whose users have the given
// permission blocks (nats-server configuration syntax: conf or JSON).
func permsServer(t *testing.T, users map[string]string) *server.Server {
	t.Helper()
	var b strings.Builder
	b.WriteString("authorization {\n  users = [\n")
	for name, block := range users {
		fmt.Fprintf(&b, "    {user: %q, password: %q, permissions: %s}\n", name, "pw-"+name, block)
	}
	b.WriteString("  ]\n}\n")
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	fileOpts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server refuses the generated permissions: %v\n%s", err, b.String())
	}
	return registrytest.StartNATS(t, func(o *server.Options) { o.Users = fileOpts.Users })
}

// permsOf runs `natsrpc perms args...` and returns its output.
func permsOf(t *testing.T, args ...string) string {
	t.Helper()
	r := natsrpc(t, append([]string{"perms"}, args...)...)
	r.want(t, 0, "", "")
	return r.stdout
}

// violations connects as user and records the permission violations NATS
// reports on the connection.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		v.mu.Lock()
		v.errs = append(v.errs, err.Error())
		v.mu.Unlock()
	}
}

func (v *violations) wait(t *testing.T, subject string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		got := strings.Join(v.errs, "\n")
		v.mu.Unlock()
		if strings.Contains(got, `"`+subject+`"`) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t.Errorf("no permission violation for %q; got %q", subject, v.errs)
}

func (v *violations) none(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.errs) > 0 {
		t.Errorf("permission violations: %q", v.errs)
	}
}

// TestPermsRegistryRoles: the registry serves as an ordinary user with
// its generated permissions; a reader reads and cannot push; a pusher of
// quest pushes quest, not payment, and cannot set a policy; a
// policy-admin of quest sets quest's, not payment's; nobody but the
// registry can announce a version or write its buckets.
func TestPermsRegistryRoles(t *testing.T) {
	t.Parallel()
	srv := permsServer(t, map[string]string{
		"registry": permsOf(t, "registry"),
		"reader":   permsOf(t, "reader", "--format", "json"),
		"quest":    permsOf(t, "pusher", "--module", "quest"),
		"qpolicy":  permsOf(t, "policy-admin", "--module", "quest"),
		"admin":    permsOf(t, "admin"),
		// Hand-written, to check the refusal of a reply subscription.
		"nosub": `{publish: {allow: ["natsrpc.registry.v1.read.>"]}, subscribe: {deny: [">"]}}`,
	})
	url := srv.ClientURL()
	as := func(user string) []string { return []string{"-s", url, "--user", user, "--password", "pw-" + user} }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := startNatsrpc(ctx, append(as("registry"), "registry", "serve")...)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(serve.stdout.String(), "natsrpc registry serving") {
		select {
		case code := <-serve.done:
			t.Fatalf("registry serve exited %d under its generated permissions:\n%s\n%s", code, serve.stdout, serve.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not start:\n%s\n%s", serve.stdout, serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := t.TempDir()
	writeModule(t, dir, testschema.CommonV1)

	// The pusher of quest.
	natsrpc(t, append(as("quest"), "push", dir, "--module", "quest")...).want(t, 0, "quest@1", "")
	natsrpc(t, append(as("quest"), "push", dir, "--module", "payment")...).want(t, 1, "", "lacks the registry's push:payment right")
	natsrpc(t, append(as("quest"), "policy", "quest", "--use", "FILE")...).want(t, 1, "", "lacks the registry's set-policy:quest right")
	// The version records the right it came through, and what the CLI
	// claimed, marked as claimed.
	natsrpc(t, append(as("quest"), "ls", "quest")...).want(t, 0, "push:quest (claimed: user quest, ", "")
	// The policy admin of quest.
	natsrpc(t, append(as("qpolicy"), "policy", "quest", "--use", "FILE")...).want(t, 0, "", "")
	natsrpc(t, append(as("qpolicy"), "policy", "payment", "--use", "FILE")...).want(t, 1, "", "lacks the registry's set-policy:payment right")
	natsrpc(t, append(as("qpolicy"), "push", dir, "--module", "quest")...).want(t, 1, "", "lacks the registry's push:quest right")
	// The reader.
	natsrpc(t, append(as("reader"), "ls")...).want(t, 0, "quest", "")
	natsrpc(t, append(as("reader"), "describe", "acme.common.v1.Money")...).want(t, 0, "Money", "")
	natsrpc(t, append(as("reader"), "get", "quest", "-o", filepath.Join(t.TempDir(), "q.binpb"))...).want(t, 0, "", "")
	natsrpc(t, append(as("reader"), "push", dir, "--module", "quest")...).want(t, 1, "", "lacks the registry's push:quest right")
	// Without the right to subscribe to its inbox, a call fails at once,
	// saying so.
	start := time.Now()
	natsrpc(t, append(as("nosub"), "ls")...).want(t, 1, "", "NATS refused this user the subscription to \"_INBOX.")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the refused subscription took %s to report", d)
	}
	// The admin may do anything through the API.
	natsrpc(t, append(as("admin"), "policy", "payment", "--use", "FILE")...).want(t, 0, "", "")

	// Package reservations: only an admin reserves; a reserved package
	// cannot be claimed by another module's push (squatting), and anyone
	// who reads sees the reservations.
	shopDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(shopDir, "acme", "shop", "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shopDir, "acme", "shop", "v1", "shop.proto"), []byte("syntax = \"proto3\";\npackage acme.shop.v1;\nmessage Cart { string id = 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shopDir, "buf.yaml"), []byte("version: v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	natsrpc(t, append(as("quest"), "registry", "reserve", "acme.shop", "--module", "shop")...).want(t, 1, "", "lacks the registry's admin right")
	natsrpc(t, append(as("admin"), "registry", "reserve", "acme.shop", "--module", "shop")...).want(t, 0, "package prefix acme.shop reserved for module shop", "")
	natsrpc(t, append(as("reader"), "registry", "reservations")...).want(t, 0, "acme.shop", "")
	natsrpc(t, append(as("quest"), "push", shopDir, "--module", "quest")...).want(t, 100, "", "")
	if r := natsrpc(t, append(as("quest"), "push", shopDir, "--module", "quest", "--dry-run")...); !strings.Contains(r.stdout+r.stderr, `package "acme.shop.v1" is reserved for module "shop"`) {
		t.Errorf("the refused push does not name the reservation:\n%s\n%s", r.stdout, r.stderr)
	}
	natsrpc(t, append(as("admin"), "registry", "release", "acme.shop")...).want(t, 0, "released", "")
	// Deprecation: an admin's, shown to readers.
	natsrpc(t, append(as("quest"), "registry", "deprecate", "quest", "--message", "use quest2")...).want(t, 1, "", "lacks the registry's admin right")
	natsrpc(t, append(as("admin"), "registry", "deprecate", "quest", "--message", "use quest2")...).want(t, 0, "module quest is deprecated", "")
	natsrpc(t, append(as("reader"), "ls")...).want(t, 0, "deprecated: use quest2", "")
	natsrpc(t, append(as("admin"), "registry", "deprecate", "quest", "--undo")...).want(t, 0, "module quest is not deprecated", "")

	// Nobody but the registry announces versions or writes its buckets.
	for _, user := range []string{"reader", "quest", "qpolicy", "admin"} {
		var v violations
		nc, err := nats.Connect(url, nats.UserInfo(user, "pw-"+user), nats.ErrorHandler(v.handler))
		if err != nil {
			t.Fatal(err)
		}
		for _, subject := range []string{
			"natsrpc.registry.v1.RegistryEventsService.VersionCreated",
			"$KV.natsrpc_registry.mod.quest.ver.7",
			"$JS.API.STREAM.INFO.KV_natsrpc_registry",
			"$JS.API.STREAM.PURGE.KV_natsrpc_registry",
		} {
			if err := nc.Publish(subject, []byte("garbage")); err != nil {
				t.Fatal(err)
			}
			v.wait(t, subject)
		}
		nc.Close()
	}
	natsrpc(t, append(as("reader"), "ls", "quest")...).want(t, 0, "sha256:", "")
	if vs := natsrpc(t, append(as("reader"), "ls", "quest", "--format", "json")...); strings.Count(vs.stdout, `"version"`) != 1 {
		t.Errorf("quest's versions after the refused writes:\n%s", vs.stdout)
	}

	// Transferring a package and deleting a module: an admin's only, and
	// refused to a pusher by NATS, saying which right is missing.
	natsrpc(t, append(as("quest"), "registry", "transfer", "acme.common", "--to", "shop")...).want(t, 1, "", "lacks the registry's admin right")
	natsrpc(t, append(as("admin"), "registry", "transfer", "acme.common", "--to", "shop")...).want(t, 0, "moved package acme.common.v1", "")
	natsrpc(t, append(as("reader"), "registry", "reservations")...).want(t, 0, "acme.common", "")
	natsrpc(t, append(as("quest"), "registry", "delete", "quest", "--yes")...).want(t, 1, "", "lacks the registry's admin right")
	natsrpc(t, append(as("reader"), "ls", "quest")...).want(t, 0, "sha256:", "")
	natsrpc(t, append(as("admin"), "registry", "delete", "quest")...).want(t, 1, "", "cannot be undone: add --yes")
	natsrpc(t, append(as("admin"), "registry", "delete", "quest", "--yes")...).want(t, 0, "module quest deleted (versions through 1; a new push starts at 2)", "")
	natsrpc(t, append(as("reader"), "ls", "quest")...).want(t, 1, "", "quest")
	natsrpc(t, append(as("reader"), "get", "quest", "-o", filepath.Join(t.TempDir(), "q.binpb"))...).want(t, 1, "", "quest")
	natsrpc(t, append(as("admin"), "registry", "delete", "quest", "--yes")...).want(t, 1, "", "nothing to delete")
	cancel()
	<-serve.done
}

// descriptorSetFile writes the library's test schema as a descriptor set.
func descriptorSetFile(t *testing.T) string {
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
	add(natsrpctestv1.File_natsrpctest_v1_test_proto)
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "test.binpb")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type testHandler struct {
	natsrpctestv1natsrpc.UnimplementedTestServiceHandler
	notified chan string
}

func (testHandler) Get(_ context.Context, req *natsrpctestv1.GetRequest) (*natsrpctestv1.GetResponse, error) {
	return &natsrpctestv1.GetResponse{Item: &natsrpctestv1.Item{Id: req.GetId()}}, nil
}

func (testHandler) Watch(_ context.Context, req *natsrpctestv1.WatchRequest, out *nrpc.HandlerSendStream[natsrpctestv1.WatchResponse]) error {
	for i := uint64(1); i <= req.GetCount(); i++ {
		if err := out.Send(&natsrpctestv1.WatchResponse{Revision: i}); err != nil {
			return err
		}
	}
	return nil
}

func (testHandler) Upload(_ context.Context, in *nrpc.HandlerRecvStream[natsrpctestv1.UploadRequest]) (*natsrpctestv1.UploadResponse, error) {
	var sum []string
	for req, err := range in.All() {
		if err != nil {
			return nil, err
		}
		sum = append(sum, req.GetValue())
	}
	return &natsrpctestv1.UploadResponse{Value: strings.Join(sum, "+")}, nil
}

func (testHandler) Chat(_ context.Context, s *nrpc.HandlerBidiStream[natsrpctestv1.ChatRequest, natsrpctestv1.ChatResponse]) error {
	for req, err := range s.All() {
		if err != nil {
			return err
		}
		if err := s.Send(&natsrpctestv1.ChatResponse{Value: "re: " + req.GetValue()}); err != nil {
			return err
		}
	}
	return nil
}

func (h testHandler) Notify(_ context.Context, req *natsrpctestv1.NotifyRequest) error {
	h.notified <- req.GetId()
	return nil
}

type durableHandler struct{ recorded chan string }

func (h durableHandler) Record(_ context.Context, req *natsrpctestv1.RecordRequest) error {
	h.recorded <- req.GetId()
	return nil
}

// TestPermsServiceRoles: a service with its generated permissions serves
// unary calls, streams of every kind, events and durable events, and
// cannot publish on another service's subjects; a client with its
// generated permissions calls its service and not another.
func TestPermsServiceRoles(t *testing.T) {
	t.Parallel()
	set := descriptorSetFile(t)
	const test, durable = "natsrpctest.v1.TestService", "natsrpctest.v1.DurableService"
	srv := permsServer(t, map[string]string{
		"svc":  permsOf(t, "service", "--service", test, "--descriptor-set", set),
		"dsvc": permsOf(t, "service", "--service", durable, "--descriptor-set", set, "--format", "json"),
		"cli":  permsOf(t, "client", "--service", test, "--descriptor-set", set),
		"dcli": permsOf(t, "client", "--service", durable, "--descriptor-set", set),
	})
	var sv, dv, cv, dcv violations
	connect := func(user, inbox string, v *violations) *nats.Conn {
		opts := []nats.Option{nats.UserInfo(user, "pw-"+user), nats.ErrorHandler(v.handler)}
		if inbox != "" {
			opts = append(opts, nats.CustomInboxPrefix(inbox))
		}
		nc, err := nats.Connect(srv.ClientURL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// Services use their own inbox prefix (the perms' default).
	snc := connect("svc", "_INBOX_natsrpctest_v1_TestService", &sv)
	dnc := connect("dsvc", "_INBOX_natsrpctest_v1_DurableService", &dv)
	cnc := connect("cli", "", &cv)
	dcnc := connect("dcli", "", &dcv)

	h := testHandler{notified: make(chan string, 1)}
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(snc, h)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())
	dh := durableHandler{recorded: make(chan string, 1)}
	dsvc, err := natsrpctestv1natsrpc.RegisterDurableServiceHandler(dnc, dh)
	if err != nil {
		t.Fatalf("the durable service under its generated permissions: %v", err)
	}
	defer dsvc.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := natsrpctestv1natsrpc.NewTestServiceClient(cnc)
	if res, err := c.Get(ctx, &natsrpctestv1.GetRequest{Id: "x"}); err != nil || res.GetItem().GetId() != "x" {
		t.Fatalf("unary: %v, %v", res, err)
	}
	w, err := c.Watch(ctx, &natsrpctestv1.WatchRequest{Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range w.All() {
		if err != nil {
			t.Fatalf("server stream after %d: %v", n, err)
		}
		n++
	}
	if n != 20 {
		t.Errorf("server stream: %d messages; want 20", n)
	}
	up, err := c.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := up.Send(&natsrpctestv1.UploadRequest{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := up.CloseAndRecv(); err != nil || res.GetValue() != "a+b+c" {
		t.Fatalf("client stream: %v, %v", res, err)
	}
	chat, err := c.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := chat.Send(&natsrpctestv1.ChatRequest{Value: "hi"}); err != nil {
		t.Fatal(err)
	}
	if res, err := chat.Recv(); err != nil || res.GetValue() != "re: hi" {
		t.Fatalf("bidi stream: %v, %v", res, err)
	}
	_ = chat.CloseSend()
	if err := c.Notify(ctx, &natsrpctestv1.NotifyRequest{Id: "n1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-h.notified:
		if id != "n1" {
			t.Errorf("event %q", id)
		}
	case <-ctx.Done():
		t.Fatal("the event did not arrive")
	}
	if err := natsrpctestv1natsrpc.NewDurableServiceClient(dcnc).Record(ctx, &natsrpctestv1.RecordRequest{Id: "r1"}); err != nil {
		t.Fatalf("durable event: %v", err)
	}
	select {
	case id := <-dh.recorded:
		if id != "r1" {
			t.Errorf("durable event %q", id)
		}
	case <-ctx.Done():
		t.Fatal("the durable event did not arrive")
	}
	sv.none(t)
	dv.none(t)
	cv.none(t)
	dcv.none(t)

	// The client of TestService cannot call DurableService, nor the
	// service publish on its subjects, nor the client of DurableService
	// call TestService: NATS refuses each publish.
	_ = cnc.Publish(natsrpctestv1natsrpc.DurableServiceRecordSubject, []byte("x"))
	cv.wait(t, natsrpctestv1natsrpc.DurableServiceRecordSubject)
	_ = snc.Publish(natsrpctestv1natsrpc.DurableServiceRecordSubject, []byte("x"))
	sv.wait(t, natsrpctestv1natsrpc.DurableServiceRecordSubject)
	_ = snc.Publish(natsrpctestv1natsrpc.TestServiceGetSubject, []byte("x"))
	sv.wait(t, natsrpctestv1natsrpc.TestServiceGetSubject)
	_ = dcnc.Publish(natsrpctestv1natsrpc.TestServiceGetSubject, []byte("x"))
	dcv.wait(t, natsrpctestv1natsrpc.TestServiceGetSubject)
	// Nor can anyone of them announce a registry version.
	_ = cnc.Publish("natsrpc.registry.v1.RegistryEventsService.VersionCreated", []byte("x"))
	cv.wait(t, "natsrpc.registry.v1.RegistryEventsService.VersionCreated")
	select {
	case id := <-dh.recorded:
		t.Errorf("a refused publish reached the durable handler: %q", id)
	default:
	}

	// The CLI's call, as the client of TestService: TestService answers;
	// as the client of DurableService, a call of TestService is refused at
	// once, naming the subject.
	as := func(user string) []string {
		return []string{"-s", srv.ClientURL(), "--user", user, "--password", "pw-" + user}
	}
	natsrpc(t, append(as("cli"), "call", test+".Get", "-d", `{"id":"y"}`, "--descriptor-set", set)...).want(t, 0, `"y"`, "")
	start := time.Now()
	natsrpc(t, append(as("dcli"), "call", test+".Get", "-d", `{"id":"y"}`, "--descriptor-set", set, "--timeout", "30s")...).want(t, 64+7, "", `NATS refused this user the publish to "natsrpctest.v1.TestService.Get"`)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the refused call took %s; it should end at once", d)
	}
}

// TestPermsGatewayAndTap: the gateway, with its generated permissions,
// serves a service over HTTP; tap, with its own, watches the service's
// traffic; neither may call or serve anything else.
func TestPermsGatewayAndTap(t *testing.T) {
	t.Parallel()
	set := descriptorSetFile(t)
	const test = "natsrpctest.v1.TestService"
	srv := permsServer(t, map[string]string{
		"svc": permsOf(t, "service", "--service", test, "--descriptor-set", set),
		"gw":  permsOf(t, "gateway", "--descriptor-set", set),
		"tap": permsOf(t, "tap", "--descriptor-set", set),
	})
	var sv violations
	snc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("svc", "pw-svc"), nats.CustomInboxPrefix("_INBOX_natsrpctest_v1_TestService"), nats.ErrorHandler(sv.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer snc.Close()
	svc, err := natsrpctestv1natsrpc.RegisterTestServiceHandler(snc, testHandler{notified: make(chan string, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())
	as := func(user string) []string {
		return []string{"-s", srv.ClientURL(), "--user", user, "--password", "pw-" + user}
	}
	tp := startLive(append(as("tap"), "tap", "--descriptor-set", set, "--refresh", "100ms", "--wait", "50ms")...)
	defer tp.stop()
	eventually(t, "tap to watch TestService", func() bool {
		return strings.Contains(tp.errOut.String(), "watching natsrpctest.v1.TestService")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw := startNatsrpc(ctx, append(as("gw"), "gateway", "--listen", "127.0.0.1:0", "--descriptor-set", set)...)
	var addr string
	deadline := time.Now().Add(time.Minute)
	for addr == "" {
		if m := regexp.MustCompile(`serving on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(gw.stdout.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", gw.stdout, gw.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post("http://"+addr+"/natsrpctest.v1.TestService/Get", "application/json", strings.NewReader(`{"id":"g-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"g-1"`) {
		t.Errorf("the gateway under its generated permissions: %d %s\n%s", resp.StatusCode, body, gw.stderr)
	}
	eventually(t, "tap to show the call", func() bool {
		return strings.Contains(tp.out.String(), `natsrpctest.v1.TestService/Get request - - {"id":"g-1"}`)
	})
	sv.none(t)
	// Neither announces registry versions.
	for _, user := range []string{"gw", "tap"} {
		var v violations
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, "pw-"+user), nats.ErrorHandler(v.handler))
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.Publish("natsrpc.registry.v1.RegistryEventsService.VersionCreated", []byte("x"))
		v.wait(t, "natsrpc.registry.v1.RegistryEventsService.VersionCreated")
		nc.Close()
	}
	cancel()
	<-gw.done
}
