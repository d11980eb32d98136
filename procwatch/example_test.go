//go:build linux

package procwatch_test

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/procwatch"
)

// One pass over a recorded /proc tree: a master with 4 sync workers, two of
// them on a request, and 7 connections waiting in the accept queue.
func ExampleWatcher_Sample() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	w, err := procwatch.New(provider,
		procwatch.WithProcRoot("testdata/proc/sync-tcp"), // a real one reads /proc
		procwatch.WithPID(1000),
		procwatch.WithAttributes(attribute.String("app", "shop.web")))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Sample(context.Background()); err != nil {
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "gunicorn.up", "gunicorn.worker.count", "gunicorn.listen.backlog", "gunicorn.listen.backlog.limit":
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				state, _ := p.Attributes.Value("gunicorn.worker.state")
				fmt.Println(m.Name, state.Emit(), p.Value)
			}
		}
	}
	// Unordered output:
	// gunicorn.up  1
	// gunicorn.worker.count busy 2
	// gunicorn.worker.count idle 2
	// gunicorn.listen.backlog  7
	// gunicorn.listen.backlog.limit  100
}

// Run samples until its context is done; cancel it, and wait for Run to
// return, to stop.
func ExampleWatcher_Run() {
	provider := sdkmetric.NewMeterProvider()
	w, err := procwatch.New(provider, procwatch.WithProcRoot("testdata/proc/sync-tcp"), procwatch.WithPID(1000))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// ... serve, until it is time to stop:
	cancel()
	fmt.Println("Run returned", <-done)
	fmt.Println("Close:", w.Close())
	// Output:
	// Run returned <nil>
	// Close: <nil>
}
