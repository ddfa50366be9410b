package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/natsrpc/natsrpc/internal/spec"
)

// TestPendingShapesRender generates the options case with server streaming
// and events enabled, as they will be once the runtime supports them, and
// checks that the code is valid Go (protogen parses and formats it) with
// the signatures the streaming runtime will expect. It keeps the pending
// shapes from rotting until they are switched on.
func TestPendingShapesRender(t *testing.T) {
	t.Parallel()
	enabled := make(map[spec.Kind]*shape)
	for k, v := range defaultShapes {
		enabled[k] = v
	}
	enabled[spec.KindServerStream] = serverStreamShape
	enabled[spec.KindEvent] = eventShape

	c := goldenCases[8]
	if c.name != "options" {
		t.Fatalf("goldenCases[8] is %q; want options", c.name)
	}
	req := testRequest(t, c.dir(), c.parameter(), c.protoFiles(t)...)
	resp := generateResponse(req, enabled)
	if resp.Error != nil {
		t.Fatalf("plugin error: %s", resp.GetError())
	}
	var world string
	for _, f := range resp.GetFile() {
		if f.GetName() == "world/v1/worldv1natsrpc/world.natsrpc.go" {
			world = f.GetContent()
		}
	}
	testImportsUsed(t, world)
	normalized := strings.Join(strings.Fields(world), " ")
	for _, want := range []string{
		// Server streaming.
		"Watch(context.Context, *v1.RegionRequest, ...natsrpc.CallOption) (*natsrpc.ClientStream[v1.Region], error)",
		"watch: natsrpc.NewServerStreamClient[v1.RegionRequest, v1.Region](nc, methods.ByName(\"Watch\"), opts...),",
		"return c.watch.CallServerStream(ctx, req, opts...)",
		"Watch(context.Context, *v1.RegionRequest, *natsrpc.ServerStream[v1.Region]) error",
		"natsrpc.NewServerStreamHandler(methods.ByName(\"Watch\"), impl.Watch),",
		"func (UnimplementedWorldServiceHandler) Watch(context.Context, *v1.RegionRequest, *natsrpc.ServerStream[v1.Region]) error {\n\treturn natsrpc.NewError(",
		// Events.
		"RegionChanged(context.Context, *v1.Region, ...natsrpc.CallOption) error",
		"regionChanged: natsrpc.NewEventClient[v1.Region](nc, methods.ByName(\"RegionChanged\"), opts...),",
		"regionChanged *natsrpc.EventClient[v1.Region]",
		"return c.regionChanged.Publish(ctx, req, opts...)",
		"RegionChanged(context.Context, *v1.Region) error",
		"natsrpc.NewEventHandler(methods.ByName(\"RegionChanged\"), impl.RegionChanged),",
		"natsrpc.NewEventHandler(methods.ByName(\"Tick\"), impl.Tick),",
		// Client and bidi streaming stay out.
		"// Upload (client streaming) is not generated yet: streaming support arrives with natsrpc streaming.",
	} {
		if !strings.Contains(normalized, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("generated:\n%s", world)
	}
}

// testImportsUsed fails if src imports a package it does not use: the Go
// compiler rejects that, and protogen imports every package it was asked to
// qualify a name in, whether the name was printed or not.
func testImportsUsed(t testing.TB, src string) {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	used := make(map[string]bool)
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if imp.Name == nil || !used[imp.Name.Name] {
			t.Errorf("import %s %q is not used", imp.Name, path)
		}
	}
}
