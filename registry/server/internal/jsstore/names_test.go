package jsstore

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// TestWireNamesMatchTheServer checks the header names and error codes
// that nats.go v1.55.0 does not export, and so are written here, against
// the names nats-server exports: a rename or renumbering fails here, not
// as a commit that silently stops being atomic.
func TestWireNamesMatchTheServer(t *testing.T) {
	for _, c := range []struct{ ours, server string }{
		{batchIDHeader, server.JSBatchId},
		{batchSeqHeader, server.JSBatchSeq},
		{batchCommitHeader, server.JSBatchCommit},
		{kvOperationHeader, server.KVOperation},
		{kvPurge, string(server.KVOperationValuePurge)},
		{jetstream.ExpectedLastSubjSeqHeader, server.JSExpectedLastSubjSeq},
	} {
		if c.ours != c.server {
			t.Errorf("header %q; nats-server says %q", c.ours, c.server)
		}
	}
	for _, c := range []struct {
		ours   jetstream.ErrorCode
		server server.ErrorIdentifier
	}{
		{errCodeReplicasNeedCluster, server.JSStreamReplicasNotSupportedErr},
		{errCodeBatchIncomplete, server.JSAtomicPublishIncompleteBatchErr},
		{errCodeBatchTooLarge, server.JSAtomicPublishTooLargeBatchErrF},
		{jetstream.JSErrCodeStreamWrongLastSequence, server.JSStreamWrongLastSequenceErrF},
		{jetstream.JSErrCodeStreamWrongLastSequenceConstant, server.JSStreamWrongLastSequenceConstantErr},
	} {
		if int(c.ours) != int(server.ApiErrors[c.server].ErrCode) {
			t.Errorf("error code %d; nats-server says %d", c.ours, server.ApiErrors[c.server].ErrCode)
		}
	}
}
