package jsstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsrpc/natsrpc/internal/natsserver/natstest"
)

// The tests of Commit run against a real in-process nats-server with
// JetStream: the compare-and-set is the server's, checked under its stream
// lock, and these tests are what fails when a commit stops asking for it.

func openStore(t *testing.T) (*Store, context.Context) {
	t.Helper()
	srv := natstest.Start(t, natstest.WithJetStream())
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s, err := Open(ctx, js, Config{Bucket: "commit_test", TransferTTL: time.Hour, InlineLimit: 1 << 10, OpTimeout: 5 * time.Second, BlobRefresh: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

// wantValue fails unless key's latest value is want at revision rev (any
// revision when rev is 0); want nil means never written.
func wantValue(t *testing.T, ctx context.Context, s *Store, key string, want []byte, rev uint64) {
	t.Helper()
	e, err := s.Get(ctx, key)
	if want == nil {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s = %+v, %v; want never written", key, e, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	if string(e.Value) != string(want) || (rev != 0 && e.Revision != rev) {
		t.Errorf("%s = %q at revision %d; want %q at revision %d", key, e.Value, e.Revision, want, rev)
	}
}

// TestCommitRefusesAStaleRevision: an op expecting a revision the key has
// moved past is refused with ErrConflict, and the key keeps the newer
// value.
func TestCommitRefusesAStaleRevision(t *testing.T) {
	t.Parallel()
	s, ctx := openStore(t)
	rev1, err := s.Put(ctx, "k", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	rev2, err := s.Put(ctx, "k", []byte("v2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Commit(ctx, []Op{{Key: "k", Value: []byte("lost update"), ExpectedRevision: rev1}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("commit expecting stale revision %d (key at %d) = %v; want ErrConflict", rev1, rev2, err)
	}
	wantValue(t, ctx, s, "k", []byte("v2"), rev2)

	// The current revision is accepted, and the commit returns the
	// key's new revision.
	rev3, err := s.Commit(ctx, []Op{{Key: "k", Value: []byte("v3"), ExpectedRevision: rev2}})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, ctx, s, "k", []byte("v3"), rev3)
}

// TestCommitRefusesCreatingAnExistingKey: expected revision 0 means "never
// written"; it is refused on a key that exists, and on a deleted key (whose
// delete marker's revision a re-create must expect).
func TestCommitRefusesCreatingAnExistingKey(t *testing.T) {
	t.Parallel()
	s, ctx := openStore(t)
	rev, err := s.Put(ctx, "taken", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, []Op{{Key: "taken", Value: []byte("second")}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create of an existing key = %v; want ErrConflict", err)
	}
	wantValue(t, ctx, s, "taken", []byte("first"), rev)

	del, err := s.Commit(ctx, []Op{{Key: "taken", Delete: true, ExpectedRevision: rev}})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(ctx, "taken"); err != nil || !e.Deleted || e.Revision != del {
		t.Fatalf("after delete: %+v, %v; want a delete marker at %d", e, err, del)
	}
	if _, err := s.Commit(ctx, []Op{{Key: "taken", Value: []byte("again")}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create of a deleted key expecting 0 = %v; want ErrConflict", err)
	}
	if _, err := s.Commit(ctx, []Op{{Key: "taken", Value: []byte("again"), ExpectedRevision: del}}); err != nil {
		t.Fatalf("re-create expecting the delete marker's revision: %v", err)
	}
	wantValue(t, ctx, s, "taken", []byte("again"), 0)

	// A key never written is created expecting 0.
	if _, err := s.Commit(ctx, []Op{{Key: "fresh", Value: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, ctx, s, "fresh", []byte("new"), 0)
}

// TestCommitIsAllOrNothing: one failed expectation anywhere in a batch
// (first, middle or last op) stores none of it; a batch whose expectations
// all hold stores every op, creates, updates and deletes together.
func TestCommitIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s, ctx := openStore(t)
	revA, _ := s.Put(ctx, "a", []byte("a0"))
	revB, _ := s.Put(ctx, "b", []byte("b0"))
	revC, err := s.Put(ctx, "c", []byte("c0"))
	if err != nil {
		t.Fatal(err)
	}
	good := func() []Op {
		return []Op{
			{Key: "new.1", Value: []byte("n1")},
			{Key: "a", Value: []byte("a1"), ExpectedRevision: revA},
			{Key: "b", Delete: true, ExpectedRevision: revB},
			{Key: "new.2", Value: []byte("n2")},
			{Key: "c", Value: []byte("c1"), ExpectedRevision: revC},
		}
	}
	for _, bad := range []int{0, 1, 2, 4} {
		t.Run(fmt.Sprintf("op %d stale", bad+1), func(t *testing.T) {
			ops := good()
			if ops[bad].ExpectedRevision == 0 {
				ops[bad].ExpectedRevision = revC // "new.1" exists at no revision
			} else {
				ops[bad].ExpectedRevision--
			}
			if _, err := s.Commit(ctx, ops); !errors.Is(err, ErrConflict) {
				t.Fatalf("commit with op %d stale = %v; want ErrConflict", bad+1, err)
			}
			wantValue(t, ctx, s, "new.1", nil, 0)
			wantValue(t, ctx, s, "new.2", nil, 0)
			wantValue(t, ctx, s, "a", []byte("a0"), revA)
			wantValue(t, ctx, s, "b", []byte("b0"), revB)
			wantValue(t, ctx, s, "c", []byte("c0"), revC)
		})
	}
	last, err := s.Commit(ctx, good())
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, ctx, s, "new.1", []byte("n1"), 0)
	wantValue(t, ctx, s, "a", []byte("a1"), 0)
	wantValue(t, ctx, s, "new.2", []byte("n2"), 0)
	wantValue(t, ctx, s, "c", []byte("c1"), last)
	if e, err := s.Get(ctx, "b"); err != nil || !e.Deleted {
		t.Errorf("b after the commit = %+v, %v; want deleted", e, err)
	}
	// The batch was stored as consecutive revisions ending at last.
	first, err := s.Get(ctx, "new.1")
	if err != nil || first.Revision != last-4 {
		t.Errorf("first op at revision %v (%v); want %d", first, err, last-4)
	}
}
