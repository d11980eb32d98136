package main

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// The program's own telemetry under statsd_exporter v0.31.0's names, so that
// its health dashboards and alerts keep working: which names --telemetry.names
// serves.
const (
	telemetryBoth           = "both"            // gunicornotel_* and statsd_exporter_*
	telemetryStatsdExporter = "statsd_exporter" // statsd_exporter_* (and statsd_metric_mapper_*) only
	telemetryGunicornotel   = "gunicornotel"    // gunicornotel_* only
)

// servesStatsdExporterNames reports whether statsd_exporter's names are
// served; servesOwnNames whether the gunicornotel_* ones are.
func (c *config) servesStatsdExporterNames() bool { return c.telemetryNames != telemetryGunicornotel }
func (c *config) servesOwnNames() bool            { return c.telemetryNames != telemetryStatsdExporter }

// telemetryViews returns the views of the std MeterProvider that leave out
// the gunicornotel.* instruments when only statsd_exporter's names are
// served. Gunicorn's own metrics (gunicorn.*) and the watcher's stay.
func (c *config) telemetryViews() []sdkmetric.Option {
	if c.servesOwnNames() {
		return nil
	}
	return []sdkmetric.Option{sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Name: "gunicornotel.*"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}},
	))}
}

// What statsd_exporter's counters mean, and what ours are computed from
// (README.md, "The program's own telemetry", lists the same):
//
//   - statsd_exporter_lines_total: lines that held a sample or were rejected
//     (seCounts). statsd_exporter also counts empty lines (the one after a
//     trailing newline), and not a TCP line too long.
//   - statsd_exporter_samples_total: samples parsed (sets included), plus the
//     lines rejected for what statsd_exporter finds wrong in a sample
//     (a bad value, type, rate or timestamp): it counts those as samples
//     before it rejects them. A packed line rejected whole counts once.
//   - statsd_exporter_sample_errors_total{reason}: our rejection reasons as
//     seReason says; sets (the bridge rejects them as unsupported_type) as
//     statsd_exporter rejects them: "malformed_value" when the member is not
//     a number, else "illegal_event".
//   - statsd_exporter_tags_total: samples with at least one label (a tag
//     with a key and a value, or a container id), as statsd_exporter counts
//     it (per sample, not per tag).
//   - statsd_exporter_tag_errors_total: tags the parser dropped (empty key,
//     stray comma) and tags without a value ("canary", "env:"), which
//     statsd_exporter counts as errors too, once per line.
//   - statsd_exporter_events_total{type}: samples of each type handed to the
//     bridge (counter; gauge; observer: timers, histograms, distributions),
//     less the counters rejected as negative. The bridge does not count
//     recorded samples by type, so samples dropped by a rule or rejected for
//     another reason (served under events_actions_total{action="drop"},
//     events_error_total, events_conflict_total) are in it too: it is exact
//     when those are 0. statsd_exporter counts a sampled observation
//     int(1/rate) times; here a sample counts once.
//   - statsd_exporter_events_actions_total{action="drop"}: samples dropped by
//     a rule, with a mapping file. action="map" is not served: the bridge
//     does not count samples by whether a rule matched.
//   - statsd_exporter_events_unmapped_total: without mapping rules (no
//     mapping file, or one without rules), every sample handed to the bridge
//     but sets, as there (statsd_exporter has no rules then). With rules, not
//     served, for the same reason as action="map".
//   - statsd_exporter_events_error_total{reason}: the bridge's rejections
//     after parsing: negative_counter as "illegal_negative_counter", bad_name
//     (an empty name, or one over 255 bytes) as "empty_metric_name"; the
//     reasons statsd_exporter does not have under our names: bad_value (not
//     finite after scaling), name_limit, memory_limit, instrument_error.
//   - statsd_exporter_events_conflict_total{type,metric_name}: the bridge's
//     type_conflict rejections, with both labels empty: the bridge counts
//     them without the type or the name.
//   - statsd_exporter_udp_packets_total, …_unixgram_packets_total: the
//     server counts datagrams (and TCP lines) of every listener together, so
//     a listener's count is served only when it alone can have sent them: 0
//     when the listener is off; the server's count when it is the only
//     packet listener and no TCP connection was ever accepted; else not
//     served.
//   - statsd_exporter_udp_packet_drops_total: the kernel's drops of full UDP
//     socket buffers (SO_RXQ_OVFL). There is no queue after the socket to
//     drop from, as statsd_exporter's.
//   - statsd_exporter_tcp_connections_total: TCP connections accepted.
//   - statsd_exporter_tcp_connection_errors_total: failed reads and accepts
//     (a packet socket's included: statsd_exporter stops reading or exits on
//     those).
//   - statsd_exporter_tcp_too_long_lines_total: lines rejected as too_long,
//     on any listener (over --statsd.max-line-length, 8,192 bytes by
//     default; statsd_exporter's is 4,096 on TCP, and it closes the
//     connection).
//   - statsd_exporter_event_queue_flushed_total: batches handed to the bridge
//     (there is no event queue: each read batch is handed on at once).
//   - statsd_exporter_loaded_mappings, statsd_exporter_config_reloads_total:
//     as there.
//   - statsd_metric_mapper_cache_gets_total, …_hits_total, …_length: the
//     bridge's series table, looked up for every sample as statsd_exporter's
//     mapping cache is (keyed by name, type and tags: the mapper's own cache
//     sits behind it); its length is the series tracked.
//   - statsd_exporter_relay_*{target}: the relay's lines relayed and too
//     long, and datagrams sent (sent or failed, as there).
//   - statsd_exporter_build_info: this program's version.
//
// Not served: statsd_exporter_metrics_total{type} (the bridge counts its
// instruments, not by type) and events_actions_total{action="map"}.

// Our line rejection reasons as statsd_exporter's sample_errors_total
// reasons.
const (
	seMalformedLine = iota
	seNotEnoughParts
	seMixedTags
	seMalformedComponent
	seMalformedValue
	seInvalidSampleFactor
	seIllegalEvent
	seBadTimestamp
	seExtendedAggregate
	seMalformedContainerID
	numSEReasons
)

var seReasonNames = [numSEReasons]string{
	seMalformedLine:        "malformed_line",
	seNotEnoughParts:       "not_enough_parts_after_colon",
	seMixedTags:            "mixed_tagging_styles",
	seMalformedComponent:   "malformed_component",
	seMalformedValue:       "malformed_value",
	seInvalidSampleFactor:  "invalid_sample_factor",
	seIllegalEvent:         "illegal_event",
	seBadTimestamp:         "bad_timestamp", // ours, in --statsd.dialect=default: statsd_exporter ignores |T
	seExtendedAggregate:    "invalid_extended_aggregate_type",
	seMalformedContainerID: "malformed_container_id",
}

// seReason returns statsd_exporter's reason for a line our parser rejected,
// and whether statsd_exporter counts the line as a sample before rejecting
// it. A too_long line is not one of them (see tooLong).
//
//   - malformed_line: "malformed_line" without a ':', "not_enough_parts_after_colon"
//     without a '|' after it, else "malformed_component";
//   - empty_name, invalid_utf8: "malformed_line";
//   - mixed_tags: "mixed_tagging_styles";
//   - bad_value: "malformed_value"; bad_type: "illegal_event"; bad_sample_rate:
//     "invalid_sample_factor"; bad_timestamp: ours, "bad_timestamp".
func seReason(e *statsd.ParseError) (reason int, sample bool) {
	switch e.Reason {
	case statsd.ReasonMalformedLine:
		name, rest, ok := bytes.Cut(e.Line, []byte{':'})
		switch {
		case !ok || len(name) == 0:
			return seMalformedLine, false
		case bytes.IndexByte(rest, '|') < 0:
			return seNotEnoughParts, false
		}
		return seMalformedComponent, true
	case statsd.ReasonEmptyName, statsd.ReasonInvalidUTF8:
		return seMalformedLine, false
	case statsd.ReasonMixedTags:
		return seMixedTags, false
	case statsd.ReasonBadValue:
		return seMalformedValue, true
	case statsd.ReasonBadType:
		return seIllegalEvent, true
	case statsd.ReasonBadSampleRate:
		return seInvalidSampleFactor, true
	case statsd.ReasonBadTimestamp:
		return seBadTimestamp, true
	case statsd.ReasonPackedType:
		return seExtendedAggregate, false
	case statsd.ReasonEmptySection:
		return seMalformedComponent, true
	case statsd.ReasonUnknownSection:
		return seInvalidSampleFactor, true
	case statsd.ReasonBadContainerID:
		return seMalformedContainerID, true
	}
	return seMalformedComponent, true
}

// seCounts counts, for statsd_exporter's names, what the server and the
// bridge do not: lines, samples with labels, tags without a value, and the
// rejected lines by statsd_exporter's reasons. It is a statsd.Handler in
// front of the daemon's handler: a pass over a batch's samples, and a few
// atomic adds per batch.
type seCounts struct {
	next statsd.Handler

	batches, lines, samples, tagged, tagErrors, tooLong atomic.Uint64
	errs                                                [numSEReasons]atomic.Uint64
	sampleErrs                                          atomic.Uint64 // rejected lines statsd_exporter counts as samples

	reloads [2]atomic.Uint64 // failure, success
}

// Handle counts b and hands it on.
func (c *seCounts) Handle(b *statsd.Batch) {
	lines := uint64(b.Lines)
	var tagged, tagErrors uint64
	var prev *byte
	var prevLen int
	var errs [numSEReasons]uint64
	lineLabelled, sets := false, false
	for i := range b.Samples {
		s := &b.Samples[i]
		// The samples of a line (packed values, name:1:2|ms, or a
		// multi-metric line) share their name.
		if p := unsafe.SliceData(s.Name); p != prev || len(s.Name) != prevLen {
			prev, prevLen = p, len(s.Name)
			var bad uint64
			lineLabelled, bad = labels(s)
			tagErrors += bad
		}
		if lineLabelled {
			tagged++
		}
		if s.Type == statsd.Set {
			// statsd_exporter reads a set's member as its value.
			if _, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s.Member), len(s.Member)), 64); err != nil {
				errs[seMalformedValue]++
			} else {
				errs[seIllegalEvent]++
			}
			sets = true
		}
	}
	tagErrors += uint64(len(b.TagErrors))
	var sampleErrs, tooLong uint64
	for i := range b.Errors {
		e := &b.Errors[i]
		if e.Reason == statsd.ReasonTooLong {
			tooLong++
			continue
		}
		r, sample := seReason(e)
		errs[r]++
		if sample {
			sampleErrs++
		}
	}
	c.batches.Add(1)
	add := func(a *atomic.Uint64, n uint64) {
		if n != 0 {
			a.Add(n)
		}
	}
	add(&c.lines, lines)
	add(&c.samples, uint64(len(b.Samples)))
	add(&c.tagged, tagged)
	add(&c.tagErrors, tagErrors)
	for i := range b.Forgiven {
		// statsd_exporter counts a rate it cannot read, and records the
		// sample at rate 1 (a rate of 0 it reads as 1 silently).
		if e := &b.Forgiven[i]; e.Reason == statsd.ReasonBadSampleRate && !readableRate(e.Line) {
			errs[seInvalidSampleFactor]++
		}
	}
	if len(b.Errors) != 0 || len(b.Forgiven) != 0 || sets {
		add(&c.tooLong, tooLong)
		add(&c.sampleErrs, sampleErrs)
		for r, n := range errs {
			add(&c.errs[r], n)
		}
	}
	c.next.Handle(b)
}

// readableRate reports whether the first "|@" section of line is a number
// strconv.ParseFloat reads, as statsd_exporter reads it.
func readableRate(line []byte) bool {
	i := bytes.Index(line, []byte("|@"))
	if i < 0 {
		return true
	}
	r := line[i+2:]
	if j := bytes.IndexByte(r, '|'); j >= 0 {
		r = r[:j]
	}
	_, err := strconv.ParseFloat(string(r), 64)
	return err == nil
}

// labels reports whether statsd_exporter gives s a label (a tag with a key
// and a value, or a container id), and how many of its tags it counts as
// errors for want of a value.
func labels(s *statsd.Sample) (labelled bool, bad uint64) {
	labelled = len(s.ContainerID) > 0
	if len(s.Tags) == 0 {
		return labelled, 0
	}
	it := s.TagIter()
	for it.Next() {
		if len(it.Value()) == 0 {
			bad++
		} else {
			labelled = true
		}
	}
	return labelled, bad
}

// reloaded counts a reload of the mapping file.
func (c *seCounts) reloaded(ok bool) {
	if ok {
		c.reloads[1].Add(1)
	} else {
		c.reloads[0].Add(1)
	}
}

// seCollector serves the program's telemetry under statsd_exporter's names,
// computed at scrape time from the server's, the bridge's, the relay's and
// seCounts' counters.
type seCollector struct {
	a      *app
	counts *seCounts

	lines, samples, sampleErrors, tags, tagErrors     *prometheus.Desc
	events, actions, unmapped, eventErrors, conflicts *prometheus.Desc
	udpPackets, udpDrops, unixgramPackets             *prometheus.Desc
	tcpConns, tcpErrors, tcpTooLong, flushed          *prometheus.Desc
	loaded, reloads, cacheGets, cacheHits, cacheLen   *prometheus.Desc
	relayPackets, relayLong, relayLines               *prometheus.Desc
}

func newSECollector(a *app, counts *seCounts) *seCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &seCollector{
		a: a, counts: counts,
		lines:           d("statsd_exporter_lines_total", "The total number of StatsD lines received."),
		samples:         d("statsd_exporter_samples_total", "The total number of StatsD samples received."),
		sampleErrors:    d("statsd_exporter_sample_errors_total", "The total number of errors parsing StatsD samples.", "reason"),
		tags:            d("statsd_exporter_tags_total", "The total number of DogStatsD tags processed."),
		tagErrors:       d("statsd_exporter_tag_errors_total", "The number of errors parsing DogStatsD tags."),
		events:          d("statsd_exporter_events_total", "The total number of StatsD events seen.", "type"),
		actions:         d("statsd_exporter_events_actions_total", "The total number of StatsD events by action.", "action"),
		unmapped:        d("statsd_exporter_events_unmapped_total", "The total number of StatsD events no mapping was found for."),
		eventErrors:     d("statsd_exporter_events_error_total", "The total number of StatsD events discarded due to errors.", "reason"),
		conflicts:       d("statsd_exporter_events_conflict_total", "The total number of StatsD events with conflicting names.", "type", "metric_name"),
		udpPackets:      d("statsd_exporter_udp_packets_total", "The total number of StatsD packets received over UDP."),
		udpDrops:        d("statsd_exporter_udp_packet_drops_total", "The total number of dropped StatsD packets which received over UDP."),
		unixgramPackets: d("statsd_exporter_unixgram_packets_total", "The total number of StatsD packets received over Unixgram."),
		tcpConns:        d("statsd_exporter_tcp_connections_total", "The total number of TCP connections handled."),
		tcpErrors:       d("statsd_exporter_tcp_connection_errors_total", "The number of errors encountered reading from TCP."),
		tcpTooLong:      d("statsd_exporter_tcp_too_long_lines_total", "The number of lines discarded due to being too long."),
		flushed:         d("statsd_exporter_event_queue_flushed_total", "Number of times events were flushed to exporter"),
		loaded:          d("statsd_exporter_loaded_mappings", "The current number of configured metric mappings."),
		reloads:         d("statsd_exporter_config_reloads_total", "The number of configuration reloads.", "outcome"),
		cacheGets:       d("statsd_metric_mapper_cache_gets_total", "The count of total metric cache gets."),
		cacheHits:       d("statsd_metric_mapper_cache_hits_total", "The count of total metric cache hits."),
		cacheLen:        d("statsd_metric_mapper_cache_length", "The count of unique metrics currently cached."),
		relayPackets:    d("statsd_exporter_relay_packets_total", "The number of StatsD packets relayed.", "target"),
		relayLong:       d("statsd_exporter_relay_long_lines_total", "The number lines that were too long to relay.", "target"),
		relayLines:      d("statsd_exporter_relay_lines_relayed_total", "The number of lines that were buffered to be relayed.", "target"),
	}
}

// Describe sends every Desc.
func (c *seCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.lines, c.samples, c.sampleErrors, c.tags, c.tagErrors,
		c.events, c.actions, c.unmapped, c.eventErrors, c.conflicts,
		c.udpPackets, c.udpDrops, c.unixgramPackets,
		c.tcpConns, c.tcpErrors, c.tcpTooLong, c.flushed,
		c.loaded, c.reloads, c.cacheGets, c.cacheHits, c.cacheLen,
		c.relayPackets, c.relayLong, c.relayLines,
	} {
		ch <- d
	}
}

// Collect reads the counters. Labelled series appear once non-zero, as
// statsd_exporter's do once first incremented; the others are always there.
func (c *seCollector) Collect(ch chan<- prometheus.Metric) {
	a, w := c.a, c.counts
	cfg := a.cfg
	srv := a.srv.Stats()
	br := a.bridge.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	nonZero := func(d *prometheus.Desc, v uint64, labels ...string) {
		if v != 0 {
			counter(d, v, labels...)
		}
	}
	rejected := br.RejectedByReason

	counter(c.lines, w.lines.Load())
	counter(c.samples, w.samples.Load()+w.sampleErrs.Load())
	for r := range w.errs {
		nonZero(c.sampleErrors, w.errs[r].Load(), seReasonNames[r])
	}
	counter(c.tags, w.tagged.Load())
	counter(c.tagErrors, w.tagErrors.Load())

	byType := br.SamplesByType
	counters := byType[statsd.Counter.String()] - min(byType[statsd.Counter.String()], rejected[otelbridge.ReasonNegativeCounter])
	nonZero(c.events, counters, "counter")
	nonZero(c.events, byType[statsd.Gauge.String()], "gauge")
	nonZero(c.events, byType[statsd.Timer.String()]+byType[statsd.Histogram.String()]+byType[statsd.Distribution.String()], "observer")
	hasRules := a.nrules.Load() > 0
	if cfg.Mapping.File != "" {
		nonZero(c.actions, br.Dropped, "drop")
	}
	if !hasRules {
		counter(c.unmapped, br.Samples-min(br.Samples, byType[statsd.Set.String()]))
	}
	nonZero(c.eventErrors, rejected[otelbridge.ReasonNegativeCounter], "illegal_negative_counter")
	nonZero(c.eventErrors, rejected[otelbridge.ReasonBadName], "empty_metric_name")
	// bad_value is the parser's and the bridge's: the bridge's alone is
	// what is left after the lines the parser rejected so.
	nonZero(c.eventErrors, rejected[otelbridge.ReasonBadValue]-min(rejected[otelbridge.ReasonBadValue], srv.Errors[statsd.ReasonBadValue]), otelbridge.ReasonBadValue)
	for _, r := range []string{otelbridge.ReasonNameLimit, otelbridge.ReasonMemoryLimit, otelbridge.ReasonInstrumentError} {
		nonZero(c.eventErrors, rejected[r], r)
	}
	nonZero(c.conflicts, rejected[otelbridge.ReasonTypeConflict], "", "")

	// A listener's datagrams, when it alone can have sent what the server
	// counted.
	noTCP := cfg.listenTCP == "" || srv.TCPConnections == 0
	switch {
	case cfg.listenUDP == "":
		counter(c.udpPackets, 0)
	case cfg.listenUnixgram == "" && noTCP:
		counter(c.udpPackets, srv.Datagrams)
	}
	switch {
	case cfg.listenUnixgram == "":
		counter(c.unixgramPackets, 0)
	case cfg.listenUDP == "" && noTCP:
		counter(c.unixgramPackets, srv.Datagrams)
	}
	counter(c.udpDrops, srv.KernelDrops)
	counter(c.tcpConns, srv.TCPConnections)
	counter(c.tcpErrors, srv.ReadErrors)
	counter(c.tcpTooLong, w.tooLong.Load())
	counter(c.flushed, w.batches.Load())

	ch <- prometheus.MustNewConstMetric(c.loaded, prometheus.GaugeValue, float64(a.nrules.Load()))
	nonZero(c.reloads, w.reloads[0].Load(), "failure")
	nonZero(c.reloads, w.reloads[1].Load(), "success")
	counter(c.cacheGets, br.SeriesCacheHits+br.SeriesCacheMisses)
	counter(c.cacheHits, br.SeriesCacheHits)
	ch <- prometheus.MustNewConstMetric(c.cacheLen, prometheus.GaugeValue, float64(br.Series))

	if r := a.relay; r != nil {
		st := r.stats()
		counter(c.relayPackets, st.Packets+st.SendErrors, cfg.relayAddr)
		counter(c.relayLong, st.TooLong, cfg.relayAddr)
		counter(c.relayLines, st.Relayed, cfg.relayAddr)
	}
}

// registerStatsdExporterNames registers statsd_exporter's names of the
// program's telemetry in a.reg, and its build information as
// statsd_exporter_build_info, when --telemetry.names serves them. It returns
// the counts to put in front of the handler (nil: none).
func (a *app) registerStatsdExporterNames() (*seCounts, error) {
	if !a.cfg.servesStatsdExporterNames() {
		return nil, nil
	}
	w := &seCounts{}
	if err := a.reg.Register(newSECollector(a, w)); err != nil {
		return nil, err
	}
	if err := a.reg.Register(versioncollector.NewCollector("statsd_exporter")); err != nil {
		return nil, err
	}
	return w, nil
}

// countFor puts the counts in front of h, if statsd_exporter's names are
// served.
func (a *app) countFor(h statsd.Handler) statsd.Handler {
	if a.seCounts == nil {
		return h
	}
	a.seCounts.next = h
	return a.seCounts
}

// countReload counts a reload for statsd_exporter_config_reloads_total.
func (a *app) countReload(ok bool) {
	if a.seCounts != nil {
		a.seCounts.reloaded(ok)
	}
}
