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
