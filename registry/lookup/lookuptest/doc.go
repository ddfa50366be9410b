// Package lookuptest holds the tests and benchmarks of registry/lookup
// against a real registry (registry/server/registrytest, a nats-server with
// JetStream). They live outside registry/lookup, which services import,
// because a service's `go mod tidy` loads the tests of every package the
// service imports: there, the registry server and nats-server would land
// in every service's module graph. The package has no code of its own.
package lookuptest
