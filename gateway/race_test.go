//go:build race

package gateway_test

// raceEnabled reports a -race build, whose instrumentation makes every
// step several times slower, for the few tests that check a latency.
const raceEnabled = true
