package gunicornreceiver

//go:generate go test -run=TestMdatagenUpToDate -count=1 . -args -update

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadata"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// NewFactory returns the factory of the gunicorn receiver (component type
// "gunicorn", metrics at alpha stability: metadata.yaml), for the
// Collector's component list (ocb writes the call in components.go).
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	ctl := scraperhelper.NewDefaultControllerConfig()
	ctl.CollectionInterval = DefaultCollectionInterval
	addr := confignet.NewDefaultAddrConfig()
	addr.Endpoint, addr.Transport = DefaultEndpoint, DefaultTransport
	return &Config{
		AddrConfig:       addr,
		ControllerConfig: ctl,
		PrefixAttribute:  DefaultPrefixAttribute,
		Dialect:          DialectDefault,
		// Every tag format, as statsd_exporter reads them by default.
		ParseDogStatsDTags: true,
		ParseInfluxDBTags:  true,
		ParseLibratoTags:   true,
		ParseSignalFXTags:  true,
		Watch:              WatchConfig{SampleInterval: procwatch.DefaultSampleInterval},
	}
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("gunicorn receiver: config of type %T, want *gunicornreceiver.Config", cfg)
	}
	return newReceiver(set, c, next)
}
