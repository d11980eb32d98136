package gunicornreceiver

import (
	"context"
	"errors"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// registerTelemetry registers the callbacks of the receiver's own
// telemetry (metadata.yaml, documentation.md) on the Collector's
// MeterProvider: what the bridge counted, read from its Stats at each
// collection of the Collector's telemetry.
func (s *statsdScraper) registerTelemetry() error {
	t := s.tel
	return errors.Join(
		t.RegisterReceiverGunicornDatagramsCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			o.Observe(clamp(st.Datagrams))
		})),
		t.RegisterReceiverGunicornSamplesCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			o.Observe(clamp(st.Samples))
		})),
		t.RegisterReceiverGunicornSamplesRecordedCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			o.Observe(clamp(st.Recorded))
		})),
		t.RegisterReceiverGunicornSamplesRejectedCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			observeByReason(o, st.RejectedByReason)
		})),
		t.RegisterReceiverGunicornSeriesCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			o.Observe(int64(st.Series))
		})),
		t.RegisterReceiverGunicornSeriesOverflowCallback(s.observe(func(st *otelbridge.Stats, o metric.Int64Observer) {
			observeByReason(o, st.SeriesOverflowByReason)
		})),
	)
}

// observe returns a callback observing what read takes from the bridge's
// Stats; nothing once the receiver is shut down.
func (s *statsdScraper) observe(read func(*otelbridge.Stats, metric.Int64Observer)) metric.Int64Callback {
	return func(_ context.Context, o metric.Int64Observer) error {
		recv := s.current()
		if recv == nil {
			return nil
		}
		st := recv.Bridge().Stats()
		read(&st, o)
		return nil
	}
}

// observeByReason observes each count of m with its reason attribute.
func observeByReason(o metric.Int64Observer, m map[string]uint64) {
	for reason, v := range m {
		o.Observe(clamp(v), metric.WithAttributeSet(attribute.NewSet(attribute.String(otelbridge.AttrReason, reason))))
	}
}

// clamp turns a count into an int64 observation.
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
