package otelbridge

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// The bridge's own rejection reasons. The parser's reasons (statsd.Reason's
// String: "malformed_line", "bad_value", "bad_type", ...) are counted under
// their own names next to these.
const (
	// ReasonNegativeCounter: a counter sample whose scaled, rate-weighted
	// increment is negative. Monotonic counters cannot fall.
	ReasonNegativeCounter = "negative_counter"
	// ReasonBadValue: the value is not finite after scaling, weighting by the
	// sample rate, or applying a gauge delta. The same string as the parser's
	// statsd.ReasonBadValue, counted together.
	ReasonBadValue = "bad_value"
	// ReasonTypeConflict: the mapping names an instrument that already exists
	// with another kind or unit. The existing instrument keeps working.
	ReasonTypeConflict = "type_conflict"
	// ReasonNameLimit: the mapping names a new instrument while
	// WithMaxInstruments names exist already (for reserved mappings: while
	// as many reserved instruments exist).
	ReasonNameLimit = "name_limit"
	// ReasonUnsupportedType: a StatsD set ("|s"): counting distinct members
	// is not supported.
	ReasonUnsupportedType = "unsupported_type"
	// ReasonBadName: the mapping names an instrument that OpenTelemetry does
	// not allow (empty, over 255 bytes, or, for the default Meter, not
	// [A-Za-z][A-Za-z0-9_./-]*: see WithMeterFor), or has an unknown Kind.
	ReasonBadName = "bad_name"
	// ReasonInstrumentError: the MeterProvider returned an error creating the
	// instrument.
	ReasonInstrumentError = "instrument_error"
)

// Slots of the per-reason counters: statsd.Reason values below ownReasonBase
// index themselves; slot 0 is "unknown".
const ownReasonBase = 16

const (
	rNegativeCounter = ownReasonBase + iota
	rTypeConflict
	rNameLimit
	rUnsupportedType
	rBadName
	rInstrumentError
	rMemoryLimit
	numReasonSlots
)

const rBadValue = int(statsd.ReasonBadValue)

var reasonNames [numReasonSlots]string

func init() {
	reasonNames[0] = "unknown"
	for _, r := range statsd.Reasons() {
		if int(r) < ownReasonBase {
			reasonNames[r] = r.String()
		}
	}
	reasonNames[rNegativeCounter] = ReasonNegativeCounter
	reasonNames[rTypeConflict] = ReasonTypeConflict
	reasonNames[rNameLimit] = ReasonNameLimit
	reasonNames[rUnsupportedType] = ReasonUnsupportedType
	reasonNames[rBadName] = ReasonBadName
	reasonNames[rInstrumentError] = ReasonInstrumentError
	reasonNames[rMemoryLimit] = ReasonMemoryLimit
}

func parseReasonSlot(r statsd.Reason) int {
	if int(r) < ownReasonBase && reasonNames[r] != "" {
		return int(r)
	}
	return 0
}

const numTypeSlots = 8 // statsd.Type values are small; slot 0 is unused

// tally counts what one Handle call did, on the stack; flush adds it to the
// shared counters with one atomic add per non-zero field. The common case (no
// rejection, drop or overflow) costs two atomic adds per batch.
type tally struct {
	types                    [numTypeSlots]uint32
	typeMask                 uint8 // bit i: types[i] != 0
	rare                     bool  // any of the fields below is non-zero
	dropped, rejectedSamples uint32
	overflow                 [numOverflowReasons]uint32
	capped                   [numCapReasons]uint32
	tagErrors                uint32                    // tags the parser dropped (statsd.Batch.TagErrors)
	forgiven                 [statsd.NumReasons]uint32 // lines kept by a lenient dialect (statsd.Batch.Forgiven)
	reasons                  [numReasonSlots]uint32
}

func (t *tally) reject(slot int) {
	t.reasons[slot]++
	t.rare = true
}

// counters are the bridge's cumulative counters. Samples is the sum of
// types; Recorded is Samples minus dropped and rejectedSamples.
//
// The counters every batch adds to (datagrams and types) are striped over
// cache lines, so that goroutines handling batches at once on different cores
// do not contend for one line; the stripe is picked from the Batch's address
// (a server reader, and a P's pooled batch in HandleDatagram, each keep their
// own). The rest change only on the rare path.
type counters struct {
	stripes                  [numStripes]stripe
	dropped, rejectedSamples atomic.Uint64
	overflow                 [numOverflowReasons]atomic.Uint64
	capped                   [numCapReasons]atomic.Uint64
	reasons                  [numReasonSlots]atomic.Uint64
	expired, reclaimed       atomic.Uint64 // series forgotten: ttl, idle under pressure
	tagErrors                atomic.Uint64 // tags the parser dropped
	forgiven                 [statsd.NumReasons]atomic.Uint64
}

const numStripes = 16 // a power of two

type stripe struct {
	datagrams atomic.Uint64
	types     [numTypeSlots]atomic.Uint64
	_         [128 - 8 - 8*numTypeSlots]byte // a stripe per 128 bytes: no false sharing, adjacent-line prefetch included
}

// stripeOf picks a stripe for a batch by hashing its address.
func stripeOf(b *statsd.Batch) int {
	return int((uint64(uintptr(unsafe.Pointer(b))) * 0x9e3779b97f4a7c15) >> (64 - 4))
}

// tickEvery is how many datagrams of one stripe pass between two looks at
// the clock, for the epochs (see epochs).
const tickEvery = 64

// flush adds a tally. The types are added before the rest, and Stats reads
// them after the rest, so that Recorded never comes out negative. It reports
// whether the stripe's datagram count passed a multiple of tickEvery: time to
// look at the clock.
func (c *counters) flush(t *tally, datagrams int, stripe int) (tick bool) {
	st := &c.stripes[stripe%numStripes]
	if datagrams > 0 {
		n := st.datagrams.Add(uint64(datagrams))
		tick = n/tickEvery != (n-uint64(datagrams))/tickEvery
	}
	for m := t.typeMask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros8(m)
		st.types[i].Add(uint64(t.types[i]))
	}
	if !t.rare {
		return tick
	}
	if t.dropped != 0 {
		c.dropped.Add(uint64(t.dropped))
	}
	for i, v := range t.overflow {
		if v != 0 {
			c.overflow[i].Add(uint64(v))
		}
	}
	for i, v := range t.capped {
		if v != 0 {
			c.capped[i].Add(uint64(v))
		}
	}
	if t.rejectedSamples != 0 {
		c.rejectedSamples.Add(uint64(t.rejectedSamples))
	}
	if t.tagErrors != 0 {
		c.tagErrors.Add(uint64(t.tagErrors))
	}
	for i, v := range t.forgiven {
		if v != 0 {
			c.forgiven[i].Add(uint64(v))
		}
	}
	for i, v := range t.reasons {
		if v != 0 {
			c.reasons[i].Add(uint64(v))
		}
	}
	return tick
}

// datagrams and types sum the stripes.
func (c *counters) datagrams() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].datagrams.Load()
	}
	return n
}

func (c *counters) types() [numTypeSlots]uint64 {
	var out [numTypeSlots]uint64
	for i := range c.stripes {
		for j := range out {
			out[j] += c.stripes[i].types[j].Load()
		}
	}
	return out
}

// Stats are the bridge's counters since it was made. Counters only grow;
// Series, ReservedSeries, Memory and Instruments are current sizes.
//
// Every parsed sample is counted once in Samples (and SamplesByType), and then
// exactly once in Recorded, Dropped or Rejected. Lines the parser rejected are
// counted in Rejected too (they never became samples), so
//
//	Samples == Recorded + Dropped + Rejected - (lines rejected by the parser)
type Stats struct {
	// Datagrams counts the datagrams (TCP: lines) handed to the bridge.
	Datagrams uint64
	// Samples counts the parsed samples handed to the bridge.
	Samples uint64
	// SamplesByType counts Samples by StatsD type (statsd.Type's String:
	// "counter", "gauge", "timer", "histogram", "distribution", "set").
	SamplesByType map[string]uint64
	// Recorded counts the samples recorded in an instrument (a sampled
	// histogram sample counts once here, however many observations it made).
	Recorded uint64
	// Dropped counts the samples the Mapper dropped on purpose (Mapping.Drop).
	Dropped uint64
	// Rejected counts rejected samples and rejected lines, all reasons.
	Rejected uint64
	// RejectedByReason counts Rejected by reason: the parser's reasons and
	// the bridge's own (the Reason... constants). Only non-zero entries.
	RejectedByReason map[string]uint64
	// ForgivenByReason counts the lines a lenient statsd.Dialect kept where
	// statsd.DialectDefault rejects them (statsd.Batch.Forgiven), by the
	// reason it would have rejected them for: "bad_sample_rate",
	// "bad_timestamp". Their samples are counted as any other.
	ForgivenByReason map[string]uint64
	// SeriesOverflow counts the samples recorded in an instrument's overflow
	// series (otel.metric.overflow=true) because a limit kept their series
	// from having its own.
	SeriesOverflow uint64
	// SeriesOverflowByReason counts SeriesOverflow by the limit: reasons
	// "instrument_series_limit", "series_limit", "reserved_series_limit",
	// "histogram_series_limit", "attribute_bytes", "memory_limit". Only
	// non-zero entries.
	SeriesOverflowByReason map[string]uint64
	// WeightCapped counts the samples whose weight was capped (counted as
	// fewer observations, or a smaller increment, than 1/rate).
	WeightCapped uint64
	// WeightCappedByReason counts WeightCapped by reason: "sample_weight"
	// (WithMaxSampleWeight), "datagram_weight" (WithMaxDatagramWeight). Only
	// non-zero entries.
	WeightCappedByReason map[string]uint64
	// SeriesExpired counts the series forgotten because their mapping's TTL
	// passed without a sample; SeriesReclaimed those forgotten, idle, to make
	// room (WithReclaimIdle).
	SeriesExpired, SeriesReclaimed uint64
	// Series is the number of series (instrument and attribute set) tracked,
	// overflow series included; ReservedSeries those of reserved mappings.
	Series, ReservedSeries int
	// Memory is what the bridge's instruments, series and series table
	// count for (see Memory in the package documentation), against
	// WithMaxMemory.
	Memory int64
	// Instruments is the number of instrument names taken, reserved ones and
	// those the provider refused (instrument_error) included.
	Instruments int
	// SeriesCacheHits and SeriesCacheMisses count lookups in the series
	// table; a miss calls the Mapper.
	SeriesCacheHits, SeriesCacheMisses uint64
	// MapperCacheHits and MapperCacheMisses are the Mapper's own cache
	// counters, when it has a CacheStats method; zero otherwise.
	MapperCacheHits, MapperCacheMisses uint64
	// TagsDropped counts the tags left out of series while their samples
	// were recorded, by reason: "bad_tag" for a tag the parser could not
	// read (an empty key: statsd.Batch.TagErrors), and the Mapper's reasons
	// when it has a TagStats method (mapper.TagStats: "reserved",
	// "conflict", "invalid", "bare", "too_many", "key_too_long"; and
	// "value_truncated", a value cut short but kept).
	TagsDropped map[string]uint64
}

// Stats returns the bridge's counters. It is safe to call at any time.
func (b *Bridge) Stats() Stats {
	c := &b.counters
	// The rest before the types: see flush.
	s := Stats{
		Dropped:                c.dropped.Load(),
		RejectedByReason:       make(map[string]uint64),
		ForgivenByReason:       make(map[string]uint64),
		SamplesByType:          make(map[string]uint64),
		SeriesOverflowByReason: make(map[string]uint64),
		WeightCappedByReason:   make(map[string]uint64),
		SeriesExpired:          c.expired.Load(),
		SeriesReclaimed:        c.reclaimed.Load(),
		ReservedSeries:         int(b.reserved.series.Load()),
		Memory:                 b.reserved.bytes.Load() + b.generic.bytes.Load(),
	}
	s.Series = s.ReservedSeries + int(b.generic.series.Load()+b.overflowSeries.Load())
	for i := range c.overflow {
		if v := c.overflow[i].Load(); v != 0 {
			s.SeriesOverflowByReason[overflowNames[i]] = v
			s.SeriesOverflow += v
		}
	}
	for i := range c.capped {
		if v := c.capped[i].Load(); v != 0 {
			s.WeightCappedByReason[capNames[i]] = v
			s.WeightCapped += v
		}
	}
	rejectedSamples := c.rejectedSamples.Load()
	for i := range c.reasons {
		if v := c.reasons[i].Load(); v != 0 {
			s.RejectedByReason[reasonNames[i]] += v
			s.Rejected += v
		}
	}
	for i := range c.forgiven {
		if v := c.forgiven[i].Load(); v != 0 {
			s.ForgivenByReason[statsd.Reason(i).String()] = v
		}
	}
	for i, v := range c.types() {
		if v != 0 {
			s.SamplesByType[statsd.Type(i).String()] += v
			s.Samples += v
		}
	}
	s.Datagrams = c.datagrams()
	s.Recorded = s.Samples - s.Dropped - rejectedSamples
	s.Instruments = int(b.ninstruments.Load()) // not instMu: Stats runs in a callback (see Bridge.instMu)
	cs := b.table.Stats()
	s.SeriesCacheHits, s.SeriesCacheMisses = cs.Hits, cs.Misses
	s.Memory += cs.Bytes
	b.mapperMu.Lock()
	s.MapperCacheHits, s.MapperCacheMisses = b.mapperHitsBase, b.mapperMissesBase
	if m, ok := b.mapper.Load().m.(cacheStatser); ok {
		cs := m.CacheStats()
		s.MapperCacheHits += cs.Hits
		s.MapperCacheMisses += cs.Misses
	}
	tags := b.mapperTagsBase
	if m, ok := b.mapper.Load().m.(tagStatser); ok {
		tags = tags.Plus(m.TagStats())
	}
	b.mapperMu.Unlock()
	s.TagsDropped = tags.ByReason()
	if n := c.tagErrors.Load(); n != 0 {
		s.TagsDropped[statsd.ReasonBadTag.String()] = n
	}
	return s
}

// series.reject holds a reason slot in a byte.
var _ [255 - numReasonSlots]struct{}
