package gunicornotel_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// Gunicorn sends StatsD to a listener on loopback; after Shutdown, a
// collection sees everything it sent.
func Example() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r, err := otelbridge.Listen("udp://127.0.0.1:0", provider)
	if err != nil {
		log.Fatal(err)
	}

	// What Gunicorn 20.1 started with --statsd-prefix shop.web sends for one request.
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range []string{
		"shop.web.gunicorn.request.duration:12.5|ms",
		"shop.web.gunicorn.requests:1|c|@1.0",
		"shop.web.gunicorn.request.status.200:1|c|@1.0",
	} {
		conn.Write([]byte(d))
	}
	conn.Close()

	if err := r.Shutdown(context.Background()); err != nil { // drains the socket first
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[float64]:
				for _, p := range data.DataPoints {
					fmt.Printf("%s %v %s\n", m.Name, p.Value, p.Attributes.Encoded(attribute.DefaultEncoder()))
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					fmt.Printf("%s count=%d sum=%vs %s\n", m.Name, p.Count, p.Sum, p.Attributes.Encoded(attribute.DefaultEncoder()))
				}
			}
		}
	}
	// Unordered output:
	// gunicorn.request.duration count=1 sum=0.0125s app=shop.web
	// gunicorn.requests 1 app=shop.web
	// gunicorn.responses 1 app=shop.web,http.response.status_code=200
}
