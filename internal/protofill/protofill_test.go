package protofill_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/natsrpc/natsrpc/internal/protofill"
	questsystemv1 "github.com/natsrpc/natsrpc/proto/gaming/quest_system/v1"
)

func TestFillSetsEverything(t *testing.T) {
	t.Parallel()
	for v := 0; v < 4; v++ {
		q := protofill.Fill(&questsystemv1.Quest{}, v).(*questsystemv1.Quest)
		if missing := protofill.Missing(q, v); len(missing) > 0 {
			t.Errorf("variant %d: unset fields %v", v, missing)
		}
		if len(q.GetObjectives()) != 2 || q.GetAttributes() == nil || q.GetCreatedAt() == nil {
			t.Errorf("variant %d: lists, structs or timestamps not filled: %v", v, q)
		}
	}
}

func TestMissingReportsUnsetFields(t *testing.T) {
	t.Parallel()
	q := protofill.Fill(&questsystemv1.Quest{}, 0).(*questsystemv1.Quest)
	q.Title = ""
	q.Objectives[1].Target = nil
	missing := protofill.Missing(q, 0)
	for _, want := range []string{"Quest.title", "Quest.objectives[1].npc_id"} {
		if !slices.Contains(missing, want) {
			t.Errorf("Missing = %v; want it to contain %q", missing, want)
		}
	}
}

func TestVariantsCoverEveryOneofMember(t *testing.T) {
	t.Parallel()
	md := (&questsystemv1.Reward{}).ProtoReflect().Descriptor()
	n := protofill.MaxOneofMembers(md)
	if n != 4 {
		t.Fatalf("MaxOneofMembers(Reward) = %d; want 4", n)
	}
	seen := map[string]bool{}
	for v := 0; v < n; v++ {
		r := protofill.Fill(&questsystemv1.Reward{}, v).(*questsystemv1.Reward)
		fd := r.ProtoReflect().WhichOneof(md.Oneofs().ByName("kind"))
		if fd == nil {
			t.Fatalf("variant %d: oneof not set", v)
		}
		seen[string(fd.Name())] = true
	}
	if len(seen) != 4 {
		t.Errorf("variants set members %v; want all 4", seen)
	}
}

func TestFillIsDeterministic(t *testing.T) {
	t.Parallel()
	a := protofill.Fill(&questsystemv1.GenerateQuestRequest{}, 1)
	b := protofill.Fill(&questsystemv1.GenerateQuestRequest{}, 1)
	if !proto.Equal(a, b) {
		t.Error("Fill gave different messages for the same variant")
	}
	c := protofill.Fill(&questsystemv1.GenerateQuestRequest{}, 2)
	if proto.Equal(a, c) {
		t.Error("Fill gave equal messages for different variants")
	}
}
