package wiring

import (
	"io"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-logr/logr"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"go.opentelemetry.io/otel"
)

// Log is how the program logs: --log.level and --log.format, as
// statsd_exporter (and every Prometheus program) takes them (promslog).
type Log struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is logfmt or json.
	Format string
}

// Register adds --log.level and --log.format to app (promslog's flags, with
// their names, defaults and checks). Level and Format are set when app has
// parsed a command line.
func (l *Log) Register(app *kingpin.Application) {
	lc := &promslog.Config{}
	promslogflag.AddFlags(app, lc)
	app.Action(func(*kingpin.ParseContext) error {
		l.Level, l.Format = lc.Level.String(), lc.Format.String()
		return nil
	})
}

// Logger returns the logger writing to w in l's format, from l's level on:
// the one logger a program hands to every part (StatsD server, bridge,
// mapper, watcher, web server), so that every line it writes is in that
// format. An unknown level or format (Register's flags refuse them) is
// promslog's default, info or logfmt.
func (l Log) Logger(w io.Writer) *slog.Logger {
	lc := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
	_ = lc.Level.Set(l.Level)
	_ = lc.Format.Set(l.Format)
	return promslog.New(lc)
}

// SetGlobal makes l the logger of what a program does not configure itself:
// slog.Default and the standard log package (a library's default logger, a
// stray log.Print), the OpenTelemetry SDK's internal logger and its error
// handler (an export that failed), so that they too write in l's format. It
// changes process-wide state: a program's main calls it once.
func SetGlobal(l *slog.Logger) {
	slog.SetDefault(l)
	otel.SetLogger(logr.FromSlogHandler(l.Handler()))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		l.Error("opentelemetry", "err", err)
	}))
}

// LogError logs *err, if it is not nil, as the error the program ends on:
// once the logger exists, even the last line is in its format. Defer it
// in the function that returns the program's error, after making the
// logger.
func LogError(log *slog.Logger, err *error) {
	if *err != nil {
		log.Error("exiting on error", "err", *err)
	}
}
