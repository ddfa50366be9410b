package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
)

// The registry's API by right: reads go to RegistryReadService
// (natsrpc.registry.v1.read.<Method>), a push of module M to
// natsrpc.registry.v1.push.Push.M and a policy change of M to
// natsrpc.registry.v1.policy.SetPolicy.M, so that NATS permissions can
// grant each right alone. rightsAPI presents them as the one
// RegistryServiceClient the rest of the code calls.

// The subject stems of the rights.
const (
	readStem   = "natsrpc.registry.v1.read"
	pushStem   = "natsrpc.registry.v1.push"
	policyStem = "natsrpc.registry.v1.policy"
	legacyStem = "natsrpc.registry.v1.RegistryService"
	adminStem  = "natsrpc.registry.v1.admin"
)

type rightsAPI struct {
	read   registryv1natsrpc.RegistryReadServiceClient
	push   registryv1natsrpc.RegistryPushServiceClient
	policy registryv1natsrpc.RegistryPolicyServiceClient
}

var _ registryv1natsrpc.RegistryServiceClient = rightsAPI{}

// moduleToken returns the subject token of a module: its name, which the
// registry's naming rules keep to letters, digits, "-" and "_". A name
// that cannot be a token fails the call before anything is sent.
func moduleToken(module, method string) (natsrpc.CallOption, error) {
	if module == "" {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("%s: module name is empty", method))
	}
	if err := natsrpc.ValidateSubjectToken(module); err != nil {
		return nil, natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf("module %q is not a valid module name: %w", module, err))
	}
	return natsrpc.WithSubjectToken(module), nil
}

func (a rightsAPI) Push(ctx context.Context, req *registryv1.PushRequest, opts ...natsrpc.CallOption) (*registryv1.PushResponse, error) {
	tok, err := moduleToken(req.GetModule(), "push")
	if err != nil {
		return nil, err
	}
	return a.push.Push(ctx, req, append(opts, tok)...)
}

func (a rightsAPI) SetPolicy(ctx context.Context, req *registryv1.SetPolicyRequest, opts ...natsrpc.CallOption) (*registryv1.SetPolicyResponse, error) {
	tok, err := moduleToken(req.GetModule(), "set policy")
	if err != nil {
		return nil, err
	}
	return a.policy.SetPolicy(ctx, req, append(opts, tok)...)
}

func (a rightsAPI) GetPolicy(ctx context.Context, req *registryv1.GetPolicyRequest, opts ...natsrpc.CallOption) (*registryv1.GetPolicyResponse, error) {
	return a.read.GetPolicy(ctx, req, opts...)
}

func (a rightsAPI) ListModules(ctx context.Context, req *registryv1.ListModulesRequest, opts ...natsrpc.CallOption) (*registryv1.ListModulesResponse, error) {
	return a.read.ListModules(ctx, req, opts...)
}

func (a rightsAPI) ListVersions(ctx context.Context, req *registryv1.ListVersionsRequest, opts ...natsrpc.CallOption) (*registryv1.ListVersionsResponse, error) {
	return a.read.ListVersions(ctx, req, opts...)
}

func (a rightsAPI) GetModuleVersion(ctx context.Context, req *registryv1.GetModuleVersionRequest, opts ...natsrpc.CallOption) (*registryv1.GetModuleVersionResponse, error) {
	return a.read.GetModuleVersion(ctx, req, opts...)
}

func (a rightsAPI) ResolveSymbol(ctx context.Context, req *registryv1.ResolveSymbolRequest, opts ...natsrpc.CallOption) (*registryv1.ResolveSymbolResponse, error) {
	return a.read.ResolveSymbol(ctx, req, opts...)
}

func (a rightsAPI) ResolveFile(ctx context.Context, req *registryv1.ResolveFileRequest, opts ...natsrpc.CallOption) (*registryv1.ResolveFileResponse, error) {
	return a.read.ResolveFile(ctx, req, opts...)
}

func (a rightsAPI) ResolveSubject(ctx context.Context, req *registryv1.ResolveSubjectRequest, opts ...natsrpc.CallOption) (*registryv1.ResolveSubjectResponse, error) {
	return a.read.ResolveSubject(ctx, req, opts...)
}

func (a rightsAPI) FindFileDigest(ctx context.Context, req *registryv1.FindFileDigestRequest, opts ...natsrpc.CallOption) (*registryv1.FindFileDigestResponse, error) {
	return a.read.FindFileDigest(ctx, req, opts...)
}

// RightOf returns the registry right a subject of the registry's API
// needs, e.g. "read", "push:quest" or "set-policy:quest"; "admin" for the
// API before rights; "" for other subjects. A subject prefix given with
// WithSubjectPrefix may come before it.
func RightOf(subject string) string {
	for _, stem := range []string{readStem, pushStem, policyStem, legacyStem, adminStem} {
		i := strings.Index(subject, stem+".")
		if i < 0 || (i > 0 && subject[i-1] != '.') {
			continue
		}
		rest := subject[i+len(stem)+1:]
		switch stem {
		case readStem:
			return "read"
		case legacyStem, adminStem:
			return "admin"
		}
		_, module, ok := strings.Cut(rest, ".")
		if !ok || module == "" {
			return ""
		}
		if stem == pushStem {
			return "push:" + module
		}
		return "set-policy:" + module
	}
	return ""
}

// PermsCommandOf returns the `natsrpc perms` arguments that print the
// permissions a registry subject needs, e.g. "pusher --module quest", or
// "" for other subjects.
func PermsCommandOf(subject string) string {
	right := RightOf(subject)
	role, module, _ := strings.Cut(right, ":")
	switch role {
	case "read":
		return "reader"
	case "push":
		return "pusher --module " + module
	case "set-policy":
		return "policy-admin --module " + module
	case "admin":
		return "admin"
	}
	return ""
}
