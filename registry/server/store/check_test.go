package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
	"github.com/natsrpc/natsrpc/registry/server/registrytest"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

const svcV1 = `syntax = "proto3";

package acme.svc.v1;

import "natsrpc/v1/options.proto";

service Svc {
  option (natsrpc.v1.service) = {version: "1.0.0"};
  rpc Do(Req) returns (Res);
  rpc Undo(Req) returns (Res);
}

message Req {
  string id = 1;
  int32 n = 2;
}

message Res {
  string note = 1;
}
`

func svcSet(t testing.TB, edit func(string) string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	src := svcV1
	if edit != nil {
		src = edit(src)
	}
	return testschema.Compile(t, map[string]string{"acme/svc/v1/svc.proto": src}, "acme/svc/v1/svc.proto")
}

// TestCheckMatchesPushDryRun: store.Check, run away from the registry
// on versions read back from it, reports exactly what a dry-run push
// reports about breaking changes, for every policy shape: default
// categories, forward and full directions, transitive, no categories, and
// files identical to the latest version.
func TestCheckMatchesPushDryRun(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, 2*time.Minute)
	versions := func(ctx context.Context, v uint64) (*descriptorpb.FileDescriptorSet, []string, error) {
		mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "svc", Version: v, MaxInlineBytes: -1})
		if err != nil {
			return nil, nil, err
		}
		set, err := mc.FileDescriptorSet()
		return set, mc.Version.Files, err
	}
	latest := func() uint64 {
		mc, err := r.GetModuleVersion(ctx, store.GetRequest{Module: "svc", MaxInlineBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		return mc.Version.Version
	}
	// compare checks files both ways and returns the violations' rules.
	compare := func(name string, files *descriptorpb.FileDescriptorSet) []string {
		t.Helper()
		dry, err := r.Push(ctx, store.PushRequest{Module: "svc", Files: files, DryRun: true})
		if err != nil {
			t.Fatalf("%s: dry run: %v", name, err)
		}
		policy, _, err := r.GetPolicy(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Check(ctx, store.CheckRequest{Module: "svc", Files: files, Policy: policy, Against: latest(), Version: versions})
		if err != nil {
			t.Fatalf("%s: check: %v", name, err)
		}
		if got.Unchanged != (dry.Outcome == store.OutcomeUnchanged) {
			t.Errorf("%s: Unchanged = %t, push outcome %s", name, got.Unchanged, dry.Outcome)
		}
		if !reflect.DeepEqual(got.Violations, dry.Violations) {
			t.Errorf("%s: Check found\n%v\nthe dry run\n%v", name, got.Violations, dry.Violations)
		}
		var rules []string
		for _, v := range got.Violations {
			rules = append(rules, v.Rule)
		}
		return rules
	}
	wantRules := func(name string, got []string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(strings.Join(got, " "), w) {
				t.Errorf("%s: rules %v; want %s among them", name, got, w)
			}
		}
		if len(want) == 0 && len(got) > 0 {
			t.Errorf("%s: rules %v; want none", name, got)
		}
	}
	setPolicy := func(p store.Policy) {
		t.Helper()
		if _, err := r.SetPolicy(ctx, "svc", p); err != nil {
			t.Fatal(err)
		}
	}
	mustPush(t, r, store.PushRequest{Module: "svc", Files: svcSet(t, nil)})

	queueAndDelete := svcSet(t, func(s string) string {
		s = strings.Replace(s, `{version: "1.0.0"}`, `{version: "1.0.0" queue_group: "workers"}`, 1)
		return strings.Replace(s, "  int32 n = 2;\n", "", 1)
	})
	// The default policy: FILE and NATSRPC, backward.
	wantRules("default policy", compare("default policy", queueAndDelete), "NATSRPC_QUEUE_GROUP_NO_CHANGE", "FIELD_NO_DELETE")
	wantRules("identical", compare("identical", svcSet(t, nil)))

	renamed := svcSet(t, func(s string) string {
		return strings.Replace(s, "string note = 1;", "string remark = 1;\n  int64 extra = 2;", 1)
	})
	setPolicy(store.Policy{Categories: []string{"WIRE_JSON"}, Direction: store.DirectionFull})
	wantRules("full WIRE_JSON", compare("full WIRE_JSON", renamed), "FIELD_SAME_NAME", "FIELD_SAME_JSON_NAME")
	setPolicy(store.Policy{Categories: []string{"FILE"}, Direction: store.DirectionForward})
	wantRules("forward FILE", compare("forward FILE", renamed), "FIELD_SAME_NAME")
	setPolicy(store.Policy{})
	wantRules("no categories", compare("no categories", queueAndDelete))

	// A transitive policy checks every version; files identical to the
	// latest are not checked at all (the push would store nothing).
	setPolicy(store.Policy{Categories: []string{"WIRE"}})
	withExtra := svcSet(t, func(s string) string {
		return strings.Replace(s, "string note = 1;", "string note = 1;\n  int64 extra = 2;", 1)
	})
	mustPush(t, r, store.PushRequest{Module: "svc", Files: withExtra})
	setPolicy(store.Policy{Categories: []string{"WIRE"}, Transitive: true})
	retyped := svcSet(t, func(s string) string { return strings.Replace(s, "string id = 1;", "int64 id = 1;", 1) })
	wantRules("transitive", compare("transitive", retyped), "FIELD_WIRE_COMPATIBLE_TYPE")
	wantRules("transitive identical", compare("transitive identical", withExtra))
	// Back to version 1: breaks version 2 (extra deleted) only.
	wantRules("transitive revert", compare("transitive revert", svcSet(t, nil)), "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED")

	// Against an older version, as if it were the latest.
	policy, _, err := r.GetPolicy(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	old, err := store.Check(ctx, store.CheckRequest{Module: "svc", Files: svcSet(t, nil), Policy: policy, Against: 1, Version: versions})
	if err != nil || !old.Unchanged {
		t.Errorf("identical to version 1, against version 1: %+v, %v; want unchanged", old, err)
	}
	// Narrowed files are checked even when identical: the module may
	// differ elsewhere.
	part, err := store.Check(ctx, store.CheckRequest{Module: "svc", Files: svcSet(t, nil), Policy: policy, Against: 2, Version: versions, Partial: true})
	if err != nil || part.Unchanged || len(part.Violations) == 0 || part.Violations[0].AgainstVersion != 2 {
		t.Errorf("partial: %+v, %v; want the violations against version 2", part, err)
	}
	// No versions: nothing to check.
	if res, err := store.Check(ctx, store.CheckRequest{Module: "svc", Files: queueAndDelete, Policy: policy}); err != nil || res.Unchanged || len(res.Violations) != 0 {
		t.Errorf("no versions: %+v, %v", res, err)
	}
}

// TestModuleStatus: a module is unknown until it has a policy or a
// version, and misspelt names get the closest known ones.
func TestModuleStatus(t *testing.T) {
	t.Parallel()
	_, js := startJS(t)
	r := newRegistry(t, js)
	ctx := registrytest.Ctx(t, time.Minute)
	status := func(m string) store.ModuleStatus {
		t.Helper()
		s, err := r.ModuleStatus(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got, err := r.ClosestModules(ctx, "gaming", 3); err != nil || len(got) != 0 {
		t.Errorf("closest in an empty registry = %v, %v", got, err)
	}
	if s := status("common"); s != store.ModuleUnknown {
		t.Errorf("empty registry: %s", s)
	}
	pushCommon(t, r, testschema.CommonV1)
	if _, err := r.SetPolicy(ctx, "gaming", store.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetPolicy(ctx, "gamma", store.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]store.ModuleStatus{
		"common": store.ModulePushed,
		"gaming": store.ModuleAnnounced,
		"gamin":  store.ModuleUnknown,
	} {
		if s := status(m); s != want {
			t.Errorf("%s: %s; want %s", m, s, want)
		}
	}
	// Pushing keeps the policy: still known, now pushed.
	pushCommon(t, r, testschema.CommonV2)
	got, err := r.ClosestModules(ctx, "gamin", 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"gaming", "gamma", "common"}; !reflect.DeepEqual(got, want) {
		t.Errorf("closest to gamin = %v; want %v", got, want)
	}
	// Runes, not bytes: "gämïng" is two substitutions from "gaming".
	if got, err := r.ClosestModules(ctx, "gämïng", 1); err != nil || !reflect.DeepEqual(got, []string{"gaming"}) {
		t.Errorf("closest to gämïng = %v, %v", got, err)
	}
	if _, err := r.ModuleStatus(ctx, "Bad.Name"); err == nil {
		t.Error("a bad module name has a status")
	}
}
