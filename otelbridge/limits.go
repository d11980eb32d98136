package otelbridge

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// What the bridge counts for memory (see Memory in the package
// documentation). The overheads are upper bounds of what was measured with
// the OpenTelemetry Go SDK v1.47 and one reader (TestMemoryOverheads); each
// further reader of the same MeterProvider adds its own copy of the SDK's
// part.
const (
	// attributeOverhead is an attribute besides its key and value bytes: an
	// attribute.KeyValue.
	attributeOverhead = 64
	// observableSeriesOverhead is a counter, up-down counter or gauge series
	// besides its attributes: the bridge's state and map entry, and the
	// SDK's per-collection state for it.
	observableSeriesOverhead = 640
	// histogramSeriesOverhead is a histogram series besides its attributes:
	// the bridge's state, and the SDK's buckets (hot and cold) and exemplar
	// reservoir. Histograms with many buckets cost more: see seriesCost.
	histogramSeriesOverhead = 2560
	// histogramBucketOverhead is one bucket boundary more than the SDK's
	// default 15 buckets: two counts and an exemplar slot.
	histogramBucketOverhead = 128
	// instrumentOverhead is an instrument: the bridge's, the SDK's (with its
	// callback registration) and the instrument's overflow series.
	instrumentOverhead = 8192
	// tableEntryOverhead is a series table entry besides its key: the entry,
	// its map slot and the series verdict it holds.
	tableEntryOverhead = 160
)

// defaultBucketCount is the number of boundaries of the SDK's default
// explicit histogram buckets.
const defaultBucketCount = 15

// attributeBytes is what a series' attributes count for: per attribute,
// attributeOverhead plus the bytes of its key and value (a string's length;
// 8 bytes per element of a slice; nothing more for a bool or a number).
func attributeBytes(s attribute.Set) int64 {
	var n int64
	it := s.Iter()
	for it.Next() {
		kv := it.Attribute()
		n += attributeOverhead + int64(len(kv.Key))
		switch v := kv.Value; v.Type() {
		case attribute.STRING:
			n += int64(len(v.AsString()))
		case attribute.STRINGSLICE:
			for _, s := range v.AsStringSlice() {
				n += 16 + int64(len(s))
			}
		case attribute.BOOLSLICE:
			n += 8 * int64(len(v.AsBoolSlice()))
		case attribute.INT64SLICE:
			n += 8 * int64(len(v.AsInt64Slice()))
		case attribute.FLOAT64SLICE:
			n += 8 * int64(len(v.AsFloat64Slice()))
		}
	}
	return n
}

// seriesOverhead is what a series of inst counts for besides its attributes.
func seriesOverhead(inst *instrument) int64 {
	if !inst.isHistogram() {
		return observableSeriesOverhead
	}
	n := int64(histogramSeriesOverhead)
	if extra := inst.buckets - defaultBucketCount; extra > 0 {
		n += int64(extra) * histogramBucketOverhead
	}
	return n
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
	// ReasonMemoryLimit: WithMaxMemory.
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
// epochTick: at each collection, on the slow path, and every 64 datagrams of
// a counter stripe. An update stamped with epoch x happened before epoch x+1
// started: that start is an upper bound of the series' last update, so a
// series is never forgotten early, and at most one epoch late.
const (
	epochTick = int64(time.Second)
	epochRing = 4096 // epoch starts remembered; older epochs end no later than the oldest kept
	deadEpoch = math.MaxUint32
)

type epochs struct {
	cur      atomic.Uint32
	curStart atomic.Int64 // start of cur, on the bridge's clock
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
	lNames           = 0
	lSampleWeight    = numOverflowReasons + cSample
	lDatagramWeight  = numOverflowReasons + cDatagram
	lReclaim         = numOverflowReasons + numCapReasons
	numLimits        = lReclaim + 1
	logInterval      = int64(time.Minute)
	overflowEffect   = "new series recorded in the instrument's overflow series (otel.metric.overflow=true)"
	weightCapEffect  = "sample weight capped: fewer observations or a smaller increment recorded"
	limitLogMessage  = "otelbridge: a limit dropped data"
	unknownLimitName = "unknown"
)

type limitInfo struct{ reason, option, effect string }

var limitInfos = [numLimits]limitInfo{
	lNames:            {ReasonNameLimit, "WithMaxInstruments", "samples of new instrument names rejected"},
	oInstrumentSeries: {ReasonInstrumentSeriesLimit, "WithMaxSeriesPerInstrument", overflowEffect},
	oSeries:           {ReasonSeriesLimit, "WithMaxSeries", overflowEffect},
	oReservedSeries:   {ReasonReservedSeriesLimit, "WithMaxReservedSeries", overflowEffect},
	oHistogramSeries:  {ReasonHistogramSeriesLimit, "WithMaxHistogramSeries", overflowEffect},
	oAttributeBytes:   {ReasonAttributeBytes, "WithMaxAttributeBytes", overflowEffect},
	oMemory:           {ReasonMemoryLimit, "WithMaxMemory", overflowEffect},
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
// then at most once per logInterval, with the count since the last line.
type limitLog struct {
	next    atomic.Int64 // bridge clock before which the limit is not logged again
	pending atomic.Uint64
}

// noteLimit counts n drops by limit l at time now (bridge clock), and logs
// them if the limit was not logged within logInterval.
func (b *Bridge) noteLimit(l int, n uint64, now int64) {
	ll := &b.limitLogs[l]
	ll.pending.Add(n)
	nx := ll.next.Load()
	if now < nx || !ll.next.CompareAndSwap(nx, now+logInterval) {
		return
	}
	info := limitInfos[l]
	b.cfg.logger.Warn(limitLogMessage,
		"limit", info.reason, "option", info.option, "value", b.cfg.limitValue(l),
		"count", ll.pending.Swap(0), "effect", info.effect)
}
