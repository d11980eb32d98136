package otelbridge

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// series is what the series table holds for a raw StatsD series (name, type,
// tags): a verdict (reject, drop) or the state to record into, and the scale.
type series struct {
	gen      uint64
	room     uint64 // Bridge.room when an overflow verdict was made
	state    *seriesState
	scale    float64
	reject   uint8 // a reason slot; 0 when accepted
	overflow uint8 // the overflow reason when state is the overflow series; 0 otherwise
	drop     bool
}

// seriesState is one series of one instrument: an attribute set, its
// measurement options built once, and its state. Several raw StatsD series may
// share it (tags in another order, a timer and a histogram of the same name).
type seriesState struct {
	inst *instrument

	// Counters, up-down counters and gauges: the value the instrument's
	// callback observes (float64 bits), and whether any sample set it, so
	// that a series whose samples were all rejected is not reported.
	value    atomic.Uint64
	observed atomic.Bool
	// mortal series (counters, up-down counters and gauges, not overflow
	// series) can be forgotten: last is the epoch of their last update, or
	// deadEpoch once forgotten.
	mortal bool
	last   atomic.Uint32
	ttl    atomic.Int64 // Mapping.TTL in nanoseconds; 0 for none

	// Histograms: the measurement option, and the fractional weight carried
	// (float64 bits).
	recordOpts []metric.RecordOption
	carry      atomic.Uint64

	observeOpt []metric.ObserveOption // guarded by inst.mu
	pool       *pool                  // the room it takes; nil for overflow series
	cost       int64                  // what it counts for in pool
}

// instrument is one instrument the bridge made, by name.
type instrument struct {
	b        *Bridge
	name     string
	kind     mapper.Kind
	unit     string
	reserved bool // made for a reserved mapping
	bounds   int  // histograms: bucket boundaries
	reject   int  // instrument_error: the name is known and refused

	recorder   metric.Float64Histogram  // histograms
	observable metric.Float64Observable // counters, up-down counters, gauges

	mu       sync.Mutex
	sets     map[attribute.Distinct]*seriesState
	overflow *seriesState
}

func (inst *instrument) isHistogram() bool { return inst.kind == mapper.KindHistogram }

// resolve is the slow path: map the sample, find or make its instrument and
// series, and remember the verdict in the series table.
func (b *Bridge) resolve(s *statsd.Sample, gen uint64) *series {
	m := b.mapper.Load().m
	mapping := m.Map(s)
	ser := &series{gen: gen, room: b.room.Load()}
	switch {
	case mapping == nil || mapping.Drop:
		ser.drop = true
	default:
		inst, reject := b.instrument(mapping)
		if reject != 0 {
			ser.reject = uint8(reject)
			break
		}
		var overflow int
		ser.state, overflow = b.seriesState(inst, mapping)
		ser.overflow = uint8(overflow)
		ser.scale = mapping.Scale
		if ser.scale == 0 || !finite(ser.scale) {
			ser.scale = 1
		}
	}
	b.table.Put(s, ser)
	return ser
}

// instrument returns the instrument the mapping names, making it on first use.
// An instrument name belongs to the kind and unit that made it first.
func (b *Bridge) instrument(mapping *mapper.Mapping) (*instrument, int) {
	key := strings.ToLower(mapping.Name)
	b.instMu.Lock()
	defer b.instMu.Unlock()
	if inst, ok := b.instruments[key]; ok {
		switch {
		case inst.reject != 0:
			return nil, inst.reject
		case inst.kind != mapping.Kind || inst.unit != mapping.Unit:
			return nil, rTypeConflict
		}
		return inst, 0
	}
	// A bad name or kind takes no slot: the series table remembers the
	// verdict for each StatsD series, so a flood of them cannot use up the
	// names.
	if len(mapping.Name) == 0 || len(mapping.Name) > maxNameLen || mapping.Kind < mapper.KindCounter || mapping.Kind > mapper.KindHistogram {
		return nil, rBadName
	}
	meter, picked := b.meter, false
	if pick := b.cfg.meterFor; pick != nil {
		if m := pick(mapping); m != nil {
			meter, picked = m, true
		}
	}
	if !picked && !validName(mapping.Name) {
		return nil, rBadName
	}
	taken := &b.ngeneric
	if mapping.Reserved {
		taken = &b.nreserved
	}
	if *taken >= b.cfg.maxInstruments {
		return nil, rNameLimit
	}
	*taken++
	inst := &instrument{
		b:        b,
		name:     mapping.Name,
		kind:     mapping.Kind,
		unit:     mapping.Unit,
		reserved: mapping.Reserved,
		bounds:   defaultBounds,
		sets:     make(map[attribute.Distinct]*seriesState),
	}
	if mapping.Buckets != nil {
		inst.bounds = len(mapping.Buckets)
	}
	// An instrument is never forgotten (see WithMaxInstruments): its
	// memory, and its overflow series', is taken at once.
	p := &b.generic
	if mapping.Reserved {
		p = &b.reserved
	}
	if !p.takeBytes(instrumentCost(inst)) {
		*taken--
		return nil, rMemoryLimit
	}
	b.instruments[key] = inst
	b.ninstruments.Add(1)
	var err error
	unit, desc := metric.WithUnit(mapping.Unit), metric.WithDescription(mapping.Description)
	switch mapping.Kind {
	case mapper.KindCounter:
		inst.observable, err = meter.Float64ObservableCounter(mapping.Name, unit, desc)
	case mapper.KindUpDownCounter:
		inst.observable, err = meter.Float64ObservableUpDownCounter(mapping.Name, unit, desc)
	case mapper.KindGauge:
		inst.observable, err = meter.Float64ObservableGauge(mapping.Name, unit, desc)
	case mapper.KindHistogram:
		hopts := []metric.Float64HistogramOption{unit, desc}
		if mapping.Buckets != nil {
			hopts = append(hopts, metric.WithExplicitBucketBoundaries(mapping.Buckets...))
		}
		inst.recorder, err = meter.Float64Histogram(mapping.Name, hopts...)
	}
	if err == nil && inst.observable != nil {
		_, err = meter.RegisterCallback(inst.observe, inst.observable)
	}
	if err != nil {
		inst.reject = rInstrumentError
		return nil, inst.reject
	}
	return inst, 0
}

// seriesState returns the instrument's series for the mapping's attribute
// set, making it if the limits allow, or else the instrument's overflow
// series and the overflow reason.
func (b *Bridge) seriesState(inst *instrument, mapping *mapper.Mapping) (*seriesState, int) {
	key := mapping.Attributes.Equivalent()
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if st, ok := inst.sets[key]; ok {
		if st.mortal && st.ttl.Load() != int64(mapping.TTL) {
			st.ttl.Store(int64(mapping.TTL))
		}
		return st, 0
	}
	p, cost, reason := b.admit(inst, mapping)
	if reason != 0 {
		if inst.overflow == nil {
			inst.overflow = newSeriesState(inst, overflowSet)
			b.overflowSeries.Add(1)
		}
		return inst.overflow, reason
	}
	st := newSeriesState(inst, mapping.Attributes)
	st.pool, st.cost = p, cost
	if st.mortal = !inst.isHistogram(); st.mortal {
		st.ttl.Store(int64(mapping.TTL))
		st.last.Store(b.epochs.cur.Load())
	}
	inst.sets[key] = st
	return st, 0
}

// admit takes room for a new series of inst, or returns why there is none.
// It is called with inst.mu held.
func (b *Bridge) admit(inst *instrument, mapping *mapper.Mapping) (*pool, int64, int) {
	if len(inst.sets) >= b.cfg.maxSeriesPerInstrument-1 {
		return nil, 0, oInstrumentSeries
	}
	n, raw := attributeSize(mapping.Attributes)
	if plainAttributeBytes(n, raw) > int64(b.cfg.maxAttributeBytes) {
		return nil, 0, oAttributeBytes
	}
	cost := seriesCost(inst, n, raw)
	p := &b.generic
	if mapping.Reserved {
		p = &b.reserved
	}
	// Histogram series of other mappings are never forgotten (see
	// WithMaxHistogramSeries): they have a bound of their own.
	hist := inst.isHistogram() && !mapping.Reserved
	if hist && b.histSeries.Add(1) > int64(b.cfg.maxHistogramSeries) {
		b.histSeries.Add(-1)
		return nil, 0, oHistogramSeries
	}
	if r := p.take(cost); r != 0 {
		if hist {
			b.histSeries.Add(-1)
		}
		return nil, 0, r
	}
	return p, cost, 0
}

func newSeriesState(inst *instrument, attrs attribute.Set) *seriesState {
	opt := metric.WithAttributeSet(attrs)
	st := &seriesState{inst: inst}
	if inst.isHistogram() {
		st.recordOpts = []metric.RecordOption{opt}
	} else {
		st.observeOpt = []metric.ObserveOption{opt}
	}
	return st
}

// Why a series is forgotten.
const (
	keep = iota
	expired
	reclaimed
)

// observe is the callback of a counter, up-down counter or gauge: it forgets
// the series that are due (ttl, or idle under pressure: see WithReclaimIdle)
// and reports the value of every other series that a sample has set. It holds
// the instrument's lock, which only the slow path of a new series contends
// for.
func (inst *instrument) observe(_ context.Context, o metric.Observer) error {
	b := inst.b
	now := b.clock()
	b.epochs.advance(now)
	inst.mu.Lock()
	defer inst.mu.Unlock()
	pressed := b.generic.pressed() || 10*len(inst.sets) >= 9*(b.cfg.maxSeriesPerInstrument-1)
	var nexpired, nreclaimed uint64
	for key, st := range inst.sets {
		switch b.due(st, now, pressed) {
		case expired:
			nexpired++
		case reclaimed:
			nreclaimed++
		default:
			if st.observed.Load() {
				o.ObserveFloat64(inst.observable, math.Float64frombits(st.value.Load()), st.observeOpt...)
			}
			continue
		}
		delete(inst.sets, key)
		st.pool.give(st.cost)
		st.observeOpt = nil // the attributes go with the state; the series table may hold the rest a while
	}
	if st := inst.overflow; st != nil && st.observed.Load() {
		o.ObserveFloat64(inst.observable, math.Float64frombits(st.value.Load()), st.observeOpt...)
	}
	if nexpired+nreclaimed > 0 {
		b.room.Add(1)
		b.counters.expired.Add(nexpired)
		b.counters.reclaimed.Add(nreclaimed)
		if nreclaimed > 0 {
			b.noteLimit(lReclaim, nreclaimed, now)
		}
	}
	return nil
}

// due decides whether a series is forgotten now, and if so marks it dead.
func (b *Bridge) due(st *seriesState, now int64, pressed bool) int {
	ttl := st.ttl.Load()
	pressed = pressed && st.pool == &b.generic
	if ttl == 0 && !pressed {
		return keep
	}
	last := st.last.Load()
	end, ok := b.epochs.end(last)
	if !ok {
		return keep
	}
	idle := now - end
	why := keep
	switch {
	case ttl > 0 && idle >= ttl:
		why = expired
	case pressed && idle >= int64(b.cfg.reclaimIdle):
		why = reclaimed
	}
	if why == keep || !st.last.CompareAndSwap(last, deadEpoch) {
		return keep
	}
	return why
}

// maxNameLen is the longest instrument name OpenTelemetry accepts.
const maxNameLen = 255

// validName reports whether OpenTelemetry accepts name as an instrument name:
// 1 to 255 characters, a letter first, then letters, digits, '_', '.', '-', '/'.
func validName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/'):
		default:
			return false
		}
	}
	return true
}
