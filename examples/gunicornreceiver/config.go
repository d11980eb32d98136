package gunicornreceiver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Transports the receiver listens on (Config.Transport), besides udp4,
// udp6, tcp4 and tcp6, which restrict the address family.
const (
	TransportUDP      = confignet.TransportTypeUDP
	TransportTCP      = confignet.TransportTypeTCP
	TransportUnixgram = confignet.TransportTypeUnixgram
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
	// AddrConfig is where the receiver listens, the Collector's own network
	// address settings: endpoint is host:port for udp and tcp (port 0 picks
	// a free port) and the socket file path for unixgram; transport is udp
	// (the default, what Gunicorn sends), tcp (one metric per line) or
	// unixgram (Gunicorn's --statsd-host unix:PATH); udp4, udp6, tcp4 and
	// tcp6 restrict the address family. Its dialer settings are for
	// clients: the receiver rejects them.
	confignet.AddrConfig `mapstructure:",squash"`
	// ControllerConfig is the Collector's scraper controller settings:
	// collection_interval (how often the aggregated metrics go down the
	// pipeline, cumulative), initial_delay (before the first collection)
	// and timeout (of one collection; 0 for none).
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	// MappingConfig is the path of a statsd_exporter mapping file. Its rules
	// are tried first; the built-in Gunicorn profile and the generic rules
	// apply to the names they do not match. Empty means no file.
	MappingConfig string `mapstructure:"mapping_config"`
	// MappingStrict refuses a mapping file with anything statsd_exporter
	// only tolerates (a reference to a capture the match lacks, an empty
	// bucket list, a ttl without a unit, a reserved label): by default such
	// a file loads, each such part logged as a warning.
	MappingStrict bool `mapstructure:"mapping_strict"`
	// PrefixAttribute is the attribute key that carries Gunicorn's
	// --statsd-prefix (default "app": app=shop.web). Empty means the prefix
	// is not turned into an attribute.
	PrefixAttribute string `mapstructure:"prefix_attribute"`
	// IncludeTelemetry adds the receiver's own counters (gunicornotel.*:
	// datagrams, samples, rejected samples by reason, server reads, ...)
	// to the metrics it produces. The Collector's own telemetry has the
	// main ones either way (documentation.md).
	IncludeTelemetry bool `mapstructure:"include_telemetry"`
	// Dialect is how lines are read where StatsD servers differ: "default"
	// (the library's, statsd.DialectDefault) or "statsd_exporter" (as
	// statsd_exporter v0.31.0 reads them, statsd.DialectStatsdExporter: a
	// sample rate it cannot read is 1, the container id a container_id
	// attribute, Etsy's multi-metric lines; see the statsd package).
	Dialect string `mapstructure:"dialect"`
	// ParseDogStatsDTags, ParseInfluxDBTags, ParseLibratoTags and
	// ParseSignalFXTags read each tag format (all true by default, as
	// statsd_exporter); false leaves a DogStatsD section unread, and the
	// others' tags in the name.
	ParseDogStatsDTags bool `mapstructure:"parse_dogstatsd_tags"`
	ParseInfluxDBTags  bool `mapstructure:"parse_influxdb_tags"`
	ParseLibratoTags   bool `mapstructure:"parse_librato_tags"`
	ParseSignalFXTags  bool `mapstructure:"parse_signalfx_tags"`
	// Watch turns on the Gunicorn watcher: busy and idle workers, restarts,
	// the accept queue, process figures (Linux only).
	Watch WatchConfig `mapstructure:"watch"`
	// Limits bound the series and names kept; zero keeps each default.
	Limits LimitsConfig `mapstructure:"limits"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks what the Collector's own validators of the embedded
// settings do not (confmap.Validate runs those too: a transport confignet
// does not know, a non-positive collection_interval, a negative timeout): a
// transport the receiver listens on, an endpoint of the right form
// (host:port with a port from 0 to 65535 for udp and tcp; a socket path for
// unixgram; no scheme in either), no dialer settings, the watch block and
// the limits, and a mapping file that loads (its errors name the file, the
// line and the rule). The Collector calls it before starting any
// component, so that `otelcol validate` reports what would otherwise fail
// only at start. It resolves no host names.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	}
	scheme, _, hasScheme := strings.Cut(cfg.Endpoint, "://")
	switch cfg.Transport {
	case confignet.TransportTypeUDP, confignet.TransportTypeUDP4, confignet.TransportTypeUDP6,
		confignet.TransportTypeTCP, confignet.TransportTypeTCP4, confignet.TransportTypeTCP6:
		if cfg.Endpoint != "" {
			if err := checkHostPort(string(cfg.Transport), cfg.Endpoint); err != nil {
				errs = append(errs, fmt.Errorf("endpoint %q: %w", cfg.Endpoint, err))
			}
		}
	case TransportUnixgram:
		if p, ok := strings.CutPrefix(cfg.Endpoint, "unix:"); ok && !hasScheme {
			errs = append(errs, fmt.Errorf("endpoint %q: want the socket path alone (%s); unix: is Gunicorn's --statsd-host form", cfg.Endpoint, p))
		} else if hasScheme {
			errs = append(errs, fmt.Errorf("endpoint %q: want the socket path alone, without %s://", cfg.Endpoint, scheme))
		}
	default:
		// A transport confignet does not know is its error (at decoding,
		// or from AddrConfig.Validate): only those it knows and the
		// receiver does not listen on are ours.
		if (&confignet.AddrConfig{Transport: cfg.Transport}).Validate() == nil || cfg.Transport == confignet.TransportTypeNpipe {
			errs = append(errs, fmt.Errorf("transport %q: want udp, tcp or unixgram (or udp4, udp6, tcp4, tcp6)", cfg.Transport))
		}
	}
	if cfg.DialerConfig.Timeout != 0 {
		errs = append(errs, fmt.Errorf("dialer: timeout %v: the receiver listens, it does not dial", cfg.DialerConfig.Timeout))
	}
	switch cfg.Dialect {
	case "", DialectDefault, DialectStatsdExporter:
	default:
		errs = append(errs, fmt.Errorf("dialect %q: want %s or %s", cfg.Dialect, DialectDefault, DialectStatsdExporter))
	}
	if err := cfg.Watch.validate(cfg.PrefixAttribute); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.MappingConfig != "" {
		if _, err := mapper.LoadRules(cfg.MappingConfig, cfg.rulesOptions()...); err != nil {
			errs = append(errs, fmt.Errorf("mapping_config: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkHostPort checks that endpoint is host:port for network, with a port
// that network can listen on: a number from 0 to 65535, or a service name
// the system knows.
func checkHostPort(network, endpoint string) error {
	if scheme, _, ok := strings.Cut(endpoint, "://"); ok {
		return fmt.Errorf("want host:port without %s:// (the transport key chooses the protocol)", scheme)
	}
	_, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("want host:port for transport %s: %w", network, err)
	}
	if port == "" {
		return fmt.Errorf("no port (use port 0 for any free port)")
	}
	if n, err := strconv.ParseUint(port, 10, 64); err == nil {
		if n > 65535 {
			return fmt.Errorf("port %d out of range 0-65535", n)
		}
		return nil
	}
	if _, err := net.LookupPort(network, port); err != nil {
		return fmt.Errorf("port %q: not a number from 0 to 65535 nor a known service: %w", port, err)
	}
	return nil
}

// The values of the dialect key.
const (
	DialectDefault        = "default"         // statsd.DialectDefault
	DialectStatsdExporter = "statsd_exporter" // statsd.DialectStatsdExporter
)

// parser is the StatsD parser the configuration describes.
func (cfg *Config) parser() statsd.Parser {
	p := statsd.Parser{
		MaxLineLength:   cfg.Limits.MaxLineLength,
		NoDogStatsDTags: !cfg.ParseDogStatsDTags,
		NoInfluxDBTags:  !cfg.ParseInfluxDBTags,
		NoLibratoTags:   !cfg.ParseLibratoTags,
		NoSignalFXTags:  !cfg.ParseSignalFXTags,
	}
	if cfg.Dialect == DialectStatsdExporter {
		p.Dialect = statsd.DialectStatsdExporter
	}
	return p
}

// rulesOptions is how the mapping file is read: mapping_strict refuses it
// on anything statsd_exporter only tolerates.
func (cfg *Config) rulesOptions() []mapper.RulesOption {
	if cfg.MappingStrict {
		return []mapper.RulesOption{mapper.StrictRules()}
	}
	return nil
}

// address is the endpoint as statsd.Server.Start takes it.
func (cfg *Config) address() string {
	return string(cfg.Transport) + "://" + cfg.Endpoint
}

// newMapper builds the mapper the configuration describes, loading the
// mapping file again (it may have changed since Validate).
func (cfg *Config) newMapper(log *slog.Logger) (*mapper.Mapper, error) {
	opts := []mapper.Option{mapper.WithPrefixKey(cfg.PrefixAttribute), mapper.WithLogger(log)}
	if cfg.MappingConfig != "" {
		rules, err := mapper.LoadRules(cfg.MappingConfig, cfg.rulesOptions()...)
		if err != nil {
			return nil, fmt.Errorf("mapping_config: %w", err)
		}
		for _, w := range rules.Warnings() {
			log.Warn("mapping_config loaded as statsd_exporter loads it, with a doubtful part (mapping_strict refuses it)", "warning", w.Error())
		}
		opts = append(opts, mapper.WithRules(rules))
	}
	return mapper.New(opts...)
}
