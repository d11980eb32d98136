package mapper

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Kind is the kind of OpenTelemetry instrument a sample is recorded in.
type Kind uint8

// The instrument kinds a Mapping can name.
const (
	Counter       Kind = iota + 1 // a monotonic sum: Float64Counter
	UpDownCounter                 // a sum that may fall: Float64UpDownCounter
	Gauge                         // the last value: Float64Gauge
	Histogram                     // a distribution: Float64Histogram
)

var kindNames = [...]string{
	Counter:       "counter",
	UpDownCounter: "updowncounter",
	Gauge:         "gauge",
	Histogram:     "histogram",
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
	// or an unmatched name when the mapper is told to drop those). When Drop is
	// set, the other fields are zero.
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
	// milliseconds into seconds). It is never 0: 1 means as sent.
	Scale float64
	// Buckets are the explicit histogram boundaries to advise, in recorded
	// units (after Scale); nil leaves the SDK's default. Histograms only.
	Buckets []float64
	// Attributes are the attributes of the series: from the name (prefix,
	// status code, level, rule captures) and from the DogStatsD tags.
	Attributes attribute.Set
	// TTL is how long the series may go without samples before its state may
	// be forgotten; 0 means never. Carried from a statsd_exporter rule file.
	TTL time.Duration
	// Reserved marks the mappings of the built-in Gunicorn profile: a
	// consumer such as otelbridge keeps room for their instruments and
	// series apart from every other mapping's, so that no other traffic can
	// crowd Gunicorn's own metrics out.
	Reserved bool
}
