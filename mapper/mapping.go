package mapper

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// Kind is the kind of OpenTelemetry instrument a sample is recorded in.
type Kind uint8

// The instrument kinds a Mapping can name. They are prefixed with Kind so
// that a switch over them does not read like one over the StatsD types
// (statsd.Counter, statsd.Gauge, statsd.Histogram) it often sits beside.
const (
	KindCounter       Kind = iota + 1 // a monotonic sum: Float64Counter
	KindUpDownCounter                 // a sum that may fall: Float64UpDownCounter
	KindGauge                         // the last value: Float64Gauge
	KindHistogram                     // a distribution: Float64Histogram
)

var kindNames = [...]string{
	KindCounter:       "counter",
	KindUpDownCounter: "updowncounter",
	KindGauge:         "gauge",
	KindHistogram:     "histogram",
}

// String returns "counter", "updowncounter", "gauge" or "histogram"; "unknown"
// for any other value.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Mapping says where a sample goes: which instrument, with which attributes,
// and how its value is scaled. A Mapping returned by a Mapper is shared and
// must not be modified.
type Mapping struct {
	// Drop reports that the sample is to be discarded on purpose (a drop rule,
	// a rule whose name expands to nothing, or an unmatched name when the
	// mapper is told to drop those). When Drop is set, the other fields are
	// zero.
	Drop bool
	// Name is the OpenTelemetry instrument name, such as "gunicorn.requests".
	Name string
	// Kind is the instrument kind.
	Kind Kind
	// Unit is the instrument unit in UCUM, such as "s" or "{request}"; may be empty.
	Unit string
	// Description is the instrument description; may be empty.
	Description string
	// Scale multiplies every value before it is recorded (0.001 turns
	// milliseconds into seconds). It is never 0 (1 means as sent), and is
	// negative only when a mapping file's rule says so (scale: -1 turns a
	// gauge's sign, as in statsd_exporter).
	Scale float64
	// Buckets are the explicit histogram boundaries to advise, in recorded
	// units (after Scale); nil leaves the SDK's default. Histograms only.
	Buckets []float64
	// Attributes are the attributes of the series: from the name (prefix,
	// status code, level, rule captures) and from the DogStatsD tags. Tags
	// that would make a Prometheus exposition invalid are not in it (see
	// TagStats).
	Attributes attribute.Set
	// TTL is how long the series may go without samples before its state may
	// be forgotten; 0 means never. Set from a mapping file's ttl or
	// defaults.ttl.
	TTL time.Duration
	// Summary is set on a histogram mapped by a statsd_exporter mapping
	// file (WithRules) that statsd_exporter would expose as a summary: its
	// observer_type is summary or not written (statsd_exporter's default),
	// in the rule or in the file's defaults for a name no rule matches. It
	// is nil for an observer_type of histogram, for every other kind, and
	// without a mapping file. otelbridge ignores it (every observer is an
	// OpenTelemetry histogram); a program that serves Prometheus itself may
	// expose the series as a summary with these options. Shared: do not
	// modify it.
	Summary *SummaryOptions
	// Reserved marks the mappings of the built-in Gunicorn profile: a
	// consumer such as otelbridge keeps room for their instruments and
	// series apart from every other mapping's, so that no other traffic can
	// crowd Gunicorn's own metrics out.
	Reserved bool
}

// recordAs is the one place a StatsD type becomes an instrument: c is a
// counter, g a gauge, and ms, h and d are histograms. Timers are sent in
// milliseconds and recorded in seconds (scale 0.001, unit "s"), as
// statsd_exporter converts them; h and d are recorded as sent. Sets have no
// instrument (ok is false).
//
// Two callers depart from it on purpose, each in one visible line: a
// mapping file's rule with a scale multiplies it into the timer's 0.001 and
// leaves the unit empty, as the mapper cannot know the unit then
// (mapSample); and the Gunicorn profile records gunicorn.backlog, sent as a
// histogram, as a gauge (its last value), because it is a queue length
// (profBacklog).
func recordAs(t statsd.Type) (kind Kind, scale float64, unit string, ok bool) {
	switch t {
	case statsd.Counter:
		return KindCounter, 1, "", true
	case statsd.Gauge:
		return KindGauge, 1, "", true
	case statsd.Timer:
		return KindHistogram, 0.001, "s", true
	case statsd.Histogram, statsd.Distribution:
		return KindHistogram, 1, "", true
	}
	return 0, 0, "", false
}
