package gunicornreceiver_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver"
)

// The factory, its default configuration, and a configuration as the
// Collector decodes it from YAML and validates it.
func ExampleNewFactory() {
	f := gunicornreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*gunicornreceiver.Config)
	fmt.Println(f.Type(), cfg.Endpoint, cfg.Transport, cfg.PrefixAttribute, cfg.CollectionInterval)

	conf := confmap.NewFromStringMap(map[string]any{
		"endpoint":            "127.0.0.1:0",
		"collection_interval": "10s",
	})
	if err := conf.Unmarshal(cfg); err != nil {
		panic(err)
	}
	fmt.Println(cfg.Endpoint, cfg.CollectionInterval, confmap.Validate(cfg))

	cfg.Transport = "unix"
	fmt.Println(confmap.Validate(cfg))
	// Output:
	// gunicorn localhost:8125 udp app 1m0s
	// 127.0.0.1:0 10s <nil>
	// transport "unix": want udp, tcp or unixgram (or udp4, udp6, tcp4, tcp6)
}

// The receiver's whole life, as the Collector drives it: create, start,
// shut down. Shutdown hands a last collection to the next consumer (none
// here: nothing was sent).
func ExampleNewFactory_lifecycle() {
	f := gunicornreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*gunicornreceiver.Config)
	cfg.Endpoint = "127.0.0.1:0"
	cfg.CollectionInterval = time.Second

	sink := new(consumertest.MetricsSink)
	r, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, sink)
	if err != nil {
		panic(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		panic(err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(len(sink.AllMetrics()), "batches")
	// Output: 0 batches
}
