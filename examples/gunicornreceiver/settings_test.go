package gunicornreceiver

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/gunicornotel/gunicornotel/internal/settingtest"
)

// TestSettings runs the settings the StatsD programs share
// (internal/settingtest) through the receiver: each setting as its
// configuration key, the lines sent over UDP, and the series of the final
// collection (the receiver's own gunicornotel.* included).
func TestSettings(t *testing.T) {
	settingtest.Run(t, runSettings)
}

// applySetting sets the configuration key of a shared setting. It returns
// false for a setting the receiver does not take.
func applySetting(t *testing.T, cfg *Config, s settingtest.Setting) bool {
	atoi := func() int {
		n, err := strconv.Atoi(s.Value)
		if err != nil {
			t.Fatalf("%s=%s: %v", s.Name, s.Value, err)
		}
		return n
	}
	switch s.Name {
	case "log.format", "log.level":
		return false // the Collector logs (service::telemetry::logs)
	case "otel.max-series":
		cfg.Limits.MaxSeries = atoi()
	case "otel.max-instruments":
		cfg.Limits.MaxInstruments = atoi()
	case "otel.cardinality-limit":
		cfg.Limits.MaxSeriesPerInstrument = atoi()
	case "otel.max-histogram-series":
		cfg.Limits.MaxHistogramSeries = atoi()
	case "otel.max-reserved-series":
		cfg.Limits.MaxReservedSeries = atoi()
	case "otel.max-attribute-bytes":
		cfg.Limits.MaxAttributeBytes = atoi()
	case "otel.max-sample-weight":
		cfg.Limits.MaxSampleWeight = atoi()
	case "otel.max-datagram-weight":
		cfg.Limits.MaxDatagramWeight = atoi()
	case "statsd.max-line-length":
		cfg.Limits.MaxLineLength = atoi()
	case "statsd.max-datagram-size":
		cfg.Limits.MaxDatagramSize = atoi()
	case "statsd.tcp-max-connections":
		cfg.Limits.TCPMaxConnections = atoi()
	case "statsd.mapping-strict":
		cfg.MappingStrict = s.Value == "true"
	case "statsd.mapping-config":
		cfg.MappingConfig = s.Value
	case "statsd.dialect":
		cfg.Dialect = s.Value
	case "statsd.parse-dogstatsd-tags":
		cfg.ParseDogStatsDTags = s.Value == "true"
	case "statsd.parse-influxdb-tags":
		cfg.ParseInfluxDBTags = s.Value == "true"
	case "statsd.parse-librato-tags":
		cfg.ParseLibratoTags = s.Value == "true"
	case "statsd.parse-signalfx-tags":
		cfg.ParseSignalFXTags = s.Value == "true"
	case "otel.prefix-key":
		cfg.PrefixAttribute = s.Value
	default:
		t.Fatalf("setting %s: no configuration key for it here: map it, or say why the receiver does not take it", s.Name)
	}
	return true
}

// runSettings is the receiver's settingtest.Runner.
func runSettings(t *testing.T, settings []settingtest.Setting, lines []string) *settingtest.Observed {
	cfg := testConfig()
	cfg.IncludeTelemetry = true
	for _, s := range settings {
		if !applySetting(t, cfg, s) {
			t.Skipf("the receiver has no %s: the Collector logs", s.Name)
		}
	}
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	settingtest.SendUDP(t, addr.String(), lines)
	shutdown(t, r) // drains the socket, then collects once more
	o := &settingtest.Observed{Series: map[string]float64{}}
	for name, m := range metrics(t, sink.AllMetrics()) {
		var dps pmetric.NumberDataPointSlice
		switch m.Type() {
		case pmetric.MetricTypeSum:
			dps = m.Sum().DataPoints()
		case pmetric.MetricTypeGauge:
			dps = m.Gauge().DataPoints()
		default:
			continue
		}
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			var attrs []string
			dp.Attributes().Range(func(k string, v pcommon.Value) bool {
				attrs = append(attrs, k+"="+v.AsString())
				return true
			})
			v := dp.DoubleValue()
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				v = float64(dp.IntValue())
			}
			o.Series[settingtest.Key(name, attrs...)] = v
		}
	}
	return o
}
