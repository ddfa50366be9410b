// protoc-gen-natsrpc is a plugin for the Protobuf compiler that generates
// typed Go clients and handlers that call and serve protobuf services over
// NATS with the natsrpc runtime (github.com/natsrpc/natsrpc).
//
// With [buf], add it next to protoc-gen-go in buf.gen.yaml:
//
//	version: v2
//	plugins:
//	  - local: protoc-gen-go
//	    out: gen
//	    opt: paths=source_relative
//	  - local: protoc-gen-natsrpc
//	    out: gen
//	    opt: paths=source_relative
//
// With protoc:
//
//	protoc --go_out=gen --go_opt=paths=source_relative \
//	  --natsrpc_out=gen --natsrpc_opt=paths=source_relative path/to/file.proto
//
// If path/to/file.proto declares go_package ".../path/to;foov1", this writes
//
//	gen/path/to/file.pb.go                        (protoc-gen-go, package foov1)
//	gen/path/to/foov1natsrpc/file.natsrpc.go      (this plugin, package foov1natsrpc)
//
// Files without services, or whose services are all skipped with the
// (natsrpc.v1.service).skip option, produce nothing.
//
// # Parameters
//
// The plugin accepts protoc-gen-go's path parameters, so that its output lands
// next to the .pb.go files: paths=import (the default) or paths=source_relative,
// module=<prefix>, M<file>=<go import path>[;<package name>] and
// annotate_code. It adds one parameter:
//
//   - package_suffix=<identifier>: generate into a sub-package of the .pb.go's
//     package whose name is the .pb.go's package name followed by the suffix.
//     The default is "natsrpc". An empty suffix (package_suffix or
//     package_suffix=) generates into the .pb.go's own package.
//
// Any other parameter is an error. Errors (bad parameters, invalid natsrpc
// options, a missing go_package) are reported to protoc or buf in the
// CodeGeneratorResponse, naming the file, the element and the option.
//
// # Generated names
//
// For service Foo in package acme.foo.v1 (all names are built by [newNames]):
//
//	FooName                    const "acme.foo.v1.Foo"
//	FooSubjectWildcard         const "acme.foo.v1.Foo.>", every subject of the service
//	Foo<Method>Subject         const NATS subject of each method (natsrpc.v1 options applied)
//	Foo<Method>Procedure       const "/acme.foo.v1.Foo/<Method>"
//	FooClient                  interface, one method per RPC and event
//	NewFooClient               func(nc *nats.Conn, opts ...natsrpc.ClientOption) FooClient
//	FooHandler                 interface the server implements
//	RegisterFooHandler         func(nc *nats.Conn, impl FooHandler, opts ...natsrpc.HandlerOption) (*natsrpc.Service, error)
//	UnimplementedFooHandler    struct{} whose methods return natsrpc.CodeUnimplemented
//
// Subjects come from internal/spec, the one package that derives them for
// the plugin, the runtime, the breaking-change checker and the registry.
//
// # Method shapes
//
// Every kind of method is generated (Req and Res stand for the request and
// response messages):
//
//	kind                 client method                                                        handler method
//	unary                M(ctx, *Req, ...CallOption) (*Res, error)                            M(ctx, *Req) (*Res, error)
//	server streaming     M(ctx, *Req, ...CallOption) (*natsrpc.ClientRecvStream[Res], error)  M(ctx, *Req, *natsrpc.HandlerSendStream[Res]) error
//	client streaming     M(ctx, ...CallOption) (*natsrpc.ClientSendStream[Req, Res], error)   M(ctx, *natsrpc.HandlerRecvStream[Req]) (*Res, error)
//	bidi streaming       M(ctx, ...CallOption) (*natsrpc.ClientBidiStream[Req, Res], error)   M(ctx, *natsrpc.HandlerBidiStream[Req, Res]) error
//	event (kind option)  M(ctx, *Req, ...CallOption) error                                    M(ctx, *Req) error
//
// Stream types are named by side (Client, Handler) and direction (Recv,
// Send, Bidi), never by method kind.
//
// A file whose methods are all unary requires natsrpc 0.1.0 or newer
// (const _ = natsrpc.IsAtLeastVersion0_1_0); a file with streams or events
// requires 0.3.0 (natsrpc.IsAtLeastVersion0_3_0), which renamed the stream
// types: files generated for 0.2.0 with streams or events reference
// IsAtLeastVersion0_2_0, which 0.3.0 no longer has, and must be
// regenerated.
//
// [buf]: https://buf.build
package main

// The golden files under internal/testdata (and their .pb.go) are rewritten
// by the golden test; `make generate` runs this. It refuses in CI (env CI
// set), where `make checkgenerate` compares them instead.
//go:generate go test -count=1 -run TestGolden -update .

import (
	"fmt"
	"os"
	"runtime/debug"
)

const usage = `protoc-gen-natsrpc generates natsrpc Go clients and handlers; protoc and buf run it.

Usage:
  protoc --natsrpc_out=. --natsrpc_opt=paths=source_relative file.proto
  buf generate   (with protoc-gen-natsrpc in buf.gen.yaml)

Parameters: package_suffix=<identifier> (default "natsrpc"; empty: the .pb.go's package),
  paths=import|source_relative, module=<prefix>, M<file>=<go import path>, annotate_code.

Flags:
  -h, --help     Print this help and exit.
      --version  Print the version and exit.`

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Fprintln(os.Stdout, version)
		return
	}
	if len(os.Args) == 2 && (os.Args[1] == "-h" || os.Args[1] == "--help") {
		fmt.Fprintln(os.Stdout, usage)
		return
	}
	if len(os.Args) != 1 {
		fmt.Fprintf(os.Stderr, "protoc-gen-natsrpc: unknown argument %q\n\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// A short-lived process that allocates about 30 MB for a large
		// request (proto/: 25 files, 1 MB) and frees little of it before
		// it exits: at the default GOGC a fifth of its CPU goes to the
		// garbage collector.
		debug.SetGCPercent(400)
	}
	// run reports every generation problem inside the CodeGeneratorResponse;
	// it only fails when stdin or stdout themselves fail.
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "protoc-gen-natsrpc: %v\n", err)
		os.Exit(1)
	}
}
