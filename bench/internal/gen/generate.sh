#!/usr/bin/env bash
# Regenerates the gRPC and Connect stubs of the benchmark suite. Run from
# anywhere: `cd bench && go generate ./internal/gen`. protoc-gen-go,
# protoc-gen-go-grpc and protoc-gen-connect-go are pinned as tools in
# bench/go.mod; protoc itself is Debian's protobuf-compiler (as in CI).
set -euo pipefail
cd "$(dirname "$0")/../.."   # bench/
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
for p in protoc-gen-go protoc-gen-go-grpc protoc-gen-connect-go; do
  printf '#!/bin/sh\nexec go -C %q tool %s "$@"\n' "$PWD" "$p" >"$bin/$p"
  chmod +x "$bin/$p"
done
find internal/gen -name '*.go' ! -name generate.go -delete
protoc -I ../proto -I proto \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --plugin=protoc-gen-connect-go="$bin/protoc-gen-connect-go" \
  --go_out=. --go_opt=module=github.com/natsrpc/natsrpc/bench \
  --go-grpc_out=. --go-grpc_opt=module=github.com/natsrpc/natsrpc/bench \
  --connect-go_out=. --connect-go_opt=module=github.com/natsrpc/natsrpc/bench \
  natsrpc/bench/v1/bench.proto
