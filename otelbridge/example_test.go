package otelbridge_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
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

// Chain and Rewrite compose Mappers without hiding what the bridge asks of
// them: here Gunicorn's metrics keep the built-in profile (and its reserved
// instruments, made at New), and every other name gets a prefix.
func ExampleChain() {
	profile, err := mapper.New(mapper.WithDropUnmatched())
	if err != nil {
		log.Fatal(err)
	}
	other, err := mapper.New(mapper.WithoutGunicornProfile())
	if err != nil {
		log.Fatal(err)
	}
	m := otelbridge.Chain{profile, otelbridge.Rewrite{Mapper: other, Func: func(mp *mapper.Mapping) *mapper.Mapping {
		out := *mp // mp is shared: rewrite a copy
		out.Name = "statsd." + mp.Name
		return &out
	}}}

	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	b, err := otelbridge.New(mp, otelbridge.WithMapper(m))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("instruments at New:", b.Stats().Instruments)
	for _, line := range []string{"shop.gunicorn.requests:1|c", "orders.sold:1|c"} {
		var p statsd.Parser
		samples, _ := p.ParseLine(nil, []byte(line))
		fmt.Println(m.Map(&samples[0]).Name)
	}
	// Output:
	// instruments at New: 6
	// gunicorn.requests
	// statsd.orders.sold
}

// WithMeterFor sends the instruments of the built-in profile to one
// MeterProvider and every other to another, as a program with two
// exporters would.
func ExampleWithMeterFor() {
	gunicornReader, otherReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	gunicorn := sdkmetric.NewMeterProvider(sdkmetric.WithReader(gunicornReader))
	defer gunicorn.Shutdown(context.Background())
	other := sdkmetric.NewMeterProvider(sdkmetric.WithReader(otherReader))
	defer other.Shutdown(context.Background())
	otherMeter := other.Meter("statsd")

	b, err := otelbridge.New(gunicorn, otelbridge.WithMeterFor(func(m *mapper.Mapping) metric.Meter {
		if m.Reserved {
			return nil // the profile's instruments: New's MeterProvider
		}
		return otherMeter
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c\norders.sold:3|c"))

	for name, r := range map[string]sdkmetric.Reader{"gunicorn": gunicornReader, "other": otherReader} {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(context.Background(), &rm); err != nil {
			log.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if sum, ok := m.Data.(metricdata.Sum[float64]); ok {
					fmt.Println(name, m.Name, sum.DataPoints[0].Value)
				}
			}
		}
	}
	// Unordered output:
	// gunicorn gunicorn.requests 1
	// other orders.sold 3
}
