package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// TestCallEveryKind calls a method of every kind through the registry's
// descriptors, with every form of METHOD and of -d, and checks stdout,
// stderr and the exit code.
func TestCallEveryKind(t *testing.T) {
	t.Parallel()
	e := startItems(t)
	s := []string{"-s", e.url}
	call := func(args ...string) result { return natsrpc(t, append(append(s, "call"), args...)...) }

	// Unary, in each METHOD form; indented protojson.
	want := "{\n  \"item\": {\n    \"id\": \"q-1\",\n    \"title\": \"The q-1\",\n    \"status\": \"STATUS_ACTIVE\"\n  }\n}\n"
	for _, method := range []string{"natsrpctest.v1.TestService/Get", "/natsrpctest.v1.TestService/Get", "natsrpctest.v1.TestService.Get"} {
		r := call(method, "-d", `{"id": "q-1"}`)
		r.want(t, 0, "", "")
		if r.stdout != want {
			t.Errorf("call %s:\n%s\nwant:\n%s", method, r.stdout, want)
		}
	}
	// A subject with a runtime prefix: the services run without one, so
	// nothing answers: unavailable at once (78).
	r := call("staging.natsrpctest.v1.TestService.Get", "-d", `{"id": "q-1"}`)
	r.want(t, 78, "", "natsrpctest.v1.TestService/Get: unavailable")
	// --format json: compact; --emit-defaults: zero values too; -H.
	call("natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "--format", "json").
		want(t, 0, `{"item":{"id":"q-1","title":"The q-1","status":"STATUS_ACTIVE"}}`+"\n", "")
	call("natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "--format", "json", "--emit-defaults").
		want(t, 0, `{"item":{"id":"q-1","title":"The q-1","summary":"","status":"STATUS_ACTIVE","level":0}}`+"\n", "")
	call("natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "-H", "x-echo: hello", "--format", "json").
		want(t, 0, `"title":"The q-1 hello"`, "")
	// -d @file and -d @- (stdin); original field names are accepted too.
	file := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(file, []byte(`{"owner_id": "o", "id": "from-file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	call("natsrpctest.v1.TestService/Get", "-d", "@"+file, "--format", "json").want(t, 0, `"id":"from-file"`, "")
	natsrpcStdin(t, `{"id": "from-stdin"}`, append(s, "call", "natsrpctest.v1.TestService/Get", "-d", "@-", "--format", "json")...).
		want(t, 0, `"id":"from-stdin"`, "")
	// No -d: the empty request.
	call("natsrpctest.v1.TestService/Get", "--format", "json").want(t, 0, `{"item":{"title":"The ","status":"STATUS_ACTIVE"}}`, "")

	// Server stream: one line per message with --format json, then the
	// stream's error after the messages.
	r = call("natsrpctest.v1.TestService/Watch", "-d", `{"script": "k", "count": 3}`, "--format", "json")
	r.want(t, 0, "", "")
	if r.stdout != `{"revision":"1","key":"k"}`+"\n"+`{"revision":"2","key":"k"}`+"\n"+`{"revision":"3","key":"k"}`+"\n" {
		t.Errorf("watch:\n%s", r.stdout)
	}
	r = call("natsrpctest.v1.TestService/Watch", "-d", `{"script": "fail", "count": 2}`, "--format", "json")
	r.want(t, 64+10, `{"revision":"2","key":"fail"}`, "natsrpctest.v1.TestService/Watch: aborted: the watch broke")

	// Client stream: one JSON object per message, separated or not.
	call("natsrpctest.v1.TestService/Upload", "-d", `{"value": "a"} {"value": "b"}{"value":"c"}`).
		want(t, 0, "{\n  \"value\": \"a+b+c\"\n}\n", "")
	call("natsrpctest.v1.TestService/Upload").want(t, 0, "{}\n", "")
	// Bidi, from stdin.
	r = natsrpcStdin(t, "{\"value\": \"hi\"}\n{\"value\": \"bye\"}\n", append(s, "call", "natsrpctest.v1.TestService/Chat", "-d", "@-", "--format", "json")...)
	r.want(t, 0, "", "")
	if r.stdout != `{"value":"re: hi"}`+"\n"+`{"value":"re: bye"}`+"\n" {
		t.Errorf("chat:\n%s", r.stdout)
	}

	// Events: plain, and durable (acknowledged by JetStream first).
	call("natsrpctest.v1.TestService/Notify", "-d", `{"id": "n-1"}`).want(t, 0, "", "")
	eventually(t, "the event", func() bool { return slices.Contains(e.items.got(&e.items.notified), "n-1") })
	call("natsrpctest.v1.DurableService/Record", "-d", `{"id": "r-1"}`).want(t, 0, "", "")
	eventually(t, "the durable event", func() bool { return slices.Contains(e.items.got(&e.items.recorded), "r-1") })

	// Exit codes of RPC errors: 64 + the code, with code, message and
	// details on stderr.
	r = call("natsrpctest.v1.TestService/Get", "-d", `{"id": "missing"}`)
	r.want(t, 64+5, "", `natsrpctest.v1.TestService/Get: not_found: no item "missing"; details: {"@type":"type.googleapis.com/natsrpctest.v1.Item","id":"missing","summary":"looked everywhere"}`)
	call("natsrpctest.v1.TestService/Generate").want(t, 76, "", "unimplemented: Generate is not implemented here")
	start := time.Now()
	call("natsrpctest.v1.TestService/Get", "-d", `{"id": "slow"}`, "--timeout", "200ms").want(t, 68, "", "deadline_exceeded")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("--timeout 200ms took %s", d)
	}

	// Exit 1: bad input, with what is wrong.
	call("natsrpctest.v1.TestService/Get", "-d", `{"id": "x", "nope": 1}`).want(t, 1, "", `request message 1: not a natsrpctest.v1.GetRequest: (line 1:13): unknown field "nope"`)
	call("natsrpctest.v1.TestService/Get", "-d", `{"id": `).want(t, 1, "", "request message 1: the JSON ends in the middle of a value")
	call("natsrpctest.v1.TestService/Get", "-d", `[1]`).want(t, 1, "", "is not a JSON object")
	call("natsrpctest.v1.TestService/Get", "-d", `{} {}`).want(t, 1, "", "takes one request message (it is unary)")
	call("natsrpctest.v1.TestService/Get", "-d", "@"+filepath.Join(t.TempDir(), "nope.json")).want(t, 1, "", "no such file")
	call("natsrpctest.v1.TestService/Get", "-H", "Nats-Rpc-Timeout:1").want(t, 1, "", "reserved")
	call("natsrpctest.v1.TestService/Get", "-H", "novalue").want(t, 1, "", "key:value")
	call("natsrpctest.v1.TestService/Nope").want(t, 1, "", `method "natsrpctest.v1.TestService/Nope" is not in natsrpctest@1; `+"`natsrpc services natsrpctest.v1.TestService` lists its methods")
	call("natsrpctest.v1.TestService.Nope").want(t, 1, "", `method "natsrpctest.v1.TestService.Nope" (as a name or a NATS subject) is not in the registry's latest versions`)
	call("no.such.Service/Get").want(t, 1, "", `service "no.such.Service" is not in the registry`)
	call("not a method").want(t, 1, "", "is neither a name nor a subject")
	call("x/y/z").want(t, 1, "", "is not of the form pkg.Service/Method")
	call("natsrpctest.v1.TestService/Get", "--module", "natsrpctest", "--reflect").want(t, 1, "", "give one of them")
	natsrpc(t, "-s", "nats://127.0.0.1:1", "call", "natsrpctest.v1.TestService/Get").want(t, 1, "", "cannot connect to NATS")

	// A pinned version and a descriptor set file give the same answers.
	call("natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "--module", "natsrpctest@1", "--format", "json").want(t, 0, `"id":"q-1"`, "")
	image := filepath.Join(t.TempDir(), "natsrpctest.binpb")
	natsrpc(t, append(s, "get", "natsrpctest", "-o", image)...).want(t, 0, "wrote natsrpctest@1", "")
	call("natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "--descriptor-set", image, "--format", "json").want(t, 0, `"id":"q-1"`, "")
	call("natsrpctest.v1.TestService.Chat", "-d", `{"value":"x"}`, "--descriptor-set", image, "--format", "json").want(t, 0, `{"value":"re: x"}`, "")
}

// TestCallWithoutRegistry: with no registry, call, template and services
// take the schema from the running instances ($SRV.SCHEMA), with a notice
// when they fall back to them; with nothing running, unavailable at once.
func TestCallWithoutRegistry(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithJetStream())
	it := &items{}
	serveItems(t, srv, it)
	s := []string{"-s", srv.ClientURL()}
	natsrpc(t, append(s, "call", "natsrpctest.v1.TestService/Get", "-d", `{"id":"q-1"}`, "--format", "json")...).
		want(t, 0, `{"item":{"id":"q-1","title":"The q-1","status":"STATUS_ACTIVE"}}`, "natsrpc: notice: no schema registry answers; using the schemas the running instances serve")
	r := natsrpc(t, append(s, "call", "natsrpctest.v1.TestService.Watch", "-d", `{"count":1}`, "--reflect", "--format", "json")...)
	r.want(t, 0, `{"revision":"1"}`, "")
	if r.stderr != "" {
		t.Errorf("--reflect printed %q on stderr", r.stderr)
	}
	natsrpc(t, append(s, "template", "natsrpctest.v1.TestService/Generate", "--reflect", "--format", "json")...).
		want(t, 0, `{"meta":{"requestId":"","labels":{"key":""}},"ownerId":"","level":0,"regionId":"","priority":"PRIORITY_LOW","topic":"","excludedIds":[""],"hints":{"key":""}}`+"\n", "")
	natsrpc(t, append(s, "services", "--reflect")...).want(t, 0, "natsrpctest.v1.TestService     6        instance natsrpctest_v1_TestService ", "")

	// Nothing serves the service: unavailable (78), at once.
	start := time.Now()
	natsrpc(t, append(s, "call", "gaming.quest_system.v1.QuestSystemService/GetQuest", "--reflect")...).
		want(t, 1, "", `no instance of "gaming_quest_system_v1_QuestSystemService" is running`)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("asking a service nobody runs took %s", d)
	}
	_ = cli.ExitError
}
