// Package spectest holds the tests of internal/spec that compile schemas
// with protocompile. They live outside internal/spec, which the runtime
// imports, because a service's `go mod tidy` loads the tests of every
// package the service imports: there, protocompile would land in every
// service's module graph. The package has no code of its own.
package spectest
