package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/cmdtest"
	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
)

// TestBinary builds the forwarder with go build and runs it, for what only
// the real binary shows: --version from its build information, and that
// with --log.format=json every line of its stderr is JSON, the bridge's
// limit warnings and the OpenTelemetry SDK's errors (an export refused)
// included.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := cmdtest.Build(t, ".")
	t.Run("version", func(t *testing.T) { cmdtest.CheckVersion(t, bin, programName) })
	t.Run("json log", func(t *testing.T) {
		sink := new(otlptest.Sink)
		srv := httptest.NewServer(sink)
		defer srv.Close()
		p := cmdtest.Start(t, bin, []string{"--statsd.listen=udp://127.0.0.1:0", "--log.format=json", "--otel.max-series=1"},
			"OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL, "OTEL_METRIC_EXPORT_INTERVAL=3600000", "OTEL_EXPORTER_OTLP_PROTOCOL=",
			"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=")
		up := p.WaitRecord(t, "receiving StatsD", 30*time.Second)
		addr, _ := up["addr"].(string)
		cmdtest.CheckLimitLog(t, p, strings.TrimPrefix(addr, "udp://"))
		if n := len(sink.Received(t)); n != 1 {
			t.Errorf("%d exports, want 1 (the final one)", n)
		}
	})
	t.Run("json log of an export error", func(t *testing.T) {
		// An endpoint that refuses every export: the SDK's error goes
		// through the global error handler, in JSON too.
		sink := &otlptest.Sink{WantEncoding: "gzip"} // the forwarder sends none: 400
		srv := httptest.NewServer(sink)
		defer srv.Close()
		p := cmdtest.Start(t, bin, []string{"--statsd.listen=udp://127.0.0.1:0", "--log.format=json", "--export.interval=50ms"},
			"OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=", "OTEL_EXPORTER_OTLP_COMPRESSION=")
		failed := p.WaitRecord(t, "opentelemetry", 30*time.Second)
		if failed["level"] != "ERROR" || !strings.Contains(failed["err"].(string), "400") {
			t.Errorf("export error record %v, want level ERROR and the status 400", failed)
		}
		_, lines := p.Stop(t, 40*time.Second)
		if _, err := cmdtest.JSONLog(lines); err != nil {
			t.Error(err)
		}
	})
}
