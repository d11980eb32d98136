// Package asyncinst makes the asynchronous instruments of a package's own
// telemetry (the bridge's, the StatsD server's, the Gunicorn watcher's, the
// programs') on one Meter, each with its unit and description, keeping
// every error for one check once all are made.
package asyncinst

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// A Maker makes instruments on Meter. The instrument a method returns is
// the Meter's, error or not (an OpenTelemetry SDK returns a working one
// with most errors); Err says whether any failed.
type Maker struct {
	Meter metric.Meter
	errs  []error
}

// note keeps err, naming the instrument.
func (m *Maker) note(name string, err error) {
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("instrument %s: %w", name, err))
	}
}

// Int64Counter makes an Int64ObservableCounter.
func (m *Maker) Int64Counter(name, unit, desc string) metric.Int64ObservableCounter {
	i, err := m.Meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	m.note(name, err)
	return i
}

// Int64UpDownCounter makes an Int64ObservableUpDownCounter.
func (m *Maker) Int64UpDownCounter(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	i, err := m.Meter.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	m.note(name, err)
	return i
}

// Int64Gauge makes an Int64ObservableGauge.
func (m *Maker) Int64Gauge(name, unit, desc string) metric.Int64ObservableGauge {
	i, err := m.Meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	m.note(name, err)
	return i
}

// Float64Counter makes a Float64ObservableCounter.
func (m *Maker) Float64Counter(name, unit, desc string) metric.Float64ObservableCounter {
	i, err := m.Meter.Float64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	m.note(name, err)
	return i
}

// Float64Gauge makes a Float64ObservableGauge.
func (m *Maker) Float64Gauge(name, unit, desc string) metric.Float64ObservableGauge {
	i, err := m.Meter.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	m.note(name, err)
	return i
}

// Err returns the errors of the instruments made so far, joined, each
// naming its instrument; nil when none failed.
func (m *Maker) Err() error { return errors.Join(m.errs...) }
