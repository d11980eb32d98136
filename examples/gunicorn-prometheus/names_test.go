package main

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"orders_sold":       "orders_sold",
		"orders.sold":       "orders_sold",
		"Orders.Sold9":      "Orders_Sold9",
		"9lives":            "_9lives",
		"_private":          "_private",
		"a-b":               "a_b",
		"a--b":              "a_b",
		"a---b":             "a_b",
		"a-.-b":             "a___b",
		"ünïcode":           "_n_code",
		"a b/c:d":           "a_b_c_d",
		"shop.web.gunicorn": "shop_web_gunicorn",
	} {
		if got := escapeName(in); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatsdNames(t *testing.T) {
	profile, err := mapper.New(mapper.WithDropUnmatched())
	must(t, err)
	rules, err := mapper.ParseRules("m.yml", []byte("mappings:\n  - match: \"drop.*\"\n    action: drop\n    name: x\n"))
	must(t, err)
	m, err := mapper.New(mapper.WithRules(rules), mapper.WithoutGunicornProfile())
	must(t, err)
	n := statsdNames(profile, m, false)
	mapOf := func(line string) *mapper.Mapping {
		t.Helper()
		var p statsd.Parser
		samples, err := p.ParseLine(nil, []byte(line))
		must(t, err)
		return n.Map(&samples[0])
	}
	// The profile's own names stay OpenTelemetry's.
	if mp := mapOf("shop.gunicorn.requests:1|c"); mp.Name != mapper.NameRequests || mp.Unit != "{request}" || !mp.Reserved {
		t.Errorf("profile: %+v", mp)
	}
	// Everything else is renamed as statsd_exporter names it.
	mp := mapOf("api.latency-ms:12|ms|#my-key:v,env:prod")
	want := attribute.NewSet(attribute.String("my_key", "v"), attribute.String("env", "prod"))
	if mp.Name != "api_latency_ms" || mp.Unit != "" || mp.Kind != mapper.KindHistogram || mp.Scale != 0.001 ||
		len(mp.Buckets) != len(mapper.PrometheusDefaultBuckets) || !mp.Attributes.Equals(&want) || mp.Reserved || mp.Summary == nil {
		t.Errorf("generic timer: %+v", mp)
	}
	if mp := mapOf("drop.me:1|c"); !mp.Drop {
		t.Errorf("drop rule: %+v", mp)
	}
	// Without a mapping file, histograms are statsd_exporter's summaries.
	if mp := statsdNames(nil, m, true).Map(&statsd.Sample{Name: []byte("h"), Type: statsd.Histogram, Value: 1, Rate: 1}); mp.Summary != mapper.DefaultSummary {
		t.Errorf("no file: summary %+v", mp.Summary)
	}

	// What the bridge asks of a Mapper survives: the profile's reserved
	// mappings (made at once by the bridge), the counters of both mappers.
	res, ok := n.(interface{ ReservedMappings() []*mapper.Mapping })
	if !ok || len(res.ReservedMappings()) != len(profile.ReservedMappings()) || len(profile.ReservedMappings()) == 0 {
		t.Fatalf("ReservedMappings lost: %T", n)
	}
	for i, r := range res.ReservedMappings() {
		if r != profile.ReservedMappings()[i] {
			t.Errorf("reserved mapping %d: %+v", i, r)
		}
	}
	cs, ok := n.(interface{ CacheStats() mapper.CacheStats })
	if !ok || cs.CacheStats().Misses != profile.CacheStats().Misses+m.CacheStats().Misses || cs.CacheStats().Misses != 6 {
		t.Errorf("CacheStats: %+v", cs)
	}
	if _, ok := n.(interface{ TagStats() mapper.TagStats }); !ok {
		t.Error("TagStats lost")
	}
	if _, ok := statsdNames(nil, m, false).(interface{ ReservedMappings() []*mapper.Mapping }); !ok {
		t.Error("ReservedMappings lost without the profile")
	}
}
