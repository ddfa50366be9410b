// Package runtimetest holds the runtime's tests that need a real
// nats-server (the root package's own tests need nothing but protobuf and
// nats.go). They live outside the root package because a service's
// `go mod tidy` loads the tests of every package the service imports: in
// the root package, their requirements (nats-server, the test-support
// modules) would land in every service's module graph. nats.go keeps its
// server tests in test/ for the same reason. They run with the root's
// go_test.mod (or in the workspace); the package has no code of its own.
package runtimetest
