// Package descsettest holds the tests of internal/descset that compile
// schemas with protocompile. They live outside internal/descset, which the
// runtime imports (it computes the per-file digests of its compiled-in
// schema, docs/wire.md §14), because a service's `go mod tidy` loads the
// tests of every package the service imports: there, protocompile would
// land in every service's module graph. The package has no code of its own.
package descsettest
