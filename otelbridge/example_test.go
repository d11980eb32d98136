package otelbridge_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// A Bridge fed Gunicorn datagrams as bytes, read back through a ManualReader.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	b, err := otelbridge.New(mp) // the built-in Gunicorn profile
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	for _, d := range []string{
		"shop.web.gunicorn.request.duration:12.5|ms",
		"shop.web.gunicorn.requests:1|c|@1.0",
		"shop.web.gunicorn.request.status.200:1|c|@1.0",
		"shop.web.gunicorn.request.duration:320.0|ms",
		"shop.web.gunicorn.requests:1|c|@1.0",
		"shop.web.gunicorn.request.status.404:1|c|@1.0",
		"shop.web.gunicorn.workers:4|g",
	} {
		b.HandleDatagram([]byte(d))
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[float64]:
				for _, dp := range data.DataPoints {
					fmt.Printf("%s %s %v\n", m.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value)
				}
			case metricdata.Gauge[float64]:
				fmt.Printf("%s %v\n", m.Name, data.DataPoints[0].Value)
			case metricdata.Histogram[float64]:
				dp := data.DataPoints[0]
				fmt.Printf("%s count=%d sum=%.4f%s\n", m.Name, dp.Count, dp.Sum, m.Unit)
			}
		}
	}
	fmt.Println("samples:", b.Stats().Samples)
	// Unordered output:
	// gunicorn.request.duration count=2 sum=0.3325s
	// gunicorn.requests app=shop.web 2
	// gunicorn.responses app=shop.web,http.response.status_code=200 1
	// gunicorn.responses app=shop.web,http.response.status_code=404 1
	// gunicorn.workers 4
	// samples: 7
}

// Listen wires a statsd.Server, a Bridge and the caller's MeterProvider in
// one call; Shutdown drains the socket before a final collection.
func ExampleListen() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	r, err := otelbridge.Listen("127.0.0.1:0", mp) // point Gunicorn's --statsd-host here
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// ... serve until asked to stop, then:
	if err := r.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil { // sees every datagram read
		log.Fatal(err)
	}
	fmt.Println("datagrams:", r.Bridge().Stats().Datagrams)
	// Output: datagrams: 0
}

// Limits: a junk client's thousand names over the name limit cannot keep
// Gunicorn's metrics out, and what went over is counted (and logged, here to
// stdout without the time).
func ExampleWithMaxInstruments() {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	b, err := otelbridge.New(mp, otelbridge.WithMaxInstruments(100), otelbridge.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1000 {
		b.HandleDatagram(fmt.Appendf(nil, "junk.%d:1|c", i))
	}
	b.HandleDatagram([]byte("shop.web.gunicorn.requests:1|c"))
	st := b.Stats()
	fmt.Println(st.Recorded, st.RejectedByReason)

	// An option given a value it does not take is an error.
	_, err = otelbridge.New(mp, otelbridge.WithMaxSeries(0))
	fmt.Println(err)
	// Output:
	// level=WARN msg="otelbridge: a limit dropped data" limit=name_limit option=WithMaxInstruments value=100 count=1 effect="samples of new instrument names rejected"
	// 101 map[name_limit:900]
	// otelbridge: WithMaxSeries(0): must be at least 1
}
