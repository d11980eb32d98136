package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/watchopt"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// Watch is what the --gunicorn.* flags say of the Gunicorn watcher
// (procwatch): on when one of PIDFile, PID and Discover is set.
type Watch struct {
	// Target is --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover,
	// and --gunicorn.sample-interval.
	watchopt.Target
	// App is --gunicorn.app: the prefix attribute's value on the watcher's
	// series; "": the master's own --statsd-prefix.
	App string
	// Gunicorn are Gunicorn's settings the watcher reads from the master
	// unless given: --gunicorn.worker-class, --gunicorn.threads, ...
	Gunicorn watchopt.Settings
}

// watchFlag is how the watcher's flags are named in errors.
const watchFlag = "--gunicorn."

// Register adds the --gunicorn.* flags to app.
func (w *Watch) Register(app *kingpin.Application) {
	app.Flag("gunicorn.pid-file", "Watch the Gunicorn master whose pid is in this file (Gunicorn's --pid) through /proc: busy and idle workers, utilization, restarts, memory, CPU, the accept queue. Followed across restarts and USR2 upgrades. Linux only.").
		PlaceHolder("PATH").StringVar(&w.PIDFile)
	app.Flag("gunicorn.pid", "Watch the Gunicorn master with this process id (as --gunicorn.pid-file).").
		PlaceHolder("N").IntVar(&w.PID)
	app.Flag("gunicorn.discover", "Watch the Gunicorn master found by its command line or title, the oldest if several (as --gunicorn.pid-file).").
		BoolVar(&w.Discover)
	app.Flag("gunicorn.sample-interval", "How often the watcher samples Gunicorn's workers.").
		Default(procwatch.DefaultSampleInterval.String()).DurationVar(&w.Interval)
	app.Flag("gunicorn.app", "The value of the --otel.prefix-key attribute on the watcher's series: Gunicorn's --statsd-prefix (trailing dots trimmed), so that they sit beside its StatsD series. Default: read from the master's own --statsd-prefix, whose --dogstatsd-tags become attributes too.").
		PlaceHolder("PREFIX").StringVar(&w.App)
	g := &w.Gunicorn
	app.Flag("gunicorn.worker-class", watchopt.Plain(watchopt.HelpWorkerClass)).
		PlaceHolder("CLASS").StringVar(&g.WorkerClass)
	app.Flag("gunicorn.threads", watchopt.Plain(watchopt.HelpThreads)).
		PlaceHolder("N").SetValue(watchopt.Named(watchFlag+"threads", watchopt.IntValue(&g.Threads)))
	app.Flag("gunicorn.worker-connections", watchopt.Plain(watchopt.HelpWorkerConnections)).
		PlaceHolder("N").SetValue(watchopt.Named(watchFlag+"worker-connections", watchopt.IntValue(&g.WorkerConnections)))
	app.Flag("gunicorn.timeout", watchopt.Plain(watchopt.HelpTimeout)).
		PlaceHolder("DURATION").SetValue(watchopt.Named(watchFlag+"timeout", watchopt.DurationValue(&g.Timeout)))
	app.Flag("gunicorn.pid-attribute", watchopt.Plain(watchopt.HelpPIDAttribute)).
		BoolVar(&g.PIDAttribute)
}

// Check returns an error for each watcher flag that is wrong: more than one
// master, a pid below 1, an interval not above 0, Gunicorn's settings as
// internal/watchopt checks them, --gunicorn.app with the watcher off or
// with no prefix attribute (prefixKey, --otel.prefix-key, empty). It trims
// App's trailing dots, as the mapper trims Gunicorn's --statsd-prefix.
func (w *Watch) Check(prefixKey string) []error {
	var errs []error
	names := watchopt.FlagNames(watchFlag)
	if err := w.Target.Check(names); err != nil {
		errs = append(errs, err)
	}
	if err := w.Gunicorn.Check(names, w.On()); err != nil {
		errs = append(errs, err)
	}
	w.App = strings.TrimRight(w.App, ".")
	if w.App != "" {
		if !w.On() {
			errs = append(errs, errors.New("--gunicorn.app labels the watcher's series: give --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover too"))
		} else if prefixKey == "" {
			errs = append(errs, fmt.Errorf("--gunicorn.app %q: --otel.prefix-key is empty, so there is no attribute to carry it", w.App))
		}
	}
	return errs
}

// Options returns the watcher's procwatch options: its master, interval,
// logger, Gunicorn's settings given, and the prefix attribute prefixKey
// (with App, else the master's --statsd-prefix); with tags (the program
// reads DogStatsD tags), the master's --dogstatsd-tags as attributes.
func (w *Watch) Options(prefixKey string, tags bool, log *slog.Logger) []procwatch.Option {
	opts := append(w.Target.Options(), procwatch.WithLogger(log))
	opts = append(opts, w.Gunicorn.Options()...)
	return append(opts, watchopt.PrefixOptions(prefixKey, w.App, tags)...)
}

// NewWatcherFunc makes a procwatch.Watcher: procwatch.New, or what a test
// puts in its place.
type NewWatcherFunc func(metric.MeterProvider, ...procwatch.Option) (*procwatch.Watcher, error)

// Watcher is a Gunicorn watcher a program runs, from Start to Stop.
type Watcher struct {
	*procwatch.Watcher
	log  *slog.Logger
	what []any // how the master is named, for the log

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	closed bool
}

// NewWatcher makes the watcher of w with opts (Options' and any more),
// recording into mp, by newWatcher. It returns nil, and no error, when w
// does not watch, and when procwatch cannot run on this system (anything but
// Linux), which it logs: the program carries on with StatsD. Other errors
// are procwatch's, which the flags' Check should have made impossible.
func (w *Watch) NewWatcher(newWatcher NewWatcherFunc, mp metric.MeterProvider, log *slog.Logger, opts ...procwatch.Option) (*Watcher, error) {
	if !w.On() {
		return nil, nil
	}
	pw, err := newWatcher(mp, opts...)
	if errors.Is(err, errors.ErrUnsupported) {
		log.Warn("the Gunicorn watcher does not run on this system; carrying on with StatsD only", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gunicorn watcher: %w", err)
	}
	what := []any{"pid_file", w.PIDFile}
	switch {
	case w.PID != 0:
		what = []any{"pid", w.PID}
	case w.Discover:
		what = []any{"discover", true}
	}
	return &Watcher{Watcher: pw, log: log, what: append(what, "sample_interval", w.Interval, "app", w.App)}, nil
}

// Start runs the watcher in a goroutine of its own until Stop. A nil
// Watcher does nothing.
func (w *Watcher) Start() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return
	}
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		_ = w.Run(ctx) // errors only if already running
	}()
	w.log.Info("watching Gunicorn through /proc", w.what...)
}

// Stop stops the watcher's runs and waits for the pass under way (a pass
// takes milliseconds), then logs what it saw. Its instruments keep
// reporting the last pass until Close. Stop is idempotent; a nil Watcher
// does nothing.
func (w *Watcher) Stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel == nil || w.done == nil {
		return
	}
	w.cancel()
	<-w.done
	w.done = nil
	st := w.Stats()
	w.log.Info("Gunicorn watcher stopped", "passes", st.Passes, "up", st.Up, "master_pid", st.MasterPID,
		"workers", st.Workers, "busy_seconds", st.BusyTime, "restarts", st.Restarts, "errors", st.Errors)
}

// Close stops the watcher and removes its instruments' callback. It is
// idempotent; a nil Watcher does nothing.
func (w *Watcher) Close() error {
	if w == nil {
		return nil
	}
	w.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.Watcher.Close()
}
