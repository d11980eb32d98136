// Package watchopt holds what the programs that run the Gunicorn watcher
// share about the settings they pass to procwatch besides the master to
// watch: the checks of the values, the options they make and the words of
// their help. The programs are examples/gunicorn-prometheus and
// examples/gunicorn-otlp (flags) and examples/gunicornreceiver (keys of its
// watch block), two of them in other modules than the third: the package is
// internal to the root module so that all three can use it, and take the
// same values with the same meaning. It is not part of the library.
package watchopt

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/procwatch"
)

// Settings are the watcher's settings a program takes besides the master
// to watch and the sample interval. Each one left unset (the zero value) is
// read by the watcher from the master's own settings, else from what its
// workers show.
type Settings struct {
	// WorkerClass is Gunicorn's -k ("sync", "gthread", "gevent", a class
	// path...); "" when unset.
	WorkerClass string
	// Threads is Gunicorn's --threads; nil when unset.
	Threads *int
	// WorkerConnections is Gunicorn's --worker-connections; nil when unset.
	WorkerConnections *int
	// Timeout is Gunicorn's --timeout, whole seconds, 0 for none; nil when
	// unset.
	Timeout *time.Duration
	// PIDAttribute adds process.pid to the per-process series.
	PIDAttribute bool
}

// Names are what a program calls each setting in its errors: a flag
// ("--gunicorn.threads") or a key ("watch: threads").
type Names struct {
	WorkerClass, Threads, WorkerConnections, Timeout, PIDAttribute string
	// Master names the settings that turn the watcher on, for the error
	// about a setting given while it is off ("--gunicorn.pid-file,
	// --gunicorn.pid or --gunicorn.discover").
	Master string
	// PIDFile, PID, Discover and Interval name the Target's settings.
	PIDFile, PID, Discover, Interval string
}

// FlagNames returns the Names of the flags called prefix+"worker-class",
// prefix+"threads"... (prefix "--gunicorn." or "-gunicorn."), the flags of
// the master being prefix+"pid-file", prefix+"pid" and prefix+"discover",
// the interval's prefix+"sample-interval".
func FlagNames(prefix string) Names {
	return Names{
		WorkerClass:       prefix + "worker-class",
		Threads:           prefix + "threads",
		WorkerConnections: prefix + "worker-connections",
		Timeout:           prefix + "timeout",
		PIDAttribute:      prefix + "pid-attribute",
		Master:            prefix + "pid-file, " + prefix + "pid or " + prefix + "discover",
		PIDFile:           prefix + "pid-file",
		PID:               prefix + "pid",
		Discover:          prefix + "discover",
		Interval:          prefix + "sample-interval",
	}
}

// Target is the master the watcher watches, by one of three settings, and
// how often it samples it. The watcher is on when one of the three is set.
type Target struct {
	// PIDFile is the file holding the master's pid (Gunicorn's --pid).
	PIDFile string
	// PID is the master's process id.
	PID int
	// Discover finds the master by its command line or title.
	Discover bool
	// Interval is the time between two samples; it must be positive.
	Interval time.Duration
}

// On reports whether t turns the watcher on.
func (t *Target) On() bool { return t.PIDFile != "" || t.PID != 0 || t.Discover }

// Check checks t: at most one way of naming the master, a pid of 1 or
// more, a positive interval. Each error names the setting as n does.
func (t *Target) Check(n Names) error {
	var errs []error
	given := 0
	for _, set := range []bool{t.PIDFile != "", t.PID != 0, t.Discover} {
		if set {
			given++
		}
	}
	if given > 1 {
		errs = append(errs, fmt.Errorf("%s, %s, %s: give only one", n.PIDFile, n.PID, n.Discover))
	}
	if t.PID < 0 {
		errs = append(errs, fmt.Errorf("%s %d: not a process id", n.PID, t.PID))
	}
	if t.Interval <= 0 {
		errs = append(errs, fmt.Errorf("%s %v: must be positive", n.Interval, t.Interval))
	}
	return errors.Join(errs...)
}

// Options returns the options of the master t names and of its interval
// (Check it first); none names no master.
func (t *Target) Options() []procwatch.Option {
	opts := []procwatch.Option{procwatch.WithSampleInterval(t.Interval)}
	switch {
	case t.PIDFile != "":
		opts = append(opts, procwatch.WithPIDFile(t.PIDFile))
	case t.PID != 0:
		opts = append(opts, procwatch.WithPID(t.PID))
	case t.Discover:
		opts = append(opts, procwatch.WithDiscover())
	}
	return opts
}

// gunicornClasses are the worker classes Gunicorn knows by a short name
// (gunicorn.workers.SUPPORTED_WORKERS); another class is a dotted path.
var gunicornClasses = []string{"sync", "eventlet", "gevent", "gevent_wsgi", "gevent_pywsgi", "tornado", "gthread"}

// Check checks the settings that are set, as Gunicorn would take them:
// a worker class Gunicorn knows by name, or a class path; threads and
// worker connections of 1 or more; a timeout of whole seconds, 0 or more.
// watching says whether the watcher is on: a setting given while it is off
// is an error too. Each error names the setting as n does.
func (s *Settings) Check(n Names, watching bool) error {
	var errs []error
	if c := s.WorkerClass; c != "" {
		name := strings.TrimPrefix(strings.TrimPrefix(c, "egg:gunicorn#"), "egg:")
		switch {
		case strings.ContainsFunc(c, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
			errs = append(errs, fmt.Errorf("%s %q: not a worker class (a space or a control character)", n.WorkerClass, c))
		case !strings.Contains(name, ".") && !slices.Contains(gunicornClasses, name):
			errs = append(errs, fmt.Errorf("%s %q: not a worker class Gunicorn knows: want one of %s, or a class path such as uvicorn.workers.UvicornWorker",
				n.WorkerClass, c, strings.Join(gunicornClasses, ", ")))
		}
	}
	if s.Threads != nil && *s.Threads < 1 {
		errs = append(errs, fmt.Errorf("%s %d: want at least 1", n.Threads, *s.Threads))
	}
	if s.WorkerConnections != nil && *s.WorkerConnections < 1 {
		errs = append(errs, fmt.Errorf("%s %d: want at least 1", n.WorkerConnections, *s.WorkerConnections))
	}
	if s.Timeout != nil && (*s.Timeout < 0 || *s.Timeout%time.Second != 0) {
		errs = append(errs, fmt.Errorf("%s %v: want a whole number of seconds, 0s (no timeout) or more", n.Timeout, *s.Timeout))
	}
	if !watching {
		var set []string
		for _, f := range []struct {
			set  bool
			name string
		}{
			{s.WorkerClass != "", n.WorkerClass},
			{s.Threads != nil, n.Threads},
			{s.WorkerConnections != nil, n.WorkerConnections},
			{s.Timeout != nil, n.Timeout},
			{s.PIDAttribute, n.PIDAttribute},
		} {
			if f.set {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			errs = append(errs, fmt.Errorf("%s: set the Gunicorn watcher, which is off: give %s too", strings.Join(set, ", "), n.Master))
		}
	}
	return errors.Join(errs...)
}

// Options returns the procwatch options of the settings that are set (Check
// them first: procwatch.New refuses what Check refuses, but its errors name
// the option, not the flag).
func (s *Settings) Options() []procwatch.Option {
	var opts []procwatch.Option
	if s.WorkerClass != "" {
		opts = append(opts, procwatch.WithWorkerClass(s.WorkerClass))
	}
	if s.Threads != nil {
		opts = append(opts, procwatch.WithThreads(*s.Threads))
	}
	if s.WorkerConnections != nil {
		opts = append(opts, procwatch.WithWorkerConnections(*s.WorkerConnections))
	}
	if s.Timeout != nil {
		opts = append(opts, procwatch.WithTimeout(*s.Timeout))
	}
	if s.PIDAttribute {
		opts = append(opts, procwatch.WithPIDAttribute())
	}
	return opts
}

// PrefixOptions returns the options that put the prefix attribute key on
// the watcher's series, as the StatsD side derives it from Gunicorn's
// --statsd-prefix: app (its trailing dots trimmed) when it is given, else
// the master's own --statsd-prefix (procwatch.WithPrefixAttribute); and with
// tags (the program reads DogStatsD tags), the master's --dogstatsd-tags as
// attributes (procwatch.WithTagAttributes). With no key there is no prefix
// attribute.
func PrefixOptions(key, app string, tags bool) []procwatch.Option {
	var opts []procwatch.Option
	if tags {
		opts = append(opts, procwatch.WithTagAttributes())
	}
	if key == "" {
		return opts
	}
	if app = strings.TrimRight(app, "."); app != "" {
		return append(opts, procwatch.WithAttributes(attribute.String(key, app)))
	}
	return append(opts, procwatch.WithPrefixAttribute(key))
}

// Help of each setting, for a flag's help or a key's documentation. A word
// in backquotes names the value, as the flag package shows it; Plain
// removes the backquotes for kingpin, which takes a placeholder apart.
const (
	HelpWorkerClass = "Gunicorn's worker `class` (its -k): sync, gthread, gevent, eventlet, tornado, " +
		"uvicorn.workers.UvicornWorker or another class path. Default: read from the master's settings " +
		"(its arguments, GUNICORN_CMD_ARGS, its configuration file), else from what its workers show " +
		"(the libraries they map, an epoll instance, their threads), else sync."
	HelpThreads = "The threads of each gthread worker (Gunicorn's --threads; `n` at least 1): capacity is workers × threads. " +
		"Default: read from the master's settings, else the most threads seen in a worker " +
		"(which reaches --threads only once a worker had that many requests at once)."
	HelpWorkerConnections = "The connections each async worker serves at once (Gunicorn's --worker-connections; `n` at least 1): " +
		"capacity is workers × that. Default: read from the master's settings, else Gunicorn's default, 1000."
	HelpTimeout = "Gunicorn's --timeout, a whole number of seconds (a `duration` such as 30s; 0s: no timeout, " +
		"and gunicorn.worker.timeout is not reported). Default: read from the master's settings, else measured " +
		"from the sync workers' heartbeats, else Gunicorn's default, 30s."
	HelpPIDAttribute = "Add process.pid to the per-process series (CPU, memory, uptime, connections). " +
		"Default: off; a worker's series carry its slot (gunicorn.worker.slot), reused by the worker that " +
		"replaces it, so that recycled workers make no new series."
)

// Plain returns help without its backquotes.
func Plain(help string) string { return strings.ReplaceAll(help, "`", "") }

// IntValue returns a flag value (for flag.Var and kingpin's SetValue) that
// sets *p to a new int when the flag is given: *p stays nil otherwise.
func IntValue(p **int) Value { return intValue{p} }

// DurationValue returns a flag value that sets *p to a new duration when
// the flag is given, as time.ParseDuration reads it ("30s").
func DurationValue(p **time.Duration) Value { return durationValue{p} }

// Named returns v with the flag's name before its errors, for kingpin,
// which does not name the flag whose value it could not set (the flag
// package does).
func Named(flag string, v Value) Value { return named{flag, v} }

type named struct {
	flag string
	Value
}

func (n named) Set(s string) error {
	if err := n.Value.Set(s); err != nil {
		return fmt.Errorf("%s %w", n.flag, err)
	}
	return nil
}

// Value is a flag's value, as flag.Var and kingpin's SetValue take it.
type Value interface {
	String() string
	Set(string) error
}

type intValue struct{ p **int }

func (v intValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return strconv.Itoa(**v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q: not a whole number", s)
	}
	*v.p = &n
	return nil
}

type durationValue struct{ p **time.Duration }

func (v durationValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: not a duration such as 30s", s)
	}
	*v.p = &d
	return nil
}
