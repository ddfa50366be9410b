package testschema

import (
	"context"
	"fmt"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	natsrpcv1 "github.com/natsrpc/natsrpc/proto/natsrpc/v1"
)

// CompileSet compiles targets from srcs with source info; natsrpc's
// options and the well-known types are built in. It returns the files and
// their imports, dependencies first. (internal/descfuzz's base schema is
// this of its Sources.)
func CompileSet(srcs map[string]string, targets ...string) (*descriptorpb.FileDescriptorSet, error) {
	options := protodesc.ToFileDescriptorProto(natsrpcv1.File_natsrpc_v1_options_proto)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
			if s, ok := srcs[p]; ok {
				return protocompile.SearchResult{Source: strings.NewReader(s)}, nil
			}
			if p == options.GetName() {
				return protocompile.SearchResult{Proto: options}, nil
			}
			return protocompile.SearchResult{}, fmt.Errorf("%s: not found", p)
		})),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), targets...)
	if err != nil {
		return nil, err
	}
	return descset.Closure(files...), nil
}
