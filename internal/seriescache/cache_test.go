package seriescache

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
)

func sample(name string, t statsd.Type, tags string) *statsd.Sample {
	return &statsd.Sample{Name: []byte(name), Type: t, Tags: []byte(tags)}
}

func TestIdentity(t *testing.T) {
	c := New[int](1000)
	c.Put(sample("a.b", statsd.Counter, ""), 1)
	c.Put(sample("a.b", statsd.Gauge, ""), 2)
	c.Put(sample("a.b", statsd.Counter, "env:prod"), 3)
	c.Put(sample("a.bc", statsd.Counter, ""), 4)
	for _, tc := range []struct {
		s    *statsd.Sample
		want int
		ok   bool
	}{
		{sample("a.b", statsd.Counter, ""), 1, true},
		{sample("a.b", statsd.Gauge, ""), 2, true},
		{sample("a.b", statsd.Counter, "env:prod"), 3, true},
		{sample("a.bc", statsd.Counter, ""), 4, true},
		{sample("a.b", statsd.Timer, ""), 0, false},
		{sample("a.b", statsd.Counter, "env:dev"), 0, false},
		{sample("a", statsd.Counter, ".b"), 0, false},
	} {
		got, ok := c.Get(tc.s)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Get(%s|%s|#%s) = %d, %v; want %d, %v", tc.s.Name, tc.s.Type, tc.s.Tags, got, ok, tc.want, tc.ok)
		}
	}
	st := c.Stats()
	if st.Hits != 4 || st.Misses != 3 || st.Len != 4 || st.Evictions != 0 {
		t.Errorf("Stats = %+v; want 4 hits, 3 misses, 4 entries, 0 evictions", st)
	}
	c.Put(sample("a.b", statsd.Counter, ""), 10)
	if got, _ := c.Get(sample("a.b", statsd.Counter, "")); got != 10 || c.Len() != 4 {
		t.Errorf("after replace: Get = %d, Len = %d; want 10, 4", got, c.Len())
	}
	c.Clear()
	if c.Len() != 0 {
		t.Errorf("Len after Clear = %d", c.Len())
	}
}

func TestBounded(t *testing.T) {
	c := New[int](128)
	for i := range 10000 {
		c.Put(sample(fmt.Sprintf("name.%d", i), statsd.Counter, ""), i)
	}
	st := c.Stats()
	if st.Len > c.Capacity() || c.Capacity() != 128 {
		t.Fatalf("Len = %d, Capacity = %d; want Len <= 128 = Capacity", st.Len, c.Capacity())
	}
	if st.Evictions != uint64(10000-st.Len) {
		t.Errorf("evictions %d; want %d", st.Evictions, 10000-st.Len)
	}
	// Every entry left is the one put for its series.
	n := 0
	for i := range 10000 {
		if v, ok := c.Get(sample(fmt.Sprintf("name.%d", i), statsd.Counter, "")); ok {
			if v != i {
				t.Fatalf("name.%d = %d", i, v)
			}
			n++
		}
	}
	if n != st.Len {
		t.Errorf("found %d entries; Len %d", n, st.Len)
	}
}

// TestBoundedBytes: a cache made by NewBounded counts each entry for its key
// (name, two bytes, tags) plus the value's cost, exactly, and never holds
// more than its bound, whatever the size of the keys.
func TestBoundedBytes(t *testing.T) {
	const maxBytes = 64 * 1024 // 1 KiB per shard
	c := NewBounded(100000, maxBytes, func(v int) int64 { return int64(v) })
	if c.MaxBytes() != maxBytes {
		t.Fatalf("MaxBytes = %d", c.MaxBytes())
	}
	c.Put(sample("a.b", statsd.Counter, "env:prod"), 100)
	c.Put(sample("c", statsd.Gauge, ""), 7)
	if st := c.Stats(); st.Bytes != (3+2+8+100)+(1+2+7) || st.Len != 2 {
		t.Fatalf("Stats = %+v; want 2 entries, 123 bytes", st)
	}
	// Replacing an entry replaces its size.
	c.Put(sample("c", statsd.Gauge, ""), 10)
	if st := c.Stats(); st.Bytes != 113+13 || st.Len != 2 {
		t.Fatalf("after replace: %+v; want 126 bytes", st)
	}
	// An entry larger than a shard's share is not stored.
	c.Put(sample("big", statsd.Counter, strings.Repeat("t", 2000)), 0)
	if _, ok := c.Get(sample("big", statsd.Counter, strings.Repeat("t", 2000))); ok || c.Stats().Skipped != 1 {
		t.Fatalf("an entry over a shard's bytes was stored: %+v", c.Stats())
	}
	// Wide keys: the bound holds, entries are evicted to keep it, and the
	// count of bytes is the sum of what is held.
	var want int64
	for i := range 5000 {
		c.Put(sample(fmt.Sprintf("wide.%d", i), statsd.Counter, strings.Repeat("k:v,", 40)), 50)
	}
	st := c.Stats()
	if st.Bytes > maxBytes || st.Evictions == 0 {
		t.Fatalf("Stats = %+v; want at most %d bytes, some evictions", st, maxBytes)
	}
	for i := range 5000 {
		name := fmt.Sprintf("wide.%d", i)
		if _, ok := c.Get(sample(name, statsd.Counter, strings.Repeat("k:v,", 40))); ok {
			want += int64(len(name)+2+160) + 50
		}
	}
	for _, s := range []*statsd.Sample{sample("a.b", statsd.Counter, "env:prod"), sample("c", statsd.Gauge, "")} {
		if v, ok := c.Get(s); ok {
			want += int64(len(s.Name)+2+len(s.Tags)) + int64(v)
		}
	}
	if st := c.Stats(); st.Bytes != want {
		t.Errorf("Bytes = %d; the entries held count for %d", st.Bytes, want)
	}
	c.Clear()
	if st := c.Stats(); st.Bytes != 0 || st.Len != 0 {
		t.Errorf("after Clear: %+v", st)
	}
}

func TestGetAllocatesNothing(t *testing.T) {
	c := New[int](100)
	s := sample("shop.web.gunicorn.requests", statsd.Counter, "env:prod,team:web")
	c.Put(s, 1)
	if a := testing.AllocsPerRun(1000, func() { c.Get(s) }); a != 0 {
		t.Errorf("Get allocates %v times", a)
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int](256)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				s := sample(fmt.Sprintf("n.%d", (i*7+g)%500), statsd.Counter, "")
				if v, ok := c.Get(s); ok && v != (i*7+g)%500 {
					t.Errorf("Get(%s) = %d", s.Name, v)
					return
				}
				c.Put(s, (i*7+g)%500)
			}
		})
	}
	wg.Wait()
	if c.Len() > 256 {
		t.Errorf("Len %d over capacity", c.Len())
	}
}

func BenchmarkGet(b *testing.B) {
	c := New[int](100)
	s := sample("shop.web.gunicorn.request.status.200", statsd.Counter, "env:prod,team:web")
	c.Put(s, 1)
	b.ReportAllocs()
	for b.Loop() {
		c.Get(s)
	}
}
