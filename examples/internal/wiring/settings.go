package wiring

import (
	"errors"

	"github.com/alecthomas/kingpin/v2"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// Settings are the settings both programs take, each from the flag of the
// same name.
type Settings struct {
	// Log is --log.level and --log.format.
	Log Log
	// PrefixKey is --otel.prefix-key: the attribute that carries Gunicorn's
	// --statsd-prefix under the built-in profile ("" drops it), on the
	// watcher's series too.
	PrefixKey string
	// Mapping is --statsd.mapping-config and --statsd.mapping-strict.
	Mapping Mapping
	// Limits are the bridge's (--otel.max-*) and the StatsD server's
	// (--statsd.max-*, --statsd.tcp-*) limits.
	Limits Limits
	// Watch is the Gunicorn watcher's --gunicorn.* flags.
	Watch Watch
	// Parsing is --[no-]statsd.parse-*-tags and --statsd.dialect.
	Parsing Parsing
}

// Register adds every flag of s to app, each group in turn. A program that
// places the groups among its own flags calls each group's Register instead
// (and RegisterPrefixKey).
func (s *Settings) Register(app *kingpin.Application) {
	s.Log.Register(app)
	s.Mapping.Register(app)
	s.RegisterPrefixKey(app)
	s.Watch.Register(app)
	s.Limits.Register(app)
	s.Parsing.Register(app)
}

// RegisterPrefixKey adds --otel.prefix-key to app.
func (s *Settings) RegisterPrefixKey(app *kingpin.Application) {
	app.Flag("otel.prefix-key", `Attribute (Prometheus label) that carries Gunicorn's --statsd-prefix under the built-in profile, on the Gunicorn watcher's series too. "" drops it.`).
		Default(mapper.DefaultPrefixKey).StringVar(&s.PrefixKey)
}

// Check checks the settings once the command line is parsed, and tidies
// them (--gunicorn.app loses its trailing dots). The error joins one error
// for each flag that is wrong, each naming its flag and value.
func (s *Settings) Check() error {
	return errors.Join(append(s.Limits.Check(), s.Watch.Check(s.PrefixKey)...)...)
}
