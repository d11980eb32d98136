package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// rawName reports whether an instrument name carries rawPrefix, and returns
// the Prometheus metric name after it.
func rawName(name string) (string, bool) {
	return strings.CutPrefix(name, rawPrefix)
}

// routingProvider is a MeterProvider that makes the float instruments whose
// name carries rawPrefix (the ones statsdNames renamed) from raw, under the
// name after the prefix, and everything else (the Gunicorn profile's
// instruments, the program's own telemetry) from std. raw and std feed two
// Prometheus exporters in one registry: raw's exposes names as they are, std's
// translates OpenTelemetry names (gunicorn.requests: gunicorn_requests_total).
//
// A float histogram whose name statsdNames declared a summary in sums is a
// summaryInstrument instead (summary.go).
type routingProvider struct {
	metric.MeterProvider // std
	raw                  metric.MeterProvider
	sums                 *summaries // nil: no summaries
}

// Meter returns a Meter that routes by instrument name.
func (p *routingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &routingMeter{Meter: p.MeterProvider.Meter(name, opts...), raw: p.raw.Meter(name, opts...), sums: p.sums}
}

// routingMeter is the Meter of a routingProvider. A callback is registered
// with the meter that made its instruments: the SDK refuses instruments of
// another meter.
type routingMeter struct {
	metric.Meter // std
	raw          metric.Meter
	sums         *summaries

	mu      sync.Mutex
	fromRaw map[metric.Observable]bool // the observables made by raw
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

// observable makes an observable instrument with newInst from raw, named
// after rawPrefix, when name carries it (remembering it), else from std.
func observable[T metric.Observable](m *routingMeter, name string, newInst func(metric.Meter, string) (T, error)) (T, error) {
	prom, ok := rawName(name)
	if !ok {
		return newInst(m.Meter, name)
	}
	inst, err := newInst(m.raw, prom)
	if err = rawErr(err); err == nil {
		m.mu.Lock()
		if m.fromRaw == nil {
			m.fromRaw = make(map[metric.Observable]bool)
		}
		m.fromRaw[inst] = true
		m.mu.Unlock()
	}
	return inst, err
}

// Float64ObservableCounter makes the instrument from raw when name carries
// rawPrefix, else from std.
func (m *routingMeter) Float64ObservableCounter(name string, opts ...metric.Float64ObservableCounterOption) (metric.Float64ObservableCounter, error) {
	return observable(m, name, func(mt metric.Meter, n string) (metric.Float64ObservableCounter, error) {
		return mt.Float64ObservableCounter(n, opts...)
	})
}

// Float64ObservableUpDownCounter makes the instrument from raw when name
// carries rawPrefix, else from std.
func (m *routingMeter) Float64ObservableUpDownCounter(name string, opts ...metric.Float64ObservableUpDownCounterOption) (metric.Float64ObservableUpDownCounter, error) {
	return observable(m, name, func(mt metric.Meter, n string) (metric.Float64ObservableUpDownCounter, error) {
		return mt.Float64ObservableUpDownCounter(n, opts...)
	})
}

// Float64ObservableGauge makes the instrument from raw when name carries
// rawPrefix, else from std.
func (m *routingMeter) Float64ObservableGauge(name string, opts ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	return observable(m, name, func(mt metric.Meter, n string) (metric.Float64ObservableGauge, error) {
		return mt.Float64ObservableGauge(n, opts...)
	})
}

// RegisterCallback registers f with the meter that made the instruments; they
// must all come from the same one.
func (m *routingMeter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	m.mu.Lock()
	raw := 0
	for _, inst := range instruments {
		if m.fromRaw[inst] {
			raw++
		}
	}
	m.mu.Unlock()
	switch raw {
	case 0:
		return m.Meter.RegisterCallback(f, instruments...)
	case len(instruments):
		return m.raw.RegisterCallback(f, instruments...)
	}
	return nil, fmt.Errorf("gunicorn-prometheus: a callback observes instruments of both exposition styles (%d of %d raw)", raw, len(instruments))
}

// Float64Counter makes the instrument from raw when name carries rawPrefix,
// else from std.
func (m *routingMeter) Float64Counter(name string, opts ...metric.Float64CounterOption) (metric.Float64Counter, error) {
	if prom, ok := rawName(name); ok {
		inst, err := m.raw.Float64Counter(prom, opts...)
		return inst, rawErr(err)
	}
	return m.Meter.Float64Counter(name, opts...)
}

// Float64UpDownCounter makes the instrument from raw when name carries
// rawPrefix, else from std.
func (m *routingMeter) Float64UpDownCounter(name string, opts ...metric.Float64UpDownCounterOption) (metric.Float64UpDownCounter, error) {
	if prom, ok := rawName(name); ok {
		inst, err := m.raw.Float64UpDownCounter(prom, opts...)
		return inst, rawErr(err)
	}
	return m.Meter.Float64UpDownCounter(name, opts...)
}

// Float64Gauge makes the instrument from raw when name carries rawPrefix,
// else from std.
func (m *routingMeter) Float64Gauge(name string, opts ...metric.Float64GaugeOption) (metric.Float64Gauge, error) {
	if prom, ok := rawName(name); ok {
		inst, err := m.raw.Float64Gauge(prom, opts...)
		return inst, rawErr(err)
	}
	return m.Meter.Float64Gauge(name, opts...)
}

// Float64Histogram makes the instrument from raw when name carries rawPrefix,
// else from std; but the summary instrument when sums declares the name a
// summary.
func (m *routingMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	if prom, ok := rawName(name); ok {
		if m.sums != nil {
			if inst := m.sums.instrument(prom); inst != nil {
				return inst, nil
			}
		}
		inst, err := m.raw.Float64Histogram(prom, opts...)
		return inst, rawErr(err)
	}
	return m.Meter.Float64Histogram(name, opts...)
}
