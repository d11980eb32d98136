package main

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Names of the program's own instruments (scope otelbridge.ScopeName), next to
// the bridge's and the server's.
const (
	metricReloads    = "gunicornotel.exporter.config.reloads"         // counter {reload}, attribute outcome=success|failure
	metricRules      = "gunicornotel.exporter.mapping.rules"          // gauge {rule}
	metricRelayLines = "gunicornotel.exporter.relay.lines"            // counter {line}, attribute outcome=relayed|dropped|too_long
	metricRelayPkts  = "gunicornotel.exporter.relay.packets"          // counter {packet}
	metricRelayErrs  = "gunicornotel.exporter.relay.send_errors"      // counter {error}
	metricWebClosed  = "gunicornotel.exporter.web.connections.closed" // counter {connection}, attribute reason=evicted|rejected
	metricWebOpen    = "gunicornotel.exporter.web.connections.open"   // up-down counter {connection}
	attrOutcome      = "outcome"
	attrReason       = "reason"
)

func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// instruments makes observable instruments on one meter, keeping the first
// error.
type instruments struct {
	m    metric.Meter
	errs []error
}

func (in *instruments) counter(name, unit, desc string) metric.Int64ObservableCounter {
	c, err := in.m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		in.errs = append(in.errs, fmt.Errorf("instrument %s: %w", name, err))
	}
	return c
}

func (in *instruments) updown(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	c, err := in.m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		in.errs = append(in.errs, fmt.Errorf("instrument %s: %w", name, err))
	}
	return c
}

func (in *instruments) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	c, err := in.m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		in.errs = append(in.errs, fmt.Errorf("instrument %s: %w", name, err))
	}
	return c
}

// registerTelemetry makes the program's own instruments and registers the
// callback that reads them, on the std meter: the reloads counter, the rules
// in use, the relay's and the web limiter's counters. The StatsD server's
// own (gunicornotel.server.*) are registered by otelbridge.ObserveServer: the
// daemon runs its server itself, to put the relay in front of the bridge.
func (a *app) registerTelemetry(m metric.Meter) error {
	var err error
	if a.reloads, err = m.Int64Counter(metricReloads, metric.WithUnit("{reload}"),
		metric.WithDescription("Reloads of the mapping file (SIGHUP, /-/reload), by outcome.")); err != nil {
		return fmt.Errorf("instrument %s: %w", metricReloads, err)
	}
	in := &instruments{m: m}
	rules := in.gauge(metricRules, "{rule}", "Rules of the mapping file in use.")
	relayLines := in.counter(metricRelayLines, "{line}", "Lines for --statsd.relay.address, by outcome: relayed, dropped (queue full), too_long (over --statsd.relay.packet-length).")
	relayPkts := in.counter(metricRelayPkts, "{packet}", "Datagrams sent to --statsd.relay.address.")
	relayErrs := in.counter(metricRelayErrs, "{error}", "Datagrams to --statsd.relay.address that could not be sent.")
	webClosed := in.counter(metricWebClosed, "{connection}", "HTTP connections closed over --web.max-connections, by reason: evicted (the longest idle, to admit a new one), rejected (a new one, all being busy).")
	webOpen := in.updown(metricWebOpen, "{connection}", "HTTP connections open.")
	if err := errors.Join(in.errs...); err != nil {
		return err
	}
	relayed := metric.WithAttributes(attribute.String(attrOutcome, "relayed"))
	dropped := metric.WithAttributes(attribute.String(attrOutcome, "dropped"))
	tooLong := metric.WithAttributes(attribute.String(attrOutcome, "too_long"))
	evicted := metric.WithAttributes(attribute.String(attrReason, "evicted"))
	rejected := metric.WithAttributes(attribute.String(attrReason, "rejected"))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(rules, a.nrules.Load())
		if r := a.relay; r != nil {
			st := r.stats()
			o.ObserveInt64(relayLines, clamp(st.Relayed), relayed)
			o.ObserveInt64(relayLines, clamp(st.Dropped), dropped)
			o.ObserveInt64(relayLines, clamp(st.TooLong), tooLong)
			o.ObserveInt64(relayPkts, clamp(st.Packets))
			o.ObserveInt64(relayErrs, clamp(st.SendErrors))
		}
		if l := a.webLn; l != nil {
			o.ObserveInt64(webClosed, clamp(l.evicted.Load()), evicted)
			o.ObserveInt64(webClosed, clamp(l.rejected.Load()), rejected)
			o.ObserveInt64(webOpen, int64(l.open()))
		}
		return nil
	}, rules, relayLines, relayPkts, relayErrs, webClosed, webOpen)
	if err != nil {
		return fmt.Errorf("telemetry callback: %w", err)
	}
	a.telemetry = reg
	return nil
}
