#!/usr/bin/env bash
# Regenerates the gRPC, Connect and psrpc stubs of the benchmark suite. Run
# from anywhere: `cd bench && go generate ./internal/gen`. protoc-gen-go,
# protoc-gen-go-grpc, protoc-gen-connect-go and protoc-gen-psrpc are pinned
# as tools in bench/go.mod; protoc itself is Debian's protobuf-compiler (as
# in CI). psrpc's options.proto comes from the pinned psrpc module.
#
# protoc writes into a temporary directory on the same file system (under
# bench/.tmp, which git ignores). Only once it has succeeded does each new
# file replace the committed one, by a rename, and files the run no longer
# produces go last: a failed or interrupted run leaves every stub in place,
# old or new, never missing or half-written.
set -euo pipefail
cd "$(dirname "$0")/../.."   # bench/
mkdir -p .tmp
tmp="$(mktemp -d .tmp/gen.XXXXXX)"
trap 'rm -rf "$tmp"; rmdir .tmp 2>/dev/null || true' EXIT
mkdir "$tmp/bin" "$tmp/out"
for p in protoc-gen-go protoc-gen-go-grpc protoc-gen-connect-go protoc-gen-psrpc; do
  # GOWORK=off: the plugins are bench/go.mod's tools, whatever go.work holds.
  printf '#!/bin/sh\nGOWORK=off exec go -C %q tool %s "$@"\n' "$PWD" "$p" >"$tmp/bin/$p"
  chmod +x "$tmp/bin/$p"
done
protoc -I ../proto -I proto \
  --plugin=protoc-gen-go="$tmp/bin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$tmp/bin/protoc-gen-go-grpc" \
  --plugin=protoc-gen-connect-go="$tmp/bin/protoc-gen-connect-go" \
  --go_out="$tmp/out" --go_opt=module=github.com/natsrpc/natsrpc/bench \
  --go-grpc_out="$tmp/out" --go-grpc_opt=module=github.com/natsrpc/natsrpc/bench \
  --connect-go_out="$tmp/out" --connect-go_opt=module=github.com/natsrpc/natsrpc/bench \
  natsrpc/bench/v1/bench.proto
psrpc_options="$(GOWORK=off go list -m -f '{{.Dir}}' github.com/livekit/psrpc)/protoc-gen-psrpc/options"
protoc -I ../proto -I proto -I "$psrpc_options" \
  --plugin=protoc-gen-go="$tmp/bin/protoc-gen-go" \
  --plugin=protoc-gen-psrpc="$tmp/bin/protoc-gen-psrpc" \
  --go_out="$tmp/out" --go_opt=module=github.com/natsrpc/natsrpc/bench \
  --psrpc_out="$tmp/out" --psrpc_opt=module=github.com/natsrpc/natsrpc/bench \
  natsrpc/benchpsrpc/v1/psrpc.proto
(cd "$tmp/out" && find internal/gen -type f -name '*.go' | LC_ALL=C sort) >"$tmp/new"
[ -s "$tmp/new" ] || { echo "generate.sh: protoc wrote no Go files" >&2; exit 1; }
while IFS= read -r f; do
  mkdir -p "$(dirname "$f")"
  mv -f "$tmp/out/$f" "$f"
done <"$tmp/new"
find internal/gen -type f -name '*.go' ! -path internal/gen/generate.go | LC_ALL=C sort |
  LC_ALL=C comm -23 - "$tmp/new" | while IFS= read -r f; do rm -f "$f"; done
find internal/gen -type d -empty -delete
