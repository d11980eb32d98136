package mapper

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// parseOne parses one StatsD line into a sample; it fails the test on error.
func parseOne(t testing.TB, line string) *statsd.Sample {
	t.Helper()
	var p statsd.Parser
	ss, err := p.ParseLine(nil, []byte(line))
	if err != nil || len(ss) != 1 {
		t.Fatalf("parse %q: %v (%d samples)", line, err, len(ss))
	}
	return &ss[0]
}

// attrString renders a set as "k=v,k=v" with ints unquoted, for comparisons.
func attrString(s attribute.Set) string {
	var parts []string
	it := s.Iter()
	for it.Next() {
		kv := it.Attribute()
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// attrTypes renders a set's value types, to tell int from string.
func attrTypes(s attribute.Set) string {
	var parts []string
	it := s.Iter()
	for it.Next() {
		kv := it.Attribute()
		parts = append(parts, string(kv.Key)+":"+kv.Value.Type().String())
	}
	return strings.Join(parts, ",")
}

// captureBases returns every line of the captures with the "shop.web."
// prefix and the tags removed: the Gunicorn metric as sent, after its prefix.
func captureBases(t *testing.T) []string {
	t.Helper()
	var bases []string
	for _, f := range fixture.Captures(t) {
		dgrams, err := statsdtest.ReadCapture(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dgrams {
			line := strings.TrimPrefix(string(d), "shop.web.")
			if i := strings.Index(line, "|#"); i >= 0 {
				if line[i+2:] != "env:prod,team:web" {
					t.Fatalf("unexpected tags in capture line %q", line)
				}
				line = line[:i]
			}
			if !strings.HasPrefix(line, "gunicorn.") {
				t.Fatalf("unexpected capture line %q", line)
			}
			if !slices.Contains(bases, line) {
				bases = append(bases, line)
			}
		}
	}
	return bases
}

type want struct {
	name, unit, kind string
	scale            float64
	buckets          bool
	attrs            string // without prefix and tags
	types            string
}

// expect gives what the profile must make of a Gunicorn metric name.
func expect(t *testing.T, metric string) want {
	switch {
	case strings.HasPrefix(metric, "gunicorn.request.duration:"):
		return want{name: "gunicorn.request.duration", unit: "s", kind: "histogram", scale: 0.001, buckets: true}
	case strings.HasPrefix(metric, "gunicorn.requests:"):
		return want{name: "gunicorn.requests", unit: "{request}", kind: "counter", scale: 1}
	case strings.HasPrefix(metric, "gunicorn.request.status."):
		code := strings.TrimPrefix(metric[:strings.IndexByte(metric, ':')], "gunicorn.request.status.")
		return want{name: "gunicorn.responses", unit: "{response}", kind: "counter", scale: 1,
			attrs: "http.response.status_code=" + code, types: "http.response.status_code:INT64"}
	case strings.HasPrefix(metric, "gunicorn.workers:"):
		return want{name: "gunicorn.workers", unit: "{worker}", kind: "gauge", scale: 1}
	case strings.HasPrefix(metric, "gunicorn.log."):
		lvl := strings.TrimPrefix(metric[:strings.IndexByte(metric, ':')], "gunicorn.log.")
		return want{name: "gunicorn.log.messages", unit: "{message}", kind: "counter", scale: 1, attrs: "level=" + lvl}
	case strings.HasPrefix(metric, "gunicorn.backlog:"):
		return want{name: "gunicorn.backlog", unit: "{connection}", kind: "gauge", scale: 1}
	}
	t.Fatalf("no expectation for %q", metric)
	return want{}
}

// joinAttrs merges "k=v" lists and sorts them as attribute.Set does.
func joinAttrs(lists ...string) string {
	var all []string
	for _, l := range lists {
		if l != "" {
			all = append(all, strings.Split(l, ",")...)
		}
	}
	slices.SortStableFunc(all, func(a, b string) int {
		ka, _, _ := strings.Cut(a, "=")
		kb, _, _ := strings.Cut(b, "=")
		return strings.Compare(ka, kb)
	})
	return strings.Join(all, ",")
}

func TestGunicornProfileCaptures(t *testing.T) {
	bases := captureBases(t)
	// Gunicorn 24.1+ also sends the backlog; not in the 20.1 captures.
	bases = append(bases, "gunicorn.backlog:3|h", "gunicorn.log.error:1|c|@1.0",
		"gunicorn.request.status.499:1|c|@1.0", "gunicorn.request.status.599:1|c|@1.0",
		"gunicorn.request.duration:1016.0360000000001|ms")

	prefixes := []struct{ wire, app string }{
		{"", ""},                            // no --statsd-prefix
		{"shop.web.", "shop.web"},           // the capture
		{"a", "a"},                          // one character: Gunicorn adds no dot
		{"a..", "a"},                        // "a.." stays "a.."
		{"app...", "app"},                   // extra dots (not from Gunicorn, tolerated)
		{"gunicorn.prod.", "gunicorn.prod"}, // a prefix that contains gunicorn
		{"gunicorn.", "gunicorn"},           // the prefix is "gunicorn" itself
		{"g", "g"},                          // one character that starts gunicorn
		{"my-app.v2.", "my-app.v2"},         // dashes and digits
		{".", ""},                           // a lone dot: no prefix attribute
	}
	tags := []struct{ wire, attrs string }{
		{"", ""},
		{"|#env:prod,team:web", "env=prod,team=web"},
		{"|#env:prod,team", "env=prod,team="},
		{"|#env:prod,team:web,", "env=prod,team=web"},
		{"|#env:dev,env:prod", "env=prod"},
	}
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range bases {
		w := expect(t, base)
		for _, p := range prefixes {
			for _, tg := range tags {
				line := p.wire + base + tg.wire
				t.Run(line, func(t *testing.T) {
					got := m.Map(parseOne(t, line))
					if got.Drop || got.Name != w.name || got.Unit != w.unit || got.Kind.String() != w.kind ||
						got.Scale != w.scale || (got.Buckets != nil) != w.buckets || got.Description == "" {
						t.Fatalf("got %+v, want %+v", got, w)
					}
					app := ""
					if p.app != "" {
						app = "app=" + p.app
					}
					if a, e := attrString(got.Attributes), joinAttrs(w.attrs, app, tg.attrs); a != e {
						t.Errorf("attributes %q, want %q", a, e)
					}
					if w.types != "" && !strings.Contains(attrTypes(got.Attributes), w.types) {
						t.Errorf("attribute types %q, want %q", attrTypes(got.Attributes), w.types)
					}
				})
			}
		}
	}
}

func TestGunicornBuckets(t *testing.T) {
	m, _ := New()
	got := m.Map(parseOne(t, "gunicorn.request.duration:0.55|ms"))
	want := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	if !slices.Equal(got.Buckets, want) {
		t.Fatalf("buckets %v, want %v", got.Buckets, want)
	}
}

func TestGunicornStatusCodes(t *testing.T) {
	m, _ := New()
	for _, tc := range []struct {
		code  string
		name  string
		attrs string
	}{
		{"100", "gunicorn.responses", "http.response.status_code=100"},
		{"200", "gunicorn.responses", "http.response.status_code=200"},
		{"599", "gunicorn.responses", "http.response.status_code=599"},
		{"0", "gunicorn.responses", "error.type=invalid_status_code"},
		{"99", "gunicorn.responses", "error.type=invalid_status_code"},
		{"600", "gunicorn.responses", "error.type=invalid_status_code"},
		{"999", "gunicorn.responses", "error.type=invalid_status_code"},
		{"099", "gunicorn.responses", "error.type=invalid_status_code"},
		{"1234567", "gunicorn.responses", "error.type=invalid_status_code"},
		{"-1", "gunicorn.responses", "error.type=invalid_status_code"},
		{"99999999999999999999999", "gunicorn.responses", "error.type=invalid_status_code"},
		// Not numbers: not Gunicorn's, generic.
		{"abc", "gunicorn.request.status.abc", ""},
		{"2xx", "gunicorn.request.status.2xx", ""},
		{"-", "gunicorn.request.status.-", ""},
		{"+200", "gunicorn.request.status.+200", ""},
		{"200.5", "gunicorn.request.status.200.5", ""},
	} {
		got := m.Map(parseOne(t, "gunicorn.request.status."+tc.code+":1|c|@1.0"))
		if got.Name != tc.name || got.Kind != KindCounter || attrString(got.Attributes) != tc.attrs {
			t.Errorf("%s: got %s %v %q, want %s %q", tc.code, got.Name, got.Kind, attrString(got.Attributes), tc.name, tc.attrs)
		}
	}
	// An empty code is generic too.
	if got := m.Map(parseOne(t, "gunicorn.request.status.:1|c")); got.Name != "gunicorn.request.status." {
		t.Errorf("empty code: got %s", got.Name)
	}
}

// Names that look like Gunicorn's but are not (wrong type, unknown level, a
// prefix Gunicorn cannot write) are generic.
func TestGunicornNotGunicorn(t *testing.T) {
	m, _ := New()
	for _, tc := range []struct {
		line, name, kind, unit string
		scale                  float64
	}{
		{"gunicorn.requests:1|g", "gunicorn.requests", "gauge", "", 1},
		{"gunicorn.workers:1|c", "gunicorn.workers", "counter", "", 1},
		{"gunicorn.request.duration:3|h", "gunicorn.request.duration", "histogram", "", 1},
		{"gunicorn.backlog:3|ms", "gunicorn.backlog", "histogram", "s", 0.001},
		{"gunicorn.backlog:3|g", "gunicorn.backlog", "gauge", "", 1},
		{"gunicorn.log.info:1|c", "gunicorn.log.info", "counter", "", 1},
		{"gunicorn.log.:1|c", "gunicorn.log.", "counter", "", 1},
		{"gunicorn.log.error.x:1|c", "gunicorn.log.error.x", "counter", "", 1},
		{"shopgunicorn.requests:1|c", "shopgunicorn.requests", "counter", "", 1},
		{"mygunicorn.workers:1|g", "mygunicorn.workers", "gauge", "", 1},
		{"gunicorn.requests.total:1|c", "gunicorn.requests.total", "counter", "", 1},
		{"shop.web.orders:3|c", "shop.web.orders", "counter", "", 1},
		{"shop.web.cart.size:3|g", "shop.web.cart.size", "gauge", "", 1},
		{"shop.web.query:12.5|ms", "shop.web.query", "histogram", "s", 0.001},
		{"shop.web.payload:512|h", "shop.web.payload", "histogram", "", 1},
		{"shop.web.payload:512|d", "shop.web.payload", "histogram", "", 1},
	} {
		got := m.Map(parseOne(t, tc.line))
		// Generic timers advise statsd_exporter's default buckets, in
		// seconds; other generic histograms leave the buckets to the SDK.
		wantBuckets := []float64(nil)
		if tc.unit == "s" {
			wantBuckets = PrometheusDefaultBuckets
		}
		if got.Drop || got.Name != tc.name || got.Kind.String() != tc.kind || got.Unit != tc.unit || got.Scale != tc.scale ||
			!slices.Equal(got.Buckets, wantBuckets) || got.Description != DefaultDescription || got.TTL != 0 {
			t.Errorf("%s: got %+v", tc.line, got)
		}
		if a := attrString(got.Attributes); a != "" {
			t.Errorf("%s: attributes %q, want none", tc.line, a)
		}
	}
	if got := m.Map(parseOne(t, "shop.web.users:alice|s")); !got.Drop {
		t.Errorf("set: got %+v, want drop", got)
	}
}

func TestPrefixKey(t *testing.T) {
	line := "shop.web.gunicorn.requests:1|c|@1.0|#env:prod"
	for _, tc := range []struct {
		opts  []Option
		attrs string
	}{
		{nil, "app=shop.web,env=prod"},
		{[]Option{WithPrefixKey("service.namespace")}, "env=prod,service.namespace=shop.web"},
		{[]Option{WithPrefixKey("")}, "env=prod"},
	} {
		m, err := New(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := attrString(m.Map(parseOne(t, line)).Attributes); got != tc.attrs {
			t.Errorf("%v: got %q, want %q", tc.opts, got, tc.attrs)
		}
	}
}

func TestExplicitPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix, line, name, attrs string
	}{
		{"shop.web", "shop.web.gunicorn.requests:1|c", "gunicorn.requests", "app=shop.web"},
		{"shop.web.", "shop.web.gunicorn.requests:1|c", "gunicorn.requests", "app=shop.web"},
		{"a", "agunicorn.requests:1|c", "gunicorn.requests", "app=a"},
		{"a", "a.gunicorn.requests:1|c", "gunicorn.requests", "app=a"},
		{"gunicorn", "gunicorn.gunicorn.workers:2|g", "gunicorn.workers", "app=gunicorn"},
		// Gunicorn's names under another prefix are not Gunicorn's here.
		{"shop.web", "other.gunicorn.requests:1|c", "other.gunicorn.requests", ""},
		{"shop.web", "gunicorn.requests:1|c", "gunicorn.requests", ""},
		{"", "gunicorn.requests:1|c", "gunicorn.requests", ""},
		{"", "x.gunicorn.requests:1|c", "x.gunicorn.requests", ""},
		// Application metrics lose the prefix; it becomes the attribute.
		{"shop.web", "shop.web.orders:1|c", "orders", "app=shop.web"},
		{"shop.web", "shop.web..orders:1|c", "orders", "app=shop.web"},
		{"a", "aorders:1|c", "orders", "app=a"},
		{"shop", "shopping.cart:1|c", "shopping.cart", ""},
		{"shop.web", "shop.web.:1|c", "shop.web.", ""},
	} {
		m, err := New(WithPrefix(tc.prefix))
		if err != nil {
			t.Fatal(err)
		}
		got := m.Map(parseOne(t, tc.line))
		if got.Name != tc.name || attrString(got.Attributes) != tc.attrs {
			t.Errorf("prefix %q, %s: got %s %q, want %s %q", tc.prefix, tc.line, got.Name, attrString(got.Attributes), tc.name, tc.attrs)
		}
	}
}

func TestTagOverride(t *testing.T) {
	line := "shop.web.gunicorn.log.critical:1|c|@1.0|#app:other,level:x,env:prod"
	m, _ := New()
	if got := attrString(m.Map(parseOne(t, line)).Attributes); got != "app=shop.web,env=prod,level=critical" {
		t.Errorf("default: got %q", got)
	}
	m, _ = New(WithTagOverride(true))
	if got := attrString(m.Map(parseOne(t, line)).Attributes); got != "app=other,env=prod,level=x" {
		t.Errorf("override: got %q", got)
	}
	// Status code attribute vs a tag of the same key.
	line = "gunicorn.request.status.200:1|c|#http.response.status_code:abc"
	m, _ = New()
	got := m.Map(parseOne(t, line))
	if v, _ := got.Attributes.Value(AttrStatusCode); v.Type() != attribute.INT64 || v.AsInt64() != 200 {
		t.Errorf("status vs tag: got %v", v)
	}
}

func TestDropUnmatchedAndNoProfile(t *testing.T) {
	m, _ := New(WithDropUnmatched())
	if got := m.Map(parseOne(t, "shop.web.gunicorn.requests:1|c")); got.Drop || got.Name != NameRequests {
		t.Errorf("gunicorn name: got %+v", got)
	}
	if got := m.Map(parseOne(t, "shop.web.orders:1|c")); !got.Drop || got.Name != "" || got.Kind != 0 {
		t.Errorf("other name: got %+v, want drop", got)
	}
	m, _ = New(WithoutGunicornProfile())
	if got := m.Map(parseOne(t, "shop.web.gunicorn.request.duration:5|ms")); got.Name != "shop.web.gunicorn.request.duration" || got.Scale != 0.001 || !slices.Equal(got.Buckets, PrometheusDefaultBuckets) {
		t.Errorf("no profile: got %+v", got)
	}
	m, _ = New(WithoutGunicornProfile(), WithDropUnmatched())
	if got := m.Map(parseOne(t, "gunicorn.requests:1|c")); !got.Drop {
		t.Errorf("no profile, drop unmatched: got %+v", got)
	}
}

func TestCacheSizeOption(t *testing.T) {
	if _, err := New(WithCacheSize(0)); err == nil {
		t.Error("WithCacheSize(0): no error")
	}
	m, err := New(WithCacheSize(64))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		m.Map(parseOne(t, fmt.Sprintf("app.metric%d:1|c", i)))
	}
	st := m.CacheStats()
	if st.Len > 64 || st.Capacity != 64 || st.Misses != 1000 || st.Evictions < 1000-64 {
		t.Errorf("stats %+v", st)
	}
	m.Map(parseOne(t, "app.metric999:1|c"))
	if st2 := m.CacheStats(); st2.Hits != 1 {
		t.Errorf("after a repeat: %+v", st2)
	}
}

func TestMapCachedDoesNotAllocate(t *testing.T) {
	m, _ := New()
	lines := []string{
		"myapp.gunicorn.request.duration:12.5|ms|#env:prod,service:web",
		"myapp.gunicorn.requests:1|c|@1.0|#env:prod,service:web",
		"myapp.gunicorn.request.status.404:1|c|@1.0|#env:prod,service:web",
		"myapp.gunicorn.workers:4|g|#env:prod,service:web",
		"myapp.gunicorn.log.critical:1|c|@1.0|#env:prod,service:web",
		"myapp.orders:1|c",
	}
	var samples []*statsd.Sample
	for _, l := range lines {
		samples = append(samples, parseOne(t, l))
	}
	first := make([]*Mapping, len(samples))
	for i, s := range samples {
		first[i] = m.Map(s)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i, s := range samples {
			if m.Map(s) != first[i] {
				t.Fatal("cached mapping changed")
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Map on a cached series: %v allocs, want 0", allocs)
	}
}
