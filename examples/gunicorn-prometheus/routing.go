package main

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// The daemon's two expositions: two MeterProviders, std and raw, feeding two
// Prometheus exporters in one registry. std's translates OpenTelemetry names
// (gunicorn.requests: gunicorn_requests_total) and holds the Gunicorn
// profile's instruments and the program's own telemetry; raw's exposes names
// as they are, and holds every instrument statsdNames named as
// statsd_exporter names it. The bridge records into std and asks meters.pick,
// its otelbridge.WithMeterFor, which Meter makes each instrument.

// meters picks the Meter of each instrument the bridge makes.
type meters struct {
	raw  promMeter
	sums *summaries // nil: no summaries
}

// newMeters returns the picker of instruments made by raw's Meter (scope
// name), or as summaries in sums (nil: none).
func newMeters(raw metric.MeterProvider, name string, sums *summaries) *meters {
	return &meters{raw: promMeter{raw.Meter(name)}, sums: sums}
}

// pick is the bridge's WithMeterFor: nil (std, the bridge's default Meter)
// for the Gunicorn profile's mappings, which are its reserved ones; raw's
// for every other, which statsdNames renamed. A histogram that statsd_exporter
// serves as a summary (mapper.Mapping.Summary, set by statsdNames without a
// mapping file) is made by a summaryMeter.
func (ms *meters) pick(mp *mapper.Mapping) metric.Meter {
	switch {
	case mp.Reserved:
		return nil
	case mp.Kind == mapper.KindHistogram && mp.Summary != nil && ms.sums != nil:
		return summaryMeter{promMeter: ms.raw, sums: ms.sums, mp: mp}
	}
	return ms.raw
}

// rawErr drops the SDK's complaint about a name that is not an OpenTelemetry
// instrument name (a Prometheus name may start with '_'): the instrument it
// returns with that error works, and the raw exporter exposes the name as it
// is.
func rawErr(err error) error {
	if errors.Is(err, sdkmetric.ErrInstrumentName) {
		return nil
	}
	return err
}

// promMeter is raw's Meter: it makes the float instruments the bridge asks
// for under statsd_exporter's names, which the SDK may call invalid (rawErr).
// Callbacks are registered with it, the Meter that made their instruments.
type promMeter struct{ metric.Meter }

// Float64ObservableCounter makes the instrument, whatever the SDK says of
// its name.
func (m promMeter) Float64ObservableCounter(name string, opts ...metric.Float64ObservableCounterOption) (metric.Float64ObservableCounter, error) {
	inst, err := m.Meter.Float64ObservableCounter(name, opts...)
	return inst, rawErr(err)
}

// Float64ObservableUpDownCounter makes the instrument, whatever the SDK says
// of its name.
func (m promMeter) Float64ObservableUpDownCounter(name string, opts ...metric.Float64ObservableUpDownCounterOption) (metric.Float64ObservableUpDownCounter, error) {
	inst, err := m.Meter.Float64ObservableUpDownCounter(name, opts...)
	return inst, rawErr(err)
}

// Float64ObservableGauge makes the instrument, whatever the SDK says of its
// name.
func (m promMeter) Float64ObservableGauge(name string, opts ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	inst, err := m.Meter.Float64ObservableGauge(name, opts...)
	return inst, rawErr(err)
}

// Float64Histogram makes the instrument, whatever the SDK says of its name.
func (m promMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	inst, err := m.Meter.Float64Histogram(name, opts...)
	return inst, rawErr(err)
}

// summaryMeter makes the histogram of a mapping that statsd_exporter serves
// as a summary: it declares the name a summary in sums with the mapping's
// options, ttl and help (the first mapping of a name makes its instrument,
// as it makes its SummaryVec there), and returns the summaryInstrument
// (summary.go); raw's histogram when the table has no room for the name.
type summaryMeter struct {
	promMeter
	sums *summaries
	mp   *mapper.Mapping
}

// Float64Histogram returns the summary instrument of name.
func (m summaryMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	m.sums.declare(name, m.mp.Summary, m.mp.TTL, m.mp.Description)
	if inst := m.sums.instrument(name); inst != nil {
		return inst, nil
	}
	return m.promMeter.Float64Histogram(name, opts...)
}
