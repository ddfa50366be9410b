package natsrpc

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ShadowStats are one method's shadow traffic counts since the service
// started (see [WithShadow]). $SRV.STATS carries them in the endpoint's
// data under "shadow"; [Service.ShadowStats] returns them in process.
//
// Every call picked by the sample ends in exactly one of Dropped, Slow,
// CandidateErrors, Equal and Different.
type ShadowStats struct {
	// Rate is the method's sample rate.
	Rate float64 `json:"rate"`
	// Mirrored counts calls sent to the candidate.
	Mirrored int64 `json:"mirrored"`
	// Dropped counts calls picked but not sent: MaxInFlight candidate
	// calls were in progress, or the request could not be re-encoded.
	Dropped int64 `json:"dropped"`
	// Slow counts calls the candidate did not answer within the policy's
	// Timeout: given up, not compared.
	Slow int64 `json:"slow"`
	// Compared counts pairs of answers compared: Equal plus Different.
	Compared int64 `json:"compared"`
	// Equal counts pairs with the same answer: equal messages (as the
	// method's comparison options say), or errors with the same code.
	Equal int64 `json:"equal"`
	// Different counts pairs that differ: messages with differing fields,
	// errors with different codes, or one side failing alone when it is
	// the primary.
	Different int64 `json:"different"`
	// CandidateErrors counts calls the primary answered and the candidate
	// failed (no candidate listening, an error, an undecodable answer).
	CandidateErrors int64 `json:"candidate_errors"`
	// LastCandidateError is the latest of those errors.
	LastCandidateError string `json:"last_candidate_error,omitempty"`
	// LastDifference lists the differing field paths of the latest
	// difference (empty when the outcomes differed: success against
	// error, or two error codes).
	LastDifference []string `json:"last_difference,omitempty"`
	// PrimaryLatency and CandidateLatency are the latencies of the pairs
	// compared: the primary's handler time and the candidate's round trip.
	PrimaryLatency   ShadowLatency `json:"primary_latency"`
	CandidateLatency ShadowLatency `json:"candidate_latency"`
}

// Merge adds o's counts to s (the stats of several instances of one
// method); the last error and difference are o's when it has them.
func (s *ShadowStats) Merge(o ShadowStats) {
	s.Rate = max(s.Rate, o.Rate)
	s.Mirrored += o.Mirrored
	s.Dropped += o.Dropped
	s.Slow += o.Slow
	s.Compared += o.Compared
	s.Equal += o.Equal
	s.Different += o.Different
	s.CandidateErrors += o.CandidateErrors
	if o.LastCandidateError != "" {
		s.LastCandidateError = o.LastCandidateError
	}
	if len(o.LastDifference) > 0 {
		s.LastDifference = o.LastDifference
	}
	s.PrimaryLatency.Merge(o.PrimaryLatency)
	s.CandidateLatency.Merge(o.CandidateLatency)
}

// shadowLatencyBuckets is the number of buckets of a ShadowLatency: ten
// per decade from 10 µs to 100 s, plus one for longer.
const shadowLatencyBuckets = 72

// ShadowLatency is a latency distribution in fixed buckets, ten per
// decade (each bound 1.26 times the previous), so that the distributions
// of several instances add up exactly.
type ShadowLatency struct {
	// Count is the number of latencies; Sum their total; Max the longest.
	Count int64         `json:"count"`
	Sum   time.Duration `json:"sum"`
	Max   time.Duration `json:"max"`
	// Buckets[i] counts the latencies above [ShadowLatencyBound](i-1)
	// and at most ShadowLatencyBound(i); trailing empty buckets are left
	// out.
	Buckets []int64 `json:"buckets,omitempty"`
}

// ShadowLatencyBound is the upper bound of bucket i of a [ShadowLatency]:
// 10 µs × 10^(i/10). The last bucket has no bound.
func ShadowLatencyBound(i int) time.Duration {
	if i >= shadowLatencyBuckets-1 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(10e3 * math.Pow(10, float64(i)/10)))
}

// shadowBucket returns the bucket of d.
func shadowBucket(d time.Duration) int {
	if d <= 10*time.Microsecond {
		return 0
	}
	i := int(math.Ceil(10 * math.Log10(float64(d)/10e3)))
	for i > 0 && d <= ShadowLatencyBound(i-1) {
		i-- // rounding at a bound
	}
	for i < shadowLatencyBuckets-1 && d > ShadowLatencyBound(i) {
		i++
	}
	return min(i, shadowLatencyBuckets-1)
}

// Mean returns the mean latency, 0 without any.
func (l ShadowLatency) Mean() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// Quantile returns the latency below which a share q (0 to 1) of the
// latencies fall, as the upper bound of its bucket (at most Max): an
// overestimate by at most a factor of 1.26. 0 without any latency.
func (l ShadowLatency) Quantile(q float64) time.Duration {
	if l.Count == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(l.Count)))
	rank = min(max(rank, 1), l.Count)
	var seen int64
	for i, n := range l.Buckets {
		seen += n
		if seen >= rank {
			return min(ShadowLatencyBound(i), l.Max)
		}
	}
	return l.Max
}

// Merge adds o's latencies to l.
func (l *ShadowLatency) Merge(o ShadowLatency) {
	l.Count += o.Count
	l.Sum += o.Sum
	l.Max = max(l.Max, o.Max)
	if len(o.Buckets) > len(l.Buckets) {
		l.Buckets = append(l.Buckets, make([]int64, len(o.Buckets)-len(l.Buckets))...)
	}
	for i, n := range o.Buckets {
		l.Buckets[i] += n
	}
}

// latencyCounter is a ShadowLatency counted concurrently.
type latencyCounter struct {
	count   atomic.Int64
	sum     atomic.Int64
	max     atomic.Int64
	buckets [shadowLatencyBuckets]atomic.Int64
}

func (c *latencyCounter) add(d time.Duration) {
	c.count.Add(1)
	c.sum.Add(int64(d))
	for {
		m := c.max.Load()
		if int64(d) <= m || c.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	c.buckets[shadowBucket(d)].Add(1)
}

func (c *latencyCounter) snapshot() ShadowLatency {
	l := ShadowLatency{Count: c.count.Load(), Sum: time.Duration(c.sum.Load()), Max: time.Duration(c.max.Load())}
	last := -1
	var b [shadowLatencyBuckets]int64
	for i := range c.buckets {
		b[i] = c.buckets[i].Load()
		if b[i] != 0 {
			last = i
		}
	}
	if last >= 0 {
		l.Buckets = append([]int64(nil), b[:last+1]...)
	}
	return l
}

// shadowCounters are one method's ShadowStats, counted concurrently.
type shadowCounters struct {
	mirrored, dropped, slow, equal, different, candidateErrors atomic.Int64
	primary, candidate                                         latencyCounter
	mu                                                         sync.Mutex
	lastCandidateError                                         string
	lastDifference                                             []string
}

func (c *shadowCounters) snapshot(rate float64) ShadowStats {
	s := ShadowStats{
		Rate:             rate,
		Mirrored:         c.mirrored.Load(),
		Dropped:          c.dropped.Load(),
		Slow:             c.slow.Load(),
		Equal:            c.equal.Load(),
		Different:        c.different.Load(),
		CandidateErrors:  c.candidateErrors.Load(),
		PrimaryLatency:   c.primary.snapshot(),
		CandidateLatency: c.candidate.snapshot(),
	}
	s.Compared = s.Equal + s.Different
	c.mu.Lock()
	s.LastCandidateError = c.lastCandidateError
	s.LastDifference = append([]string(nil), c.lastDifference...)
	c.mu.Unlock()
	return s
}
