package main

import (
	"errors"
	"fmt"
	"go/token"
	"io"
	"runtime/debug"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/natsrpc/natsrpc/internal/spec"
)

const (
	packageSuffixParam   = "package_suffix"
	defaultPackageSuffix = "natsrpc"

	// supportedFeatures and the editions range are reported in every
	// response, errors included: otherwise protoc may blame a failure on
	// missing proto3 optional or editions support. The range is
	// protoc-gen-go's (v1.36): the plugin reads only services, methods and
	// their options, which no edition changes.
	supportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) |
		uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	supportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	supportedEditionsMaximum = descriptorpb.Edition_EDITION_2024
)

// run is the plugin's main loop: it reads a CodeGeneratorRequest from stdin
// and writes a CodeGeneratorResponse to stdout. Every problem with the
// request (undecodable input, bad parameters, invalid options, a panic in
// the generator) is reported in the response's error field, so protoc and
// buf show it to the user; run returns an error only when stdin or stdout
// fail.
//
// protogen's Options.Run is not used because it prints setup errors (bad
// parameters, missing go_package) to stderr and calls os.Exit.
func run(stdin io.Reader, stdout io.Writer) error {
	in, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("read CodeGeneratorRequest from stdin: %w", err)
	}
	var resp *pluginpb.CodeGeneratorResponse
	req := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(in, req); err != nil {
		resp = errorResponse(fmt.Errorf("stdin is not a CodeGeneratorRequest (protoc-gen-natsrpc is run by protoc or buf, not directly): %w", err))
	} else {
		resp = generateResponse(req, defaultShapes)
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode CodeGeneratorResponse: %w", err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("write CodeGeneratorResponse to stdout: %w", err)
	}
	return nil
}

// generateResponse runs the generator on req. It never panics: a panic is
// a bug in the generator and comes back as an error asking for a report.
func generateResponse(req *pluginpb.CodeGeneratorRequest, shapes map[spec.Kind]*shape) (resp *pluginpb.CodeGeneratorResponse) {
	defer func() {
		if r := recover(); r != nil {
			resp = errorResponse(fmt.Errorf("internal error, please report it: panic: %v\n%s", r, debug.Stack()))
		}
	}()
	params := &parameters{packageSuffix: defaultPackageSuffix}
	plugin, err := protogen.Options{
		ParamFunc:         params.set,
		ImportRewriteFunc: rewriteImport,
	}.New(req)
	if err != nil {
		return errorResponse(err)
	}
	plugin.SupportedFeatures = supportedFeatures
	plugin.SupportedEditionsMinimum = supportedEditionsMinimum
	plugin.SupportedEditionsMaximum = supportedEditionsMaximum
	if err := generate(plugin, params, shapes); err != nil {
		plugin.Error(err)
	}
	resp = plugin.Response()
	if resp.Error != nil {
		// protogen drops the features from responses for errors it finds
		// while writing files (unparsable code, a module= mismatch).
		return errorResponse(errors.New(resp.GetError()))
	}
	return resp
}

func errorResponse(err error) *pluginpb.CodeGeneratorResponse {
	return &pluginpb.CodeGeneratorResponse{
		Error:             proto.String(err.Error()),
		SupportedFeatures: proto.Uint64(supportedFeatures),
		MinimumEdition:    proto.Int32(int32(supportedEditionsMinimum)),
		MaximumEdition:    proto.Int32(int32(supportedEditionsMaximum)),
	}
}

// parameters are the plugin's own parameters; protogen handles paths,
// module, M and annotate_code and passes every other one to set.
type parameters struct {
	// packageSuffix names the sub-package the code goes to; empty for the
	// .pb.go's own package.
	packageSuffix string
}

func (p *parameters) set(name, value string) error {
	switch name {
	case packageSuffixParam:
		if value != "" && !token.IsIdentifier(value) {
			return fmt.Errorf("parameter %s=%q: the suffix must be a Go identifier (letters, digits and \"_\", not starting with a digit, not a keyword); leave it empty to generate into the .pb.go's package", name, value)
		}
		p.packageSuffix = value
		return nil
	default:
		return errors.New("unknown parameter " + fmt.Sprintf("%q", name) +
			": protoc-gen-natsrpc accepts package_suffix=<identifier>, paths=import|source_relative, module=<prefix>, M<file>=<go import path> and annotate_code")
	}
}
