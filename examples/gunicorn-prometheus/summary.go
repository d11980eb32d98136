package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// Summaries where statsd_exporter makes them. statsd_exporter exposes every
// timer, histogram and distribution as a summary unless its mapping says
// observer_type: histogram; the library records every one of them in an
// OpenTelemetry histogram, which has no summary. The daemon closes the gap
// explicitly, in two steps:
//
//  1. The bridge asks meters.pick (routing.go), its otelbridge.WithMeterFor,
//     which Meter makes the instrument of a histogram mapping; for one that
//     statsd_exporter would expose as a summary (mapper.Mapping.Summary;
//     mapper.DefaultSummary without a mapping file, set by statsdNames) it
//     is a summaryMeter.
//  2. summaryMeter.Float64Histogram declares the metric name a summary in
//     the summaries table, with the options, ttl and help of that mapping,
//     and returns a summaryInstrument instead of an SDK histogram: a
//     metric.Float64Histogram whose series are client_golang
//     prometheus.Summary values (the estimator statsd_exporter uses), served
//     from the daemon's registry by the summaries collector.
//
// The first declaration of a name wins, as the first mapping of a name makes
// its instrument in the bridge (and its SummaryVec in statsd_exporter). A
// series is forgotten after its mapping's ttl without observations, at a
// scrape; the next observation starts it again, as in statsd_exporter.
// Series are bounded by --otel.max-histogram-series (over all summaries, on
// top of the bridge's own bounds: --otel.cardinality-limit and the bridge's
// count of histogram series) and, with the bridge's state, by
// --otel.max-memory; a series over either goes to its metric's overflow
// series, otel_metric_overflow="true", as the bridge's do, and is counted in
// gunicornotel_quantile_overflow_total{reason}.

// summaryDecl is what the first mapping of a name said.
type summaryDecl struct {
	opts *mapper.SummaryOptions
	ttl  time.Duration
	help string
}

// summaries is the table of declared summaries, their instruments, and the
// collector that serves them.
type summaries struct {
	maxSeries int
	maxBytes  int64
	// otherBytes is what the bridge counts against --otel.max-memory; nil
	// for none (set once the bridge is made).
	otherBytes atomic.Pointer[func() int64]
	now        func() time.Time

	mu       sync.Mutex
	declared map[string]*summaryDecl // by Prometheus metric name
	maxDecl  int
	insts    []*summaryInstrument
	nseries  int
	bytes    int64

	overSeries, overMemory, expired atomic.Uint64

	// hideOwn leaves the table's own gunicornotel_quantile_* metrics out
	// (--telemetry.names=statsd_exporter).
	hideOwn bool

	seriesDesc, bytesDesc, overflowDesc, expiredDesc *prometheus.Desc
}

// newSummaries returns an empty table: at most maxSeries summary series, and
// maxBytes with what otherBytes reports; at most maxNames declared names.
func newSummaries(maxSeries, maxNames int, maxBytes int64) *summaries {
	return &summaries{
		maxSeries: maxSeries, maxBytes: maxBytes, maxDecl: maxNames, now: time.Now,
		declared:     make(map[string]*summaryDecl),
		seriesDesc:   prometheus.NewDesc("gunicornotel_quantile_series", "Series of the summaries served where statsd_exporter would serve them.", nil, nil),
		bytesDesc:    prometheus.NewDesc("gunicornotel_quantile_memory_bytes", "What the summaries' series count for against --otel.max-memory.", nil, nil),
		overflowDesc: prometheus.NewDesc("gunicornotel_quantile_overflow_total", "New summary series sent to their metric's overflow series, by the limit that sent them.", []string{"reason"}, nil),
		expiredDesc:  prometheus.NewDesc("gunicornotel_quantile_expired_total", "Summary series forgotten after their ttl.", nil, nil),
	}
}

// declare makes name a summary with the mapping's options, unless it is
// declared already (the first declaration wins) or the table is full.
func (s *summaries) declare(name string, opts *mapper.SummaryOptions, ttl time.Duration, help string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.declared[name]; ok || len(s.declared) >= s.maxDecl {
		return
	}
	s.declared[name] = &summaryDecl{opts: opts, ttl: ttl, help: help}
}

// instrument returns the summary instrument for a declared name, or nil
// when the name is not declared: the caller makes a histogram then.
func (s *summaries) instrument(name string) *summaryInstrument {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.declared[name]
	if d == nil {
		return nil
	}
	objectives := make(map[float64]float64, len(d.opts.Objectives))
	for _, o := range d.opts.Objectives {
		objectives[o.Quantile] = o.Error
	}
	inst := &summaryInstrument{
		s: s, name: name, decl: d, objectives: objectives,
		cost:   summarySeriesCost(d.opts),
		series: make(map[attribute.Distinct]*summarySeries),
	}
	s.insts = append(s.insts, inst)
	return inst
}

// Overflow reasons of gunicornotel_quantile_overflow_total.
const (
	summaryOverSeries = "histogram_series_limit"
	summaryOverMemory = "memory_limit"
)

// summarySeriesCost is what one series of a summary with opts counts for:
// its two buffers of BufCap observations, and AgeBuckets quantile streams,
// each keeping some 1/error samples per objective (24 bytes each, and their
// slices' room to grow). A default series (objectives 0.5, 0.9, 0.99 within
// 0.05, 0.01, 0.001) counts for 234 KiB; it took 170 KiB after 20000
// observations (TestSummarySeriesCost).
func summarySeriesCost(opts *mapper.SummaryOptions) int64 {
	bufCap, ageBuckets := int64(opts.BufCap), int64(opts.AgeBuckets)
	if bufCap == 0 {
		bufCap = prometheus.DefBufCap
	}
	if ageBuckets == 0 {
		ageBuckets = prometheus.DefAgeBuckets
	}
	var keep int64
	for _, o := range opts.Objectives {
		keep += int64(min(1/max(o.Error, 1e-5), 1e5))
	}
	return 2048 + 2*8*bufCap + ageBuckets*(1024+40*keep)
}

// summaryInstrument is a metric.Float64Histogram whose series are
// client_golang summaries.
type summaryInstrument struct {
	embedded.Float64Histogram
	s          *summaries
	name       string
	decl       *summaryDecl
	objectives map[float64]float64
	cost       int64

	mu       sync.RWMutex
	series   map[attribute.Distinct]*summarySeries
	overflow *summarySeries
}

// summarySeries is one series of a summary.
type summarySeries struct {
	sum  prometheus.Summary
	last atomic.Int64 // unix nanoseconds of the last observation
	cost int64        // 0 for the overflow series
}

var _ metric.Float64Histogram = (*summaryInstrument)(nil)

// Record observes v in the series of the options' attribute set. In steady
// state (the series exists) it allocates nothing but what client_golang's
// summary does: a goroutine every BufCap observations, to merge its buffer.
func (si *summaryInstrument) Record(_ context.Context, v float64, opts ...metric.RecordOption) {
	set := metric.NewRecordConfig(opts).Attributes()
	key := set.Equivalent()
	si.mu.RLock()
	ser := si.series[key]
	si.mu.RUnlock()
	if ser == nil {
		ser = si.add(set, key)
	}
	ser.sum.Observe(v)
	ser.last.Store(si.s.now().UnixNano())
}

// Enabled reports true: every observation is kept.
func (si *summaryInstrument) Enabled(context.Context) bool { return true }

// add makes the series of set, or returns the overflow series when a limit
// refuses it.
func (si *summaryInstrument) add(set attribute.Set, key attribute.Distinct) *summarySeries {
	si.mu.Lock()
	defer si.mu.Unlock()
	if ser := si.series[key]; ser != nil {
		return ser
	}
	s := si.s
	if set.Len() == 1 && set.HasValue("otel.metric.overflow") {
		// The bridge's own overflow series.
		return si.overflowLocked()
	}
	var other int64
	if f := s.otherBytes.Load(); f != nil {
		other = (*f)()
	}
	s.mu.Lock()
	switch {
	case s.nseries >= s.maxSeries:
		s.mu.Unlock()
		s.overSeries.Add(1)
		return si.overflowLocked()
	case s.maxBytes > 0 && other+s.bytes+si.cost > s.maxBytes:
		s.mu.Unlock()
		s.overMemory.Add(1)
		return si.overflowLocked()
	}
	s.nseries++
	s.bytes += si.cost
	s.mu.Unlock()
	ser := &summarySeries{sum: si.newSummary(set), cost: si.cost}
	ser.last.Store(s.now().UnixNano())
	si.series[key] = ser
	return ser
}

// overflowLocked returns the overflow series, making it on first use. It
// counts for no limit: there is one per summary metric at most.
func (si *summaryInstrument) overflowLocked() *summarySeries {
	if si.overflow == nil {
		si.overflow = &summarySeries{sum: si.newSummary(attribute.NewSet(attribute.Bool("otel.metric.overflow", true)))}
	}
	return si.overflow
}

// newSummary makes the client_golang summary of one series: the metric
// name, help and options of the declaration, the attributes as constant
// labels (keys escaped as statsd_exporter escapes them).
func (si *summaryInstrument) newSummary(set attribute.Set) prometheus.Summary {
	labels := make(prometheus.Labels, set.Len())
	for it := set.Iter(); it.Next(); {
		kv := it.Attribute()
		labels[escapeName(string(kv.Key))] = kv.Value.Emit()
	}
	o := si.decl.opts
	return prometheus.NewSummary(prometheus.SummaryOpts{
		Name:        si.name,
		Help:        si.decl.help,
		ConstLabels: labels,
		Objectives:  si.objectives,
		MaxAge:      o.MaxAge,
		AgeBuckets:  o.AgeBuckets,
		BufCap:      o.BufCap,
	})
}

// Describe describes nothing: the summaries are an unchecked collector, as
// statsd_exporter's are (series come and go with the traffic).
func (s *summaries) Describe(chan<- *prometheus.Desc) {}

// Collect forgets the series past their ttl and sends every other one, then
// the table's own metrics.
func (s *summaries) Collect(ch chan<- prometheus.Metric) {
	now := s.now().UnixNano()
	s.mu.Lock()
	insts := s.insts[:len(s.insts):len(s.insts)]
	s.mu.Unlock()
	for _, si := range insts {
		si.collect(ch, now)
	}
	if s.hideOwn {
		return
	}
	s.mu.Lock()
	n, b := s.nseries, s.bytes
	s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(s.seriesDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(s.bytesDesc, prometheus.GaugeValue, float64(b))
	ch <- prometheus.MustNewConstMetric(s.overflowDesc, prometheus.CounterValue, float64(s.overSeries.Load()), summaryOverSeries)
	ch <- prometheus.MustNewConstMetric(s.overflowDesc, prometheus.CounterValue, float64(s.overMemory.Load()), summaryOverMemory)
	ch <- prometheus.MustNewConstMetric(s.expiredDesc, prometheus.CounterValue, float64(s.expired.Load()))
}

// collect forgets the instrument's series past their ttl and sends the
// others, outside the lock: observations do not wait for the scrape.
func (si *summaryInstrument) collect(ch chan<- prometheus.Metric, now int64) {
	ttl := int64(si.decl.ttl)
	si.mu.Lock()
	var freed int64
	var gone int
	live := make([]prometheus.Summary, 0, len(si.series)+1)
	for key, ser := range si.series {
		if ttl > 0 && now-ser.last.Load() >= ttl {
			delete(si.series, key)
			freed += ser.cost
			gone++
			continue
		}
		live = append(live, ser.sum)
	}
	if si.overflow != nil {
		live = append(live, si.overflow.sum)
	}
	si.mu.Unlock()
	for _, m := range live {
		ch <- m
	}
	if gone > 0 {
		s := si.s
		s.mu.Lock()
		s.nseries -= gone
		s.bytes -= freed
		s.mu.Unlock()
		s.expired.Add(uint64(gone))
	}
}

// String names the instrument in messages.
func (si *summaryInstrument) String() string { return fmt.Sprintf("summary %s", si.name) }
