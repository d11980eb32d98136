package promqueries_test

import (
	"fmt"

	"github.com/gunicornotel/gunicornotel/examples/internal/promqueries"
)

func ExampleInstant() {
	q := promqueries.Substitute(`sum(rate(errors_total{job="$job"}[$__rate_interval])) / sum(rate(requests_total{job="$job"}[$__rate_interval])) > 0.05`,
		map[string]string{"job": "statsd", "__rate_interval": "1m"})
	instant, err := promqueries.Instant(q)
	if err != nil {
		panic(err)
	}
	fmt.Println(instant)
	fmt.Println(promqueries.Bool(instant))
	// Output:
	// sum(errors_total{job="statsd"}) / sum(requests_total{job="statsd"}) > 0.05
	// sum(errors_total{job="statsd"}) / sum(requests_total{job="statsd"}) > bool 0.05
}

func ExampleLoadRules() {
	queries, err := promqueries.LoadRules("../../prometheus/rules.yml")
	if err != nil {
		panic(err)
	}
	fmt.Println(queries[0].Where, queries[0].Alert)
	// Output:
	// gunicorn/GunicornWorkersLow true
}
