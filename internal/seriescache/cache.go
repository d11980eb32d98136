// Package seriescache is a bounded, concurrent map from a StatsD series (a
// sample's name, type and raw tags) to a value, looked up without allocating.
//
// Lookups take a shard's read lock only. When a shard is full (in entries, or
// in bytes for a cache made by NewBounded), arbitrary entries of that shard
// are evicted to make room: the cache never grows past its bounds, and an
// evicted series is simply computed again when it returns.
package seriescache

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gunicornotel/gunicornotel/statsd"
)

const shardCount = 64

// Cache maps series to values of type V. The zero value is not usable; call
// New or NewBounded.
type Cache[V any] struct {
	seed          maphash.Seed
	perShard      int
	perShardBytes int64         // 0: no bound in bytes
	cost          func(V) int64 // what an entry counts for besides its key; nil: nothing
	shards        [shardCount]shard[V]
}

// shard counts its own lookups: a counter shared by the whole cache would be
// one more cache line that every reader writes on every lookup, where the
// shard's lock is already written.
type shard[V any] struct {
	mu        sync.RWMutex
	m         map[uint64]*entry[V]
	bytes     int64 // guarded by mu
	hits      atomic.Uint64
	misses    atomic.Uint64
	evictions atomic.Uint64
	skipped   atomic.Uint64
	_         [56]byte // pad the shard to 128 bytes: neighbouring shards on separate cache lines
}

type entry[V any] struct {
	key   string // name + "\x00" + type + tags
	size  int64  // what the entry counts for
	value V
}

// New returns a cache that holds at most capacity entries (at least one per
// shard, so a small capacity is rounded up to 64).
func New[V any](capacity int) *Cache[V] {
	per := (capacity + shardCount - 1) / shardCount
	if per < 1 {
		per = 1
	}
	c := &Cache[V]{seed: maphash.MakeSeed(), perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*entry[V])
	}
	return c
}

// NewBounded returns a cache that holds at most capacity entries (as New)
// and at most maxBytes bytes, an entry counting for the length of its key
// (the name, two bytes, the tags) plus cost(value). Each shard holds a 64th
// of maxBytes: an entry larger than that is not stored (and counted in
// Stats.Skipped).
func NewBounded[V any](capacity int, maxBytes int64, cost func(V) int64) *Cache[V] {
	c := New[V](capacity)
	c.perShardBytes = max(maxBytes/shardCount, 1)
	c.cost = cost
	return c
}

// Capacity returns the most entries the cache holds.
func (c *Cache[V]) Capacity() int { return c.perShard * shardCount }

// MaxBytes returns the most bytes the cache holds; 0 when it is not bounded
// in bytes.
func (c *Cache[V]) MaxBytes() int64 { return c.perShardBytes * shardCount }

func (c *Cache[V]) hash(s *statsd.Sample) uint64 {
	h := maphash.Bytes(c.seed, s.Name)
	if len(s.Tags) > 0 {
		h ^= bits.RotateLeft64(maphash.Bytes(c.seed, s.Tags), 29) * 0x9e3779b97f4a7c15
	}
	return h ^ uint64(s.Type)*0xbf58476d1ce4e5b9
}

func matches(key string, s *statsd.Sample) bool {
	n := len(s.Name)
	return len(key) == n+2+len(s.Tags) &&
		key[:n] == string(s.Name) &&
		key[n] == 0 && key[n+1] == byte(s.Type) &&
		key[n+2:] == string(s.Tags)
}

// Get returns the value stored for the sample's series.
func (c *Cache[V]) Get(s *statsd.Sample) (v V, ok bool) {
	h := c.hash(s)
	sh := &c.shards[h%shardCount]
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	if e != nil && matches(e.key, s) {
		sh.hits.Add(1)
		return e.value, true
	}
	sh.misses.Add(1)
	return v, false
}

// Put stores v for the sample's series, replacing what was there and
// evicting other entries if the shard is full. It copies the sample's name
// and tags.
func (c *Cache[V]) Put(s *statsd.Sample, v V) {
	h := c.hash(s)
	sh := &c.shards[h%shardCount]
	size := int64(len(s.Name) + 2 + len(s.Tags))
	if c.cost != nil {
		size += c.cost(v)
	}
	if c.perShardBytes > 0 && size > c.perShardBytes {
		sh.skipped.Add(1)
		return
	}
	var key strings.Builder // one copy of the name and tags, where string([]byte) would make two
	key.Grow(len(s.Name) + 2 + len(s.Tags))
	key.Write(s.Name)
	key.WriteByte(0)
	key.WriteByte(byte(s.Type))
	key.Write(s.Tags)
	e := &entry[V]{key: key.String(), size: size, value: v}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, exists := sh.m[h]; exists {
		sh.bytes -= old.size
	} else {
		for len(sh.m) >= c.perShard {
			sh.evict(h, c.perShardBytes > 0)
		}
	}
	for c.perShardBytes > 0 && sh.bytes+size > c.perShardBytes {
		sh.evict(h, true)
	}
	sh.m[h] = e
	sh.bytes += size
}

// evict removes an arbitrary entry other than keep's. It is called with the
// shard locked and holding an entry other than keep's. Only a cache bounded
// in bytes reads the entry it evicts (a likely cache miss) for its size.
func (sh *shard[V]) evict(keep uint64, sized bool) {
	for k, victim := range sh.m { // map iteration starts at a random entry
		if k == keep {
			continue
		}
		delete(sh.m, k)
		if sized {
			sh.bytes -= victim.size
		}
		sh.evictions.Add(1)
		return
	}
}

// Clear removes every entry.
func (c *Cache[V]) Clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

// Stats are the cache's counters since it was made, and its size now.
type Stats struct {
	// Hits and Misses count lookups; Evictions the entries evicted to make
	// room; Skipped the entries too large for a shard, not stored.
	Hits, Misses, Evictions, Skipped uint64
	// Len is the number of entries, Bytes what they count for.
	Len   int
	Bytes int64
}

// Stats returns the cache's counters.
func (c *Cache[V]) Stats() Stats {
	var st Stats
	for i := range c.shards {
		sh := &c.shards[i]
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Evictions += sh.evictions.Load()
		st.Skipped += sh.skipped.Load()
		sh.mu.RLock()
		st.Len += len(sh.m)
		st.Bytes += sh.bytes
		sh.mu.RUnlock()
	}
	return st
}

// Len returns the number of entries.
func (c *Cache[V]) Len() int { return c.Stats().Len }
