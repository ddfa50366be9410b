package regctl

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/descriptorpb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// ServedCheck is the outcome of [CheckServedSchema].
type ServedCheck struct {
	// Module and Version name the version checked against: the module's
	// latest.
	Module  string
	Version uint64
	// Policy is the module's policy; the check applies its categories and
	// direction against the latest version only.
	Policy *registryv1.Policy
	// Files are the module's files the check covered: the served files
	// the module owns.
	Files []string
	// Violations are the breaking changes: what a push of the served
	// files on top of the latest version would be refused for.
	Violations []store.Violation
}

// CheckServedSchema checks the files a running instance serves (its
// service's file and imports, $SRV.SCHEMA) against the latest version of
// module under the module's policy, as if the served files were pushed on
// top of it: the files of the module's latest version that the instance
// also serves are compared (a service's file does not hold the whole
// module, so the others are left out), with the policy's categories and
// direction, against the latest version only (a transitive policy is
// not replayed against older versions). file is the service's file, which
// counts as the module's even when the latest version lacks it.
func CheckServedSchema(ctx context.Context, c *client.Client, module string, set *descriptorpb.FileDescriptorSet, file string) (*ServedCheck, error) {
	pol, err := modulePolicy(ctx, c, module)
	if err != nil {
		return nil, err
	}
	mv, latest, err := Fetch(ctx, c, ModuleRef{Module: module})
	if err != nil {
		return nil, err
	}
	served := map[string]bool{}
	for _, fd := range set.GetFile() {
		served[fd.GetName()] = true
	}
	own := []string{file}
	for _, p := range mv.GetFiles() {
		if served[p] && p != file {
			own = append(own, p)
		}
	}
	slices.Sort(own)
	var against []string
	for _, p := range own {
		if slices.Contains(mv.GetFiles(), p) {
			against = append(against, p)
		}
	}
	out := &ServedCheck{Module: module, Version: mv.GetVersion(), Policy: pol.GetPolicy(), Files: own}
	if len(against) == 0 {
		return out, nil // the latest version has none of the files: nothing to compare
	}
	policy := policyFromProto(pol.GetPolicy())
	policy.Transitive = false
	res, err := store.Check(ctx, store.CheckRequest{
		Module:   module,
		Files:    set,
		OwnFiles: own,
		Policy:   policy,
		Against:  mv.GetVersion(),
		Version: func(_ context.Context, v uint64) (*descriptorpb.FileDescriptorSet, []string, error) {
			if v != mv.GetVersion() {
				return nil, nil, fmt.Errorf("the check of a served schema reads version %d only, not %d", mv.GetVersion(), v)
			}
			return latest, against, nil
		},
		Partial: true,
	})
	if err != nil {
		return nil, err
	}
	out.Violations = res.Violations
	return out, nil
}
