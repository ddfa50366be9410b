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
	// noRequest is set for client and bidirectional streams: the client
	// method takes no request (the caller sends them on the stream), and
	// call is made with (ctx, opts...).
	noRequest bool
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

// defaultShapes are the shapes the plugin generates with: every kind of
// method. A shape with pending set would leave its kind out of the
// interfaces with a comment (tests use pendingShape to check that path).
var defaultShapes = map[spec.Kind]*shape{
	spec.KindUnary:        unaryShape,
	spec.KindServerStream: serverStreamShape,
	spec.KindClientStream: clientStreamShape,
	spec.KindBidiStream:   bidiStreamShape,
	spec.KindEvent:        eventShape,
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

// serverStreamShape: Watch(ctx, *Req, ...CallOption)
// (*natsrpc.ClientRecvStream[Res], error) on the client; Watch(ctx, *Req,
// *natsrpc.HandlerSendStream[Res]) error on the handler.
var serverStreamShape = &shape{
	label:      "server streaming",
	noun:       "RPC",
	clientType: "ServerStreamClient",
	newClient:  "NewServerStreamClient",
	call:       "CallServerStream",
	newHandler: "NewServerStreamHandler",
	clientResults: func(g *generator, m *methodGen) string {
		return "(*" + g.natsrpc("ClientRecvStream") + "[" + g.ident(m.method.Output.GoIdent) + "], error)"
	},
	handlerParams: func(g *generator, m *methodGen) string {
		return request(g, m) + ", *" + g.natsrpc("HandlerSendStream") + "[" + g.ident(m.method.Output.GoIdent) + "]"
	},
	handlerResults: func(*generator, *methodGen) string { return "error" },
}

// clientStreamShape: Upload(ctx, ...CallOption)
// (*natsrpc.ClientSendStream[Req, Res], error) on the client; Upload(ctx,
// *natsrpc.HandlerRecvStream[Req]) (*Res, error) on the handler.
var clientStreamShape = &shape{
	label:      "client streaming",
	noun:       "RPC",
	clientType: "ClientStreamClient",
	newClient:  "NewClientStreamClient",
	call:       "CallClientStream",
	newHandler: "NewClientStreamHandler",
	noRequest:  true,
	clientResults: func(g *generator, m *methodGen) string {
		return "(*" + g.natsrpc("ClientSendStream") + "[" + g.ident(m.method.Input.GoIdent) + ", " + g.ident(m.method.Output.GoIdent) + "], error)"
	},
	handlerParams: func(g *generator, m *methodGen) string {
		return "*" + g.natsrpc("HandlerRecvStream") + "[" + g.ident(m.method.Input.GoIdent) + "]"
	},
	handlerResults: func(g *generator, m *methodGen) string {
		return "(" + response(g, m) + ", error)"
	},
	zeroResults: "nil, ",
}

// bidiStreamShape: Sync(ctx, ...CallOption) (*natsrpc.ClientBidiStream[Req,
// Res], error) on the client; Sync(ctx, *natsrpc.HandlerBidiStream[Req,
// Res]) error on the handler.
var bidiStreamShape = &shape{
	label:      "bidirectional streaming",
	noun:       "RPC",
	clientType: "BidiStreamClient",
	newClient:  "NewBidiStreamClient",
	call:       "CallBidiStream",
	newHandler: "NewBidiStreamHandler",
	noRequest:  true,
	clientResults: func(g *generator, m *methodGen) string {
		return "(*" + g.natsrpc("ClientBidiStream") + "[" + g.ident(m.method.Input.GoIdent) + ", " + g.ident(m.method.Output.GoIdent) + "], error)"
	},
	handlerParams: func(g *generator, m *methodGen) string {
		return "*" + g.natsrpc("HandlerBidiStream") + "[" + g.ident(m.method.Input.GoIdent) + ", " + g.ident(m.method.Output.GoIdent) + "]"
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
