package natsrpc

import (
	"context"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// MethodKind is how a method travels over NATS: one request and one reply,
// a stream in either or both directions, or a one-way event. The registry
// reports it too (registry.SubjectResult): its values are those of the
// kind the runtime, the plugin and the registry derive from descriptors.
type MethodKind int

const (
	// MethodKindUnary is one request answered by one reply.
	MethodKindUnary MethodKind = iota + 1
	// MethodKindServerStream is one request answered by a stream of replies.
	MethodKindServerStream
	// MethodKindClientStream is a stream of requests answered by one reply.
	MethodKindClientStream
	// MethodKindBidiStream is a stream of requests and a stream of replies.
	MethodKindBidiStream
	// MethodKindEvent is a one-way message published without a reply.
	MethodKindEvent
)

// String returns the kind as it appears in endpoint metadata: "unary",
// "server_stream", "client_stream", "bidi_stream" or "event".
func (k MethodKind) String() string {
	return spec.Kind(k).String()
}

// IdempotencyLevel is a method's standard idempotency_level option. Clients
// retry only methods that are [IdempotencyNoSideEffects] or
// [IdempotencyIdempotent].
type IdempotencyLevel int

const (
	// IdempotencyUnknown is the default: the method may have side effects and
	// is never retried.
	IdempotencyUnknown IdempotencyLevel = IdempotencyLevel(descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN)
	// IdempotencyNoSideEffects marks read-only methods.
	IdempotencyNoSideEffects IdempotencyLevel = IdempotencyLevel(descriptorpb.MethodOptions_NO_SIDE_EFFECTS)
	// IdempotencyIdempotent marks methods whose repetition has no further
	// effect.
	IdempotencyIdempotent IdempotencyLevel = IdempotencyLevel(descriptorpb.MethodOptions_IDEMPOTENT)
)

// String returns "unknown", "no_side_effects" or "idempotent".
func (l IdempotencyLevel) String() string {
	switch l {
	case IdempotencyNoSideEffects:
		return "no_side_effects"
	case IdempotencyIdempotent:
		return "idempotent"
	default:
		return "unknown"
	}
}

// Spec describes the method of a call, for interceptors and handlers.
type Spec struct {
	// Procedure is "/<package>.<Service>/<Method>", as gRPC and Connect name
	// it, e.g. "/gaming.quest_system.v1.QuestSystemService/GetQuest".
	Procedure string
	// Subject is the NATS subject the call travels on, runtime prefix
	// included.
	Subject string
	// Kind is how the method travels.
	Kind MethodKind
	// Idempotency is the method's idempotency_level.
	Idempotency IdempotencyLevel
	// IsClient is true on the calling side, false in handlers.
	IsClient bool
	// Method is the method's descriptor.
	Method protoreflect.MethodDescriptor
}

func newSpec(m *spec.Method, subject string, isClient bool) Spec {
	return Spec{
		Procedure:   m.Procedure,
		Subject:     subject,
		Kind:        MethodKind(m.Kind),
		Idempotency: IdempotencyLevel(m.Idempotency),
		IsClient:    isClient,
		Method:      m.Desc,
	}
}

// CallInfo is the call in progress, found in the context that interceptors
// and handlers receive ([CallInfoFromContext]). It carries the method's
// [Spec] and the headers of both directions.
//
// A CallInfo belongs to one call and is not safe for concurrent use: a
// handler that sets response headers from several goroutines must
// synchronize them itself.
type CallInfo struct {
	spec          *Spec
	requestHeader nats.Header
	// subject is the subject of a call with a subject token (the one
	// sent, or the one the request arrived on); "" otherwise.
	subject        string
	responseHeader nats.Header
}

// Spec returns the method's description.
func (c *CallInfo) Spec() Spec {
	return *c.spec
}

// RequestHeader returns the request's headers. In a client interceptor they
// are the headers about to be sent ([WithHeader] ones included) and may be
// changed, except for reserved ones (the Nats-Rpc- prefix, Content-Type,
// micro's error headers, Status and Description), which fail the call with
// [CodeInvalidArgument]. In a handler they are the headers received,
// Nats-Rpc-Timeout and traceparent included.
func (c *CallInfo) RequestHeader() nats.Header {
	if c.requestHeader == nil {
		c.requestHeader = nats.Header{}
	}
	return c.requestHeader
}

// ResponseHeader returns the response's headers. In a handler they are the
// headers to send back and may be set freely; reserved ones are dropped when
// the response is sent. In a client interceptor they are the headers
// received, available once the call returns (see also
// [WithResponseHeader]).
func (c *CallInfo) ResponseHeader() nats.Header {
	if c.responseHeader == nil {
		c.responseHeader = nats.Header{}
	}
	return c.responseHeader
}

type callInfoKey struct{}

// callContext carries a CallInfo in a context without a separate
// context.WithValue allocation per call.
type callContext struct {
	context.Context
	info CallInfo
	// stream carries a streaming call's settings to the innermost
	// StreamingClientFunc; nil for unary calls.
	stream *streamCall
}

func (c *callContext) Value(key any) any {
	switch key {
	case callInfoKey{}:
		return &c.info
	case streamCallKey{}:
		if c.stream != nil {
			return c.stream
		}
	}
	return c.Context.Value(key)
}

// CallInfoFromContext returns the call in progress: in a handler, in a
// handler interceptor and in a client interceptor, ctx always has one. A
// handler that calls another service passes its context on; the client then
// starts a new CallInfo for its own call, so headers never leak from one
// call to the next.
func CallInfoFromContext(ctx context.Context) (*CallInfo, bool) {
	ci, ok := ctx.Value(callInfoKey{}).(*CallInfo)
	return ci, ok
}
