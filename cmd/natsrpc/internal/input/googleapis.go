package input

import (
	"io/fs"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The googleapis files that google/api/*.proto imports resolve to:
	// their descriptors ship in genproto, as the well-known types ship in
	// protobuf-go.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
)

// withGoogleAPIs resolves google/api/*.proto (annotations.proto,
// http.proto, httpbody.proto and their kin) from the descriptors linked
// into the binary when the workspace does not provide them: schemas may
// carry google.api.http annotations without a copy of googleapis, which
// cannot be fetched here, and the registry treats these files like the
// well-known types.
func withGoogleAPIs(r protocompile.Resolver) protocompile.Resolver {
	return protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		res, err := r.FindFileByPath(path)
		if err == nil || !strings.HasPrefix(path, "google/api/") {
			return res, err
		}
		fd, gerr := protoregistry.GlobalFiles.FindFileByPath(path)
		if gerr != nil {
			return protocompile.SearchResult{}, fs.ErrNotExist
		}
		return protocompile.SearchResult{Desc: fd}, nil
	})
}
