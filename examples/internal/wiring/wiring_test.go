package wiring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// parse registers s's flags on a command line and parses args.
func parse(t *testing.T, args ...string) (*Settings, error) {
	t.Helper()
	s := new(Settings)
	cl := NewCommandLine("test", "", io.Discard, io.Discard)
	s.Register(cl.Application)
	if err := cl.Parse(args); err != nil {
		return nil, err
	}
	return s, s.Check()
}

func TestSettingsDefaults(t *testing.T) {
	s, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if s.Log != (Log{"info", "logfmt"}) || s.PrefixKey != mapper.DefaultPrefixKey || s.Mapping != (Mapping{}) || s.Watch.On() {
		t.Errorf("defaults %+v", s)
	}
	l := s.Limits
	if l.MaxSeries != otelbridge.DefaultMaxSeries || l.CardinalityLimit != otelbridge.DefaultMaxSeriesPerInstrument ||
		l.MaxMemory != otelbridge.DefaultMaxMemory || l.MaxLineLength != statsd.DefaultMaxLineLength ||
		l.TCPIdleTimeout != statsd.DefaultIdleTimeout || l.ReclaimIdle != otelbridge.DefaultReclaimIdle {
		t.Errorf("limits %+v", l)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log.level=loud"}, "unrecognized log level loud"},
		{[]string{"--otel.max-series=0"}, "--otel.max-series 0: want at least 1"},
		{[]string{"--otel.cardinality-limit=1"}, "--otel.cardinality-limit 1: want at least 2"},
		{[]string{"--otel.max-memory=0"}, "--otel.max-memory 0: want at least 1 byte"},
		{[]string{"--otel.max-datagram-weight=-1"}, "--otel.max-datagram-weight -1: want 0 (none) or more"},
		{[]string{"--statsd.tcp-idle-timeout=-1s"}, "--statsd.tcp-idle-timeout -1s: must not be negative"},
		{[]string{"--gunicorn.pid=7", "--gunicorn.discover"}, "--gunicorn.pid-file, --gunicorn.pid, --gunicorn.discover: give only one"},
		{[]string{"--gunicorn.app=shop"}, "--gunicorn.app labels the watcher's series"},
		{[]string{"--gunicorn.discover", "--gunicorn.app=shop", "--otel.prefix-key="}, `--gunicorn.app "shop": --otel.prefix-key is empty`},
		{[]string{"--gunicorn.threads=2"}, "--gunicorn.threads: set the Gunicorn watcher, which is off"},
	} {
		_, err := parse(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	s, err := parse(t, "--gunicorn.pid=7", "--gunicorn.app=shop.web..")
	if err != nil || s.Watch.App != "shop.web" {
		t.Errorf("--gunicorn.app shop.web..: %v, %q, want shop.web", err, s.Watch.App)
	}
}

func TestCommandLineExit(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--version"}} {
		var out bytes.Buffer
		cl := NewCommandLine("prog", "Does things.", &out, io.Discard)
		new(Settings).Register(cl.Application)
		if err := cl.Parse(args); !errors.Is(err, ErrExit) {
			t.Errorf("%q: %v, want ErrExit", args, err)
		}
		want := "--log.format=logfmt"
		if args[0] == "--version" {
			want = "prog, version "
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q printed %q, want it to contain %q", args, out.String(), want)
		}
	}
	cl := NewCommandLine("prog", "", io.Discard, io.Discard)
	if err := cl.Parse([]string{"--nope"}); !errors.As(err, new(UsageError)) || err.Error() != "unknown long flag '--nope'" {
		t.Errorf("--nope: %v, want a UsageError", err)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := Log{Level: "warn", Format: "json"}.Logger(&buf)
	log.Info("left out")
	log.Warn("kept", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "kept" || rec["k"] != 1.0 || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("logged %q", buf.String())
	}
	buf.Reset()
	err := errors.New("boom")
	LogError(Log{Level: "info", Format: "logfmt"}.Logger(&buf), &err)
	if !strings.Contains(buf.String(), `level=ERROR`) || !strings.Contains(buf.String(), `msg="exiting on error" err=boom`) {
		t.Errorf("LogError logged %q", buf.String())
	}
}

func TestMapping(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if r, err := (&Mapping{}).Load(log); r != nil || err != nil {
		t.Errorf("no file: %v, %v", r, err)
	}
	// A reference to a capture the match lacks: loaded with a warning, or
	// refused when strict.
	write("mappings:\n  - match: \"*.orders\"\n    name: \"orders_$2\"\n")
	m := &Mapping{File: path}
	if r, err := m.Load(log); err != nil || r.Len() != 1 || !strings.Contains(logs.String(), path+":3") {
		t.Errorf("Load: %v, %v; log %q", r, err, logs.String())
	}
	strict := &Mapping{File: path, Strict: true}
	if _, err := strict.Load(log); err == nil || !strings.HasPrefix(err.Error(), "--statsd.mapping-config: "+path+":3") {
		t.Errorf("strict Load: %v", err)
	}
	// Reload hands valid rules to apply; an invalid file keeps them.
	write("mappings:\n  - match: \"a.*\"\n    name: \"a_$1\"\n  - match: \"b.*\"\n    name: \"b\"\n")
	var applied []int
	apply := func(r *mapper.Rules) error { applied = append(applied, r.Len()); return nil }
	logs.Reset()
	if err := m.Reload(log, apply); err != nil || len(applied) != 1 || applied[0] != 2 || !strings.Contains(logs.String(), "mapping config reloaded") {
		t.Errorf("Reload: %v, applied %v, log %q", err, applied, logs.String())
	}
	write("mappings: [")
	if err := m.Reload(log, apply); err == nil || len(applied) != 1 || !strings.Contains(logs.String(), "the rules in use are kept") {
		t.Errorf("Reload of an invalid file: %v, applied %v", err, applied)
	}
	write("mappings: []\n")
	if err := m.Reload(log, func(*mapper.Rules) error { return errors.New("no mapper") }); err == nil || err.Error() != "reloading mapping config: no mapper" {
		t.Errorf("Reload whose apply fails: %v", err)
	}
	logs.Reset()
	if err := (&Mapping{}).Reload(log, apply); err != nil || !strings.Contains(logs.String(), "no mapping config to reload") {
		t.Errorf("Reload without a file: %v, log %q", err, logs.String())
	}
}

// TestIntake runs an intake over UDP: what was sent before Shutdown is
// recorded when it returns, in the series and in the server's telemetry;
// a listener that cannot be served is named by its flag.
func TestIntake(t *testing.T) {
	s, err := parse(t, "--otel.max-series=1")
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(append(s.Limits.MeterProviderOptions(), sdkmetric.WithReader(reader))...)
	defer mp.Shutdown(context.Background())
	var logs bytes.Buffer
	log := s.Log.Logger(&logs)
	srv := s.Limits.Server(statsd.Parser{}, log)
	b, err := otelbridge.New(mp, append(s.Limits.BridgeOptions(log), otelbridge.WithParser(srv.Parser))...)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch.NewWatcher(nil, mp, log) // off: never called
	if w != nil || err != nil {
		t.Fatalf("NewWatcher with the watcher off: %v, %v", w, err)
	}
	in, err := NewIntake(mp, srv, b, w, log)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	addrs, err := in.Start([]Listener{{"--statsd.listen", "udp://127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, l := range []string{"app.hits:1|c|#shard:a", "app.hits:1|c|#shard:b"} {
		if _, err := conn.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Recorded != 2 || st.SeriesOverflow != 1 {
		t.Errorf("bridge stats %+v, want 2 recorded, 1 in the overflow series", st)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			found = found || m.Name == otelbridge.MetricServerReads
		}
	}
	if !found {
		t.Errorf("no %s: the server's telemetry is not registered", otelbridge.MetricServerReads)
	}
	for _, want := range []string{`level=WARN`, `msg="otelbridge: a limit dropped data"`, `msg="StatsD receiver stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestIntakeStartError(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	defer mp.Shutdown(context.Background())
	b, err := otelbridge.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewIntake(mp, &statsd.Server{}, b, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.Start([]Listener{{"--statsd.listen-udp", "udp://127.0.0.1:0"}, {"--statsd.listen-tcp", "tcp://256.0.0.1:1"}}); err == nil ||
		!strings.HasPrefix(err.Error(), "--statsd.listen-tcp tcp://256.0.0.1:1: ") {
		t.Errorf("Start: %v, want an error naming --statsd.listen-tcp", err)
	}
}
