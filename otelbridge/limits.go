package otelbridge

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/internal/ratelog"
)

// What the bridge counts for memory (see Memory in the package
// documentation): what a series, an instrument or a series table entry holds,
// plus what one Prometheus scrape of it allocates (the text format, the
// heaviest exposition: a histogram repeats its attributes on every bucket
// line). The constants are upper bounds of what was measured with the
// OpenTelemetry Go SDK v1.47, its Prometheus exporter v0.69 and one reader;
// TestMemoryAccountingBounds checks them.
const (
	// attributeOverhead is a counter's, up-down counter's or gauge's
	// attribute besides its bytes: an attribute.KeyValue (64) and a
	// scrape's label pair; each byte of key and value counts three times
	// (held, and copied twice by a scrape).
	attributeOverhead = 576
	// observableSeriesCost is a counter, up-down counter or gauge series
	// besides its attributes.
	observableSeriesCost = 4 << 10
	// histogramSeriesBase and histogramBoundCost: a histogram series with b
	// bucket boundaries, besides its attributes, counts histogramSeriesBase +
	// b*histogramBoundCost. An attribute counts histogramAttributeOverhead,
	// and each byte of key and value (plus 16 per attribute) counts b+5
	// times: held once, written on the b+4 lines of a scrape.
	histogramSeriesBase        = 7 << 10
	histogramBoundCost         = 1 << 10
	histogramAttributeOverhead = 1280
	// instrumentOverhead is an instrument besides its overflow series (which
	// is counted with it, at once): the bridge's, the SDK's and the
	// exposition's metric family.
	instrumentOverhead = 8 << 10
	// tableEntryOverhead is a series table entry besides its key (the
	// sample's name and tags): the entry, its map slot, the series verdict.
	tableEntryOverhead = 160
	// plainAttributeOverhead is what an attribute counts for against
	// WithMaxAttributeBytes besides its key and value bytes.
	plainAttributeOverhead = 64
)

// defaultBounds is the number of bucket boundaries of the SDK's default
// explicit histogram buckets.
const defaultBounds = 15

// attributeSize returns the number of attributes in s and the bytes of their
// keys and values (a string's length; 8 per element of a numeric or bool
// slice, 16 plus the length per element of a string slice; nothing for a
// bool or a number).
func attributeSize(s attribute.Set) (n, raw int64) {
	it := s.Iter()
	for it.Next() {
		kv := it.Attribute()
		n++
		raw += int64(len(kv.Key))
		switch v := kv.Value; v.Type() {
		case attribute.STRING:
			raw += int64(len(v.AsString()))
		case attribute.STRINGSLICE:
			for _, s := range v.AsStringSlice() {
				raw += 16 + int64(len(s))
			}
		case attribute.BOOLSLICE:
			raw += 8 * int64(len(v.AsBoolSlice()))
		case attribute.INT64SLICE:
			raw += 8 * int64(len(v.AsInt64Slice()))
		case attribute.FLOAT64SLICE:
			raw += 8 * int64(len(v.AsFloat64Slice()))
		}
	}
	return n, raw
}

// plainAttributeBytes is what a series' attributes count for against
// WithMaxAttributeBytes: plainAttributeOverhead per attribute plus the bytes
// of keys and values.
func plainAttributeBytes(n, raw int64) int64 { return n*plainAttributeOverhead + raw }

// seriesCost is what a series of inst with n attributes of raw bytes counts
// for.
func seriesCost(inst *instrument, n, raw int64) int64 {
	if !inst.isHistogram() {
		return observableSeriesCost + n*attributeOverhead + 3*raw
	}
	b := int64(inst.bounds)
	return histogramSeriesBase + b*histogramBoundCost + n*histogramAttributeOverhead + (b+5)*(raw+16*n)
}

// overflowN and overflowRaw are the size of overflowSet.
const overflowN, overflowRaw = 1, int64(len("otel.metric.overflow"))

// instrumentCost is what an instrument counts for, its overflow series
// included.
func instrumentCost(inst *instrument) int64 {
	return instrumentOverhead + seriesCost(inst, overflowN, overflowRaw)
}

// Overflow reasons: why a new series was recorded in its instrument's
// overflow series. Slot 0 is "none".
const (
	oInstrumentSeries = 1 + iota
	oSeries
	oReservedSeries
	oHistogramSeries
	oAttributeBytes
	oMemory
	numOverflowReasons
)

// The reasons under which samples recorded in an overflow series are counted
// (gunicornotel.series.overflow, Stats.SeriesOverflowByReason): the limit that
// sent their series there. They are recorded, not rejected.
const (
	// ReasonInstrumentSeriesLimit: WithMaxSeriesPerInstrument.
	ReasonInstrumentSeriesLimit = "instrument_series_limit"
	// ReasonSeriesLimit: WithMaxSeries.
	ReasonSeriesLimit = "series_limit"
	// ReasonReservedSeriesLimit: WithMaxReservedSeries.
	ReasonReservedSeriesLimit = "reserved_series_limit"
	// ReasonHistogramSeriesLimit: WithMaxHistogramSeries.
	ReasonHistogramSeriesLimit = "histogram_series_limit"
	// ReasonAttributeBytes: WithMaxAttributeBytes.
	ReasonAttributeBytes = "attribute_bytes"
	// ReasonMemoryLimit: WithMaxMemory. It is also the reason under which a
	// sample is rejected when its mapping names a new instrument that
	// WithMaxMemory has no room for.
	ReasonMemoryLimit = "memory_limit"
)

// The reasons under which capped sample weights are counted
// (gunicornotel.samples.weight_capped, Stats.WeightCappedByReason).
const (
	// ReasonSampleWeight: the sample's 1/rate was over WithMaxSampleWeight.
	ReasonSampleWeight = "sample_weight"
	// ReasonDatagramWeight: the datagram's budget of observations
	// (WithMaxDatagramWeight) was used up.
	ReasonDatagramWeight = "datagram_weight"
)

const (
	cSample = iota
	cDatagram
	numCapReasons
)

var overflowNames = [numOverflowReasons]string{
	oInstrumentSeries: ReasonInstrumentSeriesLimit,
	oSeries:           ReasonSeriesLimit,
	oReservedSeries:   ReasonReservedSeriesLimit,
	oHistogramSeries:  ReasonHistogramSeriesLimit,
	oAttributeBytes:   ReasonAttributeBytes,
	oMemory:           ReasonMemoryLimit,
}

var capNames = [numCapReasons]string{cSample: ReasonSampleWeight, cDatagram: ReasonDatagramWeight}

// pool is room for series: a number of series and the bytes they count for.
type pool struct {
	series, bytes       atomic.Int64
	maxSeries, maxBytes int64
	seriesReason        int // the overflow reason when maxSeries is reached
}

// takeBytes makes room for cost bytes (an instrument), or reports false.
func (p *pool) takeBytes(cost int64) bool {
	if p.bytes.Add(cost) > p.maxBytes {
		p.bytes.Add(-cost)
		return false
	}
	return true
}

// take makes room for one series of the given cost, or returns the overflow
// reason when there is none.
func (p *pool) take(cost int64) int {
	if p.series.Add(1) > p.maxSeries {
		p.series.Add(-1)
		return p.seriesReason
	}
	if p.bytes.Add(cost) > p.maxBytes {
		p.bytes.Add(-cost)
		p.series.Add(-1)
		return oMemory
	}
	return 0
}

// give returns the room of one series.
func (p *pool) give(cost int64) {
	p.series.Add(-1)
	p.bytes.Add(-cost)
}

// pressed reports whether the pool is 90% full or more, in series or bytes.
func (p *pool) pressed() bool {
	return 10*p.series.Load() >= 9*p.maxSeries || 10*p.bytes.Load() >= 9*p.maxBytes
}

// Epochs: the hot path cannot read the clock for each sample (a clock read
// costs as much as a whole sample on some virtual machines), so it stamps a
// series with the current epoch, a number that advances at most once per
// epochTick: at each collection, and every 64 datagrams of a counter stripe. An update stamped with epoch x happened before epoch x+1
// started: that start is an upper bound of the series' last update, so a
// series is never forgotten early, and at most one epoch late.
const (
	epochTick = int64(time.Second)
	epochRing = 4096 // epoch starts remembered; older epochs end no later than the oldest kept
	deadEpoch = math.MaxUint32
)

type epochs struct {
	// cur and curStart, read by every sample, are on a cache line of their
	// own: mu is written by each reader of starts.
	_        [64]byte
	cur      atomic.Uint32
	curStart atomic.Int64 // start of cur, on the bridge's clock
	_        [64 - 16]byte
	mu       sync.RWMutex
	starts   [epochRing]int64 // starts[e%epochRing]: the start of epoch e, for the last epochRing epochs
}

// advance starts a new epoch if the current one began a tick or more before
// now.
func (e *epochs) advance(now int64) {
	if now-e.curStart.Load() < epochTick {
		return
	}
	e.mu.Lock()
	if c := e.cur.Load(); now-e.starts[c%epochRing] >= epochTick && c+1 < deadEpoch {
		c++
		e.starts[c%epochRing] = now
		e.curStart.Store(now)
		e.cur.Store(c)
	}
	e.mu.Unlock()
}

// end returns a time no earlier than any update stamped with epoch x, and
// false while x is the current epoch.
func (e *epochs) end(x uint32) (int64, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c := e.cur.Load()
	if x >= c {
		return 0, false
	}
	next := x + 1
	if c-next >= epochRing {
		next = c - epochRing + 1 // the oldest start kept, later than x+1's
	}
	return e.starts[next%epochRing], true
}

// Limits that drop data, for the log: the overflow reasons index themselves.
const (
	lNames          = 0
	lSampleWeight   = numOverflowReasons + cSample
	lDatagramWeight = numOverflowReasons + cDatagram
	lReclaim        = numOverflowReasons + numCapReasons
	numLimits       = lReclaim + 1
	overflowEffect  = "new series recorded in the instrument's overflow series (otel.metric.overflow=true)"
	weightCapEffect = "sample weight capped: fewer observations or a smaller increment recorded"
	limitLogMessage = "otelbridge: a limit dropped data"
)

type limitInfo struct{ reason, option, effect string }

var limitInfos = [numLimits]limitInfo{
	lNames:            {ReasonNameLimit, "WithMaxInstruments", "samples of new instrument names rejected"},
	oInstrumentSeries: {ReasonInstrumentSeriesLimit, "WithMaxSeriesPerInstrument", overflowEffect},
	oSeries:           {ReasonSeriesLimit, "WithMaxSeries", overflowEffect},
	oReservedSeries:   {ReasonReservedSeriesLimit, "WithMaxReservedSeries", overflowEffect},
	oHistogramSeries:  {ReasonHistogramSeriesLimit, "WithMaxHistogramSeries", overflowEffect},
	oAttributeBytes:   {ReasonAttributeBytes, "WithMaxAttributeBytes", overflowEffect},
	oMemory:           {ReasonMemoryLimit, "WithMaxMemory", overflowEffect + "; samples of new instrument names rejected"},
	lSampleWeight:     {ReasonSampleWeight, "WithMaxSampleWeight", weightCapEffect},
	lDatagramWeight:   {ReasonDatagramWeight, "WithMaxDatagramWeight", weightCapEffect},
	lReclaim:          {"idle_reclaimed", "WithReclaimIdle", "idle series forgotten to make room; they start again from their next sample"},
}

// limitValue is the configured value of a limit, for the log.
func (c *config) limitValue(l int) any {
	switch l {
	case lNames:
		return c.maxInstruments
	case oInstrumentSeries:
		return c.maxSeriesPerInstrument
	case oSeries:
		return c.maxSeries
	case oReservedSeries:
		return c.maxReservedSeries
	case oHistogramSeries:
		return c.maxHistogramSeries
	case oAttributeBytes:
		return c.maxAttributeBytes
	case oMemory:
		return c.maxMemory
	case lSampleWeight:
		return c.maxSampleWeight
	case lDatagramWeight:
		return c.maxDatagramWeight
	case lReclaim:
		return c.reclaimIdle
	}
	return nil
}

// limitLog says in the log that a limit dropped data: the first time, and
// then at most once per ratelog.Interval, with the count since the last line.
type limitLog struct {
	total atomic.Uint64 // what the limit dropped
	rate  ratelog.Limiter
}

// noteLimit counts n drops by limit l at time now (bridge clock), and logs
// them if the limit was not logged within ratelog.Interval.
func (b *Bridge) noteLimit(l int, n uint64, now int64) {
	ll := &b.limitLogs[l]
	since, ok := ll.rate.Due(now, ll.total.Add(n))
	if !ok {
		return
	}
	info := limitInfos[l]
	b.cfg.logger.Warn(limitLogMessage,
		"limit", info.reason, "option", info.option, "value", b.cfg.limitValue(l),
		"count", since, "effect", info.effect)
}
