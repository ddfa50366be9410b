// Package client calls the schema registry's NATS API through the stubs
// protoc-gen-natsrpc generates for it, on the subjects of the rights each
// call needs (RegistryReadService, and RegistryPushService and
// RegistryPolicyService on their module's subject; see rights.go), and
// moves descriptor sets larger than a NATS message through the registry's
// Object Store transfer bucket, both ways: a push
// whose request would not fit is uploaded first and named in
// PushRequest.upload, and a reply that names an object instead of carrying
// the set inline is downloaded and checked against its digest.
//
// It is the one place that knows these transfer rules; the CLI
// (package regctl) and the runtime lookup client (package lookup) build on
// it.
package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/natsrpc/natsrpc"
	registryv1 "github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1"
	"github.com/natsrpc/natsrpc/proto/natsrpc/registry/v1/registryv1natsrpc"
)

// DefaultBucket is the registry's default KV bucket name; it equals
// registry.DefaultBucket (this package does not import the registry so
// that runtime clients stay small).
const DefaultBucket = "natsrpc_registry"

// headroom is what a request or reply leaves of the NATS max payload for
// headers and the message's other fields.
const headroom = 64 << 10

// Client calls a registry over NATS. It is safe for concurrent use.
type Client struct {
	nc     *nats.Conn
	api    registryv1natsrpc.RegistryServiceClient
	read   registryv1natsrpc.RegistryReadServiceClient
	admin  registryv1natsrpc.RegistryAdminServiceClient
	bucket string
	prefix string
	claims *registryv1.PushClaims

	jsOnce sync.Once
	js     jetstream.JetStream
	jsErr  error
}

// Option configures a [Client].
type Option interface {
	apply(*config)
}

type config struct {
	claims     *registryv1.PushClaims
	bucket     string
	prefix     string
	clientOpts []natsrpc.ClientOption
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithBucket names the registry's KV bucket, as given to the registry with
// registry.WithBucket; the transfer bucket is named after it. By default,
// [DefaultBucket].
func WithBucket(name string) Option {
	return optionFunc(func(c *config) { c.bucket = name })
}

// WithSubjectPrefix calls a registry served with natsrpc.WithSubjectPrefix:
// prefix and a dot come before every subject, the event subject included.
func WithSubjectPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithPushClaims sends claims with every push that carries none: what the
// client says about itself, which the registry records with the version
// as claimed (ls shows it), never verified.
func WithPushClaims(c *registryv1.PushClaims) Option {
	return optionFunc(func(cfg *config) { cfg.claims = c })
}

// WithClientOptions passes options to the generated natsrpc client, e.g.
// natsrpc.WithInterceptors or natsrpc.WithRetry.
func WithClientOptions(opts ...natsrpc.ClientOption) Option {
	return optionFunc(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// New returns a client that calls the registry over nc.
func New(nc *nats.Conn, opts ...Option) *Client {
	cfg := config{bucket: DefaultBucket}
	for _, o := range opts {
		o.apply(&cfg)
	}
	copts := cfg.clientOpts
	if cfg.prefix != "" {
		copts = append([]natsrpc.ClientOption{natsrpc.WithSubjectPrefix(cfg.prefix)}, copts...)
	}
	read := registryv1natsrpc.NewRegistryReadServiceClient(nc, copts...)
	return &Client{
		nc: nc,
		api: rightsAPI{
			read:   read,
			push:   registryv1natsrpc.NewRegistryPushServiceClient(nc, copts...),
			policy: registryv1natsrpc.NewRegistryPolicyServiceClient(nc, copts...),
		},
		read:   read,
		admin:  registryv1natsrpc.NewRegistryAdminServiceClient(nc, copts...),
		bucket: cfg.bucket,
		prefix: cfg.prefix,
		claims: cfg.claims,
	}
}

// API returns the registry's API, for calls that need no transfers: reads
// go to RegistryReadService, a push or a policy change to the subject of
// its module's right (RegistryPushService, RegistryPolicyService).
func (c *Client) API() registryv1natsrpc.RegistryServiceClient { return c.api }

// Admin returns the registry's admin API (RegistryAdminService: package
// reservations), which needs the admin right.
func (c *Client) Admin() registryv1natsrpc.RegistryAdminServiceClient { return c.admin }

// ListReservations returns the package reservations, by prefix (the read
// right).
func (c *Client) ListReservations(ctx context.Context) ([]*registryv1.Reservation, error) {
	res, err := c.read.ListReservations(ctx, &registryv1.ListReservationsRequest{})
	if err != nil {
		return nil, err
	}
	return res.GetReservations(), nil
}

// Conn returns the client's NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// TransferBucket returns the name of the registry's transfer bucket.
func (c *Client) TransferBucket() string { return c.bucket + "_transfer" }

// EventSubject returns the subject VersionCreated events are published on,
// with the client's subject prefix.
func (c *Client) EventSubject() string {
	if c.prefix == "" {
		return registryv1natsrpc.RegistryEventsServiceVersionCreatedSubject
	}
	return c.prefix + "." + registryv1natsrpc.RegistryEventsServiceVersionCreatedSubject
}

func (c *Client) jetStream() (jetstream.JetStream, error) {
	c.jsOnce.Do(func() { c.js, c.jsErr = jetstream.New(c.nc) })
	return c.js, c.jsErr
}

// inlineLimit is the largest message the client sends or asks for inline.
func (c *Client) inlineLimit() int {
	return max(int(c.nc.MaxPayload())-headroom, 1024)
}

// Push calls Push. A request too large for one NATS message has its
// descriptor set uploaded to the transfer bucket first (and removed after
// the call). A push refused for a policy reason is not an error: the
// response's outcome is PUSH_OUTCOME_REFUSED.
func (c *Client) Push(ctx context.Context, req *registryv1.PushRequest) (*registryv1.PushResponse, error) {
	if c.claims != nil && req.GetClaims() == nil {
		req = proto.CloneOf(req)
		req.Claims = c.claims
	}
	set := req.GetFileDescriptorSet()
	if set == nil || proto.Size(req) <= c.inlineLimit() {
		return c.api.Push(ctx, req)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode the descriptor set: %w", err)
	}
	ref, err := c.Upload(ctx, data)
	if err != nil {
		return nil, err
	}
	defer c.removeUpload(ref.GetName())
	up := proto.CloneOf(req)
	up.Source = &registryv1.PushRequest_Upload{Upload: ref}
	return c.api.Push(ctx, up)
}

// Upload stores a serialized FileDescriptorSet in the registry's transfer
// bucket and returns the reference to put in PushRequest.upload.
func (c *Client) Upload(ctx context.Context, data []byte) (*registryv1.ObjectRef, error) {
	obs, err := c.objectStore(ctx, c.TransferBucket())
	if err != nil {
		return nil, err
	}
	name := "push-" + nuid.Next()
	if _, err := obs.PutBytes(ctx, name, data); err != nil {
		return nil, fmt.Errorf("upload %d bytes to the registry's transfer bucket %q: %w", len(data), c.TransferBucket(), err)
	}
	sum := sha256.Sum256(data)
	return &registryv1.ObjectRef{
		Bucket: c.TransferBucket(),
		Name:   name,
		Size:   uint64(len(data)),
		Digest: "sha256:" + hex.EncodeToString(sum[:]),
	}, nil
}

// removeUpload deletes an upload once the push no longer needs it; the
// bucket's TTL removes what a failed delete leaves.
func (c *Client) removeUpload(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), max(c.nc.Opts.Timeout, 5*time.Second))
	defer cancel()
	if obs, err := c.objectStore(ctx, c.TransferBucket()); err == nil {
		_ = obs.Delete(ctx, name)
	}
}

func (c *Client) objectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error) {
	js, err := c.jetStream()
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open the registry's object store bucket %q (is a registry running with bucket %q?): %w", bucket, c.bucket, err)
	}
	return obs, nil
}

// Download reads an object a reply names and checks its size and digest.
func (c *Client) Download(ctx context.Context, ref *registryv1.ObjectRef) ([]byte, error) {
	obs, err := c.objectStore(ctx, ref.GetBucket())
	if err != nil {
		return nil, err
	}
	data, err := obs.GetBytes(ctx, ref.GetName())
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("object %q of bucket %q is gone (transfer objects expire); ask again: %w", ref.GetName(), ref.GetBucket(), err)
		}
		return nil, fmt.Errorf("download object %q of bucket %q: %w", ref.GetName(), ref.GetBucket(), err)
	}
	if ref.GetSize() != 0 && uint64(len(data)) != ref.GetSize() {
		return nil, fmt.Errorf("object %q of bucket %q has %d bytes; the reply announced %d", ref.GetName(), ref.GetBucket(), len(data), ref.GetSize())
	}
	if d := ref.GetDigest(); d != "" {
		sum := sha256.Sum256(data)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != d {
			return nil, fmt.Errorf("object %q of bucket %q has digest %s; the reply announced %s", ref.GetName(), ref.GetBucket(), got, d)
		}
	}
	return data, nil
}

// content returns the descriptor set a reply carries inline or names.
func (c *Client) content(ctx context.Context, inline *descriptorpb.FileDescriptorSet, ref *registryv1.ObjectRef) (*descriptorpb.FileDescriptorSet, error) {
	if ref == nil {
		if inline == nil {
			return &descriptorpb.FileDescriptorSet{}, nil
		}
		return inline, nil
	}
	data, err := c.Download(ctx, ref)
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("object %q of bucket %q is not a FileDescriptorSet: %w", ref.GetName(), ref.GetBucket(), err)
	}
	return set, nil
}

// GetModuleVersion calls GetModuleVersion and returns the version and its
// descriptor set, downloaded when the reply names an object.
func (c *Client) GetModuleVersion(ctx context.Context, req *registryv1.GetModuleVersionRequest) (*registryv1.ModuleVersion, *descriptorpb.FileDescriptorSet, error) {
	req = withInlineLimit(c, req, req.GetMaxInlineBytes(), func(r *registryv1.GetModuleVersionRequest, n int64) { r.MaxInlineBytes = n })
	res, err := c.api.GetModuleVersion(ctx, req)
	res, set, err := withContent(ctx, c, res, err)
	if err != nil {
		return nil, nil, err
	}
	return res.GetVersion(), set, nil
}

// ResolveSymbol calls ResolveSymbol and returns the reply and the defining
// file with its dependencies.
func (c *Client) ResolveSymbol(ctx context.Context, req *registryv1.ResolveSymbolRequest) (*registryv1.ResolveSymbolResponse, *descriptorpb.FileDescriptorSet, error) {
	req = withInlineLimit(c, req, req.GetMaxInlineBytes(), func(r *registryv1.ResolveSymbolRequest, n int64) { r.MaxInlineBytes = n })
	res, err := c.api.ResolveSymbol(ctx, req)
	return withContent(ctx, c, res, err)
}

// ResolveFile calls ResolveFile and returns the reply and the file with
// its dependencies.
func (c *Client) ResolveFile(ctx context.Context, req *registryv1.ResolveFileRequest) (*registryv1.ResolveFileResponse, *descriptorpb.FileDescriptorSet, error) {
	req = withInlineLimit(c, req, req.GetMaxInlineBytes(), func(r *registryv1.ResolveFileRequest, n int64) { r.MaxInlineBytes = n })
	res, err := c.api.ResolveFile(ctx, req)
	return withContent(ctx, c, res, err)
}

// ResolveSubject calls ResolveSubject and returns the reply and, when
// include_files was set, the service's file with its dependencies.
func (c *Client) ResolveSubject(ctx context.Context, req *registryv1.ResolveSubjectRequest) (*registryv1.ResolveSubjectResponse, *descriptorpb.FileDescriptorSet, error) {
	req = withInlineLimit(c, req, req.GetMaxInlineBytes(), func(r *registryv1.ResolveSubjectRequest, n int64) { r.MaxInlineBytes = n })
	res, err := c.api.ResolveSubject(ctx, req)
	return withContent(ctx, c, res, err)
}

// contentReply is a reply that carries a descriptor set inline or names
// the object that holds it.
type contentReply interface {
	GetFileDescriptorSet() *descriptorpb.FileDescriptorSet
	GetObject() *registryv1.ObjectRef
}

// withContent finishes a call whose reply carries a descriptor set, so
// that each method does not repeat the steps: it passes the call's error
// on, else returns the reply with its set, downloaded when the reply names
// an object. On error the reply is nil.
func withContent[R contentReply](ctx context.Context, c *Client, res R, err error) (R, *descriptorpb.FileDescriptorSet, error) {
	var none R
	if err != nil {
		return none, nil, err
	}
	set, err := c.content(ctx, res.GetFileDescriptorSet(), res.GetObject())
	if err != nil {
		return none, nil, err
	}
	return res, set, nil
}

// withInlineLimit caps a request's max_inline_bytes at what this client's
// connection can receive, which may be less than the registry's.
func withInlineLimit[T proto.Message](c *Client, req T, current int64, set func(T, int64)) T {
	limit := int64(c.inlineLimit())
	if current > 0 && current <= limit {
		return req
	}
	req = proto.CloneOf(req)
	set(req, limit)
	return req
}

// FindFileDigest calls FindFileDigest: the modules' own files with the
// given per-file digest ("sha256:<hex>") and the versions that have them.
func (c *Client) FindFileDigest(ctx context.Context, digest string) ([]*registryv1.FileDigestMatch, error) {
	res, err := c.api.FindFileDigest(ctx, &registryv1.FindFileDigestRequest{Digest: digest})
	if err != nil {
		return nil, err
	}
	return res.GetMatches(), nil
}

// ListModules returns every module, all pages.
func (c *Client) ListModules(ctx context.Context) ([]*registryv1.Module, error) {
	var out []*registryv1.Module
	token := ""
	for {
		res, err := c.api.ListModules(ctx, &registryv1.ListModulesRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, res.GetModules()...)
		if token = res.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// ListVersions returns every version of a module, oldest first, all pages.
func (c *Client) ListVersions(ctx context.Context, module string) ([]*registryv1.ModuleVersion, error) {
	var out []*registryv1.ModuleVersion
	token := ""
	for {
		res, err := c.api.ListVersions(ctx, &registryv1.ListVersionsRequest{Module: module, PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, res.GetVersions()...)
		if token = res.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// DecodeVersionCreated decodes a VersionCreated event received with a
// plain NATS subscription: the body is binary protobuf, or protojson when
// the Content-Type header says application/json (wire contract, events).
// Caches (package lookup) and the registry's servers subscribe this way
// rather than serve RegistryEventsService: they want the events, not to
// appear as a service in NATS micro discovery.
func DecodeVersionCreated(msg *nats.Msg) (*registryv1.VersionCreatedRequest, error) {
	ev := &registryv1.VersionCreatedRequest{}
	ct, _, _ := strings.Cut(msg.Header.Get("Content-Type"), ";")
	var err error
	if strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(msg.Data, ev)
	} else {
		err = proto.Unmarshal(msg.Data, ev)
	}
	if err != nil {
		return nil, fmt.Errorf("decode VersionCreated event: %w", err)
	}
	return ev, nil
}
