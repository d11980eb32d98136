package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/seriescache"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Bridge is a statsd.Handler that maps every sample and records it in
// OpenTelemetry instruments made from a metric.MeterProvider. Make one with
// New. Its methods are safe for concurrent use.
type Bridge struct {
	ctx    context.Context
	meter  metric.Meter
	cfg    config
	parser statsd.Parser

	mapper atomic.Pointer[mapperBox]
	gen    atomic.Uint64 // bumped by SetMapper: older series-table entries are stale
	table  *seriescache.Cache[*series]

	instMu      sync.Mutex
	instruments map[string]*instrument // by lower-cased name (the SDK compares names case-insensitively)
	nseries     atomic.Int64           // tracked series, overflow series included

	// Mapper cache counters of mappers replaced by SetMapper, so the
	// reported counters never go down. mapperMu makes the swap and these
	// one step for Stats.
	mapperMu                         sync.Mutex
	mapperHitsBase, mapperMissesBase uint64

	counters counters
	batches  sync.Pool // *statsd.Batch for HandleDatagram

	telemetry metric.Registration
	closeOnce sync.Once
}

type mapperBox struct{ m Mapper }

var _ statsd.Handler = (*Bridge)(nil)

// overflowSet is the attribute set of overflow series, as the SDK names it.
var overflowSet = attribute.NewSet(attribute.Bool("otel.metric.overflow", true))

// New returns a Bridge recording into instruments made from mp. Without
// WithMapper it uses mapper.New(): the built-in Gunicorn profile. With
// telemetry on (the default) it registers its own instruments on mp under
// ScopeName; Close unregisters them.
func New(mp metric.MeterProvider, opts ...Option) (*Bridge, error) {
	if mp == nil {
		return nil, errors.New("otelbridge: nil MeterProvider")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mapper == nil {
		m, err := mapper.New()
		if err != nil {
			return nil, fmt.Errorf("otelbridge: default mapper: %w", err)
		}
		cfg.mapper = m
	}
	b := &Bridge{
		ctx:         context.Background(),
		meter:       mp.Meter(cfg.meterName),
		cfg:         cfg,
		parser:      cfg.parser,
		table:       seriescache.New[*series](cfg.maxSeries),
		instruments: make(map[string]*instrument),
	}
	b.mapper.Store(&mapperBox{cfg.mapper})
	b.batches.New = func() any { return new(statsd.Batch) }
	if cfg.telemetry {
		if err := b.registerTelemetry(mp.Meter(ScopeName)); err != nil {
			return nil, fmt.Errorf("otelbridge: telemetry: %w", err)
		}
	}
	return b, nil
}

// Close unregisters the bridge's own telemetry callback. The bridge still
// records samples after Close; the instruments it made stay with the
// MeterProvider. Close is idempotent and always returns nil or the
// unregistration error.
func (b *Bridge) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.telemetry != nil {
			err = b.telemetry.Unregister()
		}
	})
	return err
}

// SetMapper replaces the Mapper, for a reload (SIGHUP). The series table is
// cleared so every series is mapped again by m; the instruments, their series
// and their state (gauge values, histogram carries) stay. An instrument keeps
// the kind and unit it was made with: if m maps its name to another kind or
// unit, those samples are rejected as "type_conflict" (OpenTelemetry cannot
// change an instrument). Samples handled concurrently with SetMapper are
// mapped by either mapper.
func (b *Bridge) SetMapper(m Mapper) {
	if m == nil {
		return
	}
	b.mapperMu.Lock()
	old := b.mapper.Swap(&mapperBox{m})
	if cs, ok := old.m.(cacheStatser); ok && old.m != m {
		st := cs.CacheStats()
		b.mapperHitsBase += st.Hits
		b.mapperMissesBase += st.Misses
	}
	b.mapperMu.Unlock()
	b.gen.Add(1)
	b.table.Clear()
}

// HandleDatagram parses one datagram (one or more lines) and handles its
// samples as Handle does. It does not keep p. Without a socket, it is how tests
// and benchmarks feed the bridge; it allocates nothing in steady state.
func (b *Bridge) HandleDatagram(p []byte) {
	batch := b.batches.Get().(*statsd.Batch)
	b.parser.Parse(batch, p)
	b.Handle(batch)
	batch.Reset()
	b.batches.Put(batch)
}

// Write is HandleDatagram as an io.Writer: p is one datagram. It never fails.
func (b *Bridge) Write(p []byte) (int, error) {
	b.HandleDatagram(p)
	return len(p), nil
}

// Handle records every sample of the batch and counts its datagrams, samples
// and rejected lines. It implements statsd.Handler: it is safe for concurrent
// use and keeps nothing of the batch.
func (b *Bridge) Handle(batch *statsd.Batch) {
	var t tally
	for i := range batch.Errors {
		t.reject(parseReasonSlot(batch.Errors[i].Reason))
	}
	if len(batch.Samples) > 0 {
		gen := b.gen.Load()
		for i := range batch.Samples {
			s := &batch.Samples[i]
			ti := s.Type % numTypeSlots
			t.types[ti]++
			t.typeMask |= 1 << ti
			if r := b.record(s, gen, &t); r != 0 {
				t.reject(r)
				t.rejectedSamples++
			}
		}
	}
	b.counters.flush(&t, batch.Datagrams, stripeOf(batch))
}

func finite(v float64) bool { return v-v == 0 }

// record records one sample: look up its series, then record by kind. It
// returns the reason slot of a rejection, 0 when the sample was recorded or
// dropped.
func (b *Bridge) record(s *statsd.Sample, gen uint64, t *tally) int {
	if s.Type == statsd.Set {
		return rUnsupportedType
	}
	ser, ok := b.table.Get(s)
	if !ok || ser.gen != gen {
		ser = b.resolve(s, gen)
	}
	if ser.reject != 0 {
		return ser.reject
	}
	if ser.drop {
		t.dropped++
		t.rare = true
		return 0
	}
	st := ser.state
	v := s.Value * ser.scale
	switch st.inst.kind {
	case mapper.Counter:
		v /= s.Rate
		if !finite(v) {
			return rBadValue
		}
		if v < 0 {
			return rNegativeCounter
		}
		st.inst.counter.Add(b.ctx, v, st.addOpts...)
	case mapper.Histogram:
		if !finite(v) {
			return rBadValue
		}
		if s.Rate == 1 {
			st.inst.histogram.Record(b.ctx, v, st.recordOpts...)
		} else {
			n, capped := st.weigh(s.Rate)
			if capped {
				t.capped++
				t.rare = true
			}
			for ; n > 0; n-- {
				st.inst.histogram.Record(b.ctx, v, st.recordOpts...)
			}
		}
	case mapper.Gauge:
		if !b.recordGauge(st, s, v) {
			return rBadValue
		}
	case mapper.UpDownCounter:
		if !b.recordUpDown(st, s, v) {
			return rBadValue
		}
	}
	if st.overflow {
		t.overflow++
		t.rare = true
	}
	return 0
}

// recordGauge sets the series' last value (or moves it by a signed delta) and
// records it. The series lock orders the updates and the SDK records alike, so
// the collected value is always the series' last value.
func (b *Bridge) recordGauge(st *seriesState, s *statsd.Sample, v float64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.Delta {
		v += st.last
	}
	if !finite(v) {
		return false
	}
	st.last = v
	st.inst.gauge.Record(b.ctx, v, st.recordOpts...)
	return true
}

// recordUpDown adds to an UpDownCounter: a counter sample adds value/rate; a
// gauge sample with a sign adds its delta; an absolute gauge sample adds the
// change from the series' last value, so the sum follows the gauge.
func (b *Bridge) recordUpDown(st *seriesState, s *statsd.Sample, v float64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	var d float64
	switch {
	case s.Type == statsd.Gauge && !s.Delta:
		d = v - st.last
	case s.Type == statsd.Gauge:
		d = v
	default:
		d = v / s.Rate
	}
	if !finite(d) || !finite(st.last+d) {
		return false
	}
	st.last += d
	st.inst.updown.Add(b.ctx, d, st.addOpts...)
	return true
}

// series is what the series table holds for a raw StatsD series (name, type,
// tags): a verdict (reject, drop) or the state to record into, and the scale.
type series struct {
	gen    uint64
	reject int // a reason slot; 0 when accepted
	drop   bool
	state  *seriesState
	scale  float64
}

// seriesState is one series of one instrument: an attribute set, its
// measurement options built once, and its state. Several raw StatsD series may
// share it (tags in another order, a timer and a histogram of the same name).
type seriesState struct {
	inst       *instrument
	addOpts    []metric.AddOption
	recordOpts []metric.RecordOption
	overflow   bool

	mu   sync.Mutex // gauges and up-down counters: orders updates of last
	last float64

	carry atomic.Uint64 // histograms: fractional weight carried, float64 bits
}

// epsilon absorbs the rounding of 1/rate sums (1/0.3 three times is
// 9.999999999999998) so whole weights are not lost to it.
const epsilon = 1e-9

// weigh returns how many observations a histogram sample at the given rate
// counts as. The weight 1/rate is added to the series' carried fraction; the
// whole part is returned and the rest carried: at rate 0.3 the counts are
// 3, 3, 4, 3, 3, 4, ..., 10 per 3 samples. A weight over
// DefaultMaxHistogramWeight is capped (and reported).
func (st *seriesState) weigh(rate float64) (n int, capped bool) {
	w := 1 / rate
	if w > DefaultMaxHistogramWeight {
		w, capped = DefaultMaxHistogramWeight, true
	}
	for {
		old := st.carry.Load()
		acc := math.Float64frombits(old) + w
		whole := math.Floor(acc + epsilon)
		rem := acc - whole
		if rem < 0 {
			rem = 0
		}
		if st.carry.CompareAndSwap(old, math.Float64bits(rem)) {
			return int(whole), capped
		}
	}
}

// instrument is one instrument the bridge made, by name.
type instrument struct {
	name   string
	kind   mapper.Kind
	unit   string
	reject int // instrument_error: the name is known and refused

	counter   metric.Float64Counter
	updown    metric.Float64UpDownCounter
	gauge     metric.Float64Gauge
	histogram metric.Float64Histogram

	mu       sync.Mutex
	sets     map[attribute.Distinct]*seriesState
	overflow *seriesState
}

// resolve is the slow path: map the sample, find or make its instrument and
// series, and remember the verdict in the series table.
func (b *Bridge) resolve(s *statsd.Sample, gen uint64) *series {
	m := b.mapper.Load().m
	mp := m.Map(s)
	ser := &series{gen: gen}
	switch {
	case mp == nil || mp.Drop:
		ser.drop = true
	default:
		inst, reject := b.instrument(mp)
		if reject != 0 {
			ser.reject = reject
			break
		}
		ser.state = b.seriesState(inst, mp.Attributes)
		ser.scale = mp.Scale
		if ser.scale == 0 || !finite(ser.scale) {
			ser.scale = 1
		}
	}
	b.table.Put(s, ser)
	return ser
}

// instrument returns the instrument the mapping names, making it on first use.
// An instrument name belongs to the kind and unit that made it first.
func (b *Bridge) instrument(mp *mapper.Mapping) (*instrument, int) {
	key := strings.ToLower(mp.Name)
	b.instMu.Lock()
	defer b.instMu.Unlock()
	if inst, ok := b.instruments[key]; ok {
		switch {
		case inst.reject != 0:
			return nil, inst.reject
		case inst.kind != mp.Kind || inst.unit != mp.Unit:
			return nil, rTypeConflict
		}
		return inst, 0
	}
	// A bad name or kind takes no slot: the series table remembers the
	// verdict for each StatsD series, so a flood of them cannot use up the
	// names.
	if !validName(mp.Name) || mp.Kind < mapper.Counter || mp.Kind > mapper.Histogram {
		return nil, rBadName
	}
	if len(b.instruments) >= b.cfg.maxInstruments {
		return nil, rNameLimit
	}
	inst := &instrument{
		name: mp.Name,
		kind: mp.Kind,
		unit: mp.Unit,
		sets: make(map[attribute.Distinct]*seriesState),
	}
	b.instruments[key] = inst
	var err error
	unit, desc := metric.WithUnit(mp.Unit), metric.WithDescription(mp.Description)
	switch mp.Kind {
	case mapper.Counter:
		inst.counter, err = b.meter.Float64Counter(mp.Name, unit, desc)
	case mapper.UpDownCounter:
		inst.updown, err = b.meter.Float64UpDownCounter(mp.Name, unit, desc)
	case mapper.Gauge:
		inst.gauge, err = b.meter.Float64Gauge(mp.Name, unit, desc)
	case mapper.Histogram:
		hopts := []metric.Float64HistogramOption{unit, desc}
		if mp.Buckets != nil {
			hopts = append(hopts, metric.WithExplicitBucketBoundaries(mp.Buckets...))
		}
		inst.histogram, err = b.meter.Float64Histogram(mp.Name, hopts...)
	}
	if err != nil {
		inst.reject = rInstrumentError
		return nil, inst.reject
	}
	return inst, 0
}

// seriesState returns the instrument's series for the attribute set, making
// it if the limits allow, or else the instrument's overflow series.
func (b *Bridge) seriesState(inst *instrument, attrs attribute.Set) *seriesState {
	key := attrs.Equivalent()
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if st, ok := inst.sets[key]; ok {
		return st
	}
	if len(inst.sets) >= b.cfg.maxSeriesPerInstrument-1 || b.nseries.Load() >= int64(b.cfg.maxSeries) {
		if inst.overflow == nil {
			inst.overflow = newSeriesState(inst, overflowSet)
			inst.overflow.overflow = true
			b.nseries.Add(1)
		}
		return inst.overflow
	}
	st := newSeriesState(inst, attrs)
	inst.sets[key] = st
	b.nseries.Add(1)
	return st
}

func newSeriesState(inst *instrument, attrs attribute.Set) *seriesState {
	opt := metric.WithAttributeSet(attrs)
	st := &seriesState{inst: inst}
	switch inst.kind {
	case mapper.Counter, mapper.UpDownCounter:
		st.addOpts = []metric.AddOption{opt}
	default:
		st.recordOpts = []metric.RecordOption{opt}
	}
	return st
}

// validName reports whether OpenTelemetry accepts name as an instrument name:
// 1 to 255 characters, a letter first, then letters, digits, '_', '.', '-', '/'.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
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
