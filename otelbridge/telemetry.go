package otelbridge

import (
	"context"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/asyncinst"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Names of the bridge's own instruments (scope ScopeName). All are
// asynchronous: one callback reads the bridge's counters at collection time,
// so recording a sample does no extra OpenTelemetry work.
const (
	MetricDatagrams         = "gunicornotel.datagrams"             // counter {datagram}
	MetricSamples           = "gunicornotel.samples"               // counter {sample}, attribute statsd.metric.type
	MetricRecorded          = "gunicornotel.samples.recorded"      // counter {sample}
	MetricRejected          = "gunicornotel.samples.rejected"      // counter {sample}, attribute reason
	MetricForgiven          = "gunicornotel.lines.forgiven"        // counter {line}, attribute reason: kept by a lenient statsd.Dialect where the default rejects them
	MetricDropped           = "gunicornotel.samples.dropped"       // counter {sample}
	MetricWeightCapped      = "gunicornotel.samples.weight_capped" // counter {sample}, attribute reason (sample_weight, datagram_weight)
	MetricSeriesOverflow    = "gunicornotel.series.overflow"       // counter {sample}, attribute reason: the limit (series_limit, ...)
	MetricSeriesRemoved     = "gunicornotel.series.removed"        // counter {series}, attribute reason (ttl, idle)
	MetricSeries            = "gunicornotel.series"                // up-down counter {series}
	MetricMemory            = "gunicornotel.memory"                // up-down counter By: instruments, series and series table, as counted for WithMaxMemory
	MetricInstruments       = "gunicornotel.instruments"           // up-down counter {instrument}
	MetricSeriesCacheHits   = "gunicornotel.series.cache.hits"     // counter {lookup}
	MetricSeriesCacheMisses = "gunicornotel.series.cache.misses"   // counter {lookup}
	MetricMapperCacheHits   = "gunicornotel.mapper.cache.hits"     // counter {lookup}
	MetricMapperCacheMisses = "gunicornotel.mapper.cache.misses"   // counter {lookup}
	MetricTagsDropped       = "gunicornotel.tags.dropped"          // counter {tag}, attribute reason
)

// Attribute keys of the bridge's own instruments.
const (
	AttrType   = "statsd.metric.type"
	AttrReason = "reason"
)

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func (b *Bridge) registerTelemetry(m metric.Meter) error {
	mk := &asyncinst.Maker{Meter: m}
	counter, updown := mk.Int64Counter, mk.Int64UpDownCounter
	datagrams := counter(MetricDatagrams, "{datagram}", "StatsD datagrams (TCP: lines) handed to the bridge.")
	samples := counter(MetricSamples, "{sample}", "Parsed StatsD samples handed to the bridge, by type.")
	recorded := counter(MetricRecorded, "{sample}", "Samples recorded in an instrument.")
	rejected := counter(MetricRejected, "{sample}", "Rejected lines and samples, by reason.")
	forgiven := counter(MetricForgiven, "{line}", "Lines a lenient parser dialect kept where the default rejects them, by the reason it would have rejected them for.")
	dropped := counter(MetricDropped, "{sample}", "Samples dropped on purpose by the mapping.")
	capped := counter(MetricWeightCapped, "{sample}", "Samples whose weight (1/rate) was capped, by the limit that capped it.")
	overflow := counter(MetricSeriesOverflow, "{sample}", "Samples recorded in an overflow series (otel.metric.overflow=true), by the limit that sent them there.")
	removed := counter(MetricSeriesRemoved, "{series}", "Series forgotten: their ttl passed (ttl), or idle to make room (idle).")
	series := updown(MetricSeries, "{series}", "Series (instrument and attribute set) tracked.")
	memory := updown(MetricMemory, "By", "Memory of the instruments, series and series table, as counted for the bridge's memory limit.")
	insts := updown(MetricInstruments, "{instrument}", "Instrument names known to the bridge.")
	tableHits := counter(MetricSeriesCacheHits, "{lookup}", "Series table lookups that found the series.")
	tableMisses := counter(MetricSeriesCacheMisses, "{lookup}", "Series table lookups that called the mapper.")
	mapHits := counter(MetricMapperCacheHits, "{lookup}", "Mapper cache hits, when the mapper reports them.")
	mapMisses := counter(MetricMapperCacheMisses, "{lookup}", "Mapper cache misses, when the mapper reports them.")
	tagsDropped := counter(MetricTagsDropped, "{tag}", "Tags left out of series, by reason (bad_tag: unreadable; the mapper's: reserved, conflict, invalid, bare, too_many, key_too_long; value_truncated: cut short, kept).")
	if err := mk.Err(); err != nil {
		return err
	}

	reasonOpt := func(r string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrReason, r)))
	}
	var typeOpts [numTypeSlots]metric.ObserveOption
	for i := range typeOpts {
		typeOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrType, statsd.Type(i).String())))
	}
	var reasonOpts [numReasonSlots]metric.ObserveOption
	for i := range reasonOpts {
		if reasonNames[i] != "" {
			reasonOpts[i] = reasonOpt(reasonNames[i])
		}
	}
	var forgivenOpts [statsd.NumReasons]metric.ObserveOption
	for _, r := range statsd.Reasons() {
		forgivenOpts[r] = reasonOpt(r.String())
	}
	var overflowOpts [numOverflowReasons]metric.ObserveOption
	for i := 1; i < numOverflowReasons; i++ {
		overflowOpts[i] = reasonOpt(overflowNames[i])
	}
	var capOpts [numCapReasons]metric.ObserveOption
	for i := range capOpts {
		capOpts[i] = reasonOpt(capNames[i])
	}
	ttlOpt, idleOpt := reasonOpt("ttl"), reasonOpt("idle")
	// The reasons tags are dropped for are the mapper's, a handful: each
	// one's attribute set is made the first time it is seen, not at every
	// collection. Readers may collect at once, hence the lock.
	var tagMu sync.Mutex
	tagOpts := make(map[string]metric.ObserveOption)
	tagOpt := func(reason string) metric.ObserveOption {
		tagMu.Lock()
		defer tagMu.Unlock()
		opt, ok := tagOpts[reason]
		if !ok {
			opt = reasonOpt(reason)
			tagOpts[reason] = opt
		}
		return opt
	}

	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c := &b.counters
		st := b.Stats()
		o.ObserveInt64(datagrams, clampInt64(st.Datagrams))
		for i, v := range c.types() {
			if v != 0 {
				o.ObserveInt64(samples, clampInt64(v), typeOpts[i])
			}
		}
		o.ObserveInt64(recorded, clampInt64(st.Recorded))
		for i := range c.reasons {
			if v := c.reasons[i].Load(); v != 0 && reasonOpts[i] != nil {
				o.ObserveInt64(rejected, clampInt64(v), reasonOpts[i])
			}
		}
		for i := range c.forgiven {
			if v := c.forgiven[i].Load(); v != 0 {
				o.ObserveInt64(forgiven, clampInt64(v), forgivenOpts[i])
			}
		}
		o.ObserveInt64(dropped, clampInt64(st.Dropped))
		for i := range c.capped {
			o.ObserveInt64(capped, clampInt64(c.capped[i].Load()), capOpts[i])
		}
		for i := 1; i < numOverflowReasons; i++ {
			if v := c.overflow[i].Load(); v != 0 {
				o.ObserveInt64(overflow, clampInt64(v), overflowOpts[i])
			}
		}
		o.ObserveInt64(removed, clampInt64(st.SeriesExpired), ttlOpt)
		o.ObserveInt64(removed, clampInt64(st.SeriesReclaimed), idleOpt)
		o.ObserveInt64(series, int64(st.Series))
		o.ObserveInt64(memory, st.Memory)
		o.ObserveInt64(insts, int64(st.Instruments))
		o.ObserveInt64(tableHits, clampInt64(st.SeriesCacheHits))
		o.ObserveInt64(tableMisses, clampInt64(st.SeriesCacheMisses))
		o.ObserveInt64(mapHits, clampInt64(st.MapperCacheHits))
		o.ObserveInt64(mapMisses, clampInt64(st.MapperCacheMisses))
		for reason, n := range st.TagsDropped {
			o.ObserveInt64(tagsDropped, clampInt64(n), tagOpt(reason))
		}
		return nil
	}, datagrams, samples, recorded, rejected, forgiven, dropped, capped, overflow, removed, series, memory, insts,
		tableHits, tableMisses, mapHits, mapMisses, tagsDropped)
	if err != nil {
		return err
	}
	b.telemetry = reg
	return nil
}
