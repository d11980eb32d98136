package main

import (
	"context"
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/asyncinst"
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
	in := &asyncinst.Maker{Meter: m}
	rules := in.Int64Gauge(metricRules, "{rule}", "Rules of the mapping file in use.")
	relayLines := in.Int64Counter(metricRelayLines, "{line}", "Lines for --statsd.relay.address, by outcome: relayed, dropped (queue full), too_long (over --statsd.relay.packet-length).")
	relayPkts := in.Int64Counter(metricRelayPkts, "{packet}", "Datagrams sent to --statsd.relay.address.")
	relayErrs := in.Int64Counter(metricRelayErrs, "{error}", "Datagrams to --statsd.relay.address that could not be sent.")
	webClosed := in.Int64Counter(metricWebClosed, "{connection}", "HTTP connections closed over --web.max-connections, by reason: evicted (the longest idle, to admit a new one), rejected (a new one, all being busy).")
	webOpen := in.Int64UpDownCounter(metricWebOpen, "{connection}", "HTTP connections open.")
	if err := in.Err(); err != nil {
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
