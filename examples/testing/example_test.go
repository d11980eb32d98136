package testingexample_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// Gunicorn traffic played into a Bridge, collected by a ManualReader: no
// sockets, no timing, the same datagrams a real Gunicorn sends.
func Example() {
	// The service's MeterProvider, read by hand in the test.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	// The bridge under test, without its own telemetry to keep the output short.
	bridge, err := otelbridge.New(mp, otelbridge.WithTelemetry(false))
	if err != nil {
		panic(err)
	}
	defer bridge.Close()

	// A Gunicorn 23.0 started with --statsd-prefix shop.web, whose datagrams
	// go straight to the bridge's Handle.
	gunicorn := statsdtest.NewEmitter(
		statsdtest.Config{Version: statsdtest.V(23, 0, 0), Prefix: "shop.web"},
		statsdtest.HandlerSink(bridge),
	)
	gunicorn.Workers(4)
	gunicorn.Request(200, 15*time.Millisecond)
	gunicorn.Request(200, 25*time.Millisecond)
	gunicorn.Request(500, 2*time.Second)
	gunicorn.Log(statsdtest.LogCritical) // a worker timeout

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, line := range lines(rm) {
		fmt.Println(line)
	}
	// Output:
	// gunicorn.log.messages{app=shop.web,level=critical} 1
	// gunicorn.request.duration{app=shop.web} count=3 sum=2.04s
	// gunicorn.requests{app=shop.web} 3
	// gunicorn.responses{app=shop.web,http.response.status_code=200} 2
	// gunicorn.responses{app=shop.web,http.response.status_code=500} 1
	// gunicorn.workers{app=shop.web} 4
}

// lines renders every data point as "name{attributes} value", sorted.
func lines(rm metricdata.ResourceMetrics) []string {
	var out []string
	add := func(name string, attrs attribute.Set, value string) {
		out = append(out, name+"{"+attrs.Encoded(attribute.DefaultEncoder())+"} "+value)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					add(m.Name, p.Attributes, fmt.Sprint(p.Value))
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					add(m.Name, p.Attributes, fmt.Sprint(p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(m.Name, p.Attributes, fmt.Sprintf("count=%d sum=%.3g%s", p.Count, p.Sum, m.Unit))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
