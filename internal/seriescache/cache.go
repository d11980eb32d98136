// Package seriescache is a bounded, concurrent map from a StatsD series (a
// sample's name, type and raw tags) to a value, looked up without allocating.
//
// Lookups take a shard's read lock only. When a shard is full, an arbitrary
// entry of that shard is evicted to make room: the cache never grows past its
// capacity, and an evicted series is simply computed again when it returns.
package seriescache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/gunicornotel/gunicornotel/statsd"
)

const shardCount = 64

// Cache maps series to values of type V. The zero value is not usable; call New.
type Cache[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard[V]
}

// shard counts its own lookups: a counter shared by the whole cache would be
// one more cache line that every reader writes on every lookup, where the
// shard's lock is already written.
type shard[V any] struct {
	mu        sync.RWMutex
	m         map[uint64]*entry[V]
	hits      atomic.Uint64
	misses    atomic.Uint64
	evictions atomic.Uint64
	_         [8]byte // pad the shard to 64 bytes: neighbouring shards on separate cache lines
}

type entry[V any] struct {
	key   string // name + "\x00" + type + tags
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

// Capacity returns the most entries the cache holds.
func (c *Cache[V]) Capacity() int { return c.perShard * shardCount }

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

// Put stores v for the sample's series, replacing what was there, and
// reports whether another entry was evicted to make room. It copies the
// sample's name and tags.
func (c *Cache[V]) Put(s *statsd.Sample, v V) (evicted bool) {
	h := c.hash(s)
	key := make([]byte, 0, len(s.Name)+2+len(s.Tags))
	key = append(key, s.Name...)
	key = append(key, 0, byte(s.Type))
	key = append(key, s.Tags...)
	e := &entry[V]{key: string(key), value: v}

	sh := &c.shards[h%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, exists := sh.m[h]; !exists && len(sh.m) >= c.perShard {
		for k := range sh.m { // map iteration starts at a random entry
			delete(sh.m, k)
			break
		}
		evicted = true
		sh.evictions.Add(1)
	}
	sh.m[h] = e
	return evicted
}

// Len returns the number of entries.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// Clear removes every entry.
func (c *Cache[V]) Clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// Range calls f for every entry until f returns false. f must not call the
// cache's other methods for the same shard; it is called with the shard read-locked.
func (c *Cache[V]) Range(f func(v V) bool) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if !f(e.value) {
				sh.mu.RUnlock()
				return
			}
		}
		sh.mu.RUnlock()
	}
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, Evictions uint64
	Len                     int
}

// Stats returns the cache's counters.
func (c *Cache[V]) Stats() Stats {
	var st Stats
	for i := range c.shards {
		sh := &c.shards[i]
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Evictions += sh.evictions.Load()
	}
	st.Len = c.Len()
	return st
}
