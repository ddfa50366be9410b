package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

var _ registryv1natsrpc.RegistryServiceHandler = (*Server)(nil)

// Push implements RegistryService.Push. A refusal is a response with
// outcome PUSH_OUTCOME_REFUSED, not an error. A new version is announced
// before the response is sent, so a client that sees the response after
// subscribing to events has seen the event too.
func (s *Server) Push(ctx context.Context, req *registryv1.PushRequest) (*registryv1.PushResponse, error) {
	// The API before rights: whoever may publish its subject may push any
	// module, an administrator's right.
	return s.push(ctx, req, "admin")
}

// push stores a push that came through right.
func (s *Server) push(ctx context.Context, req *registryv1.PushRequest, right string) (*registryv1.PushResponse, error) {
	preq := store.PushRequest{Module: req.GetModule(), OwnFiles: req.GetOwnFiles(), DryRun: req.GetDryRun(), PushedBy: pusher(right, req.GetClaims())}
	switch src := req.GetSource().(type) {
	case *registryv1.PushRequest_FileDescriptorSet:
		preq.Files = src.FileDescriptorSet
		if preq.Files == nil {
			preq.Files = &descriptorpb.FileDescriptorSet{}
		}
	case *registryv1.PushRequest_Upload:
		up := src.Upload
		if b := up.GetBucket(); b != "" && b != s.reg.TransferBucket() {
			return nil, invalidArgument("upload names bucket %q; upload the descriptor set to the registry's transfer bucket %q", b, s.reg.TransferBucket())
		}
		if up.GetName() == "" {
			return nil, invalidArgument("upload names no object; put the descriptor set in bucket %q and name the object", s.reg.TransferBucket())
		}
		preq.Upload = up.GetName()
	default:
		return nil, invalidArgument("push has no files; send a FileDescriptorSet with the module's files and their imports (buf build -o set.binpb), or upload it")
	}
	res, err := s.reg.Push(ctx, preq)
	if err != nil {
		var re *store.Error
		if errors.As(err, &re) && re.Kind == store.KindFailedPrecondition {
			return &registryv1.PushResponse{
				Outcome:    registryv1.PushOutcome_PUSH_OUTCOME_REFUSED,
				Violations: violations(re.Violations),
				DryRun:     req.GetDryRun(),
			}, nil
		}
		return nil, apiError(err)
	}
	out := &registryv1.PushResponse{
		Outcome:    outcome(res.Outcome),
		Created:    res.Created,
		DryRun:     res.DryRun,
		Violations: violations(res.Violations),
	}
	if res.Outcome != store.OutcomeRefused {
		out.Version = moduleVersion(res.Version)
	}
	if res.Created && s.relay != nil {
		s.relay.committed(out.Version)
	}
	return out, nil
}

// GetPolicy implements RegistryService.GetPolicy.
func (s *Server) GetPolicy(ctx context.Context, req *registryv1.GetPolicyRequest) (*registryv1.GetPolicyResponse, error) {
	p, isDefault, err := s.reg.GetPolicy(ctx, req.GetModule())
	if err != nil {
		return nil, apiError(err)
	}
	status, err := s.reg.ModuleStatus(ctx, req.GetModule())
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.GetPolicyResponse{Policy: policyToProto(p), IsDefault: isDefault, ModuleStatus: moduleStatus(status)}
	if status == store.ModuleUnknown {
		if out.SimilarModules, err = s.reg.ClosestModules(ctx, req.GetModule(), 3); err != nil {
			return nil, apiError(err)
		}
	}
	return out, nil
}

// SetPolicy implements RegistryService.SetPolicy.
func (s *Server) SetPolicy(ctx context.Context, req *registryv1.SetPolicyRequest) (*registryv1.SetPolicyResponse, error) {
	if req.GetPolicy() == nil {
		return nil, invalidArgument("set policy of module %q: no policy given", req.GetModule())
	}
	p, err := policyFromProto(req.GetPolicy())
	if err != nil {
		return nil, err
	}
	stored, err := s.reg.SetPolicy(ctx, req.GetModule(), p)
	if err != nil {
		return nil, apiError(err)
	}
	return &registryv1.SetPolicyResponse{Policy: policyToProto(stored)}, nil
}

// ListModules implements RegistryService.ListModules.
func (s *Server) ListModules(ctx context.Context, req *registryv1.ListModulesRequest) (*registryv1.ListModulesResponse, error) {
	mods, next, err := s.reg.ListModules(ctx, store.ListOptions{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ListModulesResponse{NextPageToken: next}
	for _, m := range mods {
		pm := &registryv1.Module{Name: m.Name, LatestVersion: m.LatestVersion, LatestDigest: m.LatestDigest, Deprecated: m.Deprecated, DeprecationMessage: m.DeprecationMessage}
		if !m.UpdateTime.IsZero() {
			pm.UpdateTime = timestamppb.New(m.UpdateTime)
		}
		out.Modules = append(out.Modules, pm)
	}
	return out, nil
}

// ListVersions implements RegistryService.ListVersions.
func (s *Server) ListVersions(ctx context.Context, req *registryv1.ListVersionsRequest) (*registryv1.ListVersionsResponse, error) {
	vs, next, err := s.reg.ListVersions(ctx, req.GetModule(), store.ListOptions{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ListVersionsResponse{NextPageToken: next}
	for _, v := range vs {
		out.Versions = append(out.Versions, moduleVersion(v))
	}
	return out, nil
}

// GetModuleVersion implements RegistryService.GetModuleVersion.
func (s *Server) GetModuleVersion(ctx context.Context, req *registryv1.GetModuleVersionRequest) (*registryv1.GetModuleVersionResponse, error) {
	mc, err := s.reg.GetModuleVersion(ctx, store.GetRequest{
		Module:            req.GetModule(),
		Version:           req.GetVersion(),
		Symbols:           req.GetSymbols(),
		ExcludeSourceInfo: req.GetExcludeSourceInfo(),
		MaxInlineBytes:    s.maxInline(req.GetMaxInlineBytes()),
	})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.GetModuleVersionResponse{Version: moduleVersion(mc.Version)}
	return carry(ctx, mc.Content, out)
}

// ResolveSymbol implements RegistryService.ResolveSymbol.
func (s *Server) ResolveSymbol(ctx context.Context, req *registryv1.ResolveSymbolRequest) (*registryv1.ResolveSymbolResponse, error) {
	res, err := s.reg.ResolveSymbol(ctx, store.SymbolRequest{
		Symbol:            req.GetSymbol(),
		Module:            req.GetModule(),
		Version:           req.GetVersion(),
		ExcludeSourceInfo: req.GetExcludeSourceInfo(),
		MaxInlineBytes:    s.maxInline(req.GetMaxInlineBytes()),
	})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ResolveSymbolResponse{
		Module:  res.Module,
		Version: res.Version,
		File:    res.File,
		Kind:    symbolKind(res.Kind),
	}
	return carry(ctx, res.Content, out)
}

// ResolveFile implements RegistryService.ResolveFile.
func (s *Server) ResolveFile(ctx context.Context, req *registryv1.ResolveFileRequest) (*registryv1.ResolveFileResponse, error) {
	res, err := s.reg.ResolveFile(ctx, store.FileRequest{
		File:              req.GetFile(),
		Module:            req.GetModule(),
		Version:           req.GetVersion(),
		ExcludeSourceInfo: req.GetExcludeSourceInfo(),
		MaxInlineBytes:    s.maxInline(req.GetMaxInlineBytes()),
	})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ResolveFileResponse{Module: res.Module, Version: res.Version}
	return carry(ctx, res.Content, out)
}

// ResolveSubject implements RegistryService.ResolveSubject.
func (s *Server) ResolveSubject(ctx context.Context, req *registryv1.ResolveSubjectRequest) (*registryv1.ResolveSubjectResponse, error) {
	res, err := s.reg.ResolveSubject(ctx, store.SubjectRequest{
		Subject:           req.GetSubject(),
		IncludeFiles:      req.GetIncludeFiles(),
		ExcludeSourceInfo: req.GetExcludeSourceInfo(),
		MaxInlineBytes:    s.maxInline(req.GetMaxInlineBytes()),
	})
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.ResolveSubjectResponse{
		Module:       res.Module,
		Version:      res.Version,
		Service:      res.Service,
		Method:       res.Method,
		Kind:         methodKind(res.Kind),
		RequestType:  res.RequestType,
		ResponseType: res.ResponseType,
		Subject:      res.Subject,
		Prefix:       res.Prefix,
		QueueGroup:   res.QueueGroup,
		File:         res.File,
	}
	if req.GetIncludeFiles() {
		return carry(ctx, res.Content, out)
	}
	return out, nil
}

// FindFileDigest implements RegistryService.FindFileDigest.
func (s *Server) FindFileDigest(ctx context.Context, req *registryv1.FindFileDigestRequest) (*registryv1.FindFileDigestResponse, error) {
	matches, err := s.reg.FindFileDigest(ctx, req.GetDigest())
	if err != nil {
		return nil, apiError(err)
	}
	out := &registryv1.FindFileDigestResponse{Matches: make([]*registryv1.FileDigestMatch, 0, len(matches))}
	for _, m := range matches {
		pm := &registryv1.FileDigestMatch{Module: m.Module, File: m.File, LatestVersion: m.LatestVersion}
		for _, r := range m.Ranges {
			pm.Ranges = append(pm.Ranges, &registryv1.VersionRange{First: r.First, Last: r.Last})
		}
		out.Matches = append(out.Matches, pm)
	}
	return out, nil
}

// maxInline is the largest set a reply carries inline: the request's
// limit when it is positive and below the connection's, else the
// connection's (the NATS max payload, less room for headers and the
// reply's other fields).
func (s *Server) maxInline(requested int64) int64 {
	limit := max(s.nc.MaxPayload()-64<<10, 1024)
	if requested > 0 && requested < limit {
		return requested
	}
	return limit
}
