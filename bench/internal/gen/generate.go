// Package gen holds the gRPC and Connect stubs that the benchmark's gRPC-Go
// and connect-go rows use, generated from ../../proto/natsrpc/bench/v1.
//
// Regenerate with `cd bench && go generate ./internal/gen` (needs protoc on
// PATH, as `make test` does; the plugins are pinned as tools in
// bench/go.mod).
package gen

//go:generate ./generate.sh
