package gunicornreceiver

import (
	"context"
	"fmt"

	"github.com/gunicornotel/gunicornotel/procwatch"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// TypeStr is the component type: the key under receivers: in the
// Collector's configuration.
const TypeStr = "gunicorn"

// Stability is the stability level of the receiver's metrics signal.
const Stability = component.StabilityLevelAlpha

var componentType = component.MustNewType(TypeStr)

// NewFactory returns the factory of the gunicorn receiver, for the
// Collector's component list (ocb writes the call in components.go).
func NewFactory() receiver.Factory {
	return receiver.NewFactory(componentType, createDefaultConfig,
		receiver.WithMetrics(createMetrics, Stability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Endpoint:           DefaultEndpoint,
		Transport:          DefaultTransport,
		PrefixAttribute:    DefaultPrefixAttribute,
		CollectionInterval: DefaultCollectionInterval,
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
