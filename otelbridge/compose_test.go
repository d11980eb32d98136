package otelbridge

import (
	"slices"
	"testing"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// reservedNames returns the names of the reserved mappings of m, which must
// have the method.
func reservedNames(t *testing.T, m Mapper) []string {
	t.Helper()
	r, ok := m.(reserver)
	if !ok {
		t.Fatalf("%T has no ReservedMappings", m)
	}
	var out []string
	for _, mp := range r.ReservedMappings() {
		if !mp.Reserved {
			t.Errorf("%s: not Reserved", mp.Name)
		}
		out = append(out, mp.Name)
	}
	return out
}

func mapLine(t *testing.T, m Mapper, line string) *mapper.Mapping {
	t.Helper()
	var p statsd.Parser
	samples, err := p.ParseLine(nil, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return m.Map(&samples[0])
}

// prefixed renames a mapping "x." + its name.
func prefixed(mp *mapper.Mapping) *mapper.Mapping {
	out := *mp
	out.Name = "x." + mp.Name
	return &out
}

// TestChainAndRewriteKeepCapabilities: each optional method the bridge asks
// of a Mapper survives Chain and Rewrite, with the values of the Mappers
// inside.
func TestChainAndRewriteKeepCapabilities(t *testing.T) {
	profile, err := mapper.New(mapper.WithDropUnmatched(), mapper.WithDropBareTags())
	if err != nil {
		t.Fatal(err)
	}
	other, err := mapper.New(mapper.WithoutGunicornProfile(), mapper.WithDropBareTags())
	if err != nil {
		t.Fatal(err)
	}
	want := reservedNames(t, profile)
	if len(want) != 6 {
		t.Fatalf("the profile reserves %v", want)
	}
	chain := Chain{profile, Rewrite{Mapper: other, Func: prefixed}}

	// Map: the first Mapping that does not drop the sample.
	if mp := mapLine(t, chain, "shop.gunicorn.requests:1|c"); mp.Name != mapper.NameRequests || !mp.Reserved {
		t.Errorf("profile name: %+v", mp)
	}
	if mp := mapLine(t, chain, "orders.sold:1|c|#canary"); mp.Name != "x.orders.sold" || mp.Reserved || mp.Attributes.Len() != 0 {
		t.Errorf("other name: %+v", mp)
	}
	if mp := mapLine(t, chain, "orders.sold:2|c|#canary"); mp.Name != "x.orders.sold" {
		t.Errorf("other name, cached: %+v", mp)
	}

	// ReservedMappings: the profile's, through the chain; rewritten, through
	// a Rewrite.
	if got := reservedNames(t, chain); !slices.Equal(got, want) {
		t.Errorf("Chain.ReservedMappings: %v, want %v", got, want)
	}
	rw := Rewrite{Mapper: profile, Func: prefixed}
	var wantRW []string
	for _, n := range want {
		wantRW = append(wantRW, "x."+n)
	}
	if got := reservedNames(t, rw); !slices.Equal(got, wantRW) {
		t.Errorf("Rewrite.ReservedMappings: %v, want %v", got, wantRW)
	}
	if got := reservedNames(t, Chain{Rewrite{Mapper: other, Func: prefixed}}); len(got) != 0 {
		t.Errorf("a chain without the profile reserves %v", got)
	}

	// CacheStats and TagStats: added up over the chain. The profile saw
	// three samples (two misses, then a hit for the repeated series), other
	// two (a miss and a hit); other dropped one bare tag.
	cs := chain.CacheStats()
	pc, oc := profile.CacheStats(), other.CacheStats()
	if pc.Misses != 2 || pc.Hits != 1 || oc.Misses != 1 || oc.Hits != 1 {
		t.Fatalf("profile %+v, other %+v", pc, oc)
	}
	if cs.Hits != 2 || cs.Misses != 3 || cs.Len != pc.Len+oc.Len || cs.Capacity != pc.Capacity+oc.Capacity || cs.Len != 3 {
		t.Errorf("Chain.CacheStats: %+v", cs)
	}
	if ts := chain.TagStats(); ts.Bare != 1 || ts != other.TagStats() {
		t.Errorf("Chain.TagStats: %+v", ts)
	}
	if cs := rw.CacheStats(); cs != profile.CacheStats() {
		t.Errorf("Rewrite.CacheStats: %+v, want %+v", cs, profile.CacheStats())
	}
	if ts := (Rewrite{Mapper: other, Func: prefixed}).TagStats(); ts != other.TagStats() {
		t.Errorf("Rewrite.TagStats: %+v", ts)
	}
}

// TestChainDrops: a sample every Mapper drops is dropped, and an empty Chain
// drops everything; a Rewrite does not rewrite a drop.
func TestChainDrops(t *testing.T) {
	m := &stubMapper{drop: map[string]bool{"a": true}}
	calls := 0
	rw := Rewrite{Mapper: m, Func: func(mp *mapper.Mapping) *mapper.Mapping { calls++; return prefixed(mp) }}
	if mp := mapLine(t, Chain{rw, m}, "a:1|c"); !mp.Drop || calls != 0 {
		t.Errorf("dropped by both: %+v, Func called %d times", mp, calls)
	}
	if mp := mapLine(t, Chain{}, "b:1|c"); !mp.Drop {
		t.Errorf("empty chain: %+v", mp)
	}
	if mp := mapLine(t, Chain{rw}, "b:1|c"); mp.Name != "x.b" || calls != 1 {
		t.Errorf("rewritten: %+v, Func called %d times", mp, calls)
	}
}

// TestChainReservesInBridge: the bridge makes the reserved instruments of a
// Chain at New, as it does for a *mapper.Mapper, and reports the chain's
// counters.
func TestChainReservesInBridge(t *testing.T) {
	profile, err := mapper.New(mapper.WithDropUnmatched())
	if err != nil {
		t.Fatal(err)
	}
	other, err := mapper.New(mapper.WithoutGunicornProfile())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newTestBridge(t, WithMapper(Chain{profile, Rewrite{Mapper: other, Func: prefixed}}))
	if st := b.Stats(); st.Instruments != 6 {
		t.Fatalf("instruments at New: %d, want the profile's 6", st.Instruments)
	}
	feed(b, "shop.gunicorn.requests:1|c", "orders.sold:1|c", "orders.sold:1|c|#k:v")
	st := b.Stats()
	if st.Instruments != 7 || st.Recorded != 3 || st.MapperCacheMisses != 5 {
		t.Errorf("after 3 samples: instruments %d, recorded %d, mapper misses %d", st.Instruments, st.Recorded, st.MapperCacheMisses)
	}
	// A reload with a new Chain of new Mappers (a type == cannot compare):
	// the counters of the old one are kept, the new one's added.
	profile2, err := mapper.New(mapper.WithDropUnmatched())
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := mapper.New(mapper.WithoutGunicornProfile())
	if err != nil {
		t.Fatal(err)
	}
	b.SetMapper(Chain{profile2, Rewrite{Mapper: fresh, Func: prefixed}})
	feed(b, "orders.sold:1|c")
	if st := b.Stats(); st.MapperCacheMisses != 5+2 || st.MapperCacheHits != 0 || st.Instruments != 7 {
		t.Errorf("after SetMapper: mapper misses %d, hits %d, instruments %d", st.MapperCacheMisses, st.MapperCacheHits, st.Instruments)
	}
}
