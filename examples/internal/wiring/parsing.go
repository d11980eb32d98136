package wiring

import (
	"github.com/alecthomas/kingpin/v2"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// The values of --statsd.dialect.
const (
	DialectStatsdExporter = "statsd_exporter" // statsd.DialectStatsdExporter
	DialectDefault        = "default"         // statsd.DialectDefault
)

// Parsing is how StatsD lines are read: the tag formats
// (--[no-]statsd.parse-dogstatsd-tags, -influxdb-, -librato-, -signalfx-,
// all on by default, as statsd_exporter's) and the dialect
// (--statsd.dialect).
type Parsing struct {
	DogStatsDTags, InfluxDBTags, LibratoTags, SignalFXTags bool
	// Dialect is DialectStatsdExporter or DialectDefault. Set before
	// Register, it is the flag's default (DialectDefault when empty).
	Dialect string
}

// Register adds the parsing flags to app.
func (p *Parsing) Register(app *kingpin.Application) {
	if p.Dialect == "" {
		p.Dialect = DialectDefault
	}
	app.Flag("statsd.parse-dogstatsd-tags", "Read DogStatsD tags (|#k:v). --no-statsd.parse-dogstatsd-tags ignores them.").
		Default("true").BoolVar(&p.DogStatsDTags)
	app.Flag("statsd.parse-influxdb-tags", "Read InfluxDB tags (name,k=v). --no-statsd.parse-influxdb-tags leaves them in the name.").
		Default("true").BoolVar(&p.InfluxDBTags)
	app.Flag("statsd.parse-librato-tags", "Read Librato tags (name#k=v). --no-statsd.parse-librato-tags leaves them in the name.").
		Default("true").BoolVar(&p.LibratoTags)
	app.Flag("statsd.parse-signalfx-tags", "Read SignalFX tags (name[k=v]). --no-statsd.parse-signalfx-tags leaves them in the name.").
		Default("true").BoolVar(&p.SignalFXTags)
	app.Flag("statsd.dialect", "How lines are read where StatsD servers differ: statsd_exporter (as statsd_exporter v0.31.0 reads them: "+
		"a sample rate that is not a number or is 0 read as 1, a bad |T ignored, both counted in gunicornotel.lines.forgiven; "+
		"Etsy's multi-metric lines; the container id as the label container_id; packed values only for timers, histograms and distributions; "+
		"name-embedded tags beside DogStatsD tags, empty and unknown sections refused) "+
		"or default (the library's: such rates and timestamps reject the line; packed values of every type; unknown sections skipped).").
		Default(p.Dialect).EnumVar(&p.Dialect, DialectStatsdExporter, DialectDefault)
}

// Parser returns the statsd.Parser the flags describe, with the line length
// limit maxLineLength (Limits.MaxLineLength).
func (p Parsing) Parser(maxLineLength int) statsd.Parser {
	d := statsd.DialectDefault
	if p.Dialect == DialectStatsdExporter {
		d = statsd.DialectStatsdExporter
	}
	return statsd.Parser{
		MaxLineLength:   maxLineLength,
		NoDogStatsDTags: !p.DogStatsDTags,
		NoInfluxDBTags:  !p.InfluxDBTags,
		NoLibratoTags:   !p.LibratoTags,
		NoSignalFXTags:  !p.SignalFXTags,
		Dialect:         d,
	}
}
