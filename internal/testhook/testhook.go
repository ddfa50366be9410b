// Package testhook holds the runtime's test hooks: functions the runtime
// calls when a test has set them, so that tests in other packages (the
// runtime's server tests live in internal/runtimetest, outside the root
// package, to keep their requirements out of a service's go mod tidy) can
// observe what the runtime does not report otherwise. Production code
// never sets them.
package testhook

import "sync/atomic"

// acked is told the result of every acknowledgement of a handled durable
// event.
var acked atomic.Pointer[func(msgID string, err error)]

// SetAcked makes the runtime report the result of every acknowledgement of
// a handled durable event to f, until the returned function restores the
// previous hook. Tests use it to tell events handled again after a
// confirmed acknowledgement (a bug) from events handled again because
// their acknowledgement was lost (at-least-once).
func SetAcked(f func(msgID string, err error)) (restore func()) {
	old := acked.Swap(&f)
	return func() { acked.Store(old) }
}

// Acked reports an acknowledgement to the hook, if one is set.
func Acked(msgID string, err error) {
	if hook := acked.Load(); hook != nil {
		(*hook)(msgID, err)
	}
}
