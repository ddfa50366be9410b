package main

// The golden packages are imported so that the test binary only builds when
// every golden file compiles against the current runtime: go build ./... and
// go vet ./... skip testdata directories, the test does not. Regenerate them
// with: go test ./protoc-gen-natsrpc -run TestGolden -update
import (
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/clash/gen/clash/nats/natsnatsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/crosspackage/gen/game/v1/gamev1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/editions/gen/ed/v1/edv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/multifile/gen/multi/v1/multiv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/noservice/gen/types/v1"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/options/gen/world/v1/worldv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/proto2/gen/legacy/v1/legacyv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/proto3optional/gen/opt/v1/optv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/samepackage/gen/same/v1"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/simple/gen/quest/v1/questv1natsrpc"
	_ "github.com/natsrpc/natsrpc/protoc-gen-natsrpc/internal/testdata/streaming/gen/stream/v1/streamv1natsrpc"
)
