package wiring

import (
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// Mapping is the statsd_exporter mapping file a program maps StatsD names
// by, instead of its built-in Gunicorn profile.
type Mapping struct {
	// File is --statsd.mapping-config; "" for none.
	File string
	// Strict is --statsd.mapping-strict.
	Strict bool
}

// Register adds --statsd.mapping-config and --statsd.mapping-strict to app.
func (m *Mapping) Register(app *kingpin.Application) {
	app.Flag("statsd.mapping-config", "statsd_exporter mapping file; reloaded on SIGHUP (the rules in use are kept if the new file is invalid). Without it, the built-in Gunicorn profile names Gunicorn's own metrics.").
		PlaceHolder("FILE").StringVar(&m.File)
	app.Flag("statsd.mapping-strict", "Refuse a mapping file with anything statsd_exporter only tolerates (a reference to a capture the match lacks, an empty bucket list, a ttl without a unit, a reserved label): by default such a file loads and each is logged as a warning.").
		BoolVar(&m.Strict)
}

// RulesOptions returns how the mapping file is read: as statsd_exporter
// reads it (what it tolerates is loaded, with a warning), or with
// --statsd.mapping-strict, refused on any warning.
func (m *Mapping) RulesOptions() []mapper.RulesOption {
	if m.Strict {
		return []mapper.RulesOption{mapper.StrictRules()}
	}
	return nil
}

// Load loads the mapping file (nil without one) and logs what
// statsd_exporter would load but does not mean (a reference to a missing
// capture, an empty bucket list...), each with its file and line. Its error
// names the flag and the file.
func (m *Mapping) Load(log *slog.Logger) (*mapper.Rules, error) {
	if m.File == "" {
		return nil, nil
	}
	rules, err := mapper.LoadRules(m.File, m.RulesOptions()...)
	if err != nil {
		return nil, fmt.Errorf("--statsd.mapping-config: %w", err)
	}
	for _, w := range rules.Warnings() {
		log.Warn("mapping config loaded as statsd_exporter loads it, with a doubtful part (--statsd.mapping-strict refuses it)", "warning", w.Error())
	}
	return rules, nil
}

// Reload loads the mapping file again and hands its rules to apply, which
// maps by them from then on. If the file is invalid or apply fails, the
// rules in use are kept, and the error (file:line: ...) is logged and
// returned. Without a file there is nothing to reload: Reload logs so and
// returns nil. The caller serialises Reloads.
func (m *Mapping) Reload(log *slog.Logger, apply func(*mapper.Rules) error) error {
	if m.File == "" {
		log.Warn("no mapping config to reload: --statsd.mapping-config is not set")
		return nil
	}
	rules, err := m.Load(log)
	if err == nil {
		err = apply(rules)
	}
	if err != nil {
		log.Error("mapping config reload failed; the rules in use are kept", "file", m.File, "err", err)
		return fmt.Errorf("reloading mapping config: %w", err)
	}
	log.Info("mapping config reloaded", "file", m.File, "rules", rules.Len())
	return nil
}
