package otelbridge

import (
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Composing Mappers. A Mapper made of others must say what the bridge asks
// of each of them (see Mapper): a wrapper that only forwards Map hides their
// reserved mappings (so no instrument is made for them in advance, and
// another mapping may take their names) and their counters. Chain and
// Rewrite forward all of it.

// Chain is a Mapper that maps a sample with each of its Mappers in turn and
// returns the first Mapping that does not drop it, or the last Mapper's
// (which drops it) when every one does; an empty Chain drops every sample. A
// nil Mapping counts as a drop. For example, Chain{profile, other} maps
// Gunicorn's own metrics with a mapper.New(mapper.WithDropUnmatched()) and
// everything else with other.
//
// A Chain has every optional method the bridge asks of a Mapper, and answers
// for each of its Mappers that has it: ReservedMappings returns all of
// theirs, in order; CacheStats and TagStats add theirs up (zero when none of
// them counts).
type Chain []Mapper

var (
	_ Mapper       = Chain(nil)
	_ cacheStatser = Chain(nil)
	_ tagStatser   = Chain(nil)
	_ reserver     = Chain(nil)
)

// dropAll is what a Chain or a Rewrite returns for a sample that none of
// its Mappers maps.
var dropAll = &mapper.Mapping{Drop: true}

// Map returns the first Mapping of the chain that does not drop the sample.
func (c Chain) Map(s *statsd.Sample) *mapper.Mapping {
	last := dropAll
	for _, m := range c {
		mp := m.Map(s)
		if mp == nil {
			continue
		}
		if !mp.Drop {
			return mp
		}
		last = mp
	}
	return last
}

// ReservedMappings returns the reserved mappings of every Mapper of the chain
// that names them, in order.
func (c Chain) ReservedMappings() []*mapper.Mapping {
	var all []*mapper.Mapping
	for _, m := range c {
		if r, ok := m.(reserver); ok {
			all = append(all, r.ReservedMappings()...)
		}
	}
	return all
}

// CacheStats returns the cache counters of the chain's Mappers added up.
func (c Chain) CacheStats() mapper.CacheStats {
	var st mapper.CacheStats
	for _, m := range c {
		if cs, ok := m.(cacheStatser); ok {
			st = addCacheStats(st, cs.CacheStats())
		}
	}
	return st
}

// TagStats returns the tags the chain's Mappers left out, added up.
func (c Chain) TagStats() mapper.TagStats {
	var st mapper.TagStats
	for _, m := range c {
		if ts, ok := m.(tagStatser); ok {
			st = st.Plus(ts.TagStats())
		}
	}
	return st
}

func addCacheStats(a, b mapper.CacheStats) mapper.CacheStats {
	return mapper.CacheStats{
		Hits: a.Hits + b.Hits, Misses: a.Misses + b.Misses, Evictions: a.Evictions + b.Evictions,
		Len: a.Len + b.Len, Capacity: a.Capacity + b.Capacity,
	}
}

// Rewrite is a Mapper that maps with Mapper and passes each Mapping that
// does not drop the sample through Func: to rename instruments, change
// attributes or buckets, for another exposition. Func is called with a
// shared Mapping that it must not modify; it returns that one or a new one
// (not nil). It is called for the samples of series the bridge has not seen
// (see Mapper): a new Mapping it makes is kept in the series table, not made
// again per sample.
//
// A Rewrite has every optional method the bridge asks of a Mapper, answered
// by Mapper when it has it: ReservedMappings passes Mapper's reserved
// mappings through Func too, so that the instruments made in advance are the
// ones Map names; CacheStats and TagStats are Mapper's (zero when it does
// not count).
type Rewrite struct {
	Mapper Mapper
	Func   func(*mapper.Mapping) *mapper.Mapping
}

var (
	_ Mapper       = Rewrite{}
	_ cacheStatser = Rewrite{}
	_ tagStatser   = Rewrite{}
	_ reserver     = Rewrite{}
)

// Map maps the sample with r.Mapper and rewrites the Mapping unless it drops
// the sample.
func (r Rewrite) Map(s *statsd.Sample) *mapper.Mapping {
	mp := r.Mapper.Map(s)
	if mp == nil || mp.Drop {
		return mp
	}
	return r.Func(mp)
}

// ReservedMappings returns r.Mapper's reserved mappings, rewritten.
func (r Rewrite) ReservedMappings() []*mapper.Mapping {
	res, ok := r.Mapper.(reserver)
	if !ok {
		return nil
	}
	in := res.ReservedMappings()
	if len(in) == 0 {
		return nil
	}
	out := make([]*mapper.Mapping, 0, len(in))
	for _, mp := range in {
		if mp != nil {
			out = append(out, r.Func(mp))
		}
	}
	return out
}

// CacheStats returns r.Mapper's cache counters.
func (r Rewrite) CacheStats() mapper.CacheStats {
	if cs, ok := r.Mapper.(cacheStatser); ok {
		return cs.CacheStats()
	}
	return mapper.CacheStats{}
}

// TagStats returns the tags r.Mapper left out.
func (r Rewrite) TagStats() mapper.TagStats {
	if ts, ok := r.Mapper.(tagStatser); ok {
		return ts.TagStats()
	}
	return mapper.TagStats{}
}
