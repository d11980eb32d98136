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

	// instMu guards instruments. It is held while the SDK makes an
	// instrument and registers its callback, which takes the SDK's pipeline
	// lock; the SDK runs callbacks under that same lock. So no callback may
	// take instMu: Stats reads ninstruments instead.
	instMu       sync.Mutex
	instruments  map[string]*instrument // by lower-cased name (the SDK compares names case-insensitively)
	ninstruments atomic.Int64           // len(instruments), for Stats
	nseries      atomic.Int64           // tracked series, overflow series included

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

// Close unregisters the bridge's own telemetry callback. The instruments it
// made, and the callbacks that report its counters and gauges, stay with the
// MeterProvider (as synchronous instruments would), and the bridge still
// records samples after Close. Close is idempotent; it returns the
// unregistration error, if any.
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
	case mapper.KindCounter:
		v /= s.Rate
		if !finite(v) {
			return rBadValue
		}
		if v < 0 {
			return rNegativeCounter
		}
		if !st.add(v) {
			return rBadValue
		}
	case mapper.KindHistogram:
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
	case mapper.KindGauge, mapper.KindUpDownCounter:
		// A gauge holds the last value: a signed gauge sample moves it, any
		// other sample replaces it. An up-down counter's sum follows a gauge
		// sample the same way, and adds any other sample's value/rate.
		var ok bool
		switch {
		case s.Type == statsd.Gauge && s.Delta:
			ok = st.add(v)
		case s.Type == statsd.Gauge || st.inst.kind == mapper.KindGauge:
			ok = st.set(v)
		default:
			ok = st.add(v / s.Rate)
		}
		if !ok {
			return rBadValue
		}
	}
	if st.overflow {
		t.overflow++
		t.rare = true
	}
	return 0
}

// add adds d to the series' value (a counter's sum, a gauge's last value)
// and marks it observed. It refuses a result that is not finite.
func (st *seriesState) add(d float64) bool {
	for {
		old := st.value.Load()
		nv := math.Float64frombits(old) + d
		if !finite(nv) {
			return false
		}
		if st.value.CompareAndSwap(old, math.Float64bits(nv)) {
			break
		}
	}
	if !st.observed.Load() {
		st.observed.Store(true)
	}
	return true
}

// set replaces the series' value (an absolute gauge sample).
func (st *seriesState) set(v float64) bool {
	if !finite(v) {
		return false
	}
	st.value.Store(math.Float64bits(v))
	if !st.observed.Load() {
		st.observed.Store(true)
	}
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
	inst     *instrument
	overflow bool

	// Counters, up-down counters and gauges: the value the instrument's
	// callback observes (float64 bits), and whether any sample set it, so
	// that a series whose samples were all rejected is not reported.
	value      atomic.Uint64
	observed   atomic.Bool
	observeOpt []metric.ObserveOption

	// Histograms: the measurement option, and the fractional weight carried
	// (float64 bits).
	recordOpts []metric.RecordOption
	carry      atomic.Uint64
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

	histogram  metric.Float64Histogram
	observable metric.Float64Observable // counters, up-down counters, gauges

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
	if !validName(mp.Name) || mp.Kind < mapper.KindCounter || mp.Kind > mapper.KindHistogram {
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
	b.ninstruments.Add(1)
	var err error
	unit, desc := metric.WithUnit(mp.Unit), metric.WithDescription(mp.Description)
	switch mp.Kind {
	case mapper.KindCounter:
		inst.observable, err = b.meter.Float64ObservableCounter(mp.Name, unit, desc)
	case mapper.KindUpDownCounter:
		inst.observable, err = b.meter.Float64ObservableUpDownCounter(mp.Name, unit, desc)
	case mapper.KindGauge:
		inst.observable, err = b.meter.Float64ObservableGauge(mp.Name, unit, desc)
	case mapper.KindHistogram:
		hopts := []metric.Float64HistogramOption{unit, desc}
		if mp.Buckets != nil {
			hopts = append(hopts, metric.WithExplicitBucketBoundaries(mp.Buckets...))
		}
		inst.histogram, err = b.meter.Float64Histogram(mp.Name, hopts...)
	}
	if err == nil && inst.observable != nil {
		_, err = b.meter.RegisterCallback(inst.observe, inst.observable)
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
	if inst.kind == mapper.KindHistogram {
		st.recordOpts = []metric.RecordOption{opt}
	} else {
		st.observeOpt = []metric.ObserveOption{opt}
	}
	return st
}

// observe is the callback of a counter, up-down counter or gauge: it reports
// the value of every series that a sample has set. It holds the instrument's
// lock, which only the slow path of a new series contends for.
func (inst *instrument) observe(_ context.Context, o metric.Observer) error {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	for _, st := range inst.sets {
		if st.observed.Load() {
			o.ObserveFloat64(inst.observable, math.Float64frombits(st.value.Load()), st.observeOpt...)
		}
	}
	if st := inst.overflow; st != nil && st.observed.Load() {
		o.ObserveFloat64(inst.observable, math.Float64frombits(st.value.Load()), st.observeOpt...)
	}
	return nil
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
