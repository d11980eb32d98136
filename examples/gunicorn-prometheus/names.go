package main

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// The daemon serves what statsd_exporter serves for the same traffic and
// mapping file, while the library keeps OpenTelemetry names and units. The
// translation happens here, between the mapper and the bridge: statsdNames
// renames every mapping but the Gunicorn profile's to the metric name
// statsd_exporter would expose, marked with rawPrefix, and the
// routingProvider (routing.go) makes those instruments in a MeterProvider
// whose Prometheus exporter adds no suffix and escapes nothing.

// rawPrefix marks an instrument name whose rest is the Prometheus metric name
// to expose as it is. The bridge accepts it as an OpenTelemetry instrument
// name ('/' may follow the first letter), which the rest alone may not be
// (statsd_exporter's names may start with '_').
const rawPrefix = "prom/"

// escapeName returns name as statsd_exporter escapes metric names and tag
// keys: every character but [a-zA-Z0-9_] becomes '_', except that a '-'
// right after another '-' is left out, and a name that starts with a digit
// gets a leading '_'. A name that needs no change is returned as it is.
func escapeName(name string) string {
	if validEscaped(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 1)
	if name[0] >= '0' && name[0] <= '9' {
		b.WriteByte('_')
	}
	prev := rune(0)
	for i := 0; i < len(name); {
		c, size := rune(name[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(name[i:])
		}
		i += size
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_':
			b.WriteRune(c)
		case c == '-' && prev == '-':
			// A run of dashes is one '_'.
		default:
			b.WriteByte('_')
		}
		prev = c
	}
	return b.String()
}

// validEscaped reports whether escapeName would return name unchanged: it is
// empty, or [a-zA-Z0-9_]* not starting with a digit.
func validEscaped(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// statsdNames is the Mapper the daemon gives the bridge. The built-in
// Gunicorn profile, when on, maps Gunicorn's own names with OpenTelemetry
// names (gunicorn.requests, served as gunicorn_requests_total); every other
// sample is mapped by the library mapper (the mapping file's rules, else
// generically) and renamed to what statsd_exporter exposes:
//
//   - the metric name escaped (orders.sold: orders_sold), with no _total or
//     unit suffix, marked with rawPrefix;
//   - the label names escaped the same way (my-key: my_key);
//   - no unit, so a timer and a histogram of one name are one metric, as
//     there;
//   - histograms without boundaries of their own get statsd_exporter's
//     default buckets (in seconds for timers).
//
// Map is called by the bridge only for a series it has not seen (or after a
// reload): the renamed Mapping it allocates is kept in the bridge's series
// table, not made again per sample.
type statsdNames struct {
	profile *mapper.Mapper // nil: no profile
	m       *mapper.Mapper
	// sums is where Map declares the summaries (summary.go): the histograms
	// statsd_exporter would serve as summaries, by mp.Summary, or by
	// mapper.DefaultSummary when noFile (no mapping file). nil: none.
	sums   *summaries
	noFile bool
}

// Map returns where the sample goes.
func (n *statsdNames) Map(s *statsd.Sample) *mapper.Mapping {
	if n.profile != nil {
		if mp := n.profile.Map(s); !mp.Drop {
			return mp
		}
	}
	mp := n.m.Map(s)
	if mp.Drop {
		return mp
	}
	out := asStatsdExporter(mp)
	if out.Kind == mapper.KindHistogram && n.sums != nil {
		sum := mp.Summary
		if n.noFile {
			sum = mapper.DefaultSummary
		}
		if sum != nil {
			n.sums.declare(strings.TrimPrefix(out.Name, rawPrefix), sum, mp.TTL, mp.Description)
		}
	}
	return out
}

// TagStats returns the tags the mappers left out, added up.
func (n *statsdNames) TagStats() mapper.TagStats {
	st := n.m.TagStats()
	if n.profile != nil {
		st = st.Plus(n.profile.TagStats())
	}
	return st
}

// CacheStats returns the counters of the mappers' caches added up.
func (n *statsdNames) CacheStats() mapper.CacheStats {
	st := n.m.CacheStats()
	if n.profile != nil {
		p := n.profile.CacheStats()
		st.Hits += p.Hits
		st.Misses += p.Misses
		st.Evictions += p.Evictions
		st.Len += p.Len
		st.Capacity += p.Capacity
	}
	return st
}

// asStatsdExporter returns a copy of mp named and labelled as statsd_exporter
// would expose it.
func asStatsdExporter(mp *mapper.Mapping) *mapper.Mapping {
	out := *mp
	out.Name = rawPrefix + escapeName(mp.Name)
	out.Unit = ""
	if out.Kind == mapper.KindHistogram && out.Buckets == nil {
		out.Buckets = mapper.PrometheusDefaultBuckets
	}
	out.Attributes = escapeKeys(mp.Attributes)
	return &out
}

// escapeKeys returns set with every key escaped by escapeName; set itself
// when no key needs it. Of two keys that escape alike, the later in the
// set's order wins.
func escapeKeys(set attribute.Set) attribute.Set {
	it := set.Iter()
	clean := true
	for it.Next() {
		if !validEscaped(string(it.Attribute().Key)) {
			clean = false
			break
		}
	}
	if clean {
		return set
	}
	kvs := make([]attribute.KeyValue, 0, set.Len())
	for it = set.Iter(); it.Next(); {
		kv := it.Attribute()
		kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(escapeName(string(kv.Key))), Value: kv.Value})
	}
	return attribute.NewSet(kvs...)
}
