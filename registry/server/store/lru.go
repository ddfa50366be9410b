package store

import (
	"container/list"
	"sync"
)

// lru is a small mutex-guarded least-recently-used cache. The registry
// caches only immutable data in it, so entries never go stale. It holds at
// most max entries and, when weigh is set, at most maxBytes of their
// weights (an entry heavier than maxBytes alone is not kept): the bound on
// the memory the registry's caches may hold.
type lru[K comparable, V any] struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	bytes    int64
	weigh    func(V) int64
	ll       *list.List
	items    map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key    K
	val    V
	weight int64
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, ll: list.New(), items: map[K]*list.Element{}}
}

// newWeightedLRU is an lru that also bounds the sum of weigh(value).
func newWeightedLRU[K comparable, V any](max int, maxBytes int64, weigh func(V) int64) *lru[K, V] {
	c := newLRU[K, V](max)
	c.maxBytes, c.weigh = maxBytes, weigh
	return c
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[K, V]) add(k K, v V) {
	if c.max <= 0 {
		return
	}
	var w int64
	if c.weigh != nil {
		w = c.weigh(v)
		if w > c.maxBytes {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		ent := e.Value.(*lruEntry[K, V])
		c.bytes += w - ent.weight
		ent.val, ent.weight = v, w
	} else {
		c.items[k] = c.ll.PushFront(&lruEntry[K, V]{k, v, w})
		c.bytes += w
	}
	for c.ll.Len() > c.max || c.weigh != nil && c.bytes > c.maxBytes {
		last := c.ll.Back()
		c.ll.Remove(last)
		ent := last.Value.(*lruEntry[K, V])
		c.bytes -= ent.weight
		delete(c.items, ent.key)
	}
}

// size returns the entries and their total weight.
func (c *lru[K, V]) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}
