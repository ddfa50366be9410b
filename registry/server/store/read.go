package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc/internal/descset"
	"github.com/natsrpc/natsrpc/registry/server/internal/jsstore"
)

// ObjectRef names an object in a JetStream Object Store bucket.
type ObjectRef struct {
	// Bucket is the Object Store bucket.
	Bucket string
	// Name is the object's name.
	Name string
	// Size is the object's size in bytes.
	Size uint64
	// Digest is "sha256:<hex>" over the object's bytes.
	Digest string
}

// Content is a serialized FileDescriptorSet, inline or, when larger than
// the request allowed, in an Object Store bucket.
type Content struct {
	// Set is the serialized FileDescriptorSet, dependencies first; nil
	// when Object is set. It may be shared with the registry's caches and
	// must not be modified.
	Set []byte
	// Object names the serialized set when it is not inline.
	Object *ObjectRef
}

// FileDescriptorSet decodes an inline Set. Custom options stay unknown
// fields of their options messages.
func (c Content) FileDescriptorSet() (*descriptorpb.FileDescriptorSet, error) {
	if c.Object != nil {
		return nil, invalidf("the descriptor set is in object %q of bucket %q, not inline; fetch it with Registry.Download", c.Object.Name, c.Object.Bucket)
	}
	return decodeSet(c.Set, limits{})
}

// Download reads an object a [Content] names and checks its digest.
func (r *Registry) Download(ctx context.Context, ref ObjectRef) ([]byte, error) {
	sha := strings.TrimPrefix(ref.Digest, "sha256:")
	switch ref.Bucket {
	case r.store.BlobBucket():
		data, err := r.store.GetBlob(ctx, jsstore.Blob{SHA256: ref.Name, Size: int(ref.Size), Object: true})
		if errors.Is(err, jsstore.ErrNotFound) {
			return nil, notFoundf("object %q is not in bucket %q", ref.Name, ref.Bucket)
		}
		if err != nil {
			return nil, storeError(err, "download object %q", ref.Name)
		}
		return data, nil
	case r.store.TransferBucket():
		data, err := r.store.GetTransfer(ctx, ref.Name)
		if errors.Is(err, jsstore.ErrNotFound) {
			return nil, notFoundf("object %q is not in bucket %q (objects there expire after %s); ask again", ref.Name, ref.Bucket, r.cfg.transferTTL)
		}
		if err != nil {
			return nil, storeError(err, "download object %q", ref.Name)
		}
		if descset.Sum(data) != "sha256:"+sha {
			return nil, internalf("object %q of bucket %q does not match its digest %s", ref.Name, ref.Bucket, ref.Digest)
		}
		return data, nil
	default:
		return nil, invalidf("bucket %q is not one of the registry's (%q, %q)", ref.Bucket, r.store.BlobBucket(), r.store.TransferBucket())
	}
}

// output returns data inline when it fits maxInline (0: just under the
// connection's max payload; negative: no limit), else as an object: the
// stored blob itself when data is that blob, else a fresh object in the
// transfer bucket.
func (r *Registry) output(ctx context.Context, data []byte, maxInline int64, stored *jsstore.Blob) (Content, error) {
	limit := maxInline
	if limit == 0 {
		limit = int64(max(r.store.MaxPayload()-64<<10, 1024))
	}
	if limit < 0 || int64(len(data)) <= limit {
		return Content{Set: data}, nil
	}
	digest := descset.Sum(data)
	if stored != nil && stored.Object && "sha256:"+stored.SHA256 == digest {
		return Content{Object: &ObjectRef{Bucket: r.store.BlobBucket(), Name: stored.SHA256, Size: uint64(len(data)), Digest: digest}}, nil
	}
	name, err := r.store.PutTransfer(ctx, data)
	if err != nil {
		return Content{}, storeError(err, "stage a %d-byte reply in the transfer bucket", len(data))
	}
	return Content{Object: &ObjectRef{Bucket: r.store.TransferBucket(), Name: name, Size: uint64(len(data)), Digest: digest}}, nil
}

// ModuleSummary summarizes a module and its latest version.
type ModuleSummary struct {
	// Name is the module name.
	Name string
	// LatestVersion is the latest version's number.
	LatestVersion uint64
	// LatestDigest is the latest version's digest.
	LatestDigest string
	// UpdateTime is when the latest version was created.
	UpdateTime time.Time
	// Deprecated is set when an administrator deprecated the module, with
	// DeprecationMessage saying why.
	Deprecated         bool
	DeprecationMessage string
}

// ListOptions pages through a list.
type ListOptions struct {
	// PageSize is the most items to return; 0 means 100.
	PageSize int
	// PageToken is the previous page's next token; empty for the first
	// page.
	PageToken string
}

func (o ListOptions) size() int {
	if o.PageSize <= 0 {
		return 100
	}
	return min(o.PageSize, 1000)
}

// ListModules lists the modules with at least one version, sorted by name,
// and returns the token of the next page ("" on the last).
func (r *Registry) ListModules(ctx context.Context, opts ListOptions) ([]ModuleSummary, string, error) {
	entries, err := r.store.Entries(ctx, "mod.*.head")
	if err != nil {
		return nil, "", storeError(err, "list modules")
	}
	var out []ModuleSummary
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e.Key, "mod."), ".head")
		if name <= opts.PageToken {
			continue
		}
		h, err := decodeHead(name, e.Value)
		if err != nil {
			return nil, "", err
		}
		out = append(out, ModuleSummary{Name: name, LatestVersion: h.Version, LatestDigest: h.Digest, UpdateTime: h.Time})
	}
	slices.SortFunc(out, func(a, b ModuleSummary) int { return strings.Compare(a.Name, b.Name) })
	deprecated, err := r.deprecations(ctx)
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		if msg, ok := deprecated[out[i].Name]; ok {
			out[i].Deprecated, out[i].DeprecationMessage = true, msg
		}
	}
	next := ""
	if n := opts.size(); len(out) > n {
		out = out[:n]
		next = out[n-1].Name
	}
	return out, next, nil
}

// ListVersions lists a module's versions, oldest first, and returns the
// token of the next page ("" on the last).
func (r *Registry) ListVersions(ctx context.Context, module string, opts ListOptions) ([]VersionInfo, string, error) {
	if err := ValidateModuleName(module); err != nil {
		return nil, "", err
	}
	from, err := versionsFrom(opts.PageToken)
	if err != nil {
		return nil, "", err
	}
	h, _, err := r.readHead(ctx, module)
	if err != nil {
		return nil, "", err
	}
	if h == nil {
		return nil, "", notFoundf("module %q has no versions; push it first", module)
	}
	var out []VersionInfo
	n := uint64(opts.size())
	for v := max(from, h.first()); v <= h.Version && uint64(len(out)) < n; v++ {
		rec, err := r.record(ctx, module, v)
		if err != nil {
			return nil, "", err
		}
		out = append(out, rec.info())
	}
	next := ""
	if len(out) > 0 && out[len(out)-1].Version < h.Version {
		next = strconv.FormatUint(out[len(out)-1].Version, 10)
	}
	return out, next, nil
}

// versionsFrom returns the first version a ListVersions page token asks
// for: the one after the token's.
func versionsFrom(token string) (uint64, error) {
	if token == "" {
		return 1, nil
	}
	after, err := strconv.ParseUint(token, 10, 64)
	// The largest number has no version after it (after+1 would wrap to 0).
	if err != nil || after == math.MaxUint64 {
		return 0, invalidf("page token %q is not one this registry issued; start from the first page", token)
	}
	return after + 1, nil
}

// GetRequest asks for the files of one version.
type GetRequest struct {
	// Module is the module name.
	Module string
	// Version is the version number; 0 means the latest.
	Version uint64
	// Symbols, when not empty, trims the set to what these
	// fully-qualified symbols need (see [Registry.GetModuleVersion]).
	Symbols []string
	// ExcludeSourceInfo drops comments and positions.
	ExcludeSourceInfo bool
	// MaxInlineBytes is the largest set returned inline; a larger one is
	// named as an object. 0 means just under the NATS max payload;
	// negative means no limit.
	MaxInlineBytes int64
}

// ModuleContent is the files of one version.
type ModuleContent struct {
	// Version describes the version.
	Version VersionInfo
	// Content holds the files, dependencies first.
	Content
}

// GetModuleVersion returns the descriptor set of one version: the module's
// own files and their imports, exactly as stored (the bytes never change),
// or trimmed to what the requested symbols need: each symbol's top-level
// declaration (message, enum, service or extension; a package means every
// declaration in it) and, transitively, the types and custom options they
// use, in the files that declare them. Files left without declarations are
// dropped, and so are imports nothing kept uses.
func (r *Registry) GetModuleVersion(ctx context.Context, req GetRequest) (*ModuleContent, error) {
	rec, err := r.resolveVersion(ctx, req.Module, req.Version)
	if err != nil {
		return nil, err
	}
	c, err := r.content(ctx, rec)
	if err != nil {
		return nil, err
	}
	data := c.blob
	stored := &rec.Blob
	if len(req.Symbols) > 0 || req.ExcludeSourceInfo {
		stored = nil
		set := c.set
		if len(req.Symbols) > 0 {
			if set, err = prune(c, req.Symbols); err != nil {
				return nil, err
			}
		}
		if data, err = serialize(set, req.ExcludeSourceInfo); err != nil {
			return nil, err
		}
	}
	out, err := r.output(ctx, data, req.MaxInlineBytes, stored)
	if err != nil {
		return nil, err
	}
	return &ModuleContent{Version: rec.info(), Content: out}, nil
}

// serialize marshals files, without source info when asked; it never
// modifies them (they may be cached).
func serialize(set *descriptorpb.FileDescriptorSet, excludeSourceInfo bool) ([]byte, error) {
	if excludeSourceInfo {
		out := &descriptorpb.FileDescriptorSet{}
		for _, fd := range set.GetFile() {
			if fd.SourceCodeInfo != nil {
				c := proto.CloneOf(fd)
				c.SourceCodeInfo = nil
				fd = c
			}
			out.File = append(out.File, fd)
		}
		set = out
	}
	return marshalDeterministic(set)
}
