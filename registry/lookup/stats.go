package lookup

import (
	"sync/atomic"
)

// Stats counts what a client did, for monitoring and tests.
type Stats struct {
	// Hits are lookups answered from a cached module.
	Hits uint64
	// Loads are module versions fetched.
	Loads uint64
	// Resolves are ResolveSymbol, ResolveFile and ResolveSubject calls.
	Resolves uint64
	// Events are VersionCreated events received.
	Events uint64
	// Invalidations are heads that moved, by event or listing.
	Invalidations uint64
	// Resyncs are successful listings of the heads.
	Resyncs uint64
}

type stats struct {
	hits, loads, resolves, events, invalidations, resyncs atomic.Uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Hits:          c.stats.hits.Load(),
		Loads:         c.stats.loads.Load(),
		Resolves:      c.stats.resolves.Load(),
		Events:        c.stats.events.Load(),
		Invalidations: c.stats.invalidations.Load(),
		Resyncs:       c.stats.resyncs.Load(),
	}
}
