package main

import (
	"fmt"
	"sync"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/metric"
)

// promStyle reports whether an instrument name is already a Prometheus metric
// name ([a-zA-Z_:][a-zA-Z0-9_:]*, so no dots): a name written in a
// statsd_exporter mapping file ("gunicorn_response_code"), or an undotted
// StatsD name mapped generically. Such names are exposed exactly as written,
// as statsd_exporter does: no _total, no unit suffix. OpenTelemetry-style
// names (gunicorn.requests, gunicornotel.datagrams) get the usual translation.
func promStyle(name string) bool {
	return model.LegacyValidation.IsValidMetricName(name)
}

// routingProvider is a MeterProvider that makes the float instruments (the
// ones the bridge makes for samples: histograms, and observable counters and
// gauges) from raw when their name is promStyle, and everything else from std.
// raw and std feed two Prometheus exporters with different translation
// strategies, registered in one registry.
type routingProvider struct {
	metric.MeterProvider // std
	raw                  metric.MeterProvider
}

// Meter returns a Meter that routes by instrument name.
func (p *routingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &routingMeter{Meter: p.MeterProvider.Meter(name, opts...), raw: p.raw.Meter(name, opts...)}
}

// routingMeter is the Meter of a routingProvider. A callback is registered
// with the meter that made its instruments: the SDK refuses instruments of
// another meter.
type routingMeter struct {
	metric.Meter // std
	raw          metric.Meter

	mu      sync.Mutex
	fromRaw map[metric.Observable]bool // the observables made by raw
}

// observable makes an observable instrument with newInst from raw when name is
// promStyle (remembering it), else from std.
func observable[T metric.Observable](m *routingMeter, name string, newInst func(metric.Meter) (T, error)) (T, error) {
	if !promStyle(name) {
		return newInst(m.Meter)
	}
	inst, err := newInst(m.raw)
	if err == nil {
		m.mu.Lock()
		if m.fromRaw == nil {
			m.fromRaw = make(map[metric.Observable]bool)
		}
		m.fromRaw[inst] = true
		m.mu.Unlock()
	}
	return inst, err
}

// Float64ObservableCounter makes the instrument from raw when name is
// promStyle, else from std.
func (m *routingMeter) Float64ObservableCounter(name string, opts ...metric.Float64ObservableCounterOption) (metric.Float64ObservableCounter, error) {
	return observable(m, name, func(mt metric.Meter) (metric.Float64ObservableCounter, error) {
		return mt.Float64ObservableCounter(name, opts...)
	})
}

// Float64ObservableUpDownCounter makes the instrument from raw when name is
// promStyle, else from std.
func (m *routingMeter) Float64ObservableUpDownCounter(name string, opts ...metric.Float64ObservableUpDownCounterOption) (metric.Float64ObservableUpDownCounter, error) {
	return observable(m, name, func(mt metric.Meter) (metric.Float64ObservableUpDownCounter, error) {
		return mt.Float64ObservableUpDownCounter(name, opts...)
	})
}

// Float64ObservableGauge makes the instrument from raw when name is
// promStyle, else from std.
func (m *routingMeter) Float64ObservableGauge(name string, opts ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	return observable(m, name, func(mt metric.Meter) (metric.Float64ObservableGauge, error) {
		return mt.Float64ObservableGauge(name, opts...)
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
	return nil, fmt.Errorf("gunicorn-prometheus: a callback observes instruments of both exposition styles (%d of %d unsuffixed)", raw, len(instruments))
}

// Float64Counter makes the instrument from raw when name is promStyle, else
// from std.
func (m *routingMeter) Float64Counter(name string, opts ...metric.Float64CounterOption) (metric.Float64Counter, error) {
	if promStyle(name) {
		return m.raw.Float64Counter(name, opts...)
	}
	return m.Meter.Float64Counter(name, opts...)
}

// Float64UpDownCounter makes the instrument from raw when name is promStyle, else
// from std.
func (m *routingMeter) Float64UpDownCounter(name string, opts ...metric.Float64UpDownCounterOption) (metric.Float64UpDownCounter, error) {
	if promStyle(name) {
		return m.raw.Float64UpDownCounter(name, opts...)
	}
	return m.Meter.Float64UpDownCounter(name, opts...)
}

// Float64Gauge makes the instrument from raw when name is promStyle, else
// from std.
func (m *routingMeter) Float64Gauge(name string, opts ...metric.Float64GaugeOption) (metric.Float64Gauge, error) {
	if promStyle(name) {
		return m.raw.Float64Gauge(name, opts...)
	}
	return m.Meter.Float64Gauge(name, opts...)
}

// Float64Histogram makes the instrument from raw when name is promStyle, else
// from std.
func (m *routingMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	if promStyle(name) {
		return m.raw.Float64Histogram(name, opts...)
	}
	return m.Meter.Float64Histogram(name, opts...)
}
