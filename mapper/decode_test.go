package mapper

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The expectations of the merge-key tests below were checked against
// statsd_exporter v0.31.0's own mapper (yaml.v2): same errors, same values.

// TestAnchorsFile loads a file that shares buckets, labels, help and whole
// rules through anchors, aliases and merge keys.
func TestAnchorsFile(t *testing.T) {
	rs, err := LoadRules("testdata/anchors.yml")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 4 || len(rs.Warnings()) != 0 {
		t.Fatalf("Len %d, warnings %v", rs.Len(), rs.Warnings())
	}
	m := mustMapper(t, WithRules(rs))
	defaultBuckets := []float64{0.01, 0.1, 1, 10}
	for _, tc := range []struct {
		line, want, help string
		ttl              time.Duration
		buckets          []float64
	}{
		{"checkout.cart.latency:3|ms", "checkout_latency_seconds histogram team=checkout,tier=web", DefaultDescription, 5 * time.Minute, defaultBuckets},
		// The merged rule's labels and the rule's own are merged, its own
		// histogram_options replace the defaults.
		{"payment.card.latency:3|ms", "payment_latency_seconds histogram step=card,team=checkout,tier=web", DefaultDescription, 5 * time.Minute, []float64{0.5, 5}},
		// match_metric_type: observer came with the merge: a counter is not
		// matched, and gets defaults.ttl as statsd_exporter's unmapped names.
		{"payment.card.latency:1|c", "payment.card.latency counter ", DefaultDescription, 10 * time.Minute, nil},
		{"search.books:1|c", "search_total counter team=checkout,tier=web", "Searches, by kind.", 10 * time.Minute, nil},
		{"search.books.hits:2|h", "search_hits_total histogram kind=books,team=checkout,tier=web", "Searches, by kind.", 10 * time.Minute, defaultBuckets},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
		}
		mp := m.Map(parseOne(t, tc.line))
		if mp.Description != tc.help || mp.TTL != tc.ttl || !slices.Equal(mp.Buckets, tc.buckets) {
			t.Errorf("%s: help %q ttl %v buckets %v, want %q %v %v", tc.line, mp.Description, mp.TTL, mp.Buckets, tc.help, tc.ttl, tc.buckets)
		}
	}
}

// TestMergeKeys checks merge keys as yaml.v2 applies them in
// statsd_exporter: in place, a scalar set again is replaced, a mapping set
// again is merged into, and a label set twice is an error.
func TestMergeKeys(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		lines     map[string]string // line -> mapLine
		err       string
	}{
		{"scalar after merge wins", "mappings:\n- match: \"d.*\"\n  <<: {name: dd, help: h}\n  name: d\n",
			map[string]string{"d.x:1|c": "d counter "}, ""},
		{"merge after scalar wins", "mappings:\n- match: \"e.*\"\n  name: e\n  <<: {name: ee}\n",
			map[string]string{"e.x:1|c": "ee counter "}, ""},
		{"first merged mapping wins", "mappings:\n- match: \"f.*\"\n  <<: [{name: f1}, {name: f2, help: h}]\n",
			map[string]string{"f.x:1|c": "f1 counter "}, ""},
		{"labels are merged into", "mappings:\n- &base\n  match: \"a.*\"\n  name: a\n  labels: {team: x}\n- <<: *base\n  match: \"b.*\"\n  name: b\n  labels: {env: y}\n",
			map[string]string{"a.1:1|c": "a counter team=x", "b.1:1|c": "b counter env=y,team=x"}, ""},
		{"null labels clear the merged ones", "mappings:\n- &base\n  match: \"a.*\"\n  name: a\n  labels: {team: x}\n- <<: *base\n  match: \"b.*\"\n  name: b\n  labels: ~\n",
			map[string]string{"b.1:1|c": "b counter "}, ""},
		{"merged labels", "mappings:\n- match: \"a.*\"\n  name: a\n  labels:\n    xx: \"$1\"\n    <<: [{team: x}, {kind: k}]\n",
			map[string]string{"a.1:1|c": "a counter kind=k,team=x,xx=1"}, ""},
		{"label set twice through a merge", "mappings:\n- &base\n  match: \"a.*\"\n  name: a\n  labels: {team: x}\n- <<: *base\n  match: \"c.*\"\n  name: c\n  labels: {team: z}\n",
			nil, `mapping.yml:9: match "c.*": duplicate key "team"`},
		{"label in two merged mappings", "mappings:\n- match: \"a.*\"\n  name: a\n  labels:\n    <<: [{team: x}, {team: y}]\n",
			nil, `mapping.yml:5: match "a.*": duplicate key "team"`},
		{"merge of a list", "mappings:\n- match: \"a.*\"\n  name: a\n  <<: [1, 2]\n",
			nil, `mapping.yml:4: match "a.*": a merge key (<<) takes a mapping or a list of mappings`},
		{"merge of itself", "mappings:\n- &r {<<: *r, match: a, name: a}\n",
			nil, `mapping.yml:2: match "a": a merge key (<<) refers to a mapping that contains it`},
		{"alias of itself", "mappings:\n- match: a\n  name: a\n  labels: &l {k: *l}\n",
			nil, `mapping.yml:4: match "a": label "k": expected a string`},
		{"unknown anchor", "mappings:\n- match: a\n  name: *nowhere\n",
			nil, `mapping.yml: invalid YAML: yaml: unknown anchor 'nowhere' referenced`},
		{"quoted << is a key", "mappings:\n- match: a\n  name: a\n  '<<': {name: b}\n",
			nil, `mapping.yml:4: match "a": unknown key "<<"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRules("mapping.yml", []byte(tc.yml))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := mustMapper(t, WithRules(rs))
			for line, want := range tc.lines {
				if got := mapLine(t, m, line); got != want {
					t.Errorf("%s: got %q, want %q", line, got, want)
				}
			}
		})
	}
}

// laughs returns a mapping file whose rule n merges ten copies of rule n-1:
// rule 9 expands to 10^9 merges.
func laughs() string {
	var b strings.Builder
	b.WriteString("mappings:\n- &r0 {match: \"a0\", name: a0, help: lol}\n")
	for i := 1; i < 10; i++ {
		prev := strings.Repeat(fmt.Sprintf("*r%d, ", i-1), 10)
		fmt.Fprintf(&b, "- &r%d {<<: [%s], match: \"a%d\"}\n", i, prev[:len(prev)-2], i)
	}
	return b.String()
}

// TestBillionLaughs: alias expansion is bounded; the file is refused with a
// clear error after at most the bound's number of steps.
func TestBillionLaughs(t *testing.T) {
	_, err := ParseRules("laughs.yml", []byte(laughs()))
	var re *RuleError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "aliases expand to more than") || re.File != "laughs.yml" || re.Line == 0 {
		t.Fatalf("got %v, want the alias bound", err)
	}
	// The first rules of the same file, within the bound, load.
	short := strings.Join(strings.SplitAfter(laughs(), "\n")[:5], "")
	rs, err := ParseRules("laughs.yml", []byte(short))
	if err != nil || rs.Len() != 4 {
		t.Fatalf("4 rules: %v, %v", rs, err)
	}
	if got := mapLine(t, mustMapper(t, WithRules(rs)), "a3:1|c"); got != "a0 counter " {
		t.Errorf("a3: %s", got)
	}
}

// TestWarnings: what statsd_exporter loads silently but is most likely a
// mistake loads, as statsd_exporter reads it, with a warning naming the
// file, the line and the rule; with StrictRules it is the load error.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		yml   string
		warns []string
		lines map[string]string
	}{
		{"mappings:\n- match: \"*.*\"\n  name: catchall\n  labels:\n    first: \"$1\"\n    third: \"$3\"\n    job: \"$1-$2-$3\"\n",
			[]string{
				`mapping.yml:6: match "*.*": label "third": $3 refers to a capture the match does not have (it has 2): it expands to ""`,
				`mapping.yml:7: match "*.*": label "job": $3 refers to a capture the match does not have (it has 2): it expands to ""`,
			},
			map[string]string{"foo.bar:1|c": "catchall counter first=foo,job=foo-bar-,third="}},
		{"mappings:\n- match: \"test.*\"\n  name: \"name\"\n  labels:\n    label: \"$1_foo\"\n",
			[]string{`mapping.yml:5: match "test.*": label "label": $1_foo refers to a capture the match does not have (it has 1): it expands to ""; write ${1}_foo for capture 1 followed by "_foo"`},
			map[string]string{"test.a:1|c": "name counter label="}},
		{"mappings:\n- match: \"(a)\\\\.b\"\n  match_type: regex\n  name: \"x_${name}\"\n",
			[]string{`mapping.yml:4: match "(a)\\.b": name "x_${name}": ${name} refers to a capture the match does not have (it has 1): it expands to ""`},
			map[string]string{"a.b:1|c": "x_ counter "}},
		// A name that expands to nothing drops the sample, as statsd_exporter does.
		{"mappings:\n- match: \"t.*\"\n  name: \"$1_total\"\n",
			[]string{`mapping.yml:3: match "t.*": name "$1_total": $1_total refers to a capture the match does not have (it has 1): it expands to ""; write ${1}_total for capture 1 followed by "_total"`},
			map[string]string{"t.x:1|c": "drop", "u.x:1|c": "u.x counter "}},
		{"defaults:\n  buckets: []\n  histogram_options:\n    buckets: []\nmappings:\n- match: \"t.*\"\n  name: t\n  histogram_options: {buckets: []}\n",
			[]string{
				`mapping.yml:2: buckets: empty: the default buckets apply`,
				`mapping.yml:4: histogram_options.buckets: empty: the default buckets apply`,
				`mapping.yml:8: match "t.*": histogram_options.buckets: empty: the default buckets apply`,
			},
			map[string]string{"t.x:1|ms": "t histogram "}},
		{"mappings:\n- match: \"t.*\"\n  name: t\n  ttl: 30\n",
			[]string{`mapping.yml:4: match "t.*": ttl: 30 without a unit is 30ns (nanoseconds, as statsd_exporter reads it): write 30s for seconds`},
			nil},
		{"mappings:\n- match: \"t.*\"\n  name: t\n  labels:\n    le: x\n    __name__: y\n    a.b: \"1\"\n    a_b: \"2\"\n    quantile: q\n",
			[]string{
				`mapping.yml:5: match "t.*": label "le": a Prometheus exposition sets le itself (on histogram buckets, summary quantiles): it is left out`,
				`mapping.yml:6: match "t.*": label "__name__": Prometheus reserves names starting with "__": it is left out`,
				`mapping.yml:8: match "t.*": labels "a.b" and "a_b" become the same Prometheus label name "a_b": "a_b" is kept`,
				`mapping.yml:9: match "t.*": label "quantile": a Prometheus exposition sets quantile itself (on histogram buckets, summary quantiles): it is left out`,
			},
			map[string]string{"t.x:1|ms": "t histogram a_b=2", "t.x:1|c": "t counter a_b=2"}},
	} {
		rs, err := ParseRules("mapping.yml", []byte(tc.yml))
		if err != nil {
			t.Errorf("%q: %v", tc.yml, err)
			continue
		}
		var got []string
		for _, w := range rs.Warnings() {
			got = append(got, w.Error())
		}
		if !slices.Equal(got, tc.warns) {
			t.Errorf("%q: warnings\n%s\nwant\n%s", tc.yml, strings.Join(got, "\n"), strings.Join(tc.warns, "\n"))
		}
		m := mustMapper(t, WithRules(rs))
		for line, want := range tc.lines {
			if got := mapLine(t, m, line); got != want {
				t.Errorf("%s: got %q, want %q", line, got, want)
			}
		}
		_, err = ParseRules("mapping.yml", []byte(tc.yml), StrictRules())
		if err == nil || err.Error() != tc.warns[0] {
			t.Errorf("%q strict: got %v, want %s", tc.yml, err, tc.warns[0])
		}
	}
}

// TestTTLInterplay: ttl and defaults.ttl reach Mapping.TTL for glob and
// regex rules and for unmatched names, as statsd_exporter sets them: a
// rule's ttl wins, 0 (or none) takes defaults.ttl, a negative ttl never
// expires. The Gunicorn profile's metrics never expire (gunicorn.workers
// is sent only when it changes).
func TestTTLInterplay(t *testing.T) {
	rs := mustRules(t, `
defaults:
  ttl: 1m
mappings:
- match: "g.own.*"
  name: g_own
  ttl: 10s
- match: "g.zero.*"
  name: g_zero
  ttl: 0
- match: "g.none.*"
  name: g_none
- match: "g.never.*"
  name: g_never
  ttl: -1s
- match: "g.drop.*"
  action: drop
  ttl: 5s
- match: "^r\\.own\\."
  match_type: regex
  name: r_own
  ttl: 20s
- match: "^r\\.none\\."
  match_type: regex
  name: r_none
`)
	m := mustMapper(t, WithRules(rs))
	for line, want := range map[string]time.Duration{
		"g.own.x:1|c": 10 * time.Second, "g.zero.x:1|g": time.Minute, "g.none.x:1|ms": time.Minute,
		"g.never.x:1|c": 0, "r.own.x:1|h": 20 * time.Second, "r.none.x:1|c": time.Minute,
		"unmatched.x:1|c": time.Minute, "shop.gunicorn.workers:2|g": 0, "shop.gunicorn.request.duration:2|ms": 0,
	} {
		if mp := m.Map(parseOne(t, line)); mp.Drop || mp.TTL != want {
			t.Errorf("%s: ttl %v (drop %v), want %v", line, mp.TTL, mp.Drop, want)
		}
	}
	if !m.Map(parseOne(t, "g.drop.x:1|c")).Drop {
		t.Error("drop rule: not dropped")
	}
	// Without defaults.ttl, nothing expires but what a rule says.
	m = mustMapper(t, WithRules(mustRules(t, "mappings:\n- match: \"a.*\"\n  name: a\n  ttl: 0\n")))
	for _, line := range []string{"a.x:1|c", "b.x:1|c"} {
		if mp := m.Map(parseOne(t, line)); mp.TTL != 0 {
			t.Errorf("%s: ttl %v, want 0", line, mp.TTL)
		}
	}
}

// TestAliasedLongString: the bound counts a scalar's bytes each time an
// alias brings it, so a long value reused by thousands of rules is refused
// too (without it, each rule would parse the whole value again).
func TestAliasedLongString(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "mappings:\n- match: a\n  name: a\n  labels: {v: &big %q}\n", strings.Repeat("x", 200_000))
	for i := range 2000 {
		fmt.Fprintf(&b, "- {match: b%d, name: b, labels: {v: *big}}\n", i)
	}
	_, err := ParseRules("long.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("got %v, want the alias bound", err)
	}
	// Used by a few rules, it loads.
	short := strings.Join(strings.SplitAfter(b.String(), "\n")[:10], "")
	if rs, err := ParseRules("long.yml", []byte(short)); err != nil || rs.Len() != 7 {
		t.Fatalf("7 rules: %v", err)
	}
}
