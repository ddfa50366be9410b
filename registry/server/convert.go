package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/server/store"
)

// apiError turns a registry error into the natsrpc error the caller sees:
// the registry's kinds map one to one onto natsrpc codes, and the message
// (which says what to do) is kept.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var re *store.Error
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err // the runtime maps context errors itself
		}
		return natsrpc.NewError(natsrpc.CodeInternal, err)
	}
	return natsrpc.NewError(codeOf(re.Kind), err)
}

func codeOf(k store.Kind) natsrpc.Code {
	switch k {
	case store.KindInvalidArgument:
		return natsrpc.CodeInvalidArgument
	case store.KindNotFound:
		return natsrpc.CodeNotFound
	case store.KindFailedPrecondition:
		return natsrpc.CodeFailedPrecondition
	case store.KindConflict:
		return natsrpc.CodeAborted
	case store.KindUnavailable:
		return natsrpc.CodeUnavailable
	default:
		return natsrpc.CodeInternal
	}
}

func invalidArgument(format string, args ...any) error {
	return natsrpc.NewError(natsrpc.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// moduleVersion converts a version description.
func moduleVersion(v store.VersionInfo) *registryv1.ModuleVersion {
	mv := &registryv1.ModuleVersion{
		Module:   v.Module,
		Version:  v.Version,
		Digest:   v.Digest,
		Files:    v.Files,
		RevertOf: v.RevertOf,
	}
	if !v.CreateTime.IsZero() {
		mv.CreateTime = timestamppb.New(v.CreateTime)
	}
	for _, d := range v.Dependencies {
		mv.Dependencies = append(mv.Dependencies, &registryv1.Dependency{
			File:    d.File,
			Module:  d.Module,
			Version: d.Version,
			Digest:  d.Digest,
			Builtin: d.Builtin,
		})
	}
	if p := v.PushedBy; p != nil {
		c := p.Claimed
		mv.PushedBy = &registryv1.Pusher{Right: p.Right, Claimed: &registryv1.PushClaims{
			ConnectionName: c.ConnectionName, User: c.User, OsUser: c.OSUser, Host: c.Host, Client: c.Client, Ci: c.CI,
		}}
	}
	return mv
}

// pusher records the right a push came through and what its client
// claimed.
func pusher(right string, c *registryv1.PushClaims) *store.Pusher {
	return &store.Pusher{Right: right, Claimed: store.Claims{
		ConnectionName: c.GetConnectionName(), User: c.GetUser(), OSUser: c.GetOsUser(), Host: c.GetHost(), Client: c.GetClient(), CI: c.GetCi(),
	}}
}

func violations(vs []store.Violation) []*registryv1.Violation {
	out := make([]*registryv1.Violation, 0, len(vs))
	for _, v := range vs {
		out = append(out, &registryv1.Violation{
			Rule:           v.Rule,
			File:           v.File,
			StartLine:      int32(v.StartLine),
			StartColumn:    int32(v.StartColumn),
			EndLine:        int32(v.EndLine),
			EndColumn:      int32(v.EndColumn),
			Message:        v.Message,
			AgainstVersion: v.AgainstVersion,
		})
	}
	return out
}

func outcome(o store.Outcome) registryv1.PushOutcome {
	switch o {
	case store.OutcomeCreated:
		return registryv1.PushOutcome_PUSH_OUTCOME_CREATED
	case store.OutcomeUnchanged:
		return registryv1.PushOutcome_PUSH_OUTCOME_UNCHANGED
	case store.OutcomeRefused:
		return registryv1.PushOutcome_PUSH_OUTCOME_REFUSED
	default:
		return registryv1.PushOutcome_PUSH_OUTCOME_UNSPECIFIED
	}
}

func moduleStatus(s store.ModuleStatus) registryv1.ModuleStatus {
	switch s {
	case store.ModuleUnknown:
		return registryv1.ModuleStatus_MODULE_STATUS_UNKNOWN
	case store.ModuleAnnounced:
		return registryv1.ModuleStatus_MODULE_STATUS_ANNOUNCED
	case store.ModulePushed:
		return registryv1.ModuleStatus_MODULE_STATUS_PUSHED
	default:
		return registryv1.ModuleStatus_MODULE_STATUS_UNSPECIFIED
	}
}

func policyToProto(p store.Policy) *registryv1.Policy {
	out := &registryv1.Policy{Categories: p.Categories, Transitive: p.Transitive}
	switch p.Direction {
	case store.DirectionForward:
		out.Direction = registryv1.Direction_DIRECTION_FORWARD
	case store.DirectionFull:
		out.Direction = registryv1.Direction_DIRECTION_FULL
	default:
		out.Direction = registryv1.Direction_DIRECTION_BACKWARD
	}
	return out
}

func policyFromProto(p *registryv1.Policy) (store.Policy, error) {
	out := store.Policy{Categories: p.GetCategories(), Transitive: p.GetTransitive()}
	switch p.GetDirection() {
	case registryv1.Direction_DIRECTION_UNSPECIFIED, registryv1.Direction_DIRECTION_BACKWARD:
		out.Direction = store.DirectionBackward
	case registryv1.Direction_DIRECTION_FORWARD:
		out.Direction = store.DirectionForward
	case registryv1.Direction_DIRECTION_FULL:
		out.Direction = store.DirectionFull
	default:
		return store.Policy{}, invalidArgument("policy direction %d: use DIRECTION_BACKWARD, DIRECTION_FORWARD or DIRECTION_FULL", int32(p.GetDirection()))
	}
	return out, nil
}

func symbolKind(k store.SymbolKind) registryv1.SymbolKind {
	switch k {
	case store.SymbolPackage:
		return registryv1.SymbolKind_SYMBOL_KIND_PACKAGE
	case store.SymbolMessage:
		return registryv1.SymbolKind_SYMBOL_KIND_MESSAGE
	case store.SymbolField:
		return registryv1.SymbolKind_SYMBOL_KIND_FIELD
	case store.SymbolOneof:
		return registryv1.SymbolKind_SYMBOL_KIND_ONEOF
	case store.SymbolEnum:
		return registryv1.SymbolKind_SYMBOL_KIND_ENUM
	case store.SymbolEnumValue:
		return registryv1.SymbolKind_SYMBOL_KIND_ENUM_VALUE
	case store.SymbolService:
		return registryv1.SymbolKind_SYMBOL_KIND_SERVICE
	case store.SymbolMethod:
		return registryv1.SymbolKind_SYMBOL_KIND_METHOD
	case store.SymbolExtension:
		return registryv1.SymbolKind_SYMBOL_KIND_EXTENSION
	default:
		return registryv1.SymbolKind_SYMBOL_KIND_UNSPECIFIED
	}
}

func methodKind(k natsrpc.MethodKind) registryv1.MethodKind {
	switch k {
	case natsrpc.MethodKindUnary:
		return registryv1.MethodKind_METHOD_KIND_UNARY
	case natsrpc.MethodKindServerStream:
		return registryv1.MethodKind_METHOD_KIND_SERVER_STREAM
	case natsrpc.MethodKindClientStream:
		return registryv1.MethodKind_METHOD_KIND_CLIENT_STREAM
	case natsrpc.MethodKindBidiStream:
		return registryv1.MethodKind_METHOD_KIND_BIDI_STREAM
	case natsrpc.MethodKindEvent:
		return registryv1.MethodKind_METHOD_KIND_EVENT
	default:
		return registryv1.MethodKind_METHOD_KIND_UNSPECIFIED
	}
}

func objectRef(o *store.ObjectRef) *registryv1.ObjectRef {
	return &registryv1.ObjectRef{Bucket: o.Bucket, Name: o.Name, Size: o.Size, Digest: o.Digest}
}

// carry puts a registry content into the reply out, the object reference
// or the serialized set inline, and returns out (or nil and the error) so
// that a handler can end with it. It sets the reply's oneof by field name
// (object, file_descriptor_set), which every reply carrying a set has, so
// that the handlers need no setter per generated oneof type.
//
// For binary replies the set is not decoded: the wire form of an embedded
// message is the same as that of a bytes field, so the stored bytes are
// appended as the raw bytes of the reply's file_descriptor_set field, which
// the client decodes as the FileDescriptorSet it is. That skips a decode
// and a re-encode of up to a megabyte on every lookup. protojson cannot
// write raw fields, so JSON replies carry the decoded set.
func carry[M proto.Message](ctx context.Context, c store.Content, out M) (M, error) {
	reply := out.ProtoReflect()
	fields := reply.Descriptor().Fields()
	if c.Object != nil {
		reply.Set(fields.ByName("object"), protoreflect.ValueOfMessage(objectRef(c.Object).ProtoReflect()))
		return out, nil
	}
	setField := fields.ByName("file_descriptor_set")
	if wantsJSON(ctx) {
		set := &descriptorpb.FileDescriptorSet{}
		if err := proto.Unmarshal(c.Set, set); err != nil {
			var none M
			return none, natsrpc.NewError(natsrpc.CodeInternal, fmt.Errorf("decode a stored descriptor set: %w", err))
		}
		reply.Set(setField, protoreflect.ValueOfMessage(set.ProtoReflect()))
		return out, nil
	}
	num := setField.Number()
	raw := make([]byte, 0, len(c.Set)+protowire.SizeTag(num)+protowire.SizeVarint(uint64(len(c.Set))))
	raw = protowire.AppendTag(raw, num, protowire.BytesType)
	raw = protowire.AppendBytes(raw, c.Set)
	reply.SetUnknown(raw)
	return out, nil
}

// wantsJSON reports whether the request came as protojson, so that the
// reply goes back as protojson too.
func wantsJSON(ctx context.Context) bool {
	ci, ok := natsrpc.CallInfoFromContext(ctx)
	if !ok {
		return false
	}
	ct, _, _ := strings.Cut(ci.RequestHeader().Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}
