package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

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
	meter metric.Meter
	cfg   config
	born  time.Time // the bridge's clock reads time since born

	mapper atomic.Pointer[mapperBox]
	gen    atomic.Uint64 // bumped by SetMapper: older series-table entries are stale
	room   atomic.Uint64 // bumped when series are forgotten: overflow verdicts are stale
	table  *seriescache.Cache[*series]
	epochs epochs

	// instMu guards instruments and ngeneric, nreserved. It is held while
	// the SDK makes an instrument and registers its callback, which takes
	// the SDK's pipeline lock; the SDK runs callbacks under that same lock.
	// So no callback may take instMu: Stats reads ninstruments instead.
	instMu              sync.Mutex
	instruments         map[string]*instrument // by lower-cased name (the SDK compares names case-insensitively)
	ngeneric, nreserved int                    // instruments of other and of reserved mappings
	ninstruments        atomic.Int64           // len(instruments), for Stats

	// Room for series: reserved mappings' and the others'; histogram series
	// of the others are counted in generic and in histSeries. Overflow
	// series are counted in overflowSeries and charged to their instrument.
	reserved, generic pool
	histSeries        atomic.Int64
	overflowSeries    atomic.Int64

	// Mapper cache counters of mappers replaced by SetMapper, so the
	// reported counters never go down. mapperMu makes the swap and these
	// one step for Stats.
	mapperMu                         sync.Mutex
	mapperHitsBase, mapperMissesBase uint64
	mapperTagsBase                   mapper.TagStats

	counters  counters
	limitLogs [numLimits]limitLog
	batches   sync.Pool // *statsd.Batch for HandleDatagram

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
// ScopeName; Close unregisters them. An option given a value it does not
// take makes New fail, naming the option.
func New(mp metric.MeterProvider, opts ...Option) (*Bridge, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyBridge(&cfg)
		}
	}
	return newBridge(mp, cfg)
}

func newBridge(mp metric.MeterProvider, cfg config) (*Bridge, error) {
	if mp == nil {
		cfg.errs = append(cfg.errs, errors.New("otelbridge: nil MeterProvider"))
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	if cfg.mapper == nil {
		m, err := mapper.New()
		if err != nil {
			return nil, fmt.Errorf("otelbridge: default mapper: %w", err)
		}
		cfg.mapper = m
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	eighth := cfg.maxMemory / 8
	b := &Bridge{
		meter:       mp.Meter(cfg.meterName),
		cfg:         cfg,
		born:        cfg.now(),
		table:       seriescache.NewBounded(cfg.maxSeries+cfg.maxReservedSeries, eighth, tableEntryBytes),
		instruments: make(map[string]*instrument),
		reserved:    pool{maxSeries: int64(cfg.maxReservedSeries), maxBytes: eighth, seriesReason: oReservedSeries},
		generic:     pool{maxSeries: int64(cfg.maxSeries), maxBytes: cfg.maxMemory - 2*eighth, seriesReason: oSeries},
	}
	b.mapper.Store(&mapperBox{cfg.mapper})
	b.batches.New = func() any { return new(statsd.Batch) }
	b.reserve(cfg.mapper)
	if cfg.telemetry {
		if err := b.registerTelemetry(mp.Meter(ScopeName)); err != nil {
			return nil, fmt.Errorf("otelbridge: telemetry: %w", err)
		}
	}
	return b, nil
}

// tableEntryBytes is what a series table entry counts for besides its key.
func tableEntryBytes(*series) int64 { return tableEntryOverhead }

// clock returns the time on the bridge's clock: nanoseconds since New.
func (b *Bridge) clock() int64 { return int64(b.cfg.now().Sub(b.born)) }

// reserve makes the instruments of the Mapper's reserved mappings, if it
// names them, so that no other mapping can take their names first.
func (b *Bridge) reserve(m Mapper) {
	r, ok := m.(reserver)
	if !ok {
		return
	}
	for _, mapping := range r.ReservedMappings() {
		if mapping != nil && mapping.Reserved {
			b.instrument(mapping) // a refusal is counted when samples come
		}
	}
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

// SetMapper replaces the Mapper, for a reload (SIGHUP); a nil Mapper is
// ignored. The series table is cleared so every series is mapped again by m;
// the instruments, their series and their state (gauge values, histogram
// carries) stay. An instrument keeps the kind and unit it was made with: if m
// maps its name to another kind or unit, those samples are rejected as
// "type_conflict" (OpenTelemetry cannot change an instrument). Samples
// handled concurrently with SetMapper are mapped by either mapper. The
// counters of the old Mapper (CacheStats, TagStats) are added to the
// bridge's totals, unless m is the same comparable value; a Chain or a
// Rewrite is always a new Mapper, so give it new Mappers inside.
func (b *Bridge) SetMapper(m Mapper) {
	if m == nil {
		return
	}
	b.mapperMu.Lock()
	old := b.mapper.Swap(&mapperBox{m})
	again := sameMapper(old.m, m)
	if cs, ok := old.m.(cacheStatser); ok && !again {
		st := cs.CacheStats()
		b.mapperHitsBase += st.Hits
		b.mapperMissesBase += st.Misses
	}
	if ts, ok := old.m.(tagStatser); ok && !again {
		b.mapperTagsBase = b.mapperTagsBase.Plus(ts.TagStats())
	}
	b.mapperMu.Unlock()
	b.reserve(m)
	b.gen.Add(1)
	b.table.Clear()
}

// sameMapper reports whether a and b are the same Mapper, whose counters
// go on. A Mapper of a type that == cannot compare (a Chain, a Rewrite) is
// taken for a new one.
func sameMapper(a, b Mapper) bool {
	t := reflect.TypeOf(a)
	return t == reflect.TypeOf(b) && t.Comparable() && a == b
}

// HandleDatagram parses one datagram (one or more lines) with the parser of
// WithParser and handles its samples as Handle does. It does not keep p.
// Without a socket, it is how tests and benchmarks feed the bridge; it
// allocates nothing in steady state.
func (b *Bridge) HandleDatagram(p []byte) {
	batch := b.batches.Get().(*statsd.Batch)
	b.cfg.parser.Parse(batch, p)
	b.Handle(batch)
	batch.Reset()
	b.batches.Put(batch)
}

// handling is what one Handle call reads once and carries over its samples.
type handling struct {
	gen, room uint64
	budget    int // observations sampled histogram samples may still add (WithMaxDatagramWeight)
}

// Handle records every sample of the batch and counts its datagrams, samples
// and rejected lines. It implements statsd.Handler: it is safe for concurrent
// use and keeps nothing of the batch.
func (b *Bridge) Handle(batch *statsd.Batch) {
	var t tally
	for i := range batch.Errors {
		t.reject(parseReasonSlot(batch.Errors[i].Reason))
	}
	if n := len(batch.TagErrors); n != 0 {
		t.tagErrors += uint32(n)
		t.rare = true
	}
	for i := range batch.Forgiven {
		if r := batch.Forgiven[i].Reason; r < statsd.NumReasons {
			t.forgiven[r]++
			t.rare = true
		}
	}
	if len(batch.Samples) > 0 {
		h := handling{gen: b.gen.Load(), room: b.room.Load(), budget: max(batch.Datagrams, 1) * b.cfg.maxDatagramWeight}
		for i := range batch.Samples {
			s := &batch.Samples[i]
			ti := s.Type % numTypeSlots
			t.types[ti]++
			t.typeMask |= 1 << ti
			if r := b.record(s, &h, &t); r != 0 {
				t.reject(r)
				t.rejectedSamples++
			}
		}
	}
	tick := b.counters.flush(&t, batch.Datagrams, stripeOf(batch))
	if t.rare || tick {
		now := b.clock()
		if tick {
			b.epochs.advance(now)
		}
		if t.rare {
			b.noteLimits(&t, now)
		}
	}
}

// noteLimits logs the limits that dropped data in one Handle call.
func (b *Bridge) noteLimits(t *tally, now int64) {
	if n := t.reasons[rNameLimit]; n != 0 {
		b.noteLimit(lNames, uint64(n), now)
	}
	if n := t.reasons[rMemoryLimit]; n != 0 {
		b.noteLimit(oMemory, uint64(n), now)
	}
	for o := 1; o < numOverflowReasons; o++ {
		if n := t.overflow[o]; n != 0 {
			b.noteLimit(o, uint64(n), now)
		}
	}
	for c := range numCapReasons {
		if n := t.capped[c]; n != 0 {
			b.noteLimit(numOverflowReasons+c, uint64(n), now)
		}
	}
}

func finite(v float64) bool { return v-v == 0 }

// maxRetries bounds how often one sample looks its series up again because
// its state was forgotten while the sample was being recorded.
const maxRetries = 3

// record records one sample: look up its series, then record by kind. It
// returns the reason slot of a rejection, 0 when the sample was recorded or
// dropped.
func (b *Bridge) record(s *statsd.Sample, h *handling, t *tally) int {
	if s.Type == statsd.Set {
		return rUnsupportedType
	}
	ser, ok := b.table.Get(s)
	if !ok || ser.gen != h.gen || (ser.overflow != 0 && ser.room != h.room) {
		ser = b.resolve(s, h.gen)
	}
	for try := 0; ; try++ {
		if ser.reject != 0 {
			return int(ser.reject)
		}
		if ser.drop {
			t.dropped++
			t.rare = true
			return 0
		}
		st := ser.state
		if r := b.update(s, ser, st, h, t); r != 0 {
			return r
		}
		// A series that can be forgotten is stamped after it is updated. If
		// it was forgotten before the stamp, the update is lost with it (a
		// forgotten state is never reported again): the sample is recorded
		// again, in the series made anew. If it is forgotten after the
		// stamp, it was idle for its time since this very sample, and the
		// sample goes with it, as it should.
		if st.mortal && try < maxRetries && !st.touch(b.epochs.cur.Load()) {
			ser = b.resolve(s, h.gen)
			continue
		}
		if ser.overflow != 0 {
			t.overflow[ser.overflow]++
			t.rare = true
		}
		return 0
	}
}

// weight returns 1/rate, capped at WithMaxSampleWeight.
func (b *Bridge) weight(rate float64, t *tally) float64 {
	w := 1 / rate
	if w > float64(b.cfg.maxSampleWeight) {
		w = float64(b.cfg.maxSampleWeight)
		t.capped[cSample]++
		t.rare = true
	}
	return w
}

// update records the sample's value in the series state.
func (b *Bridge) update(s *statsd.Sample, ser *series, st *seriesState, h *handling, t *tally) int {
	v := s.Value * ser.scale
	switch st.inst.kind {
	case mapper.KindCounter:
		if s.Rate != 1 {
			v *= b.weight(s.Rate, t)
		}
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
		ctx := context.Background()
		if s.Rate == 1 {
			st.inst.recorder.Record(ctx, v, st.recordOpts...)
			break
		}
		n := st.weigh(b.weight(s.Rate, t))
		if extra := n - 1; extra > h.budget {
			n = 1 + h.budget
			h.budget = 0
			t.capped[cDatagram]++
			t.rare = true
		} else if extra > 0 {
			h.budget -= extra
		}
		for ; n > 0; n-- {
			st.inst.recorder.Record(ctx, v, st.recordOpts...)
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
			if s.Rate != 1 {
				v *= b.weight(s.Rate, t)
			}
			ok = st.add(v)
		}
		if !ok {
			return rBadValue
		}
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

// touch stamps the series as updated in epoch ep (never moving the stamp
// back), and reports false if the series was forgotten.
func (st *seriesState) touch(ep uint32) bool {
	for {
		l := st.last.Load()
		switch {
		case l == deadEpoch:
			return false
		case l >= ep:
			return true
		case st.last.CompareAndSwap(l, ep):
			return true
		}
	}
}

// epsilon absorbs the rounding of 1/rate sums (1/0.3 three times is
// 9.999999999999998) so whole weights are not lost to it.
const epsilon = 1e-9

// weigh returns how many observations a histogram sample of weight w (1/rate,
// capped) counts as. w is added to the series' carried fraction; the whole
// part is returned and the rest carried: at rate 0.3 the counts are 3, 3, 4,
// 3, 3, 4, ..., 10 per 3 samples.
func (st *seriesState) weigh(w float64) int {
	for {
		old := st.carry.Load()
		acc := math.Float64frombits(old) + w
		whole := math.Floor(acc + epsilon)
		rem := acc - whole
		if rem < 0 {
			rem = 0
		}
		if st.carry.CompareAndSwap(old, math.Float64bits(rem)) {
			return int(whole)
		}
	}
}
