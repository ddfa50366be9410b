package natsrpc

// SetTestHookAcked makes the runtime report the result of every
// acknowledgement of a handled durable event to f, until the returned
// function restores the previous hook. Tests use it to tell events handled
// again after a confirmed acknowledgement (a bug) from events handled again
// because their acknowledgement was lost (at-least-once).
func SetTestHookAcked(f func(msgID string, err error)) (restore func()) {
	old := testHookAcked.Swap(&f)
	return func() { testHookAcked.Store(old) }
}
