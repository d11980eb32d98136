// Package settingtest is one table of the settings the StatsD programs share
// (gunicorn-prometheus, gunicorn-otlp, and the Collector receiver), each
// with a value and the effect it must have, whichever program takes it: a
// program's test applies each case its own way (flags, configuration keys),
// sends the case's StatsD lines, and hands what it saw (its log and the
// series it exports) to Check.
//
// A setting is named as the programs' flags name it, without the dashes
// ("log.format", "otel.max-series"); a program that spells it otherwise maps
// the name to its own. Series are compared under Key, which spells a metric
// and its attributes the same way whether they were exported over OTLP
// (gunicornotel.samples.rejected, otel.metric.overflow) or served to
// Prometheus (gunicornotel_samples_rejected_total, otel_metric_overflow).
//
// It is for tests only.
package settingtest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Setting is one setting given to a program: its name and its value. In a
// value, $DIR stands for the directory where the case's Files are.
type Setting struct {
	Name, Value string
}

// Flag spells the setting as a kingpin flag of the programs: --name=value,
// and for a boolean --name or --no-name (kingpin takes no =true or =false).
func (s Setting) Flag() string {
	switch s.Value {
	case "true":
		return "--" + s.Name
	case "false":
		return "--no-" + s.Name
	}
	return "--" + s.Name + "=" + s.Value
}

// SendUDP sends each line to addr as a datagram of its own, in order, as a
// Runner does.
func SendUDP(t *testing.T, addr string, lines []string) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, l := range lines {
		if _, err := conn.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
}

// Observed is what a program did with a case's settings and lines.
type Observed struct {
	// Log is what the program logged, one record a line.
	Log []string
	// Series are the counters' and gauges' series the program exports once
	// the lines are recorded, under Key, with their values.
	Series map[string]float64
}

// Case is one setting (with any others it needs to show), the StatsD lines
// that show its effect, and that effect.
type Case struct {
	// Name names the case in the test's output.
	Name string
	// Settings are given to the program, the setting under test first.
	Settings []Setting
	// Files are written, name → content, in the directory that $DIR names.
	Files map[string]string
	// Lines are sent to the program, one datagram each, in order.
	Lines []string
	// Want says what is wrong with what the program did; nil if nothing.
	Want func(*Observed) error
}

// Key is how Observed.Series names the series of metric with attrs (each
// "key=value"): dots made underscores, a trailing _total dropped, the
// attributes sorted, as in "gunicornotel_samples_rejected{reason=too_long}".
func Key(metric string, attrs ...string) string {
	norm := func(s string) string { return strings.ReplaceAll(s, ".", "_") }
	kv := make([]string, len(attrs))
	for i, a := range attrs {
		k, v, _ := strings.Cut(a, "=")
		kv[i] = norm(k) + "=" + v
	}
	slices.Sort(kv)
	return strings.TrimSuffix(norm(metric), "_total") + "{" + strings.Join(kv, ",") + "}"
}

// Runner runs a program with settings (already $DIR-expanded), sends it
// lines, and returns what it did. It fails t if the program does not run,
// and skips t (t.Skip) for a case with a setting its program does not take
// (the Collector receiver has no log.format: the Collector logs).
type Runner func(t *testing.T, settings []Setting, lines []string) *Observed

// Run runs every case of Cases with run, each as a subtest, and reports
// what Want finds wrong, with what the program did.
func Run(t *testing.T, run Runner) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range c.Files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			settings := make([]Setting, len(c.Settings))
			for i, s := range c.Settings {
				settings[i] = Setting{s.Name, strings.ReplaceAll(s.Value, "$DIR", dir)}
			}
			o := run(t, settings, c.Lines)
			if err := c.Want(o); err != nil {
				keys := make([]string, 0, len(o.Series))
				for k, v := range o.Series {
					keys = append(keys, fmt.Sprintf("%s %v", k, v))
				}
				slices.Sort(keys)
				t.Errorf("%v: %v\nlog:\n%s\nseries:\n%s", c.Settings, err, strings.Join(o.Log, "\n"), strings.Join(keys, "\n"))
			}
		})
	}
}

// limitMessage is the bridge's message when a limit dropped data
// (otelbridge, at level warn).
const limitMessage = "otelbridge: a limit dropped data"

// seriesLimit is a series limit of 1 and the lines that go over it: a
// second series of a counter, and a line that is not StatsD.
var (
	seriesLimit      = Setting{"otel.max-series", "1"}
	seriesLimitLines = []string{"app.hits:1|c|#shard:a", "app.hits:2|c|#shard:b", "not a statsd line"}
)

// Cases is the table. Every program that takes a setting runs its cases.
var Cases = []Case{
	{
		Name:     "log.format=json",
		Settings: []Setting{{"log.format", "json"}, seriesLimit},
		Lines:    seriesLimitLines,
		Want: all(
			eachLine(jsonRecord),
			logged("warn", limitMessage),
		),
	},
	{
		Name:     "log.format=logfmt",
		Settings: []Setting{{"log.format", "logfmt"}, seriesLimit},
		Lines:    seriesLimitLines,
		Want: all(
			eachLine(logfmtRecord),
			logged("warn", limitMessage),
		),
	},
	{
		Name:     "log.level=warn",
		Settings: []Setting{{"log.level", "warn"}, {"log.format", "json"}, seriesLimit},
		Lines:    seriesLimitLines,
		Want: all(
			eachLine(levelAtLeast("warn")),
			logged("warn", limitMessage),
		),
	},
	{
		Name:     "log.level=error",
		Settings: []Setting{{"log.level", "error"}, {"log.format", "json"}, seriesLimit},
		Lines:    seriesLimitLines,
		Want:     eachLine(levelAtLeast("error")), // the limit's warning left out
	},
	{
		Name:     "otel.max-series=1",
		Settings: []Setting{seriesLimit},
		Lines:    seriesLimitLines,
		Want: all(
			series(Key("app.hits", "shard=a"), 1),
			noSeries(Key("app.hits", "shard=b")),
			series(Key("app.hits", "otel.metric.overflow=true"), 2),
			series(Key("gunicornotel.series.overflow", "reason=series_limit"), 1),
			series(Key("gunicornotel.samples.rejected", "reason=malformed_line"), 1),
		),
	},
	{
		Name:     "otel.max-instruments=1",
		Settings: []Setting{{"otel.max-instruments", "1"}},
		Lines:    []string{"app.one:1|c", "app.two:5|c", "app.one:1|c"},
		Want: all(
			series(Key("app.one"), 2),
			noSeries(Key("app.two")),
			series(Key("gunicornotel.samples.rejected", "reason=name_limit"), 1),
		),
	},
	{
		Name:     "statsd.max-line-length=20",
		Settings: []Setting{{"statsd.max-line-length", "20"}},
		Lines:    []string{"app.short:1|c", "app.far.too.long.for.the.limit:1|c"},
		Want: all(
			series(Key("app.short"), 1),
			noSeries(Key("app.far.too.long.for.the.limit")),
			series(Key("gunicornotel.samples.rejected", "reason=too_long"), 1),
		),
	},
	{
		Name:     "statsd.max-datagram-size=64",
		Settings: []Setting{{"statsd.max-datagram-size", "64"}},
		Lines:    []string{"app.small:1|c", strings.Repeat("app.big:1|c\n", 8)},
		Want: all(
			series(Key("app.small"), 1),
			noSeries(Key("app.big")),
			series(Key("gunicornotel.samples.rejected", "reason=too_long"), 1),
		),
	},
	{
		Name:     "statsd.mapping-config",
		Settings: []Setting{{"statsd.mapping-config", "$DIR/mapping.yml"}},
		Files: map[string]string{"mapping.yml": `mappings:
  - match: "app.*.hits"
    name: "renamed_hits"
    labels:
      shard: "$1"
`},
		Lines: []string{"app.a.hits:3|c", "app.b.hits:4|c"},
		Want: all(
			series(Key("renamed_hits", "shard=a"), 3),
			series(Key("renamed_hits", "shard=b"), 4),
			noSeries(Key("app.a.hits")),
		),
	},
	{
		Name:     "statsd.dialect=statsd_exporter",
		Settings: []Setting{{"statsd.dialect", "statsd_exporter"}},
		Lines:    dialectLines,
		Want: all(
			series(Key("app.lenient"), 2),
			series(Key("app.cid", "container_id=abc", "k=v"), 1),
			series(Key("app.etsy"), 3),
			series(Key("gunicornotel.lines.forgiven", "reason=bad_sample_rate"), 1),
			noSeries(Key("gunicornotel.samples.rejected", "reason=bad_sample_rate")),
		),
	},
	{
		Name:     "statsd.dialect=default",
		Settings: []Setting{{"statsd.dialect", "default"}},
		Lines:    dialectLines,
		Want: all(
			noSeries(Key("app.lenient")),
			series(Key("app.cid", "k=v"), 1),
			noSeries(Key("app.etsy")),
			series(Key("gunicornotel.samples.rejected", "reason=bad_sample_rate"), 1),
			series(Key("gunicornotel.samples.rejected", "reason=bad_type"), 1),
		),
	},
	{
		Name:     "statsd.parse-dogstatsd-tags=false",
		Settings: []Setting{{"statsd.parse-dogstatsd-tags", "false"}},
		Lines:    []string{"app.tagged:1|c|#k:v", "app.influx,k=v:1|c"},
		Want: all(
			series(Key("app.tagged"), 1),
			noSeries(Key("app.tagged", "k=v")),
			series(Key("app.influx", "k=v"), 1),
		),
	},
}

// dialectLines are read differently by the two dialects: a sample rate that
// is not a number, a container id, a multi-metric line.
var dialectLines = []string{"app.lenient:2|c|@bad", "app.cid:1|c|#k:v|c:abc", "app.etsy:1|c:2|c"}

// all is every check of wants.
func all(wants ...func(*Observed) error) func(*Observed) error {
	return func(o *Observed) error {
		var errs []string
		for _, w := range wants {
			if err := w(o); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
}

// series wants the series key with the value v.
func series(key string, v float64) func(*Observed) error {
	return func(o *Observed) error {
		got, ok := o.Series[key]
		switch {
		case !ok:
			return fmt.Errorf("no series %s, want it = %v", key, v)
		case got != v:
			return fmt.Errorf("%s = %v, want %v", key, got, v)
		}
		return nil
	}
}

// noSeries wants no series key.
func noSeries(key string) func(*Observed) error {
	return func(o *Observed) error {
		if v, ok := o.Series[key]; ok {
			return fmt.Errorf("series %s = %v, want none", key, v)
		}
		return nil
	}
}

// record is one log line, its level and message as the format spells
// them.
type record struct{ level, msg string }

// eachLine checks every line of the log with check, which returns the
// line's record.
func eachLine(check func(string) (record, error)) func(*Observed) error {
	return func(o *Observed) error {
		for i, l := range o.Log {
			if _, err := check(l); err != nil {
				return fmt.Errorf("log line %d %q: %w", i+1, l, err)
			}
		}
		return nil
	}
}

// logged wants a line at level whose message is msg, in either format.
func logged(level, msg string) func(*Observed) error {
	return func(o *Observed) error {
		for _, l := range o.Log {
			r, err := jsonRecord(l)
			if err != nil {
				r, err = logfmtRecord(l)
			}
			if err == nil && r.level == level && r.msg == msg {
				return nil
			}
		}
		return fmt.Errorf("no log line at level %s saying %q", level, msg)
	}
}

// jsonRecord reads a line of --log.format=json: one JSON object with a
// level and a msg, both strings.
func jsonRecord(line string) (record, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	level, ok1 := m["level"].(string)
	msg, ok2 := m["msg"].(string)
	if !ok1 || !ok2 {
		return record{}, fmt.Errorf("no string level and msg in %v", m)
	}
	return record{strings.ToLower(level), msg}, nil
}

// logfmtRE matches a line of --log.format=logfmt: key=value pairs, values
// bare or quoted, with a level and a msg.
var (
	logfmtRE      = regexp.MustCompile(`^(?:[a-zA-Z_.][a-zA-Z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^ "]*)(?: |$))+$`)
	logfmtLevelRE = regexp.MustCompile(`(?:^| )level=([a-zA-Z]+)(?: |$)`)
	logfmtMsgRE   = regexp.MustCompile(`(?:^| )msg=("(?:[^"\\]|\\.)*"|[^ "]*)`)
)

func logfmtRecord(line string) (record, error) {
	if !logfmtRE.MatchString(line) {
		return record{}, fmt.Errorf("not logfmt")
	}
	lv, m := logfmtLevelRE.FindStringSubmatch(line), logfmtMsgRE.FindStringSubmatch(line)
	if lv == nil || m == nil {
		return record{}, fmt.Errorf("no level and msg")
	}
	msg := m[1]
	if strings.HasPrefix(msg, `"`) {
		if err := json.Unmarshal([]byte(msg), &msg); err != nil {
			return record{}, fmt.Errorf("msg %s: %w", m[1], err)
		}
	}
	return record{strings.ToLower(lv[1]), msg}, nil
}

// levels orders the levels.
var levels = []string{"debug", "info", "warn", "error"}

// levelAtLeast checks that a JSON line's level is min or above.
func levelAtLeast(min string) func(string) (record, error) {
	return func(line string) (record, error) {
		r, err := jsonRecord(line)
		if err != nil {
			return r, err
		}
		if slices.Index(levels, r.level) < slices.Index(levels, min) {
			return r, fmt.Errorf("level %s, below %s", r.level, min)
		}
		return r, nil
	}
}
