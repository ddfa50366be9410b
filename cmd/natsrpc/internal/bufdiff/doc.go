// Package bufdiff holds the differential tests of `natsrpc breaking`
// against the pinned buf CLI: buf's own breaking corpus, generated
// (previous, current) pairs, --path and --exclude-path narrowings, rule
// coverage, and the whole-process benchmark. They drive what the CLI runs,
// the input loader (directories, git, workspaces) and the checker
// (registry/breaking), so they live with the loader in the CLI's module.
// The package has no code of its own.
package bufdiff
