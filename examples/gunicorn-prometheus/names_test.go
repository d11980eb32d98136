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
	n := &statsdNames{profile: profile, m: m}
	mapOf := func(line string) *mapper.Mapping {
		t.Helper()
		var p statsd.Parser
		samples, err := p.ParseLine(nil, []byte(line))
		must(t, err)
		return n.Map(&samples[0])
	}
	// The profile's own names stay OpenTelemetry's.
	if mp := mapOf("shop.gunicorn.requests:1|c"); mp.Name != mapper.NameRequests || mp.Unit != "{request}" {
		t.Errorf("profile: %+v", mp)
	}
	// Everything else is renamed as statsd_exporter names it.
	mp := mapOf("api.latency-ms:12|ms|#my-key:v,env:prod")
	want := attribute.NewSet(attribute.String("my_key", "v"), attribute.String("env", "prod"))
	if mp.Name != rawPrefix+"api_latency_ms" || mp.Unit != "" || mp.Kind != mapper.KindHistogram || mp.Scale != 0.001 ||
		len(mp.Buckets) != len(mapper.PrometheusDefaultBuckets) || !mp.Attributes.Equals(&want) {
		t.Errorf("generic timer: %+v", mp)
	}
	if mp := mapOf("drop.me:1|c"); !mp.Drop {
		t.Errorf("drop rule: %+v", mp)
	}
	if got, ok := rawName(rawPrefix + "_9lives"); !ok || got != "_9lives" {
		t.Errorf("rawName: %q %v", got, ok)
	}
	if _, ok := rawName("gunicorn.requests"); ok {
		t.Error("rawName of a profile name")
	}
}
