package gunicornreceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadata"
)

func defaultConfig() *Config {
	return NewFactory().CreateDefaultConfig().(*Config)
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if got := f.Type().String(); got != "gunicorn" {
		t.Errorf("Type = %q, want gunicorn", got)
	}
	if got := f.MetricsStability(); got != component.StabilityLevelAlpha {
		t.Errorf("MetricsStability = %v, want alpha", got)
	}
	cfg := f.CreateDefaultConfig()
	if err := componenttest.CheckConfigStruct(cfg); err != nil {
		t.Errorf("CheckConfigStruct: %v", err)
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Errorf("default config does not validate: %v", err)
	}
	c := cfg.(*Config)
	if c.Endpoint != "localhost:8125" || c.Transport != "udp" || c.PrefixAttribute != "app" ||
		c.CollectionInterval != time.Minute || c.InitialDelay != time.Second || c.Timeout != 0 ||
		c.MappingConfig != "" || c.IncludeTelemetry || c.Watch.enabled() || c.Limits != (LimitsConfig{}) {
		t.Errorf("default config = %+v", *c)
	}
	if c.Limits.cardinalityLimit() != 2000 {
		t.Errorf("default cardinality limit %d, want the SDK's default, 2000", c.Limits.cardinalityLimit())
	}
}

// TestValidate: confmap.Validate, what the Collector runs on every
// component configuration, with the exact errors: the receiver's own
// (Config.Validate), and confignet's and the scraper controller's, which
// it runs on the embedded settings (their errors name them: addrconfig,
// controllerconfig).
func TestValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yml")
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // the whole error; "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"udp6", func(c *Config) { c.Transport, c.Endpoint = "udp6", "[::1]:8125" }, ""},
		{"tcp", func(c *Config) { c.Transport, c.Endpoint = "tcp", "0.0.0.0:8125" }, ""},
		{"unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "/run/s.sock" }, ""},
		{"unixgram relative", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "s.sock" }, ""},
		{"mapping", func(c *Config) { c.MappingConfig = "testdata/mapping.yml" }, ""},
		{"no prefix attribute", func(c *Config) { c.PrefixAttribute = "" }, ""},
		{"bad transport", func(c *Config) { c.Transport = "http" }, `addrconfig: invalid transport type "http"`},
		{"empty transport", func(c *Config) { c.Transport = "" }, `addrconfig: invalid transport type ""`},
		{"transport unix", func(c *Config) { c.Transport, c.Endpoint = "unix", "/run/s.sock" },
			`transport "unix": want udp, tcp or unixgram (or udp4, udp6, tcp4, tcp6)`},
		{"transport ip4", func(c *Config) { c.Transport = "ip4" }, `transport "ip4": want udp, tcp or unixgram (or udp4, udp6, tcp4, tcp6)`},
		{"transport npipe", func(c *Config) { c.Transport, c.Endpoint = "npipe", `\\.\pipe\statsd` },
			`transport "npipe": want udp, tcp or unixgram (or udp4, udp6, tcp4, tcp6)`},
		{"dialer", func(c *Config) { c.DialerConfig.Timeout = time.Second }, "dialer: timeout 1s: the receiver listens, it does not dial"},
		{"dialect statsd_exporter", func(c *Config) { c.Dialect = "statsd_exporter" }, ""},
		{"dialect unset", func(c *Config) { c.Dialect = "" }, ""},
		{"bad dialect", func(c *Config) { c.Dialect = "lenient" }, `dialect "lenient": want default or statsd_exporter`},
		{"negative line length", func(c *Config) { c.Limits.MaxLineLength = -1 },
			"limits: max_line_length -1: must not be negative (0 keeps the default)"},
		{"empty endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint must not be empty"},
		{"empty unixgram endpoint", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "" }, "endpoint must not be empty"},
		{"no port", func(c *Config) { c.Endpoint = "localhost" },
			`endpoint "localhost": want host:port for transport udp: address localhost: missing port in address`},
		{"path over udp", func(c *Config) { c.Endpoint = "/run/s.sock" },
			`endpoint "/run/s.sock": want host:port for transport udp: address /run/s.sock: missing port in address`},
		{"port 0", func(c *Config) { c.Endpoint = "127.0.0.1:0" }, ""},
		{"port 65535", func(c *Config) { c.Endpoint = ":65535" }, ""},
		{"port out of range", func(c *Config) { c.Endpoint = ":99999" }, `endpoint ":99999": port 99999 out of range 0-65535`},
		{"tcp port out of range", func(c *Config) { c.Transport, c.Endpoint = "tcp", "localhost:65536" },
			`endpoint "localhost:65536": port 65536 out of range 0-65535`},
		{"negative port", func(c *Config) { c.Endpoint = "localhost:-1" },
			`endpoint "localhost:-1": port "-1": not a number from 0 to 65535 nor a known service: address -1: invalid port`},
		{"unknown service", func(c *Config) { c.Endpoint = "localhost:no-such-service" },
			`endpoint "localhost:no-such-service": port "no-such-service": not a number from 0 to 65535 nor a known service: lookup udp/no-such-service: unknown port`},
		{"empty port", func(c *Config) { c.Endpoint = "localhost:" }, `endpoint "localhost:": no port (use port 0 for any free port)`},
		{"udp scheme", func(c *Config) { c.Endpoint = "udp://localhost:8125" },
			`endpoint "udp://localhost:8125": want host:port without udp:// (the transport key chooses the protocol)`},
		{"unix: over unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "unix:/run/s.sock" },
			`endpoint "unix:/run/s.sock": want the socket path alone (/run/s.sock); unix: is Gunicorn's --statsd-host form`},
		{"scheme over unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "unixgram:///run/s.sock" },
			`endpoint "unixgram:///run/s.sock": want the socket path alone, without unixgram://`},
		{"zero interval", func(c *Config) { c.CollectionInterval = 0 }, `controllerconfig: "collection_interval": requires positive value`},
		{"negative interval", func(c *Config) { c.CollectionInterval = -time.Second }, `controllerconfig: "collection_interval": requires positive value`},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, `controllerconfig: "timeout": requires positive value`},
		{"no initial delay", func(c *Config) { c.InitialDelay = 0 }, ""},
		{"missing mapping file", func(c *Config) { c.MappingConfig = missing },
			"mapping_config: mapper: open " + missing + ": no such file or directory"},
		{"bad mapping file", func(c *Config) { c.MappingConfig = "testdata/bad-mapping.yml" },
			`mapping_config: testdata/bad-mapping.yml:4: match "*.orders.placed": match_metric_type "timer": must be "counter", "gauge" or "observer"`},
		{"several errors", func(c *Config) { c.Transport, c.Endpoint, c.CollectionInterval = "x", "", 0 },
			"endpoint must not be empty\naddrconfig: invalid transport type \"x\"\ncontrollerconfig: \"collection_interval\": requires positive value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.change(cfg)
			err := confmap.Validate(cfg)
			if got := errString(err); got != tc.want {
				t.Errorf("Validate:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// errString is err's message, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	custom := defaultConfig()
	custom.Endpoint = "/run/gunicorn/statsd.sock"
	custom.Transport = "unixgram"
	custom.MappingConfig = "testdata/mapping.yml"
	custom.PrefixAttribute = "service.name"
	custom.CollectionInterval = 15 * time.Second
	custom.InitialDelay = 0
	custom.Timeout = 5 * time.Second
	custom.IncludeTelemetry = true
	noPrefix := defaultConfig()
	noPrefix.PrefixAttribute = ""
	watched := defaultConfig()
	watched.Watch = WatchConfig{PIDFile: "/run/gunicorn.pid", SampleInterval: 250 * time.Millisecond, App: "shop.web"}
	watched.Limits = LimitsConfig{MaxInstruments: 500, MaxSeries: 20000, MaxSeriesPerInstrument: 1000,
		MaxHistogramSeries: 3000, MaxMemory: 64 << 20}

	gthread := defaultConfig()
	threads, conns, timeout := 4, 50, time.Duration(0)
	gthread.Watch = WatchConfig{PID: 1000, SampleInterval: 100 * time.Millisecond, WorkerClass: "gthread", Threads: &threads,
		WorkerConnections: &conns, Timeout: &timeout, PIDAttribute: true}

	for _, tc := range []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), defaultConfig()},
		{component.NewIDWithName(metadata.Type, "custom"), custom},
		{component.NewIDWithName(metadata.Type, "noprefix"), noPrefix},
		{component.NewIDWithName(metadata.Type, "watched"), watched},
		{component.NewIDWithName(metadata.Type, "gthread"), gthread},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			sub, err := cm.Sub(tc.id.String())
			if err != nil {
				t.Fatal(err)
			}
			cfg := defaultConfig()
			if err := sub.Unmarshal(cfg); err != nil {
				t.Fatal(err)
			}
			if err := confmap.Validate(cfg); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("loaded %+v\nwant   %+v", *cfg, *tc.want)
			}
		})
	}
}

// TestLoadConfigTransport: confignet decodes transport, and refuses one it
// does not know as it decodes it.
func TestLoadConfigTransport(t *testing.T) {
	cfg := defaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{"transport": "tcp6", "endpoint": "[::1]:8125"}).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Transport != confignet.TransportTypeTCP6 || cfg.address() != "tcp6://[::1]:8125" {
		t.Errorf("transport %q, address %q", cfg.Transport, cfg.address())
	}
	err := confmap.NewFromStringMap(map[string]any{"transport": "http"}).Unmarshal(defaultConfig())
	if err == nil || !strings.HasSuffix(err.Error(), `unsupported transport type "http"`) {
		t.Errorf("Unmarshal transport http: %v, want confignet's unsupported transport type", err)
	}
}

func TestLoadConfigUnknownKey(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{"endpoint": "127.0.0.1:8125", "mapping_file": "x.yml"})
	cfg := defaultConfig()
	err := cm.Unmarshal(cfg)
	if err == nil || !strings.Contains(err.Error(), "mapping_file") {
		t.Errorf("Unmarshal with an unknown key: %v, want an error naming it", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestLoadConfigTimeout: timeout takes a duration string, and a bare
// number (nanoseconds, as for every duration of the Collector) is refused
// for not being whole seconds; a key that is not there stays unset.
func TestLoadConfigTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout any
		want    *time.Duration
		err     string
	}{
		{"10s", ptr(10 * time.Second), ""},
		{"0s", ptr(time.Duration(0)), ""},
		{30, ptr(time.Duration(30)), "watch: timeout 30ns: want a whole number of seconds"},
		{nil, nil, ""},
	} {
		watch := map[string]any{"pid": 7}
		if tc.timeout != nil {
			watch["timeout"] = tc.timeout
		}
		cfg := defaultConfig()
		if err := confmap.NewFromStringMap(map[string]any{"watch": watch}).Unmarshal(cfg); err != nil {
			t.Fatalf("%v: %v", tc.timeout, err)
		}
		if !reflect.DeepEqual(cfg.Watch.Timeout, tc.want) || cfg.Watch.Threads != nil || cfg.Watch.WorkerConnections != nil {
			t.Errorf("%v: timeout %v, threads %v, worker connections %v", tc.timeout, cfg.Watch.Timeout, cfg.Watch.Threads, cfg.Watch.WorkerConnections)
		}
		err := confmap.Validate(cfg)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: Validate: %v, want %q", tc.timeout, err, tc.err)
		}
	}
}

func TestValidateWatchAndLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // the whole error; "" for valid
	}{
		{"pid file", func(c *Config) { c.Watch.PIDFile = "/run/g.pid" }, ""},
		{"discover with app", func(c *Config) { c.Watch.Discover, c.Watch.App = true, "shop.web" }, ""},
		{"two masters", func(c *Config) { c.Watch.PID, c.Watch.Discover = 7, true }, "watch: pid_file, watch: pid, watch: discover: give only one"},
		{"negative pid", func(c *Config) { c.Watch.PID = -1 }, "watch: pid -1: not a process id"},
		{"zero interval", func(c *Config) { c.Watch.PIDFile, c.Watch.SampleInterval = "/run/g.pid", 0 }, "watch: sample_interval 0s: must be positive"},
		{"app without a master", func(c *Config) { c.Watch.App = "shop" },
			"watch: app labels the watcher's series under prefix_attribute: it needs pid_file, pid or discover, and a prefix_attribute"},
		{"app without a prefix attribute", func(c *Config) { c.Watch.PID, c.Watch.App, c.PrefixAttribute = 7, "shop", "" },
			"watch: app labels the watcher's series under prefix_attribute: it needs pid_file, pid or discover, and a prefix_attribute"},
		{"limits", func(c *Config) { c.Limits.MaxSeries, c.Limits.MaxMemory = 10, 1<<20 }, ""},
		{"server limits", func(c *Config) {
			c.Limits.MaxDatagramSize, c.Limits.TCPMaxConnections, c.Limits.TCPIdleTimeout = 1500, 8, time.Minute
		}, ""},
		{"reclaim_idle under a second", func(c *Config) { c.Limits.ReclaimIdle = 500 * time.Millisecond },
			"limits: reclaim_idle 500ms: want at least 1s, or 0 for the default 10m0s"},
		{"negative tcp_idle_timeout", func(c *Config) { c.Limits.TCPIdleTimeout = -time.Second },
			"limits: tcp_idle_timeout -1s: must not be negative (0 keeps the default)"},
		{"negative limit", func(c *Config) { c.Limits.MaxSeriesPerInstrument = -2 },
			"limits: max_series_per_instrument -2: must not be negative (0 keeps the default)"},
		{"negative limits", func(c *Config) { c.Limits.MaxInstruments, c.Limits.MaxMemory = -1, -5 },
			"limits: max_instruments -1: must not be negative (0 keeps the default)\nlimits: max_memory -5: must not be negative (0 keeps the default)"},
		{"series per instrument 1", func(c *Config) { c.Limits.MaxSeriesPerInstrument = 1 },
			"limits: max_series_per_instrument 1: want at least 2 (one series and the overflow series), or 0 for the default 2000"},
		{"series per instrument 2", func(c *Config) { c.Limits.MaxSeriesPerInstrument = 2 }, ""},
		{"series per instrument over the SDK's default", func(c *Config) { c.Limits.MaxSeriesPerInstrument = 50_000 }, ""},
		// Gunicorn's settings (internal/watchopt checks them).
		{"settings", func(c *Config) {
			c.Watch.Discover, c.Watch.WorkerClass, c.Watch.Threads, c.Watch.Timeout = true, "uvicorn.workers.UvicornWorker", ptr(1), ptr(time.Duration(0))
		}, ""},
		{"threads 0", func(c *Config) { c.Watch.Discover, c.Watch.Threads = true, ptr(0) }, "watch: threads 0: want at least 1"},
		{"worker connections -5", func(c *Config) { c.Watch.Discover, c.Watch.WorkerConnections = true, ptr(-5) }, "watch: worker_connections -5: want at least 1"},
		{"timeout 1.5s", func(c *Config) { c.Watch.Discover, c.Watch.Timeout = true, ptr(1500*time.Millisecond) },
			"watch: timeout 1.5s: want a whole number of seconds, 0s (no timeout) or more"},
		{"timeout -1s", func(c *Config) { c.Watch.Discover, c.Watch.Timeout = true, ptr(-time.Second) }, "watch: timeout -1s: want a whole number of seconds, 0s (no timeout) or more"},
		{"unknown class", func(c *Config) { c.Watch.Discover, c.Watch.WorkerClass = true, "gthred" }, `watch: worker_class "gthred": not a worker class Gunicorn knows: want one of sync, eventlet, gevent, gevent_wsgi, gevent_pywsgi, tornado, gthread, or a class path such as uvicorn.workers.UvicornWorker`},
		{"settings without a master", func(c *Config) { c.Watch.Timeout, c.Watch.PIDAttribute = ptr(10*time.Second), true },
			"watch: timeout, watch: pid_attribute: set the Gunicorn watcher, which is off: give pid_file, pid or discover too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.edit(cfg)
			if got := errString(confmap.Validate(cfg)); got != tc.want {
				t.Errorf("Validate:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestMappingWarnings: a mapping file statsd_exporter loads with a doubtful
// part loads here too, each part logged as a warning with its file and
// line; mapping_strict refuses it, naming the file.
func TestMappingWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doubtful.yml")
	must(t, os.WriteFile(path, []byte("mappings:\n  - match: \"app.*.hits\"\n    name: \"hits\"\n    labels:\n      shard: \"$2\"\n"), 0o644))
	cfg := testConfig()
	cfg.MappingConfig = path
	core, logs := observer.New(zapcore.WarnLevel)
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())
	set.Logger = zap.New(core)
	r, err := f.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
	must(t, err)
	must(t, r.Start(context.Background(), componenttest.NewNopHost()))
	shutdown(t, r)
	found := logs.FilterMessageSnippet("mapping_config loaded as statsd_exporter loads it").All()
	if len(found) != 1 || !strings.Contains(fmt.Sprint(found[0].ContextMap()["warning"]), path+":5") {
		t.Errorf("warnings logged: %v; want one naming %s:5", logs.All(), path)
	}

	cfg.MappingStrict = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mapping_config: "+path+":5") {
		t.Errorf("Validate with mapping_strict: %v; want an error naming %s:5", err, path)
	}
}
