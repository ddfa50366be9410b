package regctl

import (
	"context"
	"slices"
	"strings"

	"github.com/natsrpc/natsrpc"
	"github.com/natsrpc/natsrpc/internal/input"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/registry/client"
)

// AgainstRegistry loads a version of a module (the latest when ref has no
// version) as an input, to be the against side of a breaking-change check:
// one module whose targets are the module's own files and whose imports
// are the rest, as a buf image of it would be. It returns a nil input and
// no error when the module has no versions at all, so that a first push
// passes the check; a version that does not exist is an error.
func AgainstRegistry(ctx context.Context, c *client.Client, ref ModuleRef) (*input.Input, *registryv1.ModuleVersion, error) {
	mv, set, err := Fetch(ctx, c, ref)
	if err != nil {
		if ref.Version == 0 && natsrpc.CodeOf(err) == natsrpc.CodeNotFound {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	own := map[string]bool{}
	for _, p := range mv.GetFiles() {
		own[p] = true
	}
	var files []*input.File
	for _, fd := range set.GetFile() {
		files = append(files, &input.File{Path: fd.GetName(), ExternalPath: fd.GetName(), Import: !own[fd.GetName()], Proto: fd})
	}
	// Targets first, then imports, each sorted by path, as input modules are.
	slices.SortStableFunc(files, func(a, b *input.File) int {
		if a.Import != b.Import {
			if a.Import {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Path, b.Path)
	})
	in := &input.Input{
		Ref:     input.Ref{Raw: "registry:" + ref.String(), Path: ref.String(), Format: input.FormatBinpb},
		Modules: []*input.Module{{Dir: ".", Files: files}},
	}
	return in, mv, nil
}
