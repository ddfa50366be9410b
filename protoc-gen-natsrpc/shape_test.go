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

// TestShapesRender generates the options case, whose services have
// methods of every kind, and checks the signatures the runtime expects, on
// top of the golden comparison: a golden file can be regenerated wrong,
// these strings say what right is.
func TestShapesRender(t *testing.T) {
	t.Parallel()
	files := testOptionsCase(t, defaultShapes)
	world := files["world/v1/worldv1natsrpc/world.natsrpc.go"]
	testImportsUsed(t, world)
	normalized := strings.Join(strings.Fields(world), " ")
	for _, want := range []string{
		// Streams and events need the 0.3.0 runtime (it renamed the stream types).
		"const _ = natsrpc.IsAtLeastVersion0_3_0",
		// Server streaming.
		"Watch(context.Context, *v1.RegionRequest, ...natsrpc.CallOption) (*natsrpc.ClientRecvStream[v1.Region], error)",
		"watch: natsrpc.NewServerStreamClient[v1.RegionRequest, v1.Region](nc, methods.ByName(\"Watch\"), opts...),",
		"return c.watch.CallServerStream(ctx, req, opts...)",
		"Watch(context.Context, *v1.RegionRequest, *natsrpc.HandlerSendStream[v1.Region]) error",
		"natsrpc.NewServerStreamHandler(methods.ByName(\"Watch\"), impl.Watch),",
		"func (UnimplementedWorldServiceHandler) Watch(context.Context, *v1.RegionRequest, *natsrpc.HandlerSendStream[v1.Region]) error {\n\treturn natsrpc.NewError(",
		// Client streaming.
		"Upload(context.Context, ...natsrpc.CallOption) (*natsrpc.ClientSendStream[v1.Region, v1.Region], error)",
		"upload: natsrpc.NewClientStreamClient[v1.Region, v1.Region](nc, methods.ByName(\"Upload\"), opts...),",
		"func (c *worldServiceClient) Upload(ctx context.Context, opts ...natsrpc.CallOption) (*natsrpc.ClientSendStream[v1.Region, v1.Region], error) {",
		"return c.upload.CallClientStream(ctx, opts...)",
		"Upload(context.Context, *natsrpc.HandlerRecvStream[v1.Region]) (*v1.Region, error)",
		"natsrpc.NewClientStreamHandler(methods.ByName(\"Upload\"), impl.Upload),",
		"func (UnimplementedWorldServiceHandler) Upload(context.Context, *natsrpc.HandlerRecvStream[v1.Region]) (*v1.Region, error) {\n\treturn nil, natsrpc.NewError(",
		// Bidirectional streaming.
		"Sync(context.Context, ...natsrpc.CallOption) (*natsrpc.ClientBidiStream[v1.Region, v1.Region], error)",
		"sync: natsrpc.NewBidiStreamClient[v1.Region, v1.Region](nc, methods.ByName(\"Sync\"), opts...),",
		"return c.sync.CallBidiStream(ctx, opts...)",
		"Sync(context.Context, *natsrpc.HandlerBidiStream[v1.Region, v1.Region]) error",
		"natsrpc.NewBidiStreamHandler(methods.ByName(\"Sync\"), impl.Sync),",
		// Events.
		"RegionChanged(context.Context, *v1.Region, ...natsrpc.CallOption) error",
		"regionChanged: natsrpc.NewEventClient[v1.Region](nc, methods.ByName(\"RegionChanged\"), opts...),",
		"regionChanged *natsrpc.EventClient[v1.Region]",
		"return c.regionChanged.Publish(ctx, req, opts...)",
		"RegionChanged(context.Context, *v1.Region) error",
		"natsrpc.NewEventHandler(methods.ByName(\"RegionChanged\"), impl.RegionChanged),",
		"natsrpc.NewEventHandler(methods.ByName(\"RegionSaved\"), impl.RegionSaved),",
		"natsrpc.NewEventHandler(methods.ByName(\"Tick\"), impl.Tick),",
	} {
		if !strings.Contains(normalized, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if strings.Contains(world, "emptypb") {
		t.Error("events mention their google.protobuf.Empty response")
	}
	if t.Failed() {
		t.Logf("generated:\n%s", world)
	}
	// A file with only unary methods asks for no newer runtime than 0.1.0.
	if admin := files["world/v1/worldv1natsrpc/admin.natsrpc.go"]; !strings.Contains(admin, "const _ = natsrpc.IsAtLeastVersion0_1_0") {
		t.Errorf("admin.natsrpc.go (unary only) does not require runtime 0.1.0:\n%s", admin)
	}
}

// TestPendingShapeLeftOut checks the path for kinds a plugin cannot
// generate yet: they keep their constants and are left out of the
// interfaces with a comment saying why.
func TestPendingShapeLeftOut(t *testing.T) {
	t.Parallel()
	shapes := make(map[spec.Kind]*shape)
	for k, v := range defaultShapes {
		shapes[k] = v
	}
	shapes[spec.KindBidiStream] = pendingShape(bidiStreamShape, "not supported here")
	world := testOptionsCase(t, shapes)["world/v1/worldv1natsrpc/world.natsrpc.go"]
	testImportsUsed(t, world)
	for _, want := range []string{
		"// Sync (bidirectional streaming) is not generated yet: not supported here.",
		"WorldServiceSyncSubject",
	} {
		if !strings.Contains(world, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if strings.Contains(world, "CallBidiStream") {
		t.Error("the pending kind was generated")
	}
}

// testOptionsCase generates the options golden case with shapes.
func testOptionsCase(t *testing.T, shapes map[spec.Kind]*shape) map[string]string {
	t.Helper()
	c := goldenCases[8]
	if c.name != "options" {
		t.Fatalf("goldenCases[8] is %q; want options", c.name)
	}
	req := testRequest(t, c.dir(), c.parameter(), c.protoFiles(t)...)
	resp := generateResponse(req, shapes)
	if resp.Error != nil {
		t.Fatalf("plugin error: %s", resp.GetError())
	}
	files := make(map[string]string)
	for _, f := range resp.GetFile() {
		files[f.GetName()] = f.GetContent()
	}
	return files
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
