// Package jsstore keeps the registry's data in NATS JetStream: one KV bucket
// for records and indexes (with atomic multi-key compare-and-set commits),
// one Object Store bucket for descriptor sets too large for a KV value, and
// one Object Store bucket with a TTL for client uploads and large replies.
//
// Durability: every write returns only after JetStream acknowledged it, and
// JetStream acknowledges a write once it is stored on a quorum of the
// stream's replicas. Whether "stored" means "fsynced" is the server's
// sync_interval / sync_always setting: the registry's embedded server runs
// with sync_always, so an acknowledged write survives a power loss; a
// cluster the registry connects to should be configured the same way (see
// the Jepsen report on NATS 2.12 quoted in the registry docs).
//
// Consistency: the buckets' streams have direct get disabled, so every read
// goes to the stream leader and sees every acknowledged write
// (read-your-writes across registry instances), at the cost of not
// spreading reads over replicas. Immutable data is cached by the registry
// itself.
package jsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned for a key or object that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by [Store.Commit] when an expected revision did
// not match: another writer got there first.
var ErrConflict = errors.New("revision conflict")

// ErrTooLarge is returned when a commit has more operations than the
// server accepts in one atomic batch.
var ErrTooLarge = errors.New("atomic batch too large")

// ErrReplicasNeedCluster is returned by [Open] when the configured
// replica count is more than 1 and the server is not part of a cluster.
var ErrReplicasNeedCluster = errors.New("more than 1 replica needs a NATS cluster")

// Wire names nats.go v1.55.0 does not export. Where it does, the code uses
// its names: jetstream.ExpectedLastSubjSeqHeader,
// jetstream.JSErrCodeStreamWrongLastSequence and
// jetstream.JSErrCodeStreamWrongLastSequenceConstant. nats.go has no
// atomic batch publish API yet, so the batch headers and error codes come
// from nats-server (ADR-50, server/errors.json); and its KV keeps the
// operation header and its values unexported.
const (
	// Atomic batch publish headers.
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"

	// kvOperationHeader marks a KV delete or purge, with these values.
	kvOperationHeader = "KV-Operation"
	kvDelete          = "DEL"
	kvPurge           = "PURGE"

	// errCodeReplicasNeedCluster is JSStreamReplicasNotSupportedErr: more
	// than one replica on a server that is not clustered.
	errCodeReplicasNeedCluster jetstream.ErrorCode = 10074
	// errCodeBatchIncomplete is JSAtomicPublishIncompleteBatchErr: a
	// leader change mid-batch.
	errCodeBatchIncomplete jetstream.ErrorCode = 10176
	// errCodeBatchTooLarge is JSAtomicPublishTooLargeBatchErr.
	errCodeBatchTooLarge jetstream.ErrorCode = 10199
)

// replicasError explains a stream create or update that failed because
// the server is not clustered (JetStream error 10074), and returns nil for
// any other error.
func replicasError(err error, what string, replicas int) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeReplicasNeedCluster {
		return nil
	}
	return fmt.Errorf("%s: %w: %d replicas need a cluster of at least %d JetStream servers, and this NATS server is not clustered; use 1 replica on a single server (%s)", what, ErrReplicasNeedCluster, replicas, replicas, apiErr.Description)
}

// Config says which buckets to use and how to create them.
type Config struct {
	// Bucket is the KV bucket name; the Object Store buckets are named
	// Bucket+"_blobs" and Bucket+"_transfer".
	Bucket string
	// Replicas is the replica count of the buckets' streams (1 to 5);
	// existing streams with another count are updated to it. 0 keeps the
	// count of existing streams and creates new ones with 1.
	Replicas int
	// TransferTTL is how long objects stay in the transfer bucket.
	TransferTTL time.Duration
	// InlineLimit is the largest blob kept in the KV bucket; larger blobs
	// go to the blobs Object Store bucket.
	InlineLimit int
	// OpTimeout bounds one attempt of one JetStream operation; failed
	// attempts of idempotent operations are retried until the caller's
	// context ends.
	OpTimeout time.Duration
	// BlobRefresh is the age past which PutBlob rewrites a blob that
	// already exists instead of skipping the write, so that a garbage
	// collector with a grace period above BlobRefresh plus the longest
	// push never deletes a blob a push is about to commit.
	BlobRefresh time.Duration
}

// Store is a handle on the registry's buckets. It is safe for concurrent
// use and holds no state besides the handles, so any number of Stores (in
// any number of processes) can share the buckets.
type Store struct {
	js        jetstream.JetStream
	nc        *nats.Conn
	cfg       Config
	kv        jetstream.KeyValue
	kvStream  jetstream.Stream
	blobs     jetstream.ObjectStore
	transfer  jetstream.ObjectStore
	kvSubject string
}

// Open creates the buckets when they do not exist, adjusts their streams
// (atomic batch publishing on, direct get off, the configured replicas if
// any), and returns a handle.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	s := &Store{js: js, nc: js.Conn(), cfg: cfg, kvSubject: "$KV." + cfg.Bucket + "."}
	var err error
	err = retry(ctx, cfg.OpTimeout, func(ctx context.Context) error {
		s.kv, s.kvStream, err = ensureKV(ctx, js, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = retry(ctx, cfg.OpTimeout, func(ctx context.Context) error {
		s.blobs, err = ensureObjectStore(ctx, js, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Bucket + "_blobs",
			Description: "natsrpc registry: descriptor sets too large for a KV value, by sha256",
			Replicas:    cfg.Replicas,
			Storage:     jetstream.FileStorage,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	err = retry(ctx, cfg.OpTimeout, func(ctx context.Context) error {
		s.transfer, err = ensureObjectStore(ctx, js, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Bucket + "_transfer",
			Description: "natsrpc registry: uploads and large replies, expiring",
			Replicas:    cfg.Replicas,
			Storage:     jetstream.FileStorage,
			TTL:         cfg.TransferTTL,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func ensureKV(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.KeyValue, jetstream.Stream, error) {
	name := "KV_" + cfg.Bucket
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.Bucket,
			Description: "natsrpc registry: module heads, versions, policies, indexes",
			History:     1,
			Replicas:    max(cfg.Replicas, 1),
			Storage:     jetstream.FileStorage,
		})
		if rerr := replicasError(err, fmt.Sprintf("create kv bucket %q", cfg.Bucket), max(cfg.Replicas, 1)); rerr != nil {
			return nil, nil, permanent(rerr)
		}
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, nil, fmt.Errorf("create kv bucket %q: %w", cfg.Bucket, err)
		}
		st, err = js.Stream(ctx, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("kv bucket %q: %w", cfg.Bucket, err)
	}
	sc := st.CachedInfo().Config
	replicas := wantReplicas(cfg.Replicas, sc.Replicas)
	if !sc.AllowAtomicPublish || sc.AllowDirect || sc.Replicas != replicas {
		sc.AllowAtomicPublish = true
		sc.AllowDirect = false
		sc.Replicas = replicas
		if st, err = js.UpdateStream(ctx, sc); err != nil {
			if rerr := replicasError(err, fmt.Sprintf("configure kv bucket %q", cfg.Bucket), replicas); rerr != nil {
				return nil, nil, permanent(rerr)
			}
			return nil, nil, fmt.Errorf("configure kv bucket %q (the registry needs nats-server 2.12 or later for atomic batch publishing): %w", cfg.Bucket, err)
		}
		if !st.CachedInfo().Config.AllowAtomicPublish {
			return nil, nil, fmt.Errorf("kv bucket %q: the server ignored allow_atomic; the registry needs nats-server 2.12 or later", cfg.Bucket)
		}
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err != nil {
		return nil, nil, fmt.Errorf("kv bucket %q: %w", cfg.Bucket, err)
	}
	return kv, st, nil
}

func ensureObjectStore(ctx context.Context, js jetstream.JetStream, oc jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	name := "OBJ_" + oc.Bucket
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		create := oc
		create.Replicas = max(oc.Replicas, 1)
		_, err = js.CreateObjectStore(ctx, create)
		if rerr := replicasError(err, fmt.Sprintf("create object store %q", oc.Bucket), create.Replicas); rerr != nil {
			return nil, permanent(rerr)
		}
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, fmt.Errorf("create object store %q: %w", oc.Bucket, err)
		}
		st, err = js.Stream(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("object store %q: %w", oc.Bucket, err)
	}
	sc := st.CachedInfo().Config
	replicas := wantReplicas(oc.Replicas, sc.Replicas)
	if sc.AllowDirect || sc.Replicas != replicas || sc.MaxAge != oc.TTL {
		sc.AllowDirect = false
		sc.Replicas = replicas
		sc.MaxAge = oc.TTL
		if _, err := js.UpdateStream(ctx, sc); err != nil {
			if rerr := replicasError(err, fmt.Sprintf("configure object store %q", oc.Bucket), replicas); rerr != nil {
				return nil, permanent(rerr)
			}
			return nil, fmt.Errorf("configure object store %q: %w", oc.Bucket, err)
		}
	}
	os, err := js.ObjectStore(ctx, oc.Bucket)
	if err != nil {
		return nil, fmt.Errorf("object store %q: %w", oc.Bucket, err)
	}
	return os, nil
}

// wantReplicas is the replica count an existing stream with current
// replicas should have: configured, or current when configured is 0.
func wantReplicas(configured, current int) int {
	if configured == 0 {
		return current
	}
	return configured
}

// Bucket returns the KV bucket name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// BlobBucket returns the name of the Object Store bucket for large blobs.
func (s *Store) BlobBucket() string { return s.cfg.Bucket + "_blobs" }

// TransferBucket returns the name of the Object Store bucket for uploads
// and large replies.
func (s *Store) TransferBucket() string { return s.cfg.Bucket + "_transfer" }

// MaxPayload returns the connection's maximum message payload.
func (s *Store) MaxPayload() int { return int(s.nc.MaxPayload()) }

// Entry is the latest message of a key.
type Entry struct {
	// Key is the key.
	Key string
	// Value is the value; nil for a delete marker.
	Value []byte
	// Revision is the stream sequence of the message: the revision to
	// expect when updating the key.
	Revision uint64
	// Deleted is true when the latest message is a delete or purge marker.
	Deleted bool
	// Time is when the message was stored.
	Time time.Time
}

// Get returns the latest message of key, read from the stream leader. A
// key that was never written returns ErrNotFound; a deleted key returns its
// delete marker (Deleted set), whose revision a later Create must expect.
func (s *Store) Get(ctx context.Context, key string) (*Entry, error) {
	var e *Entry
	err := retry(ctx, s.cfg.OpTimeout, func(ctx context.Context) error {
		m, err := s.kvStream.GetLastMsgForSubject(ctx, s.kvSubject+key)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return permanent(ErrNotFound)
		}
		if err != nil {
			return err
		}
		e = &Entry{Key: key, Value: m.Data, Revision: m.Sequence, Time: m.Time}
		switch m.Header.Get(kvOperationHeader) {
		case kvDelete, kvPurge:
			e.Deleted, e.Value = true, nil
		}
		return nil
	})
	return e, err
}

// Put writes key unconditionally and returns its new revision.
func (s *Store) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	var rev uint64
	err := retry(ctx, s.cfg.OpTimeout, func(ctx context.Context) error {
		var err error
		rev, err = s.kv.Put(ctx, key, value)
		return err
	})
	return rev, err
}

// Op is one operation of an atomic commit.
type Op struct {
	// Key is the key to write.
	Key string
	// Value is the new value; ignored for deletes.
	Value []byte
	// Delete writes a delete marker instead of a value.
	Delete bool
	// ExpectedRevision is the revision the key must be at: 0 for a key
	// that was never written, the delete marker's revision for a deleted
	// key.
	ExpectedRevision uint64
}

// Commit applies ops atomically: either every op is stored, or (when any
// expected revision does not match, or anything else fails) none is. It is
// one JetStream atomic batch publish (ADR-50), whose messages carry
// Nats-Expected-Last-Subject-Sequence; the server checks every expectation
// and stores the whole batch under its stream lock, and replicates it as
// one unit. ErrConflict means an expectation failed. Any other error may
// leave the outcome unknown (the commit may or may not have happened);
// callers re-read to find out.
func (s *Store) Commit(ctx context.Context, ops []Op) (uint64, error) {
	if len(ops) == 0 {
		return 0, errors.New("empty commit")
	}
	batchID := nats.NewInbox()[len("_INBOX."):]
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	for i, op := range ops {
		m := nats.NewMsg(s.kvSubject + op.Key)
		m.Header.Set(batchIDHeader, batchID)
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(op.ExpectedRevision, 10))
		if op.Delete {
			m.Header.Set(kvOperationHeader, kvDelete)
		} else {
			m.Data = op.Value
		}
		if i < len(ops)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("publish batch message %d: %w", i+1, err)
			}
			continue
		}
		m.Header.Set(batchCommitHeader, "1")
		resp, err := s.nc.RequestMsgWithContext(ctx, m)
		if err != nil {
			return 0, fmt.Errorf("commit batch: %w", err)
		}
		return parseBatchAck(resp.Data)
	}
	panic("unreachable")
}

func parseBatchAck(data []byte) (uint64, error) {
	var ack struct {
		Stream string `json:"stream"`
		Seq    uint64 `json:"seq"`
		Count  int    `json:"count"`
		Error  *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, fmt.Errorf("commit batch: invalid reply %q: %w", data, err)
	}
	if e := ack.Error; e != nil {
		switch jetstream.ErrorCode(e.ErrCode) {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return 0, fmt.Errorf("%w: %s", ErrConflict, e.Description)
		case errCodeBatchTooLarge:
			return 0, fmt.Errorf("%w: %s", ErrTooLarge, e.Description)
		}
		return 0, &jetstream.APIError{Code: e.Code, ErrorCode: jetstream.ErrorCode(e.ErrCode), Description: e.Description}
	}
	if ack.Stream == "" {
		return 0, fmt.Errorf("commit batch: invalid reply %q", data)
	}
	return ack.Seq, nil
}

// Entries returns the latest entries of the keys matching filter (NATS
// wildcards allowed), skipping deleted keys.
func (s *Store) Entries(ctx context.Context, filter string) ([]*Entry, error) {
	var out []*Entry
	err := retry(ctx, s.cfg.OpTimeout, func(ctx context.Context) error {
		out = out[:0]
		w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
		if err != nil {
			return err
		}
		defer func() { _ = w.Stop() }()
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					return errors.New("watch closed")
				}
				if e == nil {
					return nil
				}
				out = append(out, &Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Time: e.Created()})
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	return out, err
}

// Watch watches the keys matching filter. With includeCurrent, the current
// value of every matching key is delivered first; a nil entry marks the end
// of the current values either way.
func (s *Store) Watch(ctx context.Context, filter string, includeCurrent bool) (jetstream.KeyWatcher, error) {
	opts := []jetstream.WatchOpt{jetstream.IgnoreDeletes()}
	if !includeCurrent {
		opts = append(opts, jetstream.UpdatesOnly())
	}
	return s.kv.Watch(ctx, filter, opts...)
}

// Blob locates a content-addressed descriptor set.
type Blob struct {
	// SHA256 is the hex sha256 of the bytes.
	SHA256 string `json:"sha256"`
	// Size is the length in bytes.
	Size int `json:"size"`
	// Object is true when the blob is in the blobs Object Store bucket
	// rather than the KV bucket.
	Object bool `json:"object,omitempty"`
}

// BlobKey is the KV key of an inline blob.
func BlobKey(sha string) string { return "blob." + sha }

// PutBlob stores data under its sha256, in the KV bucket when it fits the
// inline limit, else in the blobs Object Store bucket. It is idempotent and
// skips the write when the blob is already there.
func (s *Store) PutBlob(ctx context.Context, data []byte) (Blob, error) {
	sum := sha256.Sum256(data)
	b := Blob{SHA256: hex.EncodeToString(sum[:]), Size: len(data)}
	if len(data) <= s.cfg.InlineLimit {
		e, err := s.Get(ctx, BlobKey(b.SHA256))
		if err == nil && !e.Deleted && len(e.Value) == len(data) && time.Since(e.Time) < s.cfg.BlobRefresh {
			return b, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return b, err
		}
		_, err = s.Put(ctx, BlobKey(b.SHA256), data)
		return b, err
	}
	b.Object = true
	err := retry(ctx, s.cfg.OpTimeout*4, func(ctx context.Context) error {
		info, err := s.blobs.GetInfo(ctx, b.SHA256)
		if err == nil && !info.Deleted && info.Size == uint64(len(data)) && time.Since(info.ModTime) < s.cfg.BlobRefresh {
			return nil
		}
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return err
		}
		_, err = s.blobs.PutBytes(ctx, b.SHA256, data)
		return err
	})
	return b, err
}

// GetBlob reads a blob and verifies its sha256.
func (s *Store) GetBlob(ctx context.Context, b Blob) ([]byte, error) {
	var data []byte
	if !b.Object {
		e, err := s.Get(ctx, BlobKey(b.SHA256))
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", b.SHA256, err)
		}
		if e.Deleted {
			return nil, fmt.Errorf("blob %s: %w", b.SHA256, ErrNotFound)
		}
		data = e.Value
	} else {
		err := retry(ctx, s.cfg.OpTimeout*4, func(ctx context.Context) error {
			var err error
			data, err = s.blobs.GetBytes(ctx, b.SHA256)
			if errors.Is(err, jetstream.ErrObjectNotFound) {
				return permanent(ErrNotFound)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", b.SHA256, err)
		}
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != b.SHA256 {
		return nil, fmt.Errorf("blob %s is corrupt: its bytes hash to %s", b.SHA256, got)
	}
	return data, nil
}

// BlobInfo describes a stored blob for garbage collection.
type BlobInfo struct {
	Blob
	// Time is when the blob was written.
	Time time.Time
}

// ListBlobs lists every stored blob, inline and object.
func (s *Store) ListBlobs(ctx context.Context) ([]BlobInfo, error) {
	entries, err := s.Entries(ctx, "blob.*")
	if err != nil {
		return nil, err
	}
	var out []BlobInfo
	for _, e := range entries {
		out = append(out, BlobInfo{Blob: Blob{SHA256: strings.TrimPrefix(e.Key, "blob."), Size: len(e.Value)}, Time: e.Time})
	}
	var infos []*jetstream.ObjectInfo
	err = retry(ctx, s.cfg.OpTimeout, func(ctx context.Context) error {
		infos, err = s.blobs.List(ctx)
		if errors.Is(err, jetstream.ErrNoObjectsFound) {
			infos, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		out = append(out, BlobInfo{Blob: Blob{SHA256: info.Name, Size: int(info.Size), Object: true}, Time: info.ModTime})
	}
	return out, nil
}

// DeleteBlob removes a blob.
func (s *Store) DeleteBlob(ctx context.Context, b Blob) error {
	return retry(ctx, s.cfg.OpTimeout, func(ctx context.Context) error {
		if b.Object {
			err := s.blobs.Delete(ctx, b.SHA256)
			if errors.Is(err, jetstream.ErrObjectNotFound) {
				return nil
			}
			return err
		}
		return s.kv.Purge(ctx, BlobKey(b.SHA256))
	})
}

// PutTransfer stores data in the transfer bucket under a fresh name and
// returns the name. Objects there expire after the transfer TTL.
func (s *Store) PutTransfer(ctx context.Context, data []byte) (string, error) {
	name := "t-" + nats.NewInbox()[len("_INBOX."):]
	err := retry(ctx, s.cfg.OpTimeout*4, func(ctx context.Context) error {
		_, err := s.transfer.PutBytes(ctx, name, data)
		return err
	})
	return name, err
}

// GetTransfer reads an object of the transfer bucket.
func (s *Store) GetTransfer(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := retry(ctx, s.cfg.OpTimeout*4, func(ctx context.Context) error {
		var err error
		data, err = s.transfer.GetBytes(ctx, name)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return permanent(ErrNotFound)
		}
		return err
	})
	return data, err
}

// permanentError marks an error that retry must not retry.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// retry runs op until it succeeds, fails permanently, or ctx ends. Each
// attempt gets its own timeout so that a request lost in a leader election
// is retried rather than waited on.
func retry(ctx context.Context, attemptTimeout time.Duration, op func(ctx context.Context) error) error {
	backoff := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		var p *permanentError
		if errors.As(err, &p) {
			return p.err
		}
		if !Transient(err) || ctx.Err() != nil {
			if ctx.Err() != nil && Transient(err) {
				return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
			}
			return err
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// Transient reports whether err is worth retrying: a timeout, no
// responders (a stream without a leader), a connection being
// re-established, or a JetStream "temporarily unavailable" reply.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, jetstream.ErrNoHeartbeat) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Code == 503, apiErr.Code == 429, apiErr.Code == 408:
			return true
		case apiErr.ErrorCode == errCodeBatchIncomplete:
			return true
		}
	}
	return false
}
