package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	rpc "github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/fleet"
	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
	"github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1/questsystemv1natsrpc"
	"github.com/natsrpc/natsrpc/proto/gaming/weather_manager/v1/weathermanagerv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
)

// copyProto copies the repository's proto/ into a new directory.
func copyProto(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testschema.RepoRoot(t), "proto")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// editFile replaces old with new in dir/path.
func editFile(t *testing.T, dir, path, old, new string) {
	t.Helper()
	p := filepath.Join(dir, path)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// questVariant returns the quest system's service as generated, with
// edit applied to its file: the schema of a build nobody pushed.
func questVariant(t *testing.T, edit func(*descriptorpb.FileDescriptorProto)) protoreflect.ServiceDescriptor {
	t.Helper()
	fdp := proto.CloneOf(protodesc.ToFileDescriptorProto(questsystemv1.File_gaming_quest_system_v1_quest_system_proto))
	edit(fdp)
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Services().ByName("QuestSystemService")
}

// message returns the message named name in fdp.
func message(t *testing.T, fdp *descriptorpb.FileDescriptorProto, name string) *descriptorpb.DescriptorProto {
	t.Helper()
	for _, m := range fdp.GetMessageType() {
		if m.GetName() == name {
			return m
		}
	}
	t.Fatalf("no message %s", name)
	return nil
}

// startService runs a service (its discovery alone when handlers is
// empty) on a new connection until t ends.
func startService(t *testing.T, url string, start func(nc *nats.Conn) (*rpc.Service, error)) *rpc.Service {
	t.Helper()
	nc := connect(t, url)
	svc, err := start(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

// TestStatus: four instances of two gaming services, against a registry
// holding gaming@1 (proto/) and gaming@2 (a field added to the weather
// file): the generated quest service, whose file is unchanged in both
// versions (gaming@1..2, the latest); the generated weather service, whose
// file is version 1's (older, and under the default backward policy it
// lacks the field version 2 added: it breaks against the latest); a quest
// build with a field added that nobody pushed (no registry version,
// compatible); and one with a field removed (no registry version, breaks).
func TestStatus(t *testing.T) {
	t.Parallel()
	env := registrytest.Start(t)
	url := env.Server.ClientURL()
	s := []string{"-s", url}
	dir := copyProto(t)
	natsrpc(t, append(s, "push", dir, "--module", "gaming")...).want(t, 0, "gaming@1", "")
	editFile(t, dir, "gaming/weather_manager/v1/weather_manager.proto", "  float speed_mps = 1;\n", "  float speed_mps = 1;\n  // gust_direction_degrees is new in version 2.\n  float gust_direction_degrees = 9;\n")
	natsrpc(t, append(s, "push", dir, "--module", "gaming")...).want(t, 0, "gaming@2", "")

	quest := startService(t, url, func(nc *nats.Conn) (*rpc.Service, error) {
		return questsystemv1natsrpc.RegisterQuestSystemServiceHandler(nc, questsystemv1natsrpc.UnimplementedQuestSystemServiceHandler{})
	})
	weather := startService(t, url, func(nc *nats.Conn) (*rpc.Service, error) {
		return weathermanagerv1natsrpc.RegisterWeatherManagerServiceHandler(nc, weathermanagerv1natsrpc.UnimplementedWeatherManagerServiceHandler{})
	})
	added := startService(t, url, func(nc *nats.Conn) (*rpc.Service, error) {
		return rpc.NewService(nc, questVariant(t, func(fdp *descriptorpb.FileDescriptorProto) {
			m := message(t, fdp, "GetQuestRequest")
			m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{
				Name: proto.String("locale"), Number: proto.Int32(4), JsonName: proto.String("locale"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			})
		}), nil)
	})
	removed := startService(t, url, func(nc *nats.Conn) (*rpc.Service, error) {
		return rpc.NewService(nc, questVariant(t, func(fdp *descriptorpb.FileDescriptorProto) {
			m := message(t, fdp, "GetQuestRequest")
			m.Field = m.Field[:len(m.Field)-1] // quest_id
		}), nil)
	})

	// A request answered, to count.
	natsrpc(t, append(s, "call", "gaming.quest_system.v1.QuestSystemService/GetQuest")...).want(t, 76, "", "unimplemented")

	r := natsrpc(t, append(s, "status", "--format", "json")...)
	r.want(t, 0, "", "")
	var rep fleet.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	byID := map[string]fleet.InstanceStatus{}
	for _, in := range rep.Instances {
		byID[in.ID] = in
	}
	if rep.Registry != "ok" {
		t.Errorf("registry: %q", rep.Registry)
	}
	type want struct {
		state, text string
		check       string // "", "breaks", "compatible"
		rule        string
	}
	for _, c := range []struct {
		name string
		svc  *rpc.Service
		want want
	}{
		{"generated quest", quest, want{"latest", "gaming@1..2 (latest)", "", ""}},
		{"generated weather", weather, want{"older", "gaming@1 (latest 2)", "breaks", "FIELD_NO_DELETE"}},
		{"quest with a field added", added, want{"none", "no registry version", "compatible", ""}},
		{"quest with a field removed", removed, want{"none", "no registry version", "breaks", "FIELD_NO_DELETE"}},
	} {
		in, ok := byID[c.svc.ID()]
		if !ok {
			t.Errorf("%s: instance %s not in the report:\n%s", c.name, c.svc.ID(), r.stdout)
			continue
		}
		if in.Schema.State != c.want.state || in.Schema.Text != c.want.text {
			t.Errorf("%s: schema %q %q; want %q %q", c.name, in.Schema.State, in.Schema.Text, c.want.state, c.want.text)
		}
		switch c.want.check {
		case "":
			if in.Check != nil {
				t.Errorf("%s: checked (%+v); the latest needs no check", c.name, in.Check)
			}
		case "breaks":
			if in.Check == nil || !in.Check.Breaks || in.Check.Against != "gaming@2" || len(in.Check.Findings) == 0 || !strings.Contains(strings.Join(in.Check.Findings, "\n"), c.want.rule) {
				t.Errorf("%s: check %+v; want it to break against gaming@2 with %s", c.name, in.Check, c.want.rule)
			}
		case "compatible":
			if in.Check == nil || in.Check.Breaks || in.Check.Error != "" || in.Check.Against != "gaming@2" {
				t.Errorf("%s: check %+v; want compatible with gaming@2", c.name, in.Check)
			}
		}
		if in.Version != "1.0.0" || in.Uptime == "" || in.Started.IsZero() || in.File == "" || !strings.HasPrefix(in.Digest, "sha256:") {
			t.Errorf("%s: %+v", c.name, in)
		}
	}
	if in := byID[quest.ID()]; in.Requests != 1 || in.Errors != 1 {
		t.Errorf("generated quest: %d requests, %d errors; want the 1 unimplemented call", in.Requests, in.Errors)
	}
	if in := byID[removed.ID()]; in.Check != nil && !strings.Contains(strings.Join(in.Check.Findings, " "), "quest_id") {
		t.Errorf("the findings do not name the removed field: %v", in.Check.Findings)
	}

	// The text: one row per instance, the findings below.
	r = natsrpc(t, append(s, "status")...)
	r.want(t, 0, "SERVICE", "")
	// Columns are padded: compare with runs of spaces folded.
	fold := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, line := range []string{
		"gaming.quest_system.v1.QuestSystemService " + quest.ID() + " 1.0.0",
		"gaming@1..2 (latest) latest",
		weather.ID() + " 1.0.0",
		"gaming@1 (latest 2) BREAKS gaming@2 (1)",
		added.ID() + " 1.0.0",
		"no registry version compatible with gaming@2",
		"gaming.quest_system.v1.QuestSystemService " + removed.ID() + " breaks against gaming@2: gaming/quest_system/v1/quest_system.proto",
		`field "3" with name "quest_id" on message "GetQuestRequest" was deleted`,
	} {
		if !strings.Contains(fold(r.stdout), line) {
			t.Errorf("status does not show %q:\n%s", line, r.stdout)
		}
	}
}
