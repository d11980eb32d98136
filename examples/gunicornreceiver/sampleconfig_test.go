package gunicornreceiver

import (
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// TestSampleConfig: the README shows otelcol.yaml verbatim, every gunicorn
// receiver in it loads and validates as the Collector would (from this
// directory, where its mapping file is), and the mapping file does what its
// comment says.
func TestSampleConfig(t *testing.T) {
	readmeShows(t, "otelcol.yaml")

	cm, err := confmaptest.LoadConf("otelcol.yaml")
	if err != nil {
		t.Fatal(err)
	}
	receivers, err := cm.Sub("receivers")
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]*Config{}
	for _, id := range receivers.AllKeys() {
		id, _, _ = strings.Cut(id, "::")
		if configs[id] != nil {
			continue
		}
		sub, err := receivers.Sub(id)
		if err != nil {
			t.Fatal(err)
		}
		cfg := defaultConfig()
		if err := sub.Unmarshal(cfg); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := confmap.Validate(cfg); err != nil {
			t.Errorf("%s: Validate: %v", id, err)
		}
		configs[id] = cfg
	}
	if len(configs) != 2 || configs["gunicorn"] == nil || configs["gunicorn/socket"] == nil {
		t.Fatalf("receivers %v, want gunicorn and gunicorn/socket", receivers.AllKeys())
	}
	if s := configs["gunicorn/socket"]; s.Transport != TransportUnixgram || s.Endpoint != "/run/gunicorn/statsd.sock" {
		t.Errorf("gunicorn/socket: %+v", *s)
	}

	// The mapping file: an application's counter logged through Gunicorn.
	cfg := configs["gunicorn"]
	cfg.Endpoint = "127.0.0.1:0"
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	e := emitter(t, addr.String(), statsdtest.Config{Prefix: "shop.web"})
	must(t, e.Metric("orders.placed", "counter", 3))
	must(t, e.Request(200, 0))
	shutdown(t, r)
	got := metrics(t, sink.AllMetrics())
	wantPoints(t, "orders.placed", sumPoints(t, metricOf(t, got, "orders.placed")), map[string]float64{"shop=shop.web": 3})
	wantPoints(t, "gunicorn.requests", sumPoints(t, metricOf(t, got, "gunicorn.requests")), map[string]float64{"app=shop.web": 1})
}

// readmeShows checks that README.md shows the file name verbatim in a yaml
// block, and returns README.md.
func readmeShows(t *testing.T, name string) string {
	t.Helper()
	file, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(file)+"```\n") {
		t.Errorf("README.md does not show %s verbatim in a yaml block", name)
	}
	return string(readme)
}
