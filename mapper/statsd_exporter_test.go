package mapper

import (
	"slices"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// The mapper test cases of statsd_exporter v0.31.0 (pkg/mapper/mapper_test.go:
// TestMetricMapperYAML, TestAction, TestMultipleMatches), written again as a
// table for this mapper: the same mapping files, the same lookups, the same
// expected names, labels, ttl, buckets and scale. Every case agrees, or
// says in diff what this mapper does otherwise and why.

type seLookup struct {
	metric    string
	typ       statsd.Type // statsd.Counter when zero, as statsd_exporter's test defaults it
	unmatched bool        // no rule matches
	drop      bool        // a drop rule matches
	name      string
	labels    string // "k=v,..." sorted by key
	ttl       time.Duration
	buckets   []float64 // checked when not nil (observers)
	scale     float64   // 0: not set
}

type seCase struct {
	name    string
	config  string
	bad     bool   // statsd_exporter refuses the file
	diff    string // a deliberate difference, and its reason; "" when the mapper agrees
	lookups []seLookup
}

var defBuckets = PrometheusDefaultBuckets

var statsdExporterCases = []seCase{
	{name: "Empty config"},
	{name: "Config with several mapping definitions", config: `---
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatch_events"
  labels:
    processor: "$1"
    action: "$2"
    result: "$3"
    job: "test_dispatcher"
- match: test.my-dispatch-host01.name.dispatcher.*.*.*
  name: "host_dispatch_events"
  labels:
    processor: "$1"
    action: "$2"
    result: "$3"
    job: "test_dispatcher"
- match: request_time.*.*.*.*.*.*.*.*.*.*.*.*
  name: "tyk_http_request"
  labels:
    method_and_path: "${1}"
    response_code: "${2}"
    apikey: "${3}"
    apiversion: "${4}"
    apiname: "${5}"
    apiid: "${6}"
    ipv4_t1: "${7}"
    ipv4_t2: "${8}"
    ipv4_t3: "${9}"
    ipv4_t4: "${10}"
    orgid: "${11}"
    oauthid: "${12}"
- match: "*.*"
  name: "catchall"
  labels:
    first: "$1"
    second: "$2"
    third: "$3"
    job: "$1-$2-$3"
- match: (.*)\.(.*)-(.*)\.(.*)
  match_type: regex
  name: "proxy_requests_total"
  labels:
    job: "$1"
    protocol: "$2"
    endpoint: "$3"
    result: "$4"
`, lookups: []seLookup{
		{metric: "test.dispatcher.FooProcessor.send.succeeded", name: "dispatch_events",
			labels: "action=send,job=test_dispatcher,processor=FooProcessor,result=succeeded"},
		{metric: "test.my-dispatch-host01.name.dispatcher.FooProcessor.send.succeeded", name: "host_dispatch_events",
			labels: "action=send,job=test_dispatcher,processor=FooProcessor,result=succeeded"},
		{metric: "request_time.get/threads/1/posts.200.00000000.nonversioned.discussions.a11bbcdf0ac64ec243658dc64b7100fb.172.20.0.1.12ba97b7eaa1a50001000001.",
			name: "tyk_http_request",
			labels: "apiid=a11bbcdf0ac64ec243658dc64b7100fb,apikey=00000000,apiname=discussions,apiversion=nonversioned,ipv4_t1=172,ipv4_t2=20,ipv4_t3=0,ipv4_t4=1," +
				"method_and_path=get/threads/1/posts,oauthid=,orgid=12ba97b7eaa1a50001000001,response_code=200"},
		{metric: "foo.bar", name: "catchall", labels: "first=foo,job=foo-bar-,second=bar,third="},
		{metric: "foo.bar.baz", unmatched: true},
		{metric: "proxy-1.http-goober.success", name: "proxy_requests_total", labels: "endpoint=goober,job=proxy-1,protocol=http,result=success"},
	}},
	{name: "Config with backtracking", config: `
defaults:
  glob_disable_ordering: true
mappings:
- match: backtrack.*.bbb
  name: "testb"
  labels:
    label: "${1}_foo"
- match: backtrack.justatest.aaa
  name: "testa"
  labels:
    label: "${1}_foo"
`, lookups: []seLookup{
		{metric: "backtrack.good.bbb", name: "testb", labels: "label=good_foo"},
		{metric: "backtrack.justatest.bbb", name: "testb", labels: "label=justatest_foo"},
		{metric: "backtrack.justatest.aaa", name: "testa", labels: "label=_foo"},
	}},
	{name: "Config with backtracking, the non-matched rule has star(s)", config: `
defaults:
  glob_disable_ordering: false
mappings:
- match: '*.dummy.*'
  name: metric_one
  labels:
    system: $1
    attribute: $2
- match: 'full.name.*'
  name: metric_two
  labels:
    system: static
    attribute: $1
`, lookups: []seLookup{
		{metric: "whatever.dummy.test", name: "metric_one", labels: "attribute=test,system=whatever"},
		{metric: "full.name.anothertest", name: "metric_two", labels: "attribute=anothertest,system=static"},
	}},
	{name: "Config with super sets, disables ordering", config: `
defaults:
  glob_disable_ordering: true
mappings:
- match: noorder.*.*
  name: "testa"
  labels:
    label: "${1}_foo"
- match: noorder.*.bbb
  name: "testb"
  labels:
    label: "${1}_foo"
- match: noorder.ccc.bbb
  name: "testc"
  labels:
    label: "ccc_foo"
`, lookups: []seLookup{
		{metric: "noorder.good.bbb", name: "testb", labels: "label=good_foo"},
		{metric: "noorder.ccc.bbb", name: "testc", labels: "label=ccc_foo"},
	}},
	{name: "Config with super sets, keeps ordering", config: `
defaults:
  glob_disable_ordering: false
mappings:
- match: order.*.*
  name: "testa"
  labels:
    label: "${1}_foo"
- match: order.*.bbb
  name: "testb"
  labels:
    label: "${1}_foo"
`, lookups: []seLookup{{metric: "order.good.bbb", name: "testa", labels: "label=good_foo"}}},
	{name: "Config with bad regex reference", config: `---
mappings:
- match: test.*
  name: "name"
  labels:
    label: "$1_foo"
`, lookups: []seLookup{{metric: "test.a", name: "name", labels: "label="}}},
	{name: "Config with good regex reference", config: `
mappings:
- match: test.*
  name: "name"
  labels:
    label: "${1}_foo"
`, lookups: []seLookup{{metric: "test.a", name: "name", labels: "label=a_foo"}}},
	{name: "Match metric segment with a number", config: `
mappings:
- match: test.99.myapp.*
  name: "name"
  labels:
    label: "${1}_foo"
`, lookups: []seLookup{{metric: "test.99.myapp.create", name: "name", labels: "label=create_foo"}}},
	{name: "Match metric segment starting with a number", config: `
mappings:
- match: test.99test.myapp.*
  name: "name"
  labels:
    label: "${1}_foo"
`, lookups: []seLookup{{metric: "test.99test.myapp.create", name: "name", labels: "label=create_foo"}}},
	{name: "Match metric segment with a number #328 example", config: `
mappings:
- match: kafka.server.FetcherStats.brokerHost.hostname.brokerPort.9092.clientId.ReplicaFetcherThread-0-1.BytesPerSec.1MinuteRate.gauge
  name: "example_name"
`, lookups: []seLookup{{metric: "kafka.server.FetcherStats.brokerHost.hostname.brokerPort.9092.clientId.ReplicaFetcherThread-0-1.BytesPerSec.1MinuteRate.gauge", name: "example_name"}}},
	{name: "Single segment match", config: `
mappings:
- match: '*'
  name: single_segment
  labels:
    label: "${1}"
`, lookups: []seLookup{{metric: "test", name: "single_segment", labels: "label=test"}}},
	{name: "Config with bad metric line", bad: true,
		diff: "a glob segment may hold any character but '*' (statsd_exporter allows letters, digits, '_' and '-'): a superset, so every file it loads still loads",
		config: `---
mappings:
- match: bad!!metric-line.*.*
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "bad!!metric-line.a.b", name: "foo"}}},
	{name: "Config with multiple dashes in metric name", config: `---
mappings:
- match: "foo--bar.*"
  name: "foo_bar_${1}"
  labels: {}
`, lookups: []seLookup{{metric: "foo--bar.count", name: "foo_bar_count"}}},
	{name: "Config with dynamic metric name", config: `---
mappings:
- match: test1.*.*
  name: "$1"
  labels: {}
- match: test2.*.*
  name: "${1}_$2"
  labels: {}
- match: test3\.(\w+)\.(\w+)
  match_type: regex
  name: "${2}_$1"
  labels: {}
`, lookups: []seLookup{
		{metric: "test1.total_requests.count", name: "total_requests"},
		{metric: "test2.total_requests.count", name: "total_requests_count"},
		{metric: "test3.total_requests.count", name: "count_total_requests"},
	}},
	{name: "Config with $0 referencing the original metric name in glob mode", config: `---
mappings:
- match: test1.*.*
  name: "total_requests"
  labels:
    original: "$0"
- match: test2.*.*
  name: "${1}_$2"
  labels:
    original: "$0"
`, lookups: []seLookup{
		{metric: "test1.total_requests.count", name: "total_requests", labels: "original=test1.total_requests.count"},
		{metric: "test2.total_requests.count", name: "total_requests_count", labels: "original=test2.total_requests.count"},
	}},
	{name: "Config with $0 in the metric name in glob mode", config: `---
mappings:
- match: test1.*.*
  name: "$0"
  labels: {}
`, lookups: []seLookup{{metric: "test1.total_requests.count", name: "test1.total_requests.count"}}},
	{name: "Config with $0 combined with $1 in glob mode", config: `---
mappings:
- match: test1.*.*
  name: "name"
  labels:
    combined: "${0}_$1"
`, lookups: []seLookup{{metric: "test1.total_requests.count", name: "name", labels: "combined=test1.total_requests.count_total_requests"}}},
	{name: "Config with $0 and an out-of-range $N reference in glob mode", config: `---
mappings:
- match: test1.*.*
  name: "name"
  labels:
    original: "$0"
    outofrange: "$5"
`, lookups: []seLookup{{metric: "test1.total_requests.count", name: "name", labels: "original=test1.total_requests.count,outofrange="}}},
	{name: "Config with $0 and a literal, no-wildcard glob", config: `---
mappings:
- match: test1.total_requests.count
  name: "name"
  labels:
    original: "$0"
`, lookups: []seLookup{{metric: "test1.total_requests.count", name: "name", labels: "original=test1.total_requests.count"}}},
	{name: "Config with $0 bracing behavior in glob mode", config: `---
mappings:
- match: test1.*.*
  name: "name"
  labels:
    unbraced: "$0_suffix"
    braced: "${0}_suffix"
`, lookups: []seLookup{{metric: "test1.total_requests.count", name: "name", labels: "braced=test1.total_requests.count_suffix,unbraced="}}},
	{name: "Config with bad metric name", bad: true, config: `---
mappings:
- match: test.*.*
  name: "0foo"
  labels: {}
`},
	{name: "Config with no metric name", bad: true, config: `---
mappings:
- match: test.*.*
  labels:
    this: "$1"
`},
	{name: "Config with no mappings", config: ``},
	{name: "Config without a trailing newline", config: `mappings:
- match: test.*
  name: "name"
  labels:
    label: "${1}_foo"`, lookups: []seLookup{{metric: "test.a", name: "name", labels: "label=a_foo"}}},
	{name: "Config with an improperly escaped *", bad: true, config: `
mappings:
- match: *.test.*
  name: "name"
  labels:
    label: "${1}_foo"`},
	{name: "Config with a properly escaped *", config: `
mappings:
- match: "*.test.*"
  name: "name"
  labels:
    label: "${2}_foo"`, lookups: []seLookup{{metric: "foo.test.a", name: "name", labels: "label=a_foo"}}},
	{name: "Config with good observer type", diff: summaryDiff, config: `---
mappings:
- match: test.*.*
  observer_type: summary
  name: "foo"
  labels: {}
  summary_options:
    quantiles:
      - quantile: 0.42
        error: 0.04
      - quantile: 0.7
        error: 0.002
`, lookups: []seLookup{{metric: "test.*.*", name: "foo"}, {metric: "test.a.b", typ: statsd.Timer, name: "foo", buckets: defBuckets}}},
	{name: "Config with good observertype and no defaults", diff: summaryDiff, config: `---
mappings:
- match: test1.*.*
  observer_type: summary
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test1.*.*", name: "foo"}}},
	{name: "Config with bad observer type", bad: true, config: `---
mappings:
- match: test.*.*
  observer_type: wrong
  name: "foo"
  labels: {}
`},
	{name: "Config with summary options", diff: summaryDiff, config: `---
mappings:
- match: test.*.*
  observer_type: summary
  name: "foo"
  labels: {}
  summary_options:
    quantiles:
      - quantile: 0.42
        error: 0.04
      - quantile: 0.7
        error: 0.002
    max_age: 5m
    age_buckets: 2
    buf_cap: 1000
`, lookups: []seLookup{{metric: "test.*.*", name: "foo"}}},
	{name: "Config with default summary options", diff: summaryDiff, config: `---
defaults:
 summary_options:
   quantiles:
     - quantile: 0.42
       error: 0.04
     - quantile: 0.7
       error: 0.002
   max_age: 5m
   age_buckets: 2
   buf_cap: 1000
mappings:
- match: test.*.*
  observer_type: summary
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test.*.*", name: "foo"}}},
	{name: "Config that overrides default summary options and a default options mapping", diff: summaryDiff, config: `---
defaults:
 summary_options:
   quantiles:
     - quantile: 0.9
       error: 0.1
   max_age: 15m
   age_buckets: 3
   buf_cap: 100
mappings:
- match: test.*.*
  observer_type: summary
  name: "foo"
  labels: {}
  summary_options:
    max_age: 5m
- match: test_default.*.*
  observer_type: summary
  name: "foo_default"
  labels: {}
`, lookups: []seLookup{{metric: "test.*.*", name: "foo"}, {metric: "test_default.*.*", name: "foo_default"}}},
	{name: "Config with histogram options", config: `---
mappings:
- match: test.*.*
  observer_type: histogram
  name: "foo"
  labels: {}
  histogram_options:
    buckets: [0.1, 1, 10, 100, 1000]
`, lookups: []seLookup{{metric: "test.*.*", typ: statsd.Histogram, name: "foo", buckets: []float64{0.1, 1, 10, 100, 1000}}}},
	{name: "Config with default histogram options", config: `---
defaults:
  histogram_options:
    buckets: [0.1, 1, 10, 100, 1000]
mappings:
- match: test.*.*
  observer_type: histogram
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test.*.*", typ: statsd.Histogram, name: "foo", buckets: []float64{0.1, 1, 10, 100, 1000}}}},
	{name: "Config with default histogram options without buckets", config: `---
defaults:
  histogram_options:
    buckets: []
mappings:
- match: test.*.*
  observer_type: histogram
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test.*.*", typ: statsd.Histogram, name: "foo", buckets: defBuckets}}},
	{name: "Config that overrides default histogram configuration and a default options mapping", config: `---
defaults:
  histogram_options:
    buckets: [0.2, 2, 20, 200]
mappings:
- match: test.*.*
  observer_type: histogram
  name: "foo"
  labels: {}
  histogram_options:
    buckets: [0.1, 1, 10, 100, 1000]
- match: test_default.*.*
  observer_type: histogram
  name: "foo_default"
  labels: {}
`, lookups: []seLookup{
		{metric: "test.*.*", typ: statsd.Histogram, name: "foo", buckets: []float64{0.1, 1, 10, 100, 1000}},
		{metric: "test_default.*.*", typ: statsd.Timer, name: "foo_default", buckets: []float64{0.2, 2, 20, 200}},
	}},
	{name: "Duplicate quantiles are bad", bad: true,
		diff: "the keys older statsd_exporter versions took (quantiles, buckets, timer_type) are still accepted: a superset, so every file it loads still loads",
		config: `---
mappings:
- match: test.*.*
  observer_type: summary
  name: "foo"
  labels: {}
  quantiles:
    - quantile: 0.42
      error: 0.04
  summary_options:
    quantiles:
      - quantile: 0.42
        error: 0.04
`, lookups: []seLookup{{metric: "test.a.b", name: "foo"}}},
	{name: "Config with good metric type", config: `---
mappings:
- match: test.*.*
  match_metric_type: counter
  name: "foo"
  labels: {}
`},
	{name: "Config with good metric type observer", config: `---
mappings:
- match: test.*.*
  match_metric_type: observer
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test.a.b", typ: statsd.Distribution, name: "foo", buckets: defBuckets}, {metric: "test.a.b", unmatched: true}}},
	{name: "Config with bad metric type matcher", bad: true, config: `---
mappings:
- match: test.*.*
  match_metric_type: wrong
  name: "foo"
  labels: {}
`},
	{name: "Config with multiple explicit metric types", config: `---
mappings:
- match: test.foo.*
  name: "test_foo_sum"
  match_metric_type: counter
- match: test.foo.*
  name: "test_foo_current"
  match_metric_type: gauge
`, lookups: []seLookup{
		{metric: "test.foo.test", typ: statsd.Counter, name: "test_foo_sum"},
		{metric: "test.foo.test", typ: statsd.Gauge, name: "test_foo_current"},
	}},
	{name: "Config with uncompilable regex", bad: true, config: `---
mappings:
- match: "*\\.foo"
  match_type: regex
  name: "foo"
  labels: {}
`},
	{name: "Config with non-matched metric", config: `---
mappings:
- match: foo.*.*
  observer_type: summary
  name: "foo"
  labels: {}
`, lookups: []seLookup{{metric: "test.1.2", unmatched: true}}},
	{name: "Config with no name", bad: true, config: `---
mappings:
- match: *\.foo
  match_type: regex
  labels:
    bar: "foo"
`},
	{name: "Config with labels from glob", config: `---
mappings:
- match: p.*.*.c.*
  match_type: glob
  name: issue_256
  labels:
    one: $1
    two: $2
    three: $3
`, lookups: []seLookup{{metric: "p.one.two.c.three", name: "issue_256", labels: "one=one,three=three,two=two"}}},
	{name: "Example from the README", config: `
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
`, lookups: []seLookup{
		{metric: "test.dispatcher.FooProcessor.send.success", name: "dispatcher_events_total",
			labels: "action=send,job=test_dispatcher,outcome=success,processor=FooProcessor"},
		{metric: "foo_product.signup.facebook.failure", name: "signup_events_total", labels: "job=foo_product_server,outcome=failure,provider=facebook"},
		{metric: "test.web-server.foo.bar", unmatched: true},
	}},
	{name: "Config that drops all", config: `mappings:
- match: .
  match_type: regex
  name: "drop"
  action: drop`, lookups: []seLookup{{metric: "test.a", drop: true}, {metric: "abc", drop: true}}},
	{name: "Config that has a catch-all to drop all", config: `mappings:
- match: web.*
  name: "web"
  labels:
    site: "$1"
- match: .
  match_type: regex
  name: "drop"
  action: drop`, lookups: []seLookup{{metric: "test.a", drop: true}, {metric: "web.localhost", name: "web", labels: "site=localhost"}}},
	{name: "Config that has a ttl", config: `mappings:
- match: web.*
  name: "web"
  ttl: 10s
  labels:
    site: "$1"`, lookups: []seLookup{{metric: "test.a", unmatched: true}, {metric: "web.localhost", name: "web", labels: "site=localhost", ttl: 10 * time.Second}}},
	{name: "Config that has a default ttl", config: `defaults:
  ttl: 1m2s
mappings:
- match: web.*
  name: "web"
  labels:
    site: "$1"`, lookups: []seLookup{{metric: "test.a", unmatched: true}, {metric: "web.localhost", name: "web", labels: "site=localhost", ttl: time.Minute + 2*time.Second}}},
	{name: "Config that override a default ttl", config: `defaults:
  ttl: 1m2s
mappings:
- match: web.*
  name: "web"
  ttl: 5s
  labels:
    site: "$1"`, lookups: []seLookup{{metric: "test.a", unmatched: true}, {metric: "web.localhost", name: "web", labels: "site=localhost", ttl: 5 * time.Second}}},
	{name: "Config with 'scale' field", config: `mappings:
- match: grpc_server.*.*.latency_ms
  name: grpc_server_handling_seconds
  scale: 0.001
  labels:
    grpc_service: "$1"
    grpc_method: "$2"`, lookups: []seLookup{
		{metric: "test.a", unmatched: true},
		{metric: "grpc_server.Foo.Bar.latency_ms", name: "grpc_server_handling_seconds", labels: "grpc_method=Bar,grpc_service=Foo", scale: 0.001},
	}},
	{name: "Config with 'scale' using scientific notation", config: `mappings:
- match: grpc_server.*.*.latency_us
  name: grpc_server_handling_seconds
  scale: 1e-6
  labels:
    grpc_service: "$1"
    grpc_method: "$2"`, lookups: []seLookup{
		{metric: "grpc_server.Foo.Bar.latency_us", name: "grpc_server_handling_seconds", labels: "grpc_method=Bar,grpc_service=Foo", scale: 1e-6},
	}},

	// TestAction.
	{name: "no action set", config: "---\nmappings:\n- match: test.*.*\n  name: \"foo\"\n", lookups: []seLookup{{metric: "test.a.b", name: "foo"}}},
	{name: "map action set", config: "---\nmappings:\n- match: test.*.*\n  name: \"foo\"\n  action: map\n", lookups: []seLookup{{metric: "test.a.b", name: "foo"}}},
	{name: "drop action set", config: "---\nmappings:\n- match: test.*.*\n  name: \"foo\"\n  action: drop\n", lookups: []seLookup{{metric: "test.a.b", drop: true}}},
	{name: "invalid action set", bad: true, config: "---\nmappings:\n- match: test.*.*\n  name: \"foo\"\n  action: xyz\n"},
	{name: "valid yaml example", config: `---
mappings:
- match: "test\\.(\\w+)\\.(\\w+)\\.counter"
  match_type: regex
  name: "${2}_total"
  labels:
    provider: "$1"
`, lookups: []seLookup{{metric: "test.a.b.counter", name: "b_total", labels: "provider=a"}}},
	{name: "invalid yaml example", bad: true, config: `---
mappings:
- match: "test\.(\w+)\.(\w+)\.counter"
  match_type: regex
  name: "${2}_total"
  labels:
    provider: "$1"
`},
}

const summaryDiff = "summaries are recorded as histograms (OpenTelemetry has no summary instrument): summary_options (quantiles, max_age, age_buckets, buf_cap) are checked and have no effect, and the histogram advises the default buckets"

func TestStatsdExporterMapperCases(t *testing.T) {
	for _, tc := range statsdExporterCases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRules("mapping.yml", []byte(tc.config))
			switch {
			case tc.bad && tc.diff == "":
				if err == nil {
					t.Fatal("loaded a file statsd_exporter refuses")
				}
				return
			case err != nil:
				t.Fatalf("statsd_exporter loads it: %v", err)
			}
			m := mustMapper(t, WithRules(rs))
			for _, l := range tc.lookups {
				typ := l.typ
				if typ == 0 {
					typ = statsd.Counter
				}
				s := &statsd.Sample{Name: []byte(l.metric), Type: typ, Value: 1, Rate: 1}
				mp, ok := rs.mapSample(m, s)
				switch {
				case l.unmatched:
					if ok {
						t.Errorf("%s %v: matched %+v, want no match", l.metric, typ, mp)
					}
					continue
				case !ok:
					t.Errorf("%s %v: no match", l.metric, typ)
					continue
				case l.drop:
					if !mp.Drop {
						t.Errorf("%s %v: %+v, want drop", l.metric, typ, mp)
					}
					continue
				}
				if mp.Drop || mp.Name != l.name || attrString(mp.Attributes) != l.labels || mp.TTL != l.ttl {
					t.Errorf("%s %v: got %q {%s} ttl %v, want %q {%s} ttl %v", l.metric, typ, mp.Name, attrString(mp.Attributes), mp.TTL, l.name, l.labels, l.ttl)
				}
				if l.buckets != nil && !slices.Equal(mp.Buckets, l.buckets) {
					t.Errorf("%s %v: buckets %v, want %v", l.metric, typ, mp.Buckets, l.buckets)
				}
				if want := max(l.scale, 0); typ == statsd.Counter && mp.Scale != cmpOrFloat(want, 1) {
					t.Errorf("%s: scale %v, want %v", l.metric, mp.Scale, cmpOrFloat(want, 1))
				}
			}
		})
	}
}

func cmpOrFloat(a, b float64) float64 {
	if a != 0 {
		return a
	}
	return b
}

// TestStatsdExporterMultipleMatches is statsd_exporter's TestMultipleMatches
// (its issue 273: a cache corrupted by names matched by one rule): the same
// names mapped ten times each, through the cache.
func TestStatsdExporterMultipleMatches(t *testing.T) {
	rs := mustRules(t, "---\nmappings:\n- match: aa.bb.*.*\n  name: \"aa_bb_${1}_total\"\n  labels:\n    app: \"$2\"\n")
	for _, size := range []int{1, 1000} {
		m := mustMapper(t, WithRules(rs), WithCacheSize(size))
		for range 10 {
			for name, want := range map[string]string{
				"aa.bb.aa.myapp": "aa_bb_aa_total", "aa.bb.bb.myapp": "aa_bb_bb_total",
				"aa.bb.cc.myapp": "aa_bb_cc_total", "aa.bb.dd.myapp": "aa_bb_dd_total",
			} {
				if mp := m.Map(&statsd.Sample{Name: []byte(name), Type: statsd.Counter, Rate: 1}); mp.Name != want || attrString(mp.Attributes) != "app=myapp" {
					t.Fatalf("%s: %q {%s}, want %q {app=myapp}", name, mp.Name, attrString(mp.Attributes), want)
				}
			}
		}
	}
}

// TestStatsdExporterDifferences lists what this mapper does otherwise than
// statsd_exporter v0.31.0 with a file both load (or that it loads and this
// mapper refuses), each with its reason. Each case was checked against
// statsd_exporter's own mapper.
func TestStatsdExporterDifferences(t *testing.T) {
	for _, tc := range []struct {
		name, why, config, metric string
		typ                       statsd.Type
		want                      string // mapLine, or the load error
		theirs                    string // what statsd_exporter gives
	}{
		{"a literal % in a glob template",
			"statsd_exporter formats glob templates with fmt.Sprintf, so a '%' beside a capture garbles the value; here text is text",
			"mappings:\n- match: \"a.*\"\n  name: a\n  labels: {pct: \"100%_$1\"}\n", "a.c1", statsd.Counter,
			"a counter pct=100%_c1", "pct=100%!_(string=c1)%!s(MISSING)"},
		{"$1 before $10 in one glob template",
			"statsd_exporter replaces the text of each reference in turn, so $1 also rewrites the start of $10; here each reference expands where it stands",
			"mappings:\n- match: \"a.*.*.*.*.*.*.*.*.*.*\"\n  name: a\n  labels: {one_ten: \"$1 $10\"}\n", "a.c1.c2.c3.c4.c5.c6.c7.c8.c9.c10", statsd.Counter,
			"a counter one_ten=c1 c10", "one_ten=c1 c100"},
		{"scale: 0",
			"every value would be recorded as 0, certainly a mistake, and a Mapping's Scale of 0 means as sent: refused",
			"mappings:\n- match: \"z.*\"\n  name: z\n  scale: 0\n", "", 0,
			`mapping.yml:4: match "z.*": scale: must not be 0 (every value would be recorded as 0)`, "loads; every value is recorded as 0"},
		{"buckets that do not increase",
			"the Prometheus client panics on them at the first observation, stopping statsd_exporter: refused at load",
			"mappings:\n- match: \"h.*\"\n  name: h\n  histogram_options: {buckets: [2, 1]}\n", "", 0,
			`mapping.yml:4: match "h.*": histogram_options.buckets: boundaries must increase: 1 after 2`, "loads; panics when h.* is observed"},
		{"a label Prometheus reserves",
			"the label would make the exposition invalid (le on a histogram), draws promtool's refusal (le, quantile elsewhere) or is dropped by Prometheus (__*): it is left out, with a warning, and counted in TagStats",
			"mappings:\n- match: \"h.*\"\n  name: h\n  labels: {le: x, job: j}\n", "h.x", statsd.Timer,
			"h histogram job=j", "le=x,job=j (and the histogram is refused at registration)"},
		{"a label key statsd_exporter refuses",
			"any non-empty key is an OpenTelemetry attribute key: a superset",
			"mappings:\n- match: \"k.*\"\n  name: k\n  labels: {x: \"$1\", http.method: GET}\n", "k.y", statsd.Counter,
			"k counter http.method=GET,x=y", "refused: invalid label key: x"},
		{"a drop rule without a name",
			"a name has no use on a drop rule: a superset",
			"mappings:\n- match: \"d.*\"\n  action: drop\n", "d.x", statsd.Counter,
			"drop", "refused: metric mapping didn't set a metric name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRules("mapping.yml", []byte(tc.config))
			if tc.metric == "" {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("got %v, want %s (statsd_exporter: %s; why: %s)", err, tc.want, tc.theirs, tc.why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := &statsd.Sample{Name: []byte(tc.metric), Type: tc.typ, Rate: 1}
			mp := mustMapper(t, WithRules(rs)).Map(s)
			got := "drop"
			if !mp.Drop {
				got = mp.Name + " " + mp.Kind.String() + " " + attrString(mp.Attributes)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q (statsd_exporter: %s; why: %s)", got, tc.want, tc.theirs, tc.why)
			}
		})
	}
}
