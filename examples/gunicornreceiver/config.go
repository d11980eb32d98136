package gunicornreceiver

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// Transports the receiver listens on (Config.Transport).
const (
	TransportUDP      = "udp"
	TransportTCP      = "tcp"
	TransportUnixgram = "unixgram"
)

// Defaults of the Config that NewFactory's CreateDefaultConfig returns.
const (
	DefaultEndpoint           = "localhost:8125"
	DefaultTransport          = TransportUDP
	DefaultPrefixAttribute    = "app"
	DefaultCollectionInterval = 60 * time.Second
)

// Config is the configuration of the gunicorn receiver, as written under
// receivers: gunicorn: in the Collector's configuration.
type Config struct {
	// Endpoint is where the receiver listens: host:port for udp and tcp
	// (port 0 picks a free port), the socket file path for unixgram.
	Endpoint string `mapstructure:"endpoint"`
	// Transport is udp (the default, what Gunicorn sends), tcp (one metric
	// per line) or unixgram (Gunicorn's --statsd-host unix:PATH). udp4,
	// udp6, tcp4 and tcp6 restrict the address family.
	Transport string `mapstructure:"transport"`
	// MappingConfig is the path of a statsd_exporter mapping file. Its rules
	// are tried first; the built-in Gunicorn profile and the generic rules
	// apply to the names they do not match. Empty means no file.
	MappingConfig string `mapstructure:"mapping_config"`
	// PrefixAttribute is the attribute key that carries Gunicorn's
	// --statsd-prefix (default "app": app=shop.web). Empty means the prefix
	// is not turned into an attribute.
	PrefixAttribute string `mapstructure:"prefix_attribute"`
	// CollectionInterval is how often the aggregated metrics are sent down
	// the pipeline, as cumulative sums, gauges and histograms.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// IncludeTelemetry adds the receiver's own counters (gunicornotel.*:
	// datagrams, samples, rejected samples by reason, server reads, ...)
	// to the metrics it produces.
	IncludeTelemetry bool `mapstructure:"include_telemetry"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration: a known transport, an endpoint of the
// right form, a positive interval, and a mapping file that loads (its errors
// name the file, the line and the rule). The Collector calls it before
// starting any component.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	}
	switch cfg.Transport {
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		if cfg.Endpoint != "" {
			if _, _, err := net.SplitHostPort(cfg.Endpoint); err != nil {
				errs = append(errs, fmt.Errorf("endpoint %q: want host:port for transport %s: %w", cfg.Endpoint, cfg.Transport, err))
			}
		}
	case TransportUnixgram:
	default:
		errs = append(errs, fmt.Errorf("transport %q: want udp, tcp or unixgram", cfg.Transport))
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval %v: must be positive", cfg.CollectionInterval))
	}
	if cfg.MappingConfig != "" {
		if _, err := mapper.LoadRules(cfg.MappingConfig); err != nil {
			errs = append(errs, fmt.Errorf("mapping_config: %w", err))
		}
	}
	return errors.Join(errs...)
}

// address is the endpoint as statsd.Server.Start takes it.
func (cfg *Config) address() string {
	return cfg.Transport + "://" + cfg.Endpoint
}

// newMapper builds the mapper the configuration describes, loading the
// mapping file again (it may have changed since Validate).
func (cfg *Config) newMapper() (*mapper.Mapper, error) {
	opts := []mapper.Option{mapper.WithPrefixKey(cfg.PrefixAttribute)}
	if cfg.MappingConfig != "" {
		rules, err := mapper.LoadRules(cfg.MappingConfig)
		if err != nil {
			return nil, fmt.Errorf("mapping_config: %w", err)
		}
		opts = append(opts, mapper.WithRules(rules))
	}
	return mapper.New(opts...)
}
