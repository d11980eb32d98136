package mapper

import "time"

// Objective is one quantile a summary estimates, and the error allowed in
// its rank: {0.99, 0.001} reports a value whose rank is within 0.989 and
// 0.991. It is a statsd_exporter summary_options.quantiles entry.
type Objective struct {
	Quantile float64
	Error    float64
}

// DefaultObjectives are the objectives statsd_exporter v0.31.0 gives a
// summary when neither its rule nor the file's defaults name any: the median
// within 0.05, the 90th percentile within 0.01, the 99th within 0.001. The
// slice is shared: do not modify it.
var DefaultObjectives = []Objective{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}}

// SummaryOptions say how statsd_exporter would expose an observer (a timer,
// histogram or distribution) that its mapping file makes a summary: its
// summary_options, with the file's defaults resolved as statsd_exporter
// v0.31.0 resolves them. A zero MaxAge, AgeBuckets or BufCap is passed to the
// Prometheus client as it is, which then takes its own default (10 minutes,
// 5 and 500: prometheus.DefMaxAge, DefAgeBuckets, DefBufCap).
//
// They are for a consumer that serves Prometheus itself (the drop-in daemon
// under examples/): OpenTelemetry has no summary instrument, and otelbridge
// records every observer as a histogram whatever they say.
type SummaryOptions struct {
	// Objectives are the quantiles to estimate; never empty.
	Objectives []Objective
	// MaxAge is how long an observation counts for the quantiles.
	MaxAge time.Duration
	// AgeBuckets is in how many buckets MaxAge is divided: observations
	// leave the quantiles MaxAge/AgeBuckets at a time.
	AgeBuckets uint32
	// BufCap is how many observations are buffered before they are merged
	// into the quantile streams.
	BufCap uint32
}

// DefaultSummary is what statsd_exporter v0.31.0 makes of an observer when
// it runs without a mapping file: a summary with DefaultObjectives and the
// client's defaults. Shared: do not modify it.
var DefaultSummary = &SummaryOptions{Objectives: DefaultObjectives}

// summarySpec is a summary_options (or the legacy top-level quantiles) as
// written.
type summarySpec struct {
	objectives []Objective // nil: not given (or empty)
	maxAge     time.Duration
	ageBuckets uint32
	bufCap     uint32
}

// observerSpec is what a rule or the defaults say of observers.
type observerSpec struct {
	// typ is "histogram", "summary" (an observer_type of "summary" or "",
	// which statsd_exporter reads as summary), or "" when not given.
	typ     string
	summary *summarySpec // nil: no summary_options
	legacy  []Objective  // the top-level quantiles of older versions
}

// baseSummary is the defaults' summary options: what an unmatched observer
// gets when the defaults do not make histograms, and what fills in a rule's.
func baseSummary(d *observerSpec) *SummaryOptions {
	o := &SummaryOptions{Objectives: DefaultObjectives}
	if s := d.summary; s != nil {
		o.MaxAge, o.AgeBuckets, o.BufCap = s.maxAge, s.ageBuckets, s.bufCap
		if s.objectives != nil {
			o.Objectives = s.objectives
		}
	} else if d.legacy != nil {
		o.Objectives = d.legacy
	}
	return o
}

// ruleSummary resolves a rule's observer as statsd_exporter v0.31.0 does,
// given base, the defaults' options (baseSummary): a histogram (nil) when
// the rule, or else the defaults, say observer_type: histogram; otherwise a
// summary whose objectives are the rule's, else the defaults'. MaxAge,
// AgeBuckets and BufCap are the rule's, each taken from the defaults where
// zero, when an observer_type of summary is written (in the rule or the
// defaults); when none is, a rule with summary_options keeps its own as
// written (statsd_exporter fills them in only for an explicit summary), and
// a rule without takes the defaults'.
func ruleSummary(r, d *observerSpec, base *SummaryOptions) *SummaryOptions {
	typ := r.typ
	if typ == "" {
		typ = d.typ
	}
	if typ == "histogram" {
		return nil
	}
	own := r.summary
	if own == nil && r.legacy != nil {
		own = &summarySpec{objectives: r.legacy}
	}
	if own == nil {
		return base
	}
	o := &SummaryOptions{Objectives: base.Objectives, MaxAge: own.maxAge, AgeBuckets: own.ageBuckets, BufCap: own.bufCap}
	if own.objectives != nil {
		o.Objectives = own.objectives
	}
	if typ == "summary" {
		if o.MaxAge == 0 {
			o.MaxAge = base.MaxAge
		}
		if o.AgeBuckets == 0 {
			o.AgeBuckets = base.AgeBuckets
		}
		if o.BufCap == 0 {
			o.BufCap = base.BufCap
		}
	}
	return o
}
