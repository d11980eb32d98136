package benchcmp

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/statsd_exporter/pkg/event"
	"github.com/prometheus/statsd_exporter/pkg/line"
	semapper "github.com/prometheus/statsd_exporter/pkg/mapper"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// diffOpts are the parser switches of a differential case, applied to both
// parsers: statsd_exporter's Enable*Parsing for each format not switched off,
// our Parser's No*Tags. rejectMixed is ours alone (statsd_exporter always
// rejects mixed lines).
type diffOpts struct {
	noDog, noInflux, noLibrato, noSignalFX, rejectMixed bool
	dialect                                             statsd.Dialect
}

// diffCases are the lines of the differential test: every tag format, their
// combinations, malformed tags, switches, packed values, sample rates and
// malformed lines. Each is parsed by statsd_exporter v0.31.0's LineToEvents
// and by our Parser, and must give the same events; deliberate differences
// are listed in deliberateDiffs.
var diffCases = []struct {
	name, line string
	opts       diffOpts
}{
	// Plain lines, every type, sample rates, packed values.
	{"counter", "a.b:1|c", diffOpts{}},
	{"gauge", "a.b:42|g", diffOpts{}},
	{"gauge delta", "a.b:-3|g", diffOpts{}},
	{"gauge increment", "a.b:+3.5|g", diffOpts{}},
	{"timer", "a.b:320|ms", diffOpts{}},
	{"histogram", "a.b:3|h", diffOpts{}},
	{"distribution", "a.b:3.5|d", diffOpts{}},
	{"set", "a.b:user42|s", diffOpts{}}, // neither makes an event: the bridge rejects sets (unsupported_type)
	{"counter rate", "a.b:1|c|@0.1", diffOpts{}},
	{"timer rate", "a.b:250|ms|@0.25", diffOpts{}},
	{"histogram rate", "a.b:7|h|@0.5", diffOpts{}},
	{"gauge rate ignored", "a.b:5|g|@0.5", diffOpts{}},
	{"packed timers", "a.b:1:2:3|ms", diffOpts{}},
	{"packed histogram, rate, tags", "a.b:1:2|h|@0.5|#k:v", diffOpts{}},
	{"packed distribution", "a.b:1.5:2.5|d", diffOpts{}},
	{"packed counters", "a.b:1:2|c", diffOpts{}},
	{"timestamp", "a.b:1|c|#k:v|T1700000000", diffOpts{}},
	{"container id", "a.b:1|c|#k:v|c:abc123", diffOpts{}},

	// DogStatsD.
	{"dog", "a.b:1|c|#env:prod,team:web", diffOpts{}},
	{"dog bare tag", "a.b:1|c|#env:prod,canary", diffOpts{}},
	{"dog empty value", "a.b:1|c|#env:prod,k:", diffOpts{}},
	{"dog empty key", "a.b:1|c|#:x,env:prod", diffOpts{}},
	{"dog empty tags", "a.b:1|c|#,a:b,,c:d,", diffOpts{}},
	{"dog only bad tags", "a.b:1|c|#:x,,y", diffOpts{}},
	{"dog '#' keys", "a.b:1|c|##a:b,#c:d,#", diffOpts{}},
	{"dog ':' in value", "a.b:1|c|#url:http://x:8080/y", diffOpts{}},
	{"dog duplicate keys", "a.b:1|c|#k:1,k:2", diffOpts{}},
	{"dog keys to escape", "a.b:1|c|#dotted.key:v,dash-key:w,9lives:x", diffOpts{}},
	{"dog keys equal once escaped", "a.b:1|c|#a.b:1,a_b:2", diffOpts{}},
	{"dog two sections", "a.b:1|c|#a:b|#c:d", diffOpts{}},
	{"dog rate", "a.b:2|c|@0.5|#k:v", diffOpts{}},
	{"dog UTF-8", "café.orders:1|c|#ville:Zürich", diffOpts{}},
	{"dog off", "a.b:1|c|#k:v", diffOpts{noDog: true}},

	// InfluxDB.
	{"influx", "a.b,k=v,k2=v2:1|c", diffOpts{}},
	{"influx '=' in value", "a.b,k=v=w:1|c", diffOpts{}},
	{"influx bad tags", "a.b,k,=v,k2=,,ok=1:1|c", diffOpts{}},
	{"influx trailing comma", "a.b,k=v,:1|c", diffOpts{}},
	{"influx empty section", "a.b,:1|c", diffOpts{}},
	{"influx '#' in value", "a.b,k=v#w=z:1|c", diffOpts{}},
	{"influx key to escape", "a.b,my.key=v:1|c", diffOpts{}},
	{"influx duplicate keys", "a.b,k=1,k=2:1|c", diffOpts{}},
	{"influx packed timers", "a.b,k=v:1:2|ms", diffOpts{}},
	{"influx timer rate", "a.b,k=v:100|ms|@0.5", diffOpts{}},
	{"influx gauge delta", "a.b,k=v:-1|g", diffOpts{}},
	{"influx UTF-8", "café,ville=Zürich:1|c", diffOpts{}},
	{"influx off", "a.b,k=v:1|c", diffOpts{noInflux: true}},
	{"influx off, librato on", "a.b,x#k=v:1|c", diffOpts{noInflux: true}},

	// Librato.
	{"librato", "a.b#k=v,k2=v2:1|c", diffOpts{}},
	{"librato bad tag", "a.b#k:1|c", diffOpts{}},
	{"librato before influx", "a.b#x,k=v:1|c", diffOpts{}},
	{"librato '#' key", "a.b##k=v:1|c", diffOpts{}},
	{"librato off", "a.b#k=v:1|c", diffOpts{noLibrato: true}},
	{"librato off, influx on", "a.b#x,k=v:1|c", diffOpts{noLibrato: true}},

	// SignalFX.
	{"signalfx at the end", "a.b[k=v,k2=v2]:1|c", diffOpts{}},
	{"signalfx in the middle", "a.[k=v]b:1|c", diffOpts{}},
	{"signalfx at the start", "[k=v]a.b:1|c", diffOpts{}},
	{"signalfx empty", "a.b[]:1|c", diffOpts{}},
	{"signalfx bad tag", "a.b[k,j=]:1|c", diffOpts{}},
	{"signalfx '[' only", "a.b[k=v:1|c", diffOpts{}},
	{"signalfx ']' only", "a.bk=v]:1|c", diffOpts{}},
	{"signalfx over influx", "a[k=v],x=y:1|c", diffOpts{}},
	{"signalfx over librato", "a#x[k=v]:1|c", diffOpts{}},
	{"one bracket, no influx", "a,x=y[z:1|c", diffOpts{}},
	{"signalfx nested", "a[k=v[x]]:1|c", diffOpts{}},
	{"signalfx timer rate", "a.[k=v]b:100|ms|@0.5", diffOpts{}},
	{"signalfx off", "a.b[k=v]:1|c", diffOpts{noSignalFX: true}},
	{"signalfx off, influx on", "a[k=v],x=y:1|c", diffOpts{noSignalFX: true}},
	{"signalfx ']' before '['", "a]x[k=v:1|c", diffOpts{}},
	{"signalfx leaves no name", "[k=v]:1|c", diffOpts{}},
	{"influx leaves no name", ",k=v:1|c", diffOpts{}},

	// Name-embedded and DogStatsD tags on one line.
	{"influx and dog", "a.b,k=v:1|c|#x:y", diffOpts{}},
	{"influx and dog, rejected", "a.b,k=v:1|c|#x:y", diffOpts{rejectMixed: true}},
	{"signalfx and dog", "a.[k=v]b:1|c|#x:y", diffOpts{}},
	{"signalfx and dog, rejected", "a.[k=v]b:1|c|#x:y", diffOpts{rejectMixed: true}},
	{"librato and empty dog, rejected", "a.b#k=v:1|c|#", diffOpts{rejectMixed: true}},
	{"bad influx and dog", "a.b,k=:1|c|#x:y", diffOpts{rejectMixed: true}},
	{"dog off, mixed rejected", "a.b,k=v:1|c|#x:y", diffOpts{noDog: true, rejectMixed: true}},
	{"all formats off", "a,k=v#x=y[z=w]:1|c|#d:e", diffOpts{noDog: true, noInflux: true, noLibrato: true, noSignalFX: true}},

	// Malformed lines.
	{"bad value", "a.b:x|c", diffOpts{}},
	{"NaN", "a.b:NaN|g", diffOpts{}},
	{"bad type", "a.b:1|x", diffOpts{}},
	{"empty name", ":1|c", diffOpts{}},
	{"no value", "a.b|c", diffOpts{}},
	{"no type", "a.b:1", diffOpts{}},
	{"bad value, tags", "a.b,k=v:x|c|#y:z", diffOpts{}},
	{"invalid UTF-8", "a.b,k=\xff:1|c", diffOpts{}},
	{"bad sample rate", "a.b:1|c|@x", diffOpts{}},
	{"empty section", "a.b:1|c||#k:v", diffOpts{}},
	{"unknown section", "a.b:1|c|xext", diffOpts{}},
	{"container id without tags", "a.b:1|c|c:abc123", diffOpts{}},
	{"multi-metric", "a.b:1|c:250|ms|@0.5:3|g", diffOpts{}},
	{"multi-metric, a bad piece", "a.b,k=v:1|c:x|g:2|h", diffOpts{}},
	{"bad timestamp", "a.b:1|c|#k:v|Tsoon", diffOpts{}},
	{"zero sample rate", "a.b:2|c|@0", diffOpts{}},
	{"container id, empty", "a.b:1|c|#k:v|c:", diffOpts{}},
	{"container id and its tag", "a.b:1|c|#container_id:x,k:v|c:abc", diffOpts{}},
	{"too many sections", "a.b:1|c|@0.5|#k:v|c:x|T1700000000|#j:w", diffOpts{}},
	{"trailing pipe", "a.b:1|c|@0.5|", diffOpts{}},
}

// deliberateDiffs are the cases where our parser and statsd_exporter's
// disagree on purpose, by dialect, with the reason. The test fails if one of
// them agrees: the lists stay exact.
var deliberateDiffs = map[statsd.Dialect]map[string]string{
	statsd.DialectDefault: {
		"packed counters": "statsd_exporter packs values only for ms, h and d (invalid_extended_aggregate_type); " +
			"we read packed values of every type",
		"influx and dog":            "statsd_exporter rejects a line with name-embedded and DogStatsD tags (mixed_tagging_styles); we keep both unless Parser.RejectMixedTags",
		"signalfx and dog":          "as \"influx and dog\"",
		"bad sample rate":           "statsd_exporter counts invalid_sample_factor and still records the sample at rate 1; we reject the line (bad_sample_rate)",
		"empty section":             "statsd_exporter rejects an empty '|' section (malformed_component); we skip it",
		"unknown section":           "statsd_exporter rejects a section it does not know (invalid_sample_factor); we skip it, as DogStatsD asks of extensions",
		"container id":              "statsd_exporter makes the container id a label; the default dialect keeps it in Sample.ContainerID, out of the series",
		"container id without tags": "statsd_exporter splits a line without \"|#\" at every ':' (its multi-metric form) and so rejects \"|c:id\"; we read the container id",
		"multi-metric":              "statsd_exporter reads Etsy's multi-metric form (name:1|c:2|g); the default dialect rejects it (bad_type)",
		"bad timestamp":             "statsd_exporter ignores |T sections; the default dialect rejects a line whose |T is not unix seconds (bad_timestamp)",
		"multi-metric, a bad piece": "as \"multi-metric\"",
		"zero sample rate":          "statsd_exporter reads a rate of 0 as 1; the default dialect rejects it (bad_sample_rate)",
		"container id, empty":       "statsd_exporter rejects an empty container id (malformed_container_id); the default dialect ignores it",
		"container id and its tag":  "as \"container id\"",
		"too many sections":         "statsd_exporter rejects a line of more than six '|' parts (malformed_component); the default dialect reads them",
		"trailing pipe":             "as \"empty section\"",
	},
	statsd.DialectStatsdExporter: {},
}

// protectiveDiffs are the differences of both dialects: where statsd_exporter
// breaks (a panic, an event it cannot serve, a NaN that poisons a series for
// good), we do not follow it.
var protectiveDiffs = map[string]string{
	"signalfx ']' before '['": "statsd_exporter panics (name[start+1:end] with end < start) and the process dies; " +
		"we keep the name and count one dropped tag, as for a lone bracket",
	"signalfx leaves no name": "statsd_exporter makes an event with an empty name, which its exporter cannot serve; we reject the line (empty_name)",
	"influx leaves no name":   "as \"signalfx leaves no name\"",
	"NaN":                     "statsd_exporter records NaN (strconv.ParseFloat reads it); we refuse values that are not finite (bad_value)",
}

func init() {
	for _, m := range deliberateDiffs {
		for k, v := range protectiveDiffs {
			m[k] = v
		}
	}
}

// seEvents parses l with statsd_exporter's parser, with the formats opts
// leaves on. A panic is returned as an error. tagErrors is what its tag
// error counter counted.
func seEvents(l string, o diffOpts) (evs event.Events, tagErrors float64, err error) {
	p := line.NewParser()
	if !o.noDog {
		p.EnableDogstatsdParsing()
	}
	if !o.noInflux {
		p.EnableInfluxdbParsing()
	}
	if !o.noLibrato {
		p.EnableLibratoParsing()
	}
	if !o.noSignalFX {
		p.EnableSignalFXParsing()
	}
	sampleErrors := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "e"}, []string{"reason"})
	tagErr := prometheus.NewCounter(prometheus.CounterOpts{Name: "t"})
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("statsd_exporter panics: %v", r)
		}
	}()
	evs = p.LineToEvents(l, *sampleErrors, prometheus.NewCounter(prometheus.CounterOpts{Name: "s"}),
		tagErr, prometheus.NewCounter(prometheus.CounterOpts{Name: "r"}), slog.New(slog.DiscardHandler))
	return evs, testutil.ToFloat64(tagErr), nil
}

// ourEvents parses line with our Parser and turns the samples into the
// events statsd_exporter would make of them, as the drop-in daemon does:
// counters divided by their rate, timers in seconds, an observation repeated
// int(1/rate) times, no event for a set; tag keys escaped as Prometheus
// label names (statsd_exporter escapes them as it parses; ours keeps them as
// sent), bare DogStatsD tags and empty values dropped (statsd_exporter's
// choice, an option of the library). The container id is a label only
// where the parser makes it a tag (DialectStatsdExporter). dropped counts
// the tags dropped, by the parser or here.
func ourEvents(line string, o diffOpts) (evs []string, dropped int, rejected string) {
	p := statsd.Parser{NoDogStatsDTags: o.noDog, NoInfluxDBTags: o.noInflux, NoLibratoTags: o.noLibrato,
		NoSignalFXTags: o.noSignalFX, RejectMixedTags: o.rejectMixed, Dialect: o.dialect}
	var b statsd.Batch
	p.Parse(&b, []byte(line))
	if len(b.Errors) > 0 {
		rejected = b.Errors[0].Reason.String()
	}
	dropped = len(b.TagErrors)
	for i := range b.Samples {
		s := &b.Samples[i]
		labels := map[string]string{}
		it := s.TagIter()
		for it.Next() {
			if it.Bare() || len(it.Value()) == 0 {
				if i == 0 {
					dropped++
				}
				continue
			}
			labels[semapper.EscapeMetricName(string(it.Key()))] = string(it.Value())
		}
		v, n, kind := s.Value, 1, ""
		switch s.Type {
		case statsd.Counter:
			v, kind = v/s.Rate, "counter"
		case statsd.Gauge:
			kind = "gauge"
			if s.Delta {
				kind = "gauge-relative"
			}
		case statsd.Timer, statsd.Histogram, statsd.Distribution:
			n, kind = int(1/s.Rate), "observer"
			if s.Type == statsd.Timer {
				v /= 1000
			}
		default:
			continue // a set: statsd_exporter makes no event, the bridge rejects it
		}
		for range n {
			evs = append(evs, renderEvent(kind, string(s.Name), v, labels))
		}
	}
	return evs, dropped, rejected
}

func renderEvent(kind, name string, v float64, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q %v {", kind, name, v)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteString("}")
	return b.String()
}

func renderSE(evs event.Events) []string {
	var out []string
	for _, ev := range evs {
		kind := "observer"
		switch e := ev.(type) {
		case *event.CounterEvent:
			kind = "counter"
		case *event.GaugeEvent:
			kind = "gauge"
			if e.GRelative {
				kind = "gauge-relative"
			}
		}
		out = append(out, renderEvent(kind, ev.MetricName(), ev.Value(), ev.Labels()))
	}
	return out
}

// TestDifferential parses every line of diffCases with statsd_exporter
// v0.31.0's line parser and with ours: the events (kind, name, value,
// labels, and how many) must be the same, and so must the number of tags
// dropped when the line gives one event; the cases of deliberateDiffs must
// differ.
func TestDifferential(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range diffCases {
		if seen[tc.name] {
			t.Fatalf("case %q twice", tc.name)
		}
		seen[tc.name] = true
	}
	for dialect, diffs := range deliberateDiffs {
		t.Run(dialect.String(), func(t *testing.T) {
			for _, tc := range diffCases {
				o := tc.opts
				o.dialect = dialect
				seEvs, seTagErrs, seErr := seEvents(tc.line, o)
				theirs := renderSE(seEvs)
				if seErr != nil {
					theirs = []string{seErr.Error()}
				}
				ours, dropped, rejected := ourEvents(tc.line, o)
				same := slices.Equal(ours, theirs)
				if same && len(ours) == 1 && float64(dropped) != seTagErrs {
					t.Errorf("%s: %q: we drop %d tags, statsd_exporter counts %v tag errors", tc.name, tc.line, dropped, seTagErrs)
				}
				why, deliberate := diffs[tc.name]
				switch {
				case !same && !deliberate:
					t.Errorf("%s: %q:\n ours (rejected: %q):\n  %s\n statsd_exporter:\n  %s", tc.name, tc.line, rejected,
						strings.Join(ours, "\n  "), strings.Join(theirs, "\n  "))
				case same && deliberate:
					t.Errorf("%s: %q: listed as a deliberate difference (%s), but both give %v", tc.name, tc.line, why, ours)
				}
			}
			for name := range diffs {
				if !seen[name] {
					t.Errorf("deliberate difference %q names no case", name)
				}
			}
		})
	}
}
