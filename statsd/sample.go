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
// Name, Tags, ContainerID and Member are views into the buffer the line was
// read from, or, for what the line does not hold as one piece (a name with a
// SignalFX tag section cut out of its middle, name-embedded tags rewritten in
// DogStatsD form, several "|#" sections joined, and in DialectStatsdExporter
// the pieces of a multi-metric line and tags with the container id), into
// the scratch space of the Batch the Sample was parsed into. Either way they are valid only until
// the Handler call (or, for Parser.Parse, until the Batch is Reset) that
// produced the Sample returns. Copy them (string(s.Name)) to keep them longer.
type Sample struct {
	// Name is the metric name: everything before the first ':', without a
	// name-embedded tag section ("a.b" for "a.b,k=v:1|c", "a.b#k=v:1|c",
	// "a.b[k=v]:1|c" and "a.[k=v]b:1|c"). Never empty.
	Name []byte
	// Tags are the sample's tags of every format, in DogStatsD form: for a
	// line with only a "|#" section, that section as sent without its "|#"
	// (for example "env:prod,team"); when the name held tags, those first,
	// rewritten as "k:v" (only the well-formed ones), then the "|#"
	// sections, joined by ','. Empty when the line has none. Iterate it
	// with TagIter, which skips the malformed tags the parser dropped.
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

// TagIter returns an iterator over the sample's tags, of every format.
func (s *Sample) TagIter() TagIter { return TagIter{tags: s.Tags} }

// TagIter iterates over a tag section in DogStatsD form (Sample.Tags)
// without allocating. Use it as:
//
//	it := s.TagIter()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//
// A tag "k:v" gives key "k" and value "v"; only the first ':' splits, so
// "k:v:w" gives value "v:w". A bare tag "k" gives an empty value and Bare
// reports true; "k:" gives an empty value too, but is not bare. One leading
// '#' of a tag is not part of its key ("#k:v" gives key "k"). Empty tags
// (from stray commas, as in "a:b,,c,") and tags with an empty key (":v") are
// skipped: the parser counts them (Batch.TagErrors), except an empty last one.
//
// Declare the iterator before the loop, as above, rather than in a
// three-clause for statement: there, since Go 1.22, each iteration gets its
// own copy of it, and copying the iterator just after Next wrote to it costs
// about as much as the tag search itself (a load stalled on fresh stores).
type TagIter struct {
	tags []byte
	// The current tag is tags[k0:k1], ':', tags[v0:v1] (v0 == k1 when it
	// is bare); the next one starts at pos. Offsets rather than slices:
	// Next then stores no pointers, which the compiler would guard with
	// write barriers.
	pos, k0, k1, v0, v1 int
}

// NewTagIter returns an iterator over a tag section in DogStatsD form, such
// as "env:prod,team".
func NewTagIter(tags []byte) TagIter { return TagIter{tags: tags} }

// Next advances to the next tag and reports whether there is one.
//
// Tags are short, so plain loops find the ':' and the ',' faster than calls
// to bytes.IndexByte would.
func (it *TagIter) Next() bool {
	tags, i := it.tags, it.pos
	for i < len(tags) {
		if tags[i] == '#' {
			i++
		}
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
		if k1 == k0 {
			i++ // an empty tag, or an empty key: skipped up to its ','
			continue
		}
		it.pos, it.k0, it.k1, it.v0, it.v1 = i+1, k0, k1, v0, i
		return true
	}
	it.pos, it.k0, it.k1, it.v0, it.v1 = i, 0, 0, 0, 0
	return false
}

// Key returns the current tag's key, never empty while Next reports true.
// It is a view into the sample's buffer.
func (it *TagIter) Key() []byte { return it.tags[it.k0:it.k1] }

// Value returns the current tag's value, empty for a bare tag and for "k:".
// It is a view into the sample's buffer.
func (it *TagIter) Value() []byte { return it.tags[it.v0:it.v1] }

// Bare reports whether the current tag has no ':' at all (DogStatsD "team",
// as opposed to "team:"). statsd_exporter drops bare tags; so does a caller
// that follows it. Name-embedded tags are never bare.
func (it *TagIter) Bare() bool { return it.k1 > it.k0 && it.v0 == it.k1 }
