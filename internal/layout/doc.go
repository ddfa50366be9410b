// Package layout holds the tests that guard the repository's module
// layout: a service that imports the runtime, generated code,
// registry/client and registry/lookup gets nats.go's module graph plus
// protobuf-go and nothing else (TestConsumerGraph), and what may import
// what across the modules, in the spirit of buf's bandeps
// (TestLayering). The package has no code of its own.
package layout
