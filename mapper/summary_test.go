package mapper

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestMappingSummary: Mapping.Summary says what statsd_exporter v0.31.0
// makes of an observer (its pkg/mapper and pkg/registry): a summary unless
// observer_type says histogram, with the rule's summary_options, the
// defaults' filling them in only under an explicit observer_type: summary.
func TestMappingSummary(t *testing.T) {
	const file = `defaults:
  summary_options:
    quantiles: [{quantile: 0.75, error: 0.02}]
    max_age: 2m
    age_buckets: 3
    buf_cap: 100
  ttl: 1m
mappings:
- match: "plain.*"
  name: "plain"
- match: "hist.*"
  observer_type: histogram
  name: "hist"
- match: "own.*"
  name: "own"
  summary_options:
    max_age: 30s
- match: "explicit.*"
  observer_type: summary
  name: "explicit"
  summary_options:
    quantiles: [{quantile: 0.5, error: 0.1}]
    buf_cap: 50
- match: "legacy.*"
  timer_type: summary
  name: "legacy"
  quantiles: [{quantile: 0.1, error: 0.01}]
- match: "counter.*"
  name: "counter"
`
	m := mustMapper(t, WithRules(mustRules(t, file)))
	def := &SummaryOptions{Objectives: []Objective{{0.75, 0.02}}, MaxAge: 2 * time.Minute, AgeBuckets: 3, BufCap: 100}
	for _, tc := range []struct {
		line string
		want *SummaryOptions
	}{
		{"plain.x:1|ms", def},
		{"plain.x:1|h", def},
		{"plain.x:1|d", def},
		{"unmatched.x:1|ms", def},
		{"hist.x:1|ms", nil},
		// No observer_type written: the rule's options as written; only the
		// objectives come from the defaults.
		{"own.x:1|ms", &SummaryOptions{Objectives: []Objective{{0.75, 0.02}}, MaxAge: 30 * time.Second}},
		{"explicit.x:1|ms", &SummaryOptions{Objectives: []Objective{{0.5, 0.1}}, MaxAge: 2 * time.Minute, AgeBuckets: 3, BufCap: 50}},
		{"legacy.x:1|ms", &SummaryOptions{Objectives: []Objective{{0.1, 0.01}}, MaxAge: 2 * time.Minute, AgeBuckets: 3, BufCap: 100}},
		{"counter.x:1|c", nil},
		{"unmatched.x:1|g", nil},
	} {
		got := m.Map(parseOne(t, tc.line)).Summary
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Summary %+v, want %+v", tc.line, got, tc.want)
		}
	}

	// Without a mapping file: no Summary (the daemon applies DefaultSummary).
	if s := mustMapper(t).Map(parseOne(t, "x:1|ms")).Summary; s != nil {
		t.Errorf("without rules: Summary %+v, want nil", s)
	}
	// Defaults that make histograms: unmatched names and silent rules too.
	m = mustMapper(t, WithRules(mustRules(t, "defaults:\n  observer_type: histogram\nmappings:\n- match: a.*\n  name: a\n- match: b.*\n  name: b\n  observer_type: summary\n")))
	for line, want := range map[string]*SummaryOptions{"a.x:1|ms": nil, "z:1|ms": nil, "b.x:1|ms": {Objectives: DefaultObjectives}} {
		if got := m.Map(parseOne(t, line)).Summary; !reflect.DeepEqual(got, want) {
			t.Errorf("defaults histogram: %s: Summary %+v, want %+v", line, got, want)
		}
	}
	// An empty file's defaults: statsd_exporter's.
	m = mustMapper(t, WithRules(mustRules(t, "mappings: []\n")))
	if got := m.Map(parseOne(t, "z:1|ms")).Summary; !reflect.DeepEqual(got, DefaultSummary) {
		t.Errorf("empty file: Summary %+v, want %+v", got, DefaultSummary)
	}
}

// TestSummaryOptionsErrors: what statsd_exporter refuses to load, and what
// would make the Prometheus client panic, is refused with file and line.
func TestSummaryOptionsErrors(t *testing.T) {
	for yml, want := range map[string]string{
		"mappings:\n- match: a.*\n  name: a\n  observer_type: histogram\n  summary_options: {max_age: 1m}\n":              `mapping.yml:5: match "a.*": summary_options on a rule whose observer_type is histogram`,
		"defaults:\n  observer_type: histogram\nmappings:\n- match: a.*\n  name: a\n  summary_options: {max_age: 1m}\n":   `mapping.yml:6: match "a.*": summary_options on a rule whose observer_type is histogram`,
		"mappings:\n- match: a.*\n  name: a\n  observer_type: summary\n  histogram_options: {buckets: [1]}\n":             `mapping.yml:5: match "a.*": histogram_options on a rule whose observer_type is summary`,
		"mappings:\n- match: a.*\n  name: a\n  summary_options: {max_age: -1s}\n":                                         `summary_options.max_age: must not be negative`,
		"mappings:\n- match: a.*\n  name: a\n  summary_options: {age_buckets: -1}\n":                                      `summary_options.age_buckets: expected a whole number`,
		"mappings:\n- match: a.*\n  name: a\n  summary_options: {buf_cap: 1.5}\n":                                         `summary_options.buf_cap: expected a whole number`,
		"mappings:\n- match: a.*\n  name: a\n  summary_options: {quantiles: [{quantile: 1.5, error: 0.1}]}\n":             `summary_options.quantiles.quantile: must be from 0 to 1`,
		"defaults:\n  summary_options: {quantiles: [{quantile: 0.5, error: -0.1}]}\nmappings:\n- match: a.*\n  name: a\n": `summary_options.quantiles.error: must be from 0 to 1`,
	} {
		_, err := ParseRules("mapping.yml", []byte(yml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want it to contain %q", yml, err, want)
		}
	}
}
