package jsonwire

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendUTC: the timestamp writer agrees with time.Format over the
// whole range protojson writes (years 1 to 9999).
func TestAppendUTC(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(secs, nanos int64) {
		got := string(appendUTC(nil, secs, nanos))
		want := time.Unix(secs, nanos).UTC().Format("2006-01-02T15:04:05.000000000")
		if got != want {
			t.Fatalf("appendUTC(%d, %d) = %s, want %s", secs, nanos, got, want)
		}
	}
	for _, s := range []int64{minTimestampSeconds, maxTimestampSeconds, 0, -1, 1, 951782400, 951868800, -62135596800 + 86400*59} {
		check(s, 0)
		check(s, maxNanos)
	}
	for range 200000 {
		check(minTimestampSeconds+r.Int64N(maxTimestampSeconds-minTimestampSeconds+1), r.Int64N(maxNanos+1))
	}
}

// TestParseUTC: the timestamp reader agrees with time.Parse on what it
// reads, and declines what it does not.
func TestParseUTC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(s string) {
		secs, nanos, ok := parseUTC([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if !ok {
			return // time.Parse decides
		}
		if err != nil || want.Unix() != secs || int32(want.Nanosecond()) != nanos {
			t.Fatalf("parseUTC(%q) = %d, %d; time.Parse = %v, %v", s, secs, nanos, want, err)
		}
	}
	for _, s := range []string{"2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z", "2024-01-01t00:00:00Z", "2024-01-01T00:00:00z", "1900-02-29T00:00:00Z",
		"2000-02-29T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-1-01T00:00:00Z", "2024-01-01T00:00:0aZ"} {
		check(s)
	}
	digits := "0123456789"
	for range 200000 {
		b := []byte(time.Unix(minTimestampSeconds+r.Int64N(maxTimestampSeconds-minTimestampSeconds+1), r.Int64N(maxNanos+1)).UTC().Format(time.RFC3339Nano))
		if _, _, ok := parseUTC(b); !ok {
			t.Fatalf("parseUTC declined %s", b)
		}
		for range r.IntN(3) {
			b[r.IntN(len(b)-1)] = digits[r.IntN(10)]
		}
		check(string(b))
	}
}
