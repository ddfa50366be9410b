package store

import (
	"runtime"
	"testing"

	"github.com/natsrpc/natsrpc/internal/testkit/testschema"
)

// TestContentWeightBoundsItsMemory measures what a parsed version really
// holds on the heap (the decoded descriptors, their protoregistry files,
// indexes, the blob) for the gaming module, with and without source info,
// and checks that contentWeight, which the cache's byte bound counts, is
// at least that: the bound WithCacheBytes sets is a bound on memory, not
// a guess below it.
func TestContentWeightBoundsItsMemory(t *testing.T) {
	for _, withSource := range []bool{false, true} {
		req := testschema.GamingPushRequest()
		set := req.GetFileDescriptorSet()
		if withSource {
			set = testschema.Compile(t, nil, testschema.GamingFiles(t)...)
		}
		var own []string
		for _, fd := range set.GetFile() {
			if !IsBuiltinFile(fd.GetName()) {
				own = append(own, fd.GetName())
			}
		}
		blob, err := marshalDeterministic(set)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := loadContent(blob, own)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		w := contentWeight(c)
		t.Logf("source info %v: blob %d B, parsed version holds %d B on the heap (%.1fx the blob), weight %d B", withSource, len(blob), held, float64(held)/float64(len(blob)), w)
		if w < held {
			t.Errorf("source info %v: contentWeight %d B < %d B the parsed version holds: the cache's byte bound would undercount", withSource, w, held)
		}
		runtime.KeepAlive(c)
	}
}

// TestCachesStayWithinTheirByteBound fills the content cache with more
// than its byte bound and checks that what it keeps stays within it.
func TestCachesStayWithinTheirByteBound(t *testing.T) {
	c := newWeightedLRU[int, []byte](1000, 10_000, func(b []byte) int64 { return int64(len(b)) })
	for i := range 100 {
		c.add(i, make([]byte, 1500))
		if n, b := c.size(); b > 10_000 || n > 6 {
			t.Fatalf("after %d adds: %d entries, %d bytes; want at most 10000 bytes", i+1, n, b)
		}
	}
	if _, ok := c.get(99); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok := c.get(0); ok {
		t.Error("the oldest entry survived past the bound")
	}
	c.add(1000, make([]byte, 20_000)) // heavier than the bound: not kept
	if _, ok := c.get(1000); ok {
		t.Error("an entry heavier than the whole bound was kept")
	}
}
