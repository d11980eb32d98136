package mapper

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
)

var demoRules = fixture.MappingPath(fixture.DemoMapping)

func mustRules(t testing.TB, yml string) *Rules {
	t.Helper()
	rs, err := ParseRules("mapping.yml", []byte(yml))
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	return rs
}

func mustMapper(t testing.TB, opts ...Option) *Mapper {
	t.Helper()
	m, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mapLine maps a line and renders the result as "name kind attrs" or "drop".
func mapLine(t testing.TB, m *Mapper, line string) string {
	t.Helper()
	mp := m.Map(parseOne(t, line))
	if mp.Drop {
		return "drop"
	}
	return mp.Name + " " + mp.Kind.String() + " " + attrString(mp.Attributes)
}

func TestDemoRuleFile(t *testing.T) {
	rs, err := LoadRules(demoRules)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 4 {
		t.Fatalf("Len %d", rs.Len())
	}
	m := mustMapper(t, WithRules(rs))
	for _, tc := range []struct{ line, want string }{
		{"myapp.gunicorn.request.status.200:1|c|@1.0", "gunicorn_response_code counter app=myapp,status=200"},
		{"myapp.gunicorn.request.status.404:1|c|@1.0|#env:prod", "gunicorn_response_code counter app=myapp,env=prod,status=404"},
		{"myapp.gunicorn.workers:2|g", "gunicorn_workers gauge app=myapp"},
		{"myapp.gunicorn.requests:1|c|@1.0", "gunicorn_requests counter app=myapp"},
		{"myapp.gunicorn.request.duration:12.5|ms", "gunicorn_request_duration histogram app=myapp"},
		// "*" is one segment: a two-segment prefix is left to the profile.
		{"shop.web.gunicorn.request.status.200:1|c|@1.0", "gunicorn.responses counter app=shop.web,http.response.status_code=200"},
		// No prefix: the rules do not match, the profile does.
		{"gunicorn.requests:1|c|@1.0", "gunicorn.requests counter "},
		// The profile still handles what the file does not name.
		{"myapp.gunicorn.log.critical:1|c|@1.0", "gunicorn.log.messages counter app=myapp,level=critical"},
		{"myapp.orders:1|c", "myapp.orders counter "},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
	mp := m.Map(parseOne(t, "myapp.gunicorn.request.duration:12.5|ms"))
	if mp.Scale != 0.001 || mp.Unit != "s" || !slices.Equal(mp.Buckets, PrometheusDefaultBuckets) || mp.TTL != 0 {
		t.Errorf("duration: %+v", mp)
	}
	mp = m.Map(parseOne(t, "myapp.gunicorn.request.status.200:1|c|@1.0"))
	if mp.Description != "gunicorn response code" || mp.Buckets != nil || mp.Scale != 1 {
		t.Errorf("status: %+v", mp)
	}
	// A rule without help gets the default description, as statsd_exporter's.
	if mp = m.Map(parseOne(t, "myapp.gunicorn.workers:2|g")); mp.Description != DefaultDescription {
		t.Errorf("workers: description %q, want %q", mp.Description, DefaultDescription)
	}
}

func TestGlobRules(t *testing.T) {
	rs := mustRules(t, `
mappings:
- match: "test.dispatcher.*.*.*"
  name: "dispatcher_events_total"
  labels:
    processor: "$1"
    action: "${2}"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
- match: "full.name.*"
  name: "full_name_${1}"
- match: "*.dummy.*"
  name: "dummy_$2"
- match: "foo.*.bar"
  name: "foo_star_bar"
- match: "foo.baz.qux"
  name: "foo_baz_qux"
- match: "a.b.c"
  name: "abc"
- match: "a.b"
  name: "ab"
- match: "a.*.c"
  name: "a_star_c"
- match: "x.*"
  name: "x_first"
- match: "x.y"
  name: "x_second"
- match: "*.*.*.*.*.*.*.*.*.*.*.*"
  name: "twelve_${12}_${1}2"
  labels:
    l12: "$12"
    l11: "$11"
    l1: "$1"
- match: "dollar.*"
  name: "dollar"
  labels:
    price: "$$$1"
    raw: "$-"
`)
	m := mustMapper(t, WithRules(rs))
	for _, tc := range []struct{ line, want string }{
		{"test.dispatcher.FooProcessor.send.success:1|c", "dispatcher_events_total counter action=send,job=test_dispatcher,outcome=success,processor=FooProcessor"},
		{"foo_product.signup.facebook.failure:1|c", "signup_events_total counter job=foo_product_server,outcome=failure,provider=facebook"},
		// Backtracking: "full" is exact for rule 3 and a wildcard for rule 4.
		{"full.name.anothertest:1|c", "full_name_anothertest counter "},
		{"full.dummy.x:1|c", "dummy_x counter "},
		// Exact "baz" leads nowhere for "bar": the wildcard branch must be tried.
		{"foo.baz.bar:1|c", "foo_star_bar counter "},
		{"foo.baz.qux:1|c", "foo_baz_qux counter "},
		// A rule that is a prefix of an earlier one.
		{"a.b:1|c", "ab counter "},
		{"a.b.c:1|c", "abc counter "},
		{"a.x.c:1|c", "a_star_c counter "},
		// First in file order wins.
		{"x.y:1|c", "x_first counter "},
		// Twelve captures; $12 is capture 12, ${1}2 is capture 1 then "2".
		{"c1.c2.c3.c4.c5.c6.c7.c8.c9.c10.c11.c12:1|c", "twelve_c12_c12 counter l1=c1,l11=c11,l12=c12"},
		// Empty segments: "*" matches an empty segment, as in statsd_exporter.
		{"full.name.:1|c", "full_name_ counter "},
		{".dummy.:1|c", "dummy_ counter "},
		{"a..c:1|c", "a_star_c counter "},
		// In a glob template "$$$1" is one reference (the run "$$1"), to no
		// capture: it expands to "", as statsd_exporter's formatter makes it;
		// a "$" without a run after it is literal.
		{"dollar.5:1|c", "dollar counter price=,raw=$-"},
		// Not matched: generic.
		{"a.b.c.d:1|c", "a.b.c.d counter "},
		{"full.name:1|c", "full.name counter "},
		{"foo.baz:1|c", "foo.baz counter "},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}

func TestGlobDisableOrdering(t *testing.T) {
	yml := `
defaults:
  glob_disable_ordering: %v
mappings:
- match: "x.*.*"
  name: "wild"
- match: "x.y.*"
  name: "specific"
- match: "x.*.z"
  name: "specific_right"
`
	ordered := mustMapper(t, WithRules(mustRules(t, fmt.Sprintf(yml, false))))
	unordered := mustMapper(t, WithRules(mustRules(t, fmt.Sprintf(yml, true))))
	for _, tc := range []struct{ line, ord, unord string }{
		{"x.y.z:1|c", "wild", "specific"},
		{"x.q.z:1|c", "wild", "specific_right"},
		{"x.q.q:1|c", "wild", "wild"},
		{"x.y.q:1|c", "wild", "specific"},
	} {
		if got := strings.Fields(mapLine(t, ordered, tc.line))[0]; got != tc.ord {
			t.Errorf("ordered %s: got %s, want %s", tc.line, got, tc.ord)
		}
		if got := strings.Fields(mapLine(t, unordered, tc.line))[0]; got != tc.unord {
			t.Errorf("unordered %s: got %s, want %s", tc.line, got, tc.unord)
		}
	}
}

func TestRegexRules(t *testing.T) {
	rs := mustRules(t, `
mappings:
- match: "glob.*"
  name: "glob_wins"
- match: "(.*)\\.gunicorn\\.request\\.status\\.(\\d+)"
  match_type: regex
  name: "responses_total"
  labels:
    app: "$1"
    code: "${2}"
    whole: "$0"
- match: "^(?P<svc>[a-z]+)\\.latency$"
  match_type: regex
  name: "${svc}_latency"
- match: "glob\\.(.*)"
  match_type: regex
  name: "regex_$1"
- match: "sub"
  match_type: regex
  name: "unanchored"
`)
	m := mustMapper(t, WithRules(rs))
	for _, tc := range []struct{ line, want string }{
		{"shop.web.gunicorn.request.status.200:1|c", "responses_total counter app=shop.web,code=200,whole=shop.web.gunicorn.request.status.200"},
		{"api.latency:3|ms", "api_latency histogram "},
		{"api.latency.p99:3|ms", "api.latency.p99 histogram "},
		// Globs are tried before regex rules, whatever the file order.
		{"glob.x:1|c", "glob_wins counter "},
		{"glob.x.y:1|c", "regex_x.y counter "},
		// Regex rules are not anchored, as in statsd_exporter.
		{"a.substring.z:1|c", "unanchored counter "},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}

func TestMatchMetricTypeAndDrop(t *testing.T) {
	rs := mustRules(t, `
mappings:
- match: "app.*"
  match_metric_type: counter
  name: "app_${1}_total"
- match: "app.*"
  match_metric_type: gauge
  name: "app_${1}_current"
- match: "app.*"
  match_metric_type: observer
  name: "app_${1}_seconds"
- match: "noisy.*"
  action: drop
- match: "debug\\..*"
  match_type: regex
  action: drop
- match: "re.*"
  name: "re_glob_counter"
  match_metric_type: counter
- match: "re\\.(.*)"
  match_type: regex
  match_metric_type: gauge
  name: "re_regex_gauge_$1"
`)
	m := mustMapper(t, WithRules(rs))
	for _, tc := range []struct{ line, want string }{
		{"app.hits:1|c", "app_hits_total counter "},
		{"app.hits:1|g", "app_hits_current gauge "},
		{"app.hits:1|ms", "app_hits_seconds histogram "},
		{"app.hits:1|h", "app_hits_seconds histogram "},
		{"app.hits:1|d", "app_hits_seconds histogram "},
		{"app.hits:x|s", "drop"},
		{"noisy.thing:1|c", "drop"},
		{"noisy.thing.more:1|c", "noisy.thing.more counter "},
		{"debug.anything.at.all:1|g", "drop"},
		{"re.x:1|c", "re_glob_counter counter "},
		{"re.x:1|g", "re_regex_gauge_x gauge "},
		{"re.x:1|ms", "re.x histogram "},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
	// Drop rules drop Gunicorn's names before the profile sees them.
	m = mustMapper(t, WithRules(mustRules(t, "mappings:\n- match: \"*.gunicorn.workers\"\n  action: drop\n")))
	if got := mapLine(t, m, "x.gunicorn.workers:2|g"); got != "drop" {
		t.Errorf("drop a gunicorn name: %s", got)
	}
}

func TestRuleOptions(t *testing.T) {
	rs := mustRules(t, `
defaults:
  match_type: regex
  observer_type: summary
  ttl: 5m
  histogram_options:
    buckets: [1, 2, 3]
mappings:
- match: "^timer\\.(.*)$"
  name: "t_$1"
  scale: 2
- match: "^hist\\.(.*)$"
  name: "h_$1"
  scale: 0.5
  observer_type: histogram
  histogram_options:
    buckets: [0.1, 1, 10]
  ttl: 10s
- match: "^legacy\\.(.*)$"
  name: "l_$1"
  timer_type: histogram
  buckets: [5, 50]
  ttl: -1s
- match: "^sum\\.(.*)$"
  name: "s_$1"
  summary_options:
    quantiles:
      - quantile: 0.99
        error: 0.001
    max_age: 30s
- match: "^honor\\.(.*)$"
  name: "honor"
  honor_labels: true
  labels:
    env: "rule"
    what: "$1"
- match: "^nohonor\\.(.*)$"
  name: "nohonor"
  labels:
    env: "rule"
- match_type: glob
  match: "g.*"
  name: "g"
`)
	m := mustMapper(t, WithRules(rs))
	for _, tc := range []struct {
		line    string
		scale   float64
		unit    string
		buckets []float64
		ttl     time.Duration
		attrs   string
	}{
		{"timer.a:3|ms", 0.002, "", []float64{1, 2, 3}, 5 * time.Minute, ""},
		{"timer.a:3|h", 2, "", []float64{1, 2, 3}, 5 * time.Minute, ""},
		{"timer.a:3|c", 2, "", nil, 5 * time.Minute, ""},
		{"hist.a:3|ms", 0.0005, "", []float64{0.1, 1, 10}, 10 * time.Second, ""},
		// A negative ttl never expires, and so opts out of defaults.ttl.
		{"legacy.a:3|ms", 0.001, "s", []float64{5, 50}, 0, ""},
		{"sum.a:3|d", 1, "", []float64{1, 2, 3}, 5 * time.Minute, ""},
		{"honor.x:1|c|#env:tag", 1, "", nil, 5 * time.Minute, "env=tag,what=x"},
		{"nohonor.x:1|c|#env:tag", 1, "", nil, 5 * time.Minute, "env=rule"},
		{"g.x:1|g", 1, "", nil, 5 * time.Minute, ""},
	} {
		mp := m.Map(parseOne(t, tc.line))
		if mp.Drop || mp.Scale != tc.scale || mp.Unit != tc.unit || !slices.Equal(mp.Buckets, tc.buckets) || mp.TTL != tc.ttl || attrString(mp.Attributes) != tc.attrs {
			t.Errorf("%s: got %+v attrs %q", tc.line, mp, attrString(mp.Attributes))
		}
	}
	// WithTagOverride(true) makes every rule honor labels.
	m = mustMapper(t, WithRules(rs), WithTagOverride(true))
	if got := attrString(m.Map(parseOne(t, "nohonor.x:1|c|#env:tag")).Attributes); got != "env=tag" {
		t.Errorf("override: %q", got)
	}
}

func TestRulesWithDropUnmatched(t *testing.T) {
	rs := mustRules(t, "mappings:\n- match: \"*.orders\"\n  name: orders_total\n")
	m := mustMapper(t, WithRules(rs), WithDropUnmatched())
	for _, tc := range []struct{ line, want string }{
		{"shop.orders:1|c", "orders_total counter "},
		{"shop.gunicorn.requests:1|c", "gunicorn.requests counter app=shop"},
		{"shop.other:1|c", "drop"},
	} {
		if got := mapLine(t, m, tc.line); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.line, got, tc.want)
		}
	}
	m = mustMapper(t, WithRules(rs), WithDropUnmatched(), WithoutGunicornProfile())
	if got := mapLine(t, m, "shop.gunicorn.requests:1|c"); got != "drop" {
		t.Errorf("no profile: got %q", got)
	}
}

func TestEmptyRuleFiles(t *testing.T) {
	for _, yml := range []string{"", "# nothing\n", "mappings:\n", "mappings: []\n", "defaults:\nmappings:\n", "~\n"} {
		rs, err := ParseRules("m.yml", []byte(yml))
		if err != nil || rs.Len() != 0 {
			t.Errorf("%q: %v, %v", yml, rs, err)
		}
		m := mustMapper(t, WithRules(rs))
		if got := mapLine(t, m, "a.gunicorn.requests:1|c"); got != "gunicorn.requests counter app=a" {
			t.Errorf("%q: %s", yml, got)
		}
	}
}

func TestRuleErrors(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"mappings:\n- match: \"a.b\"\n  name: x\n  colour: red\n",
			`mapping.yml:4: match "a.b": unknown key "colour"`},
		{"mapping:\n- match: \"a.b\"\n",
			`mapping.yml:1: unknown key "mapping"`},
		{"defaults:\n  match_typ: glob\n",
			`mapping.yml:2: unknown key "match_typ"`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  histogram_options:\n    bucket: [1]\n",
			`mapping.yml:5: match "a.b": unknown key "bucket"`},
		{"mappings:\n- name: x\n",
			`mapping.yml:2: mapping has no "match"`},
		{"mappings:\n- match: \"\"\n  name: x\n",
			`mapping.yml:2: "match" is empty`},
		{"mappings:\n- match: \"a.b\"\n",
			`mapping.yml:2: match "a.b": no "name" (required unless action is drop)`},
		{"mappings:\n- match: \"a.b*\"\n  name: x\n",
			`mapping.yml:2: match "a.b*": a "*" must be a whole segment, as in statsd_exporter (segment "b*")`},
		{"mappings:\n- match: \"a..b\"\n  name: x\n",
			`mapping.yml:2: match "a..b": glob has an empty segment (names are split at each '.')`},
		{"mappings:\n- match: \".a\"\n  name: x\n",
			`mapping.yml:2: match ".a": glob has an empty segment (names are split at each '.')`},
		{"mappings:\n- match: \"a(\"\n  match_type: regex\n  name: x\n",
			"mapping.yml:2: match \"a(\": invalid regular expression: error parsing regexp: missing closing ): `a(`"},
		{"mappings:\n- match: \"a.b\"\n  match_type: pcre\n  name: x\n",
			`mapping.yml:3: match "a.b": match_type "pcre": must be "glob" or "regex"`},
		{"mappings:\n- match: \"a.b\"\n  match_metric_type: timer\n  name: x\n",
			`mapping.yml:3: match "a.b": match_metric_type "timer": must be "counter", "gauge" or "observer"`},
		{"mappings:\n- match: \"a.b\"\n  action: keep\n  name: x\n",
			`mapping.yml:3: match "a.b": action "keep": must be "map" or "drop"`},
		{"mappings:\n- match: \"a.b\"\n  observer_type: gauge\n  name: x\n",
			`mapping.yml:3: match "a.b": observer_type "gauge": must be "histogram" or "summary"`},
		{"mappings:\n- match: \"a.b\"\n  name: \"1x\"\n",
			`mapping.yml:3: match "a.b": name "1x": must start with a letter, '_' or a capture`},
		{"mappings:\n- match: \"a.b\"\n  name: \"x y\"\n",
			`mapping.yml:3: match "a.b": name "x y": character ' ' is not allowed in an instrument name`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  scale: 0\n",
			`mapping.yml:4: match "a.b": scale: must not be 0 (every value would be recorded as 0)`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  scale: .nan\n",
			`mapping.yml:4: match "a.b": scale: expected a finite number, got ".nan"`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  histogram_options:\n    buckets: [1, 3, 2]\n",
			`mapping.yml:5: match "a.b": histogram_options.buckets: boundaries must increase: 2 after 3`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  ttl: soon\n",
			`mapping.yml:4: match "a.b": ttl: expected a duration such as "30s": time: invalid duration "soon"`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  honor_labels: maybe\n",
			`mapping.yml:4: match "a.b": honor_labels: expected true or false, got "maybe"`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  name: y\n",
			`mapping.yml:4: match "a.b": duplicate key "name"`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  labels: [a]\n",
			`mapping.yml:4: match "a.b": expected a mapping of keys to values`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  labels:\n    a: [1]\n",
			`mapping.yml:5: match "a.b": label "a": expected a string`},
		{"mappings:\n- match: \"a.b\"\n  name: x\n  labels:\n    \"\": v\n",
			`mapping.yml:5: match "a.b": label with an empty name`},
		{"mappings: {a: b}\n",
			`mapping.yml:1: "mappings" must be a list`},
		{"mappings:\n- just a string\n",
			`mapping.yml:2: each entry of "mappings" must be a mapping with at least "match"`},
		{"- a\n- b\n",
			`mapping.yml:1: the file must be a mapping with "mappings" (and "defaults")`},
		{"defaults:\n  glob_disable_ordering: 3\n",
			`mapping.yml:2: glob_disable_ordering: expected true or false, got "3"`},
		{"mappings:\n  - match: [\n",
			`mapping.yml: invalid YAML: yaml: line 2: did not find expected node content`},
	} {
		_, err := ParseRules("mapping.yml", []byte(tc.yml))
		if err == nil {
			t.Errorf("%q: no error, want %s", tc.yml, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.yml, err, tc.want)
		}
		var re *RuleError
		if !errors.As(err, &re) || re.File != "mapping.yml" {
			t.Errorf("%q: not a *RuleError: %T", tc.yml, err)
		}
	}
}

func TestLoadRulesMissingFile(t *testing.T) {
	_, err := LoadRules("testdata/does-not-exist.yml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}
