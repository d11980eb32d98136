package statsd

// Type is a StatsD metric type, as written after the first '|' of a line.
type Type uint8

// The StatsD and DogStatsD metric types.
const (
	Counter      Type = iota + 1 // "c": add the value (divided by the sample rate)
	Gauge                        // "g": set the value, or move it when signed (+N/-N)
	Timer                        // "ms": a duration in milliseconds
	Histogram                    // "h": a value to observe, as sent
	Distribution                 // "d": a value to observe, as sent (DogStatsD)
	Set                          // "s": a member of a set; see Sample.Member
)

var typeNames = [...]string{
	Counter:      "counter",
	Gauge:        "gauge",
	Timer:        "timer",
	Histogram:    "histogram",
	Distribution: "distribution",
	Set:          "set",
}

var typeSymbols = [...]string{
	Counter:      "c",
	Gauge:        "g",
	Timer:        "ms",
	Histogram:    "h",
	Distribution: "d",
	Set:          "s",
}

// String returns the type's name: "counter", "gauge", "timer", "histogram",
// "distribution" or "set"; "unknown" for any other value.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "unknown"
}

// Symbol returns the type as it is written on the wire: "c", "g", "ms", "h", "d"
// or "s"; "" for any other value.
func (t Type) Symbol() string {
	if int(t) < len(typeSymbols) {
		return typeSymbols[t]
	}
	return ""
}

// Sample is one measurement read from a StatsD line. A line with packed values
// (name:1:2:3|ms) gives one Sample per value, sharing Name, Tags and the rest.
//
// Name, Tags, ContainerID and Member are views into the buffer the line was read
// from: they are valid only until the Handler call (or the Parser call) that
// produced the Sample returns. Copy them (string(s.Name)) to keep them longer.
type Sample struct {
	// Name is the metric name, everything before the first ':'. Never empty.
	Name []byte
	// Tags is the raw DogStatsD tag section without its "|#" (for example
	// "env:prod,team"); empty when the line has none. Iterate it with TagIter.
	Tags []byte
	// ContainerID is the DogStatsD container id ("|c:<id>"); empty when absent.
	ContainerID []byte
	// Member is the member of a Set sample, as sent; empty for other types.
	Member []byte
	// Value is the number sent: finite, never NaN or ±Inf. For a gauge with
	// Delta set it is the signed change. It is 0 for a Set.
	Value float64
	// Rate is the sample rate ("|@0.1"), in (0, 1]; 1 when the line has none.
	Rate float64
	// Timestamp is the DogStatsD timestamp ("|T<unix seconds>"); 0 when absent.
	Timestamp int64
	// Type is the metric type. Always one of the declared Type constants.
	Type Type
	// Delta reports that a gauge value was written with an explicit sign
	// ("+3", "-2"): it moves the last value instead of replacing it.
	Delta bool
}

// TagIter returns an iterator over the sample's DogStatsD tags.
func (s *Sample) TagIter() TagIter { return TagIter{tags: s.Tags} }

// TagIter iterates over a DogStatsD tag section without allocating. Use it as:
//
//	it := s.TagIter()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//
// A tag "k:v" gives key "k" and value "v"; a bare tag "k" gives an empty value;
// only the first ':' splits, so "k:v:w" gives value "v:w". Empty tags (from
// stray commas, as in "a:b,,c,") are skipped.
//
// Declare the iterator before the loop, as above, rather than in a
// three-clause for statement: there, since Go 1.22, each iteration gets its
// own copy of it, and copying the iterator just after Next wrote to it costs
// about as much as the tag search itself (a load stalled on fresh stores).
type TagIter struct {
	tags []byte
	// The current tag is tags[k0:k1], ':', tags[v0:v1]; the next one
	// starts at pos. Offsets rather than slices: Next then stores no
	// pointers, which the compiler would guard with write barriers.
	pos, k0, k1, v0, v1 int
}

// NewTagIter returns an iterator over a raw tag section such as "env:prod,team".
func NewTagIter(tags []byte) TagIter { return TagIter{tags: tags} }

// Next advances to the next tag and reports whether there is one.
//
// Tags are short, so plain loops find the ':' and the ',' faster than calls
// to bytes.IndexByte would.
func (it *TagIter) Next() bool {
	tags, i := it.tags, it.pos
	for i < len(tags) {
		k0 := i
		for i < len(tags) && tags[i] != ':' && tags[i] != ',' {
			i++
		}
		k1, v0 := i, i
		if i < len(tags) && tags[i] == ':' {
			v0 = i + 1
			for i = v0; i < len(tags) && tags[i] != ','; i++ {
			}
		}
		if i == k0 {
			i++ // an empty tag
			continue
		}
		it.pos, it.k0, it.k1, it.v0, it.v1 = i+1, k0, k1, v0, i
		return true
	}
	it.pos, it.k0, it.k1, it.v0, it.v1 = i, 0, 0, 0, 0
	return false
}

// Key returns the current tag's key. It is a view into the sample's buffer.
func (it *TagIter) Key() []byte { return it.tags[it.k0:it.k1] }

// Value returns the current tag's value, empty for a bare tag. It is a view
// into the sample's buffer.
func (it *TagIter) Value() []byte { return it.tags[it.v0:it.v1] }
