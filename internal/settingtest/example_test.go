package settingtest_test

import (
	"fmt"

	"github.com/gunicornotel/gunicornotel/internal/settingtest"
)

// Key spells a series alike whether it was exported over OTLP or served to
// Prometheus.
func ExampleKey() {
	fmt.Println(settingtest.Key("gunicornotel.samples.rejected", "reason=too_long"))
	fmt.Println(settingtest.Key("gunicornotel_samples_rejected_total", "reason=too_long"))
	fmt.Println(settingtest.Key("app.hits", "otel.metric.overflow=true"))
	// Output:
	// gunicornotel_samples_rejected{reason=too_long}
	// gunicornotel_samples_rejected{reason=too_long}
	// app_hits{otel_metric_overflow=true}
}

// A setting as the programs' command lines take it.
func ExampleSetting_Flag() {
	fmt.Println(settingtest.Setting{Name: "otel.max-series", Value: "1"}.Flag())
	fmt.Println(settingtest.Setting{Name: "statsd.parse-dogstatsd-tags", Value: "false"}.Flag())
	fmt.Println(settingtest.Setting{Name: "statsd.mapping-strict", Value: "true"}.Flag())
	// Output:
	// --otel.max-series=1
	// --no-statsd.parse-dogstatsd-tags
	// --statsd.mapping-strict
}
