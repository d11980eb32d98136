package main

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// The daemon serves what statsd_exporter serves for the same traffic and
// mapping file, while the library keeps OpenTelemetry names and units. The
// translation happens here, between the mapper and the bridge: statsdNames
// renames every mapping but the Gunicorn profile's to the metric name
// statsd_exporter would expose, and the bridge makes those instruments with
// the Meter of a MeterProvider whose Prometheus exporter adds no suffix and
// escapes nothing (routing.go: meters.pick, the bridge's
// otelbridge.WithMeterFor).

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

// statsdNames returns the Mapper the daemon gives the bridge. The built-in
// Gunicorn profile, when on (profile not nil), maps Gunicorn's own names with
// OpenTelemetry names (gunicorn.requests, served as gunicorn_requests_total)
// and its reserved instruments; every other sample is mapped by m (the
// mapping file's rules, else generically) and renamed by asStatsdExporter.
// noFile says there is no mapping file. The composition is the library's
// (otelbridge.Chain, otelbridge.Rewrite), which keeps what the bridge asks of
// the mappers: the profile's reserved mappings, the cache and tag counters.
func statsdNames(profile, m *mapper.Mapper, noFile bool) otelbridge.Mapper {
	rename := otelbridge.Rewrite{Mapper: m, Func: func(mp *mapper.Mapping) *mapper.Mapping {
		return asStatsdExporter(mp, noFile)
	}}
	if profile == nil {
		return rename
	}
	return otelbridge.Chain{profile, rename}
}

// asStatsdExporter returns a copy of mp named and labelled as statsd_exporter
// would expose it:
//
//   - the metric name escaped (orders.sold: orders_sold), with no _total or
//     unit suffix;
//   - the label names escaped the same way (my-key: my_key);
//   - no unit, so a timer and a histogram of one name are one metric, as
//     there;
//   - histograms without boundaries of their own get statsd_exporter's
//     default buckets (in seconds for timers);
//   - without a mapping file (noFile), histograms are summaries with
//     mapper.DefaultSummary's options, as statsd_exporter serves them.
//
// The bridge asks for it only for a series it has not seen (or after a
// reload): the Mapping it allocates is kept in the bridge's series table,
// not made again per sample.
func asStatsdExporter(mp *mapper.Mapping, noFile bool) *mapper.Mapping {
	out := *mp
	out.Name = escapeName(mp.Name)
	out.Unit = ""
	if out.Kind == mapper.KindHistogram {
		if out.Buckets == nil {
			out.Buckets = mapper.PrometheusDefaultBuckets
		}
		if noFile {
			out.Summary = mapper.DefaultSummary
		}
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
