package gateway

// WithoutFastPath sends every call through vanguard, for tests that
// compare the fast path's answers with the slow path's.
func WithoutFastPath() Option {
	return optionFunc(func(c *config) { c.noFastPath = true })
}

// FastCalls counts the calls g's fast path answered.
func FastCalls(g *Gateway) int64 { return g.fastCalls.Load() }
