package mapper

import (
	"bytes"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/internal/seriescache"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// DefaultCacheSize is the number of series (name, type and tags) a Mapper
// remembers when WithCacheSize is not given.
const DefaultCacheSize = 10000

// DefaultPrefixKey is the attribute key that carries the StatsD prefix when
// WithPrefixKey is not given.
const DefaultPrefixKey = "app"

// Mapper says what a StatsD sample means: which instrument it goes to, with
// which attributes, and how its value is scaled. See the package
// documentation for the rules it follows.
//
// A Mapper is safe for concurrent use. Its results are kept in a bounded
// cache keyed by the sample's name, type and raw tags, so a series seen
// before is mapped without allocating.
type Mapper struct {
	rules         *Rules
	profile       bool
	prefixKey     string
	prefix        string // explicit prefix, trailing dots trimmed
	hasPrefix     bool
	dropUnmatched bool
	tagOverride   bool
	cacheSize     int
	cache         *seriescache.Cache[*Mapping]
	err           error
}

// Option configures a Mapper. Options are applied in order; a later option
// overrides an earlier one of the same kind.
type Option func(*Mapper)

// WithPrefixKey sets the attribute key that carries the StatsD prefix of
// Gunicorn metrics (default "app"). An empty key means the prefix is not
// turned into an attribute at all.
func WithPrefixKey(key string) Option {
	return func(m *Mapper) { m.prefixKey = key }
}

// WithPrefix tells the mapper the StatsD prefix instead of letting it find
// the prefix by itself. The prefix is given as passed to Gunicorn's
// --statsd-prefix ("shop.web") or as it appears on the wire ("shop.web.");
// trailing dots are not significant. An empty prefix means Gunicorn sends no
// prefix at all.
//
// With an explicit prefix, Gunicorn's metrics are recognised only under that
// prefix, and other names that start with it (followed by a dot, or directly
// for a one-character prefix, as Gunicorn writes them) lose it: the rest of
// the name becomes the instrument name, and the prefix the attribute.
func WithPrefix(prefix string) Option {
	return func(m *Mapper) {
		m.prefix = string(bytes.TrimRight([]byte(prefix), "."))
		m.hasPrefix = true
	}
}

// WithRules adds the rules of a statsd_exporter mapping file. They are tried
// first; the built-in Gunicorn profile and the generic rules apply to the
// names they do not match. A nil *Rules adds nothing.
func WithRules(r *Rules) Option {
	return func(m *Mapper) { m.rules = r }
}

// WithoutGunicornProfile turns off the built-in Gunicorn profile: Gunicorn's
// names are then mapped by the rules, if any, or generically.
func WithoutGunicornProfile() Option {
	return func(m *Mapper) { m.profile = false }
}

// WithDropUnmatched makes the mapper drop names that neither the rules nor the
// Gunicorn profile know, instead of mapping them generically: only what is
// named gets through.
func WithDropUnmatched() Option {
	return func(m *Mapper) { m.dropUnmatched = true }
}

// WithCacheSize sets how many series the mapper remembers (default
// DefaultCacheSize). The bound always holds: when the cache is full an
// arbitrary entry is evicted (and counted in CacheStats). n must be positive.
func WithCacheSize(n int) Option {
	return func(m *Mapper) {
		if n <= 0 {
			m.err = fmt.Errorf("mapper: cache size must be positive, got %d", n)
			return
		}
		m.cacheSize = n
	}
}

// WithTagOverride decides who wins when a DogStatsD tag has the same key as
// an attribute the mapping sets (the prefix attribute, the status code, the
// log level, a rule's labels). By default the mapping wins; with
// WithTagOverride(true) the tag wins, for every rule, as honor_labels: true
// does for a single rule of a mapping file.
func WithTagOverride(on bool) Option {
	return func(m *Mapper) { m.tagOverride = on }
}

// New returns a Mapper with the built-in Gunicorn profile, changed by opts.
func New(opts ...Option) (*Mapper, error) {
	m := &Mapper{
		profile:   true,
		prefixKey: DefaultPrefixKey,
		cacheSize: DefaultCacheSize,
	}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	m.cache = seriescache.New[*Mapping](m.cacheSize)
	return m, nil
}

// Map returns where the sample goes. The result is never nil, is shared, and
// must not be modified; for a series seen before (same name, type and raw
// tags) it comes from a bounded cache without allocating.
//
// Map only reads the sample (which must not be nil) during the call: the
// sample may point into a buffer that is reused afterwards.
func (m *Mapper) Map(s *statsd.Sample) *Mapping {
	if v, ok := m.cache.Get(s); ok {
		return v
	}
	v := m.compute(s)
	m.cache.Put(s, v)
	return v
}

// CacheStats are the mapper cache's counters, for the bridge's own telemetry.
type CacheStats struct {
	Hits      uint64 // lookups answered by the cache
	Misses    uint64 // lookups that had to compute a mapping
	Evictions uint64 // entries evicted to keep the cache within its capacity
	Len       int    // entries held now
	Capacity  int    // the most entries the cache holds
}

// CacheStats returns the cache's counters since the Mapper was made.
func (m *Mapper) CacheStats() CacheStats {
	st := m.cache.Stats()
	return CacheStats{Hits: st.Hits, Misses: st.Misses, Evictions: st.Evictions, Len: st.Len, Capacity: m.cache.Capacity()}
}

// dropped is the shared result for every sample that is dropped.
var dropped = &Mapping{Drop: true}

func (m *Mapper) compute(s *statsd.Sample) *Mapping {
	if s.Type < statsd.Counter || s.Type > statsd.Distribution || len(s.Name) == 0 {
		return dropped // sets (and anything that is not a declared type)
	}
	if m.rules != nil {
		if mp, ok := m.rules.mapSample(s, m.tagOverride); ok {
			return mp
		}
	}
	if m.profile {
		if mp, ok := m.gunicorn(s); ok {
			return mp
		}
	}
	if m.dropUnmatched {
		return dropped
	}
	return m.generic(s)
}

// generic maps a name nobody claimed, following DESIGN.md.
func (m *Mapper) generic(s *statsd.Sample) *Mapping {
	name := s.Name
	var own []attribute.KeyValue
	if m.hasPrefix && m.prefix != "" {
		p := m.prefix
		if bytes.HasPrefix(name, []byte(p)) {
			rest := name[len(p):]
			if len(p) == 1 || (len(rest) > 0 && rest[0] == '.') {
				rest = bytes.TrimLeft(rest, ".")
				if len(rest) > 0 {
					name = rest
					if m.prefixKey != "" {
						own = append(own, attribute.String(m.prefixKey, p))
					}
				}
			}
		}
	}
	mp := &Mapping{Name: string(name), Scale: 1}
	switch s.Type {
	case statsd.Counter:
		mp.Kind = Counter
	case statsd.Gauge:
		mp.Kind = Gauge
	case statsd.Timer:
		mp.Kind, mp.Unit, mp.Scale = Histogram, "s", 0.001
	default: // Histogram, Distribution
		mp.Kind = Histogram
	}
	mp.Attributes = buildAttributes(s, own, m.tagOverride)
	return mp
}

// buildAttributes returns the set of the mapping's own attributes and the
// sample's tags. The mapping's attributes win over tags with the same key
// unless override is set; among tags with the same key the last one wins.
func buildAttributes(s *statsd.Sample, own []attribute.KeyValue, override bool) attribute.Set {
	if len(s.Tags) == 0 {
		if len(own) == 0 {
			return *attribute.EmptySet()
		}
		return attribute.NewSet(own...)
	}
	kvs := make([]attribute.KeyValue, 0, len(own)+bytes.Count(s.Tags, []byte{','})+1)
	if override {
		kvs = append(kvs, own...)
	}
	it := s.TagIter()
	for it.Next() {
		if len(it.Key()) == 0 {
			continue
		}
		kvs = append(kvs, attribute.String(string(it.Key()), string(it.Value())))
	}
	if !override {
		kvs = append(kvs, own...)
	}
	return attribute.NewSet(kvs...) // NewSet keeps the last value of a key
}
