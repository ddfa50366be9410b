package natsrpc

import (
	"testing"

	natsrpctestv1 "github.com/natsrpc/natsrpc/internal/testproto/natsrpctest/v1"
)

// BenchmarkSchemaDigest is what the first discovery request of a process
// costs a service's file, once: the file's canonical form and digest
// (the proto.file_digest metadata).
func BenchmarkSchemaDigest(b *testing.B) {
	fd := natsrpctestv1.File_natsrpctest_v1_test_proto
	for b.Loop() {
		s := &fileSchema{fd: fd}
		if s.fileDigest() == "" {
			b.Fatal("no digest")
		}
	}
}

// BenchmarkSchemaClosure is what the first $SRV.SCHEMA request costs,
// once: the file and its imports (descriptor.proto among them) in
// canonical form, their digests and the encoded set.
func BenchmarkSchemaClosure(b *testing.B) {
	fd := natsrpctestv1.File_natsrpctest_v1_test_proto
	for b.Loop() {
		s := &fileSchema{fd: fd}
		if _, _, err := s.closure(); err != nil {
			b.Fatal(err)
		}
	}
}
