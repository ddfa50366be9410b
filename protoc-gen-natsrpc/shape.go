package main

import (
	"github.com/natsrpc/natsrpc/internal/spec"
)

// A shape says how the methods of one kind (unary, server streaming, event,
// ...) are generated: which runtime constructors and types they use and
// what their Go signatures look like. Everything else (constants,
// interfaces, constructors, registration, Unimplemented) is shared, so
// supporting a new kind means filling in its shape and clearing pending.
type shape struct {
	// label names the kind in comments, e.g. "server streaming".
	label string
	// noun is what the method is called in comments: "RPC" or "event".
	noun string
	// pending, when set, leaves the kind out of the interfaces; it says
	// why, e.g. "streaming support arrives with natsrpc streaming".
	pending string

	// clientType is the runtime's client type for one method, e.g.
	// "UnaryClient", instantiated with typeArgs.
	clientType string
	// newClient is the runtime's constructor of clientType.
	newClient string
	// call is clientType's method the generated client method calls with
	// (ctx, req, opts...).
	call string
	// newHandler is the runtime's constructor of a natsrpc.Handler from a
	// method descriptor and the handler interface's method value.
	newHandler string
	// noResponse is set for events: their response type
	// (google.protobuf.Empty) appears nowhere in the generated code, not
	// even as a type argument (EventClient[Req]).
	noResponse bool
	// clientResults is the client method's result list.
	clientResults func(g *generator, m *methodGen) string
	// handlerParams is the handler method's parameter list after the
	// context.
	handlerParams func(g *generator, m *methodGen) string
	// handlerResults is the handler method's result list.
	handlerResults func(g *generator, m *methodGen) string
	// zeroResults precedes the error in Unimplemented's return statement.
	zeroResults string
}

// typeArgs is the runtime client type's type argument list.
func (s *shape) typeArgs(g *generator, m *methodGen) string {
	if s.noResponse {
		return g.ident(m.method.Input.GoIdent)
	}
	return g.ident(m.method.Input.GoIdent) + ", " + g.ident(m.method.Output.GoIdent)
}

func request(g *generator, m *methodGen) string  { return "*" + g.ident(m.method.Input.GoIdent) }
func response(g *generator, m *methodGen) string { return "*" + g.ident(m.method.Output.GoIdent) }

const (
	streamingPending = "streaming support arrives with natsrpc streaming"
	eventPending     = "event support arrives with natsrpc streaming"
)

// defaultShapes are the shapes the plugin generates with. Only unary
// methods are generated for now; server streaming and events are fully
// described against the runtime API they will use (and rendered by
// TestPendingShapesRender) so that enabling them is clearing pending.
var defaultShapes = map[spec.Kind]*shape{
	spec.KindUnary:        unaryShape,
	spec.KindServerStream: pendingShape(serverStreamShape, streamingPending),
	spec.KindClientStream: {label: "client streaming", noun: "RPC", pending: streamingPending},
	spec.KindBidiStream:   {label: "bidirectional streaming", noun: "RPC", pending: streamingPending},
	spec.KindEvent:        pendingShape(eventShape, eventPending),
}

var unaryShape = &shape{
	label:      "unary",
	noun:       "RPC",
	clientType: "UnaryClient",
	newClient:  "NewUnaryClient",
	call:       "CallUnary",
	newHandler: "NewUnaryHandler",
	clientResults: func(g *generator, m *methodGen) string {
		return "(" + response(g, m) + ", error)"
	},
	handlerParams: request,
	handlerResults: func(g *generator, m *methodGen) string {
		return "(" + response(g, m) + ", error)"
	},
	zeroResults: "nil, ",
}

// serverStreamShape: Watch(ctx, *Req, ...CallOption) (*natsrpc.ClientStream[Res], error)
// on the client; Watch(ctx, *Req, *natsrpc.ServerStream[Res]) error on the
// handler.
var serverStreamShape = &shape{
	label:      "server streaming",
	noun:       "RPC",
	clientType: "ServerStreamClient",
	newClient:  "NewServerStreamClient",
	call:       "CallServerStream",
	newHandler: "NewServerStreamHandler",
	clientResults: func(g *generator, m *methodGen) string {
		return "(*" + g.natsrpc("ClientStream") + "[" + g.ident(m.method.Output.GoIdent) + "], error)"
	},
	handlerParams: func(g *generator, m *methodGen) string {
		return request(g, m) + ", *" + g.natsrpc("ServerStream") + "[" + g.ident(m.method.Output.GoIdent) + "]"
	},
	handlerResults: func(*generator, *methodGen) string { return "error" },
}

// eventShape: Changed(ctx, *Req, ...CallOption) error publishes on the
// client; Changed(ctx, *Req) error consumes on the handler.
var eventShape = &shape{
	label:          "event",
	noun:           "event",
	clientType:     "EventClient",
	newClient:      "NewEventClient",
	call:           "Publish",
	newHandler:     "NewEventHandler",
	noResponse:     true,
	clientResults:  func(*generator, *methodGen) string { return "error" },
	handlerParams:  request,
	handlerResults: func(*generator, *methodGen) string { return "error" },
}

func pendingShape(s *shape, reason string) *shape {
	c := *s
	c.pending = reason
	return &c
}
