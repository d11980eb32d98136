package seriescache

import (
	"fmt"
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
	evicted := 0
	for i := range 10000 {
		if c.Put(sample(fmt.Sprintf("name.%d", i), statsd.Counter, ""), i) {
			evicted++
		}
	}
	if c.Len() > c.Capacity() || c.Capacity() != 128 {
		t.Fatalf("Len = %d, Capacity = %d; want Len <= 128 = Capacity", c.Len(), c.Capacity())
	}
	if evicted != 10000-c.Len() || c.Stats().Evictions != uint64(evicted) {
		t.Errorf("evicted %d (stats %d); want %d", evicted, c.Stats().Evictions, 10000-c.Len())
	}
	n := 0
	c.Range(func(int) bool { n++; return true })
	if n != c.Len() {
		t.Errorf("Range saw %d entries; Len %d", n, c.Len())
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
