package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/rpcctl"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// startGaming starts a registry holding proto/ as module "gaming" (pushed
// by the CLI, compiled from source) and the 22 gaming services answered
// by e.
func startGaming(t *testing.T, e *echo) *registrytest.Env {
	t.Helper()
	env := registrytest.Start(t)
	natsrpc(t, "-s", env.Server.ClientURL(), "push", filepath.Join(testschema.RepoRoot(t), "proto"), "--module", "gaming").want(t, 0, "gaming@1", "")
	serveGaming(t, env.Server.ClientURL(), e)
	return env
}

// TestTemplateFeedsCall feeds `template` to `call -d @FILE` for every
// method of the 22 gaming services: call accepts every template as is,
// and the service receives exactly the message the template describes.
func TestTemplateFeedsCall(t *testing.T) {
	t.Parallel()
	e := newEcho()
	env := startGaming(t, e)
	s := []string{"-s", env.Server.ClientURL()}
	dir := t.TempDir()

	r := natsrpc(t, append(s, "services", "--format", "json")...)
	r.want(t, 0, "", "")
	var list rpcctl.ServicesDoc
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	var gaming []string
	for _, svc := range list.Services {
		if strings.HasPrefix(svc.Service, "gaming.") {
			gaming = append(gaming, svc.Service)
			if svc.From != "gaming@1" || svc.Module != "gaming" || svc.Version != 1 {
				t.Errorf("service %s from %q (%s@%d); want gaming@1", svc.Service, svc.From, svc.Module, svc.Version)
			}
		}
	}
	if len(gaming) != 22 {
		t.Fatalf("services lists %d gaming services; want 22:\n%s", len(gaming), r.stdout)
	}
	methods, withNotes := 0, 0
	for _, name := range gaming {
		r := natsrpc(t, append(s, "services", name, "--format", "json")...)
		r.want(t, 0, "", "")
		var svc rpcctl.ServiceDoc
		if err := json.Unmarshal([]byte(r.stdout), &svc); err != nil {
			t.Fatal(err)
		}
		for _, m := range svc.MethodList {
			methods++
			method := name + "/" + m.Name
			tr := natsrpc(t, append(s, "template", method, "--format", "json")...)
			tr.want(t, 0, "{", "")
			if tr.stderr != "" {
				withNotes++
				if !strings.HasPrefix(tr.stderr, "natsrpc: notice: oneof ") {
					t.Errorf("template %s: stderr %q", method, tr.stderr)
				}
			}
			file := filepath.Join(dir, strings.ReplaceAll(method, "/", "_")+".json")
			if err := os.WriteFile(file, []byte(tr.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			cr := natsrpc(t, append(s, "call", method, "-d", "@"+file, "--format", "json")...)
			if cr.code != 0 {
				t.Errorf("call %s -d @template: exit %d: %s\ntemplate: %s", method, cr.code, cr.stderr, tr.stdout)
				continue
			}
			procedure := "/" + method
			want := strings.TrimSpace(tr.stdout)
			eventually(t, "the request of "+method, func() bool { return len(e.got(procedure)) > 0 })
			if got := e.got(procedure); got[len(got)-1] != want {
				t.Errorf("%s received\n%s\nthe template is\n%s", method, got[len(got)-1], want)
			}
			switch m.Kind {
			case "event":
				if cr.stdout != "" {
					t.Errorf("call %s (an event) printed %q", method, cr.stdout)
				}
			case "server_stream":
				if n := strings.Count(cr.stdout, "\n"); n != 2 {
					t.Errorf("call %s printed %d messages; want the 2 the service sent:\n%s", method, n, cr.stdout)
				}
			default:
				if !json.Valid(bytes.TrimSpace([]byte(cr.stdout))) || len(cr.stdout) < 3 {
					t.Errorf("call %s printed %q", method, cr.stdout)
				}
			}
		}
	}
	if methods != 119 {
		t.Errorf("%d methods; want the 119 of the 22 services", methods)
	}
	if withNotes == 0 {
		t.Errorf("no template named other oneof members; the gaming schemas have oneofs")
	}
}
