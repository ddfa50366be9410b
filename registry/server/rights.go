package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// The API by right: RegistryReadService (the Server itself),
// RegistryPushService and RegistryPolicyService, whose methods are served
// on "<subject>.<module>" (natsrpc.WithSubjectWildcard) so that NATS
// permissions grant them one module at a time. Module names are already
// valid subject tokens (lowercase letters, digits, "-" and "_"), so the
// token is the name itself; a token that is not a valid module name is
// refused like any invalid name.

var (
	_ registryv1natsrpc.RegistryReadServiceHandler   = (*Server)(nil)
	_ registryv1natsrpc.RegistryPushServiceHandler   = pushAPI{}
	_ registryv1natsrpc.RegistryPolicyServiceHandler = policyAPI{}
)

// pushAPI serves RegistryPushService: the push right of each module.
type pushAPI struct{ s *Server }

// Push implements RegistryPushService.Push: the module is the subject's
// last token, and the payload may not name another.
func (a pushAPI) Push(ctx context.Context, req *registryv1.PushRequest) (*registryv1.PushResponse, error) {
	module, err := subjectModule(ctx, req.GetModule(), "push")
	if err != nil {
		return nil, err
	}
	if req.GetModule() != module {
		req.Module = module
	}
	return a.s.push(ctx, req, "push:"+module)
}

// policyAPI serves RegistryPolicyService: the set-policy right of each
// module.
type policyAPI struct{ s *Server }

// SetPolicy implements RegistryPolicyService.SetPolicy.
func (a policyAPI) SetPolicy(ctx context.Context, req *registryv1.SetPolicyRequest) (*registryv1.SetPolicyResponse, error) {
	module, err := subjectModule(ctx, req.GetModule(), "set-policy")
	if err != nil {
		return nil, err
	}
	if req.GetModule() != module {
		req.Module = module
	}
	return a.s.SetPolicy(ctx, req)
}

// subjectModule returns the module a per-module subject names, refusing a
// payload that names another: NATS permissions granted the subject's
// module, not the payload's.
func subjectModule(ctx context.Context, payload, right string) (string, error) {
	ci, ok := natsrpc.CallInfoFromContext(ctx)
	if !ok {
		return "", natsrpc.NewError(natsrpc.CodeInternal, fmt.Errorf("no call info for a per-module subject"))
	}
	module := ci.SubjectToken()
	if err := store.ValidateModuleName(module); err != nil {
		return "", invalidArgument("the subject's last token %q is not a module name: %v", module, err)
	}
	if payload != "" && payload != module {
		return "", natsrpc.NewError(natsrpc.CodePermissionDenied, fmt.Errorf("the request names module %q but came on the %s subject of module %q: send it on %q's subject, which needs the %s right of %q", payload, right, module, payload, right, payload))
	}
	return module, nil
}

// adminAPI serves RegistryAdminService: the admin right.
type adminAPI struct{ s *Server }

var _ registryv1natsrpc.RegistryAdminServiceHandler = adminAPI{}

// ReservePackage implements RegistryAdminService.ReservePackage.
func (a adminAPI) ReservePackage(ctx context.Context, req *registryv1.ReservePackageRequest) (*registryv1.ReservePackageResponse, error) {
	res, err := a.s.reg.ReservePackage(ctx, req.GetPrefix(), req.GetModule())
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.ReservePackageResponse{Reservation: reservation(res)}, nil
}

// ReleasePackage implements RegistryAdminService.ReleasePackage.
func (a adminAPI) ReleasePackage(ctx context.Context, req *registryv1.ReleasePackageRequest) (*registryv1.ReleasePackageResponse, error) {
	res, err := a.s.reg.ReleasePackage(ctx, req.GetPrefix())
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.ReleasePackageResponse{Reservation: reservation(res)}, nil
}

// DeprecateModule implements RegistryAdminService.DeprecateModule.
func (a adminAPI) DeprecateModule(ctx context.Context, req *registryv1.DeprecateModuleRequest) (*registryv1.DeprecateModuleResponse, error) {
	deprecated, err := a.s.reg.DeprecateModule(ctx, req.GetModule(), req.GetMessage(), req.GetUndo())
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.DeprecateModuleResponse{Deprecated: deprecated}, nil
}

// DeleteModule implements RegistryAdminService.DeleteModule.
func (a adminAPI) DeleteModule(ctx context.Context, req *registryv1.DeleteModuleRequest) (*registryv1.DeleteModuleResponse, error) {
	through, err := a.s.reg.DeleteModule(ctx, req.GetModule())
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.DeleteModuleResponse{DeletedThrough: through}, nil
}

// TransferPackage implements RegistryAdminService.TransferPackage.
func (a adminAPI) TransferPackage(ctx context.Context, req *registryv1.TransferPackageRequest) (*registryv1.TransferPackageResponse, error) {
	res, moved, err := a.s.reg.TransferPackage(ctx, req.GetPrefix(), req.GetTo())
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.TransferPackageResponse{Reservation: reservation(res), Packages: moved}, nil
}

// ListReservations implements RegistryReadService.ListReservations.
func (s *Server) ListReservations(ctx context.Context, _ *registryv1.ListReservationsRequest) (*registryv1.ListReservationsResponse, error) {
	list, err := s.reg.ListReservations(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ListReservationsResponse{Reservations: make([]*registryv1.Reservation, 0, len(list))}
	for _, r := range list {
		out.Reservations = append(out.Reservations, reservation(r))
	}
	return out, nil
}

func reservation(r store.Reservation) *registryv1.Reservation {
	out := &registryv1.Reservation{Prefix: r.Prefix, Module: r.Module}
	if !r.CreateTime.IsZero() {
		out.CreateTime = timestamppb.New(r.CreateTime)
	}
	return out
}
