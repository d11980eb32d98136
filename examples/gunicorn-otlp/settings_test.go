package main

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/settingtest"
)

// TestSettings runs the table of the settings the programs share
// (internal/settingtest): each setting as a flag, its lines sent over UDP,
// and what the forwarder logged and exported to a real OTLP endpoint.
func TestSettings(t *testing.T) {
	settingtest.Run(t, runSettings)
}

// lockedBuffer collects the program's log, written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runSettings is the forwarder's settingtest.Runner: it runs the program
// with the settings as --name=value flags, exporting over OTLP/HTTP to an
// otlptest.Sink only at shutdown, sends each line as a datagram, stops the
// program (which records everything the socket holds, then exports), and
// reads the export.
func runSettings(t *testing.T, settings []settingtest.Setting, lines []string) *settingtest.Observed {
	cleanEnv(t)
	sink := new(otlptest.Sink)
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	args := []string{"--statsd.listen=udp://127.0.0.1:0"}
	for _, s := range settings {
		args = append(args, s.Flag())
	}
	logs := new(lockedBuffer)
	forwardLog(t, logs, args, func(addr string) {
		settingtest.SendUDP(t, addr, lines)
	})
	reqs := sink.Received(t)
	if len(reqs) != 1 {
		t.Fatalf("%d export requests, want 1 (the final export)", len(reqs))
	}
	o := &settingtest.Observed{Series: exportedSeries(reqs[0].GetResourceMetrics())}
	if s := strings.TrimSuffix(logs.String(), "\n"); s != "" {
		o.Log = strings.Split(s, "\n")
	}
	return o
}

// exportedSeries returns the sums' and gauges' points of rms under
// settingtest.Key.
func exportedSeries(rms []*metricspb.ResourceMetrics) map[string]float64 {
	out := make(map[string]float64)
	add := func(name string, ps []*metricspb.NumberDataPoint) {
		for _, p := range ps {
			attrs := make([]string, 0, len(p.GetAttributes()))
			for _, kv := range p.GetAttributes() {
				attrs = append(attrs, kv.GetKey()+"="+plainValue(kv.GetValue()))
			}
			v := p.GetAsDouble()
			if _, ok := p.GetValue().(*metricspb.NumberDataPoint_AsInt); ok {
				v = float64(p.GetAsInt())
			}
			out[settingtest.Key(name, attrs...)] = v
		}
	}
	for _, rm := range rms {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				switch d := m.GetData().(type) {
				case *metricspb.Metric_Sum:
					add(m.GetName(), d.Sum.GetDataPoints())
				case *metricspb.Metric_Gauge:
					add(m.GetName(), d.Gauge.GetDataPoints())
				}
			}
		}
	}
	return out
}

// plainValue is an attribute's value as Prometheus would show it.
func plainValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	return v.String()
}
