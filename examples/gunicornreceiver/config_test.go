package gunicornreceiver

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
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
		c.CollectionInterval != time.Minute || c.MappingConfig != "" || c.IncludeTelemetry {
		t.Errorf("default config = %+v", *c)
	}
}

func TestValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yml")
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{"default", func(*Config) {}, nil},
		{"udp6", func(c *Config) { c.Transport, c.Endpoint = "udp6", "[::1]:8125" }, nil},
		{"tcp", func(c *Config) { c.Transport, c.Endpoint = "tcp", "0.0.0.0:8125" }, nil},
		{"unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "/run/s.sock" }, nil},
		{"unixgram relative", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "s.sock" }, nil},
		{"mapping", func(c *Config) { c.MappingConfig = "testdata/mapping.yml" }, nil},
		{"no prefix attribute", func(c *Config) { c.PrefixAttribute = "" }, nil},
		{"bad transport", func(c *Config) { c.Transport = "http" }, []string{`transport "http"`, "udp, tcp or unixgram"}},
		{"empty transport", func(c *Config) { c.Transport = "" }, []string{`transport ""`}},
		{"empty endpoint", func(c *Config) { c.Endpoint = "" }, []string{"endpoint must not be empty"}},
		{"empty unixgram endpoint", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "" }, []string{"endpoint must not be empty"}},
		{"no port", func(c *Config) { c.Endpoint = "localhost" }, []string{`endpoint "localhost"`, "host:port"}},
		{"path over udp", func(c *Config) { c.Endpoint = "/run/s.sock" }, []string{`endpoint "/run/s.sock"`}},
		{"port 0", func(c *Config) { c.Endpoint = "127.0.0.1:0" }, nil},
		{"port 65535", func(c *Config) { c.Endpoint = ":65535" }, nil},
		{"port out of range", func(c *Config) { c.Endpoint = ":99999" }, []string{`endpoint ":99999": port 99999 out of range 0-65535`}},
		{"tcp port out of range", func(c *Config) { c.Transport, c.Endpoint = "tcp", "localhost:65536" }, []string{`endpoint "localhost:65536": port 65536 out of range`}},
		{"negative port", func(c *Config) { c.Endpoint = "localhost:-1" }, []string{`endpoint "localhost:-1": port "-1"`}},
		{"unknown service", func(c *Config) { c.Endpoint = "localhost:no-such-service" }, []string{`port "no-such-service": not a number from 0 to 65535 nor a known service`}},
		{"empty port", func(c *Config) { c.Endpoint = "localhost:" }, []string{`endpoint "localhost:": no port`}},
		{"udp scheme", func(c *Config) { c.Endpoint = "udp://localhost:8125" }, []string{`endpoint "udp://localhost:8125": want host:port without udp://`}},
		{"unix: over unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "unix:/run/s.sock" },
			[]string{`endpoint "unix:/run/s.sock": want the socket path alone (/run/s.sock)`}},
		{"scheme over unixgram", func(c *Config) { c.Transport, c.Endpoint = "unixgram", "unixgram:///run/s.sock" },
			[]string{`without unixgram://`}},
		{"zero interval", func(c *Config) { c.CollectionInterval = 0 }, []string{"collection_interval 0s: must be positive"}},
		{"negative interval", func(c *Config) { c.CollectionInterval = -time.Second }, []string{"collection_interval -1s"}},
		{"missing mapping file", func(c *Config) { c.MappingConfig = missing }, []string{"mapping_config", missing}},
		{"bad mapping file", func(c *Config) { c.MappingConfig = "testdata/bad-mapping.yml" },
			[]string{"mapping_config", "testdata/bad-mapping.yml:4:", `match "*.orders.placed"`, `match_metric_type "timer"`}},
		{"several errors", func(c *Config) { c.Transport, c.Endpoint, c.CollectionInterval = "x", "", 0 },
			[]string{"endpoint must not be empty", `transport "x"`, "collection_interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.change(cfg)
			// confmap.Validate is what the Collector runs on every component
			// configuration; it calls Config.Validate.
			err := confmap.Validate(cfg)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
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
		{component.NewID(componentType), defaultConfig()},
		{component.NewIDWithName(componentType, "custom"), custom},
		{component.NewIDWithName(componentType, "noprefix"), noPrefix},
		{component.NewIDWithName(componentType, "watched"), watched},
		{component.NewIDWithName(componentType, "gthread"), gthread},
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
		want string // "" for valid
	}{
		{"pid file", func(c *Config) { c.Watch.PIDFile = "/run/g.pid" }, ""},
		{"discover with app", func(c *Config) { c.Watch.Discover, c.Watch.App = true, "shop.web" }, ""},
		{"two masters", func(c *Config) { c.Watch.PID, c.Watch.Discover = 7, true }, "give one of pid_file, pid and discover"},
		{"negative pid", func(c *Config) { c.Watch.PID = -1 }, "pid -1: not a process id"},
		{"zero interval", func(c *Config) { c.Watch.PIDFile, c.Watch.SampleInterval = "/run/g.pid", 0 }, "sample_interval 0s: must be positive"},
		{"app without a master", func(c *Config) { c.Watch.App = "shop" }, "watch: app labels the watcher's series"},
		{"app without a prefix attribute", func(c *Config) { c.Watch.PID, c.Watch.App, c.PrefixAttribute = 7, "shop", "" },
			"watch: app labels the watcher's series"},
		{"limits", func(c *Config) { c.Limits.MaxSeries, c.Limits.MaxMemory = 10, 1<<20 }, ""},
		{"negative limit", func(c *Config) { c.Limits.MaxSeriesPerInstrument = -2 }, "limits: max_series_per_instrument -2: must not be negative"},
		// Gunicorn's settings (internal/watchopt checks them).
		{"settings", func(c *Config) {
			c.Watch.Discover, c.Watch.WorkerClass, c.Watch.Threads, c.Watch.Timeout = true, "uvicorn.workers.UvicornWorker", ptr(1), ptr(time.Duration(0))
		}, ""},
		{"threads 0", func(c *Config) { c.Watch.Discover, c.Watch.Threads = true, ptr(0) }, "watch: threads 0: want at least 1"},
		{"worker connections -5", func(c *Config) { c.Watch.Discover, c.Watch.WorkerConnections = true, ptr(-5) }, "watch: worker_connections -5: want at least 1"},
		{"timeout 1.5s", func(c *Config) { c.Watch.Discover, c.Watch.Timeout = true, ptr(1500*time.Millisecond) },
			"watch: timeout 1.5s: want a whole number of seconds, 0s (no timeout) or more"},
		{"timeout -1s", func(c *Config) { c.Watch.Discover, c.Watch.Timeout = true, ptr(-time.Second) }, "watch: timeout -1s: want a whole number of seconds"},
		{"unknown class", func(c *Config) { c.Watch.Discover, c.Watch.WorkerClass = true, "gthred" }, `watch: worker_class "gthred": not a worker class Gunicorn knows`},
		{"settings without a master", func(c *Config) { c.Watch.Timeout, c.Watch.PIDAttribute = ptr(10*time.Second), true },
			"watch: timeout, watch: pid_attribute: set the Gunicorn watcher, which is off: give pid_file, pid or discover too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.edit(cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
