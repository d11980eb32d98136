package procwatch

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// ScopeName is the default instrumentation scope of the watcher's
// instruments (see WithMeterName).
const ScopeName = "github.com/gunicornotel/gunicornotel/procwatch"

// Defaults.
const (
	// DefaultSampleInterval is the default of WithSampleInterval: ten passes
	// a second, often enough to see requests of a few hundred milliseconds.
	DefaultSampleInterval = 100 * time.Millisecond
	// DefaultProcRoot is where the proc file system is mounted.
	DefaultProcRoot = "/proc"
)

// An Option configures a Watcher made by New. An option given an invalid
// value makes New fail with an error that names it.
type Option func(*config) error

type config struct {
	pid         int
	pidFile     string
	discover    bool
	interval    time.Duration
	attrs       []attribute.KeyValue
	logger      *slog.Logger
	procRoot    string
	meterName   string
	workerClass string
}

func defaultConfig() config {
	return config{
		interval:  DefaultSampleInterval,
		logger:    slog.New(slog.DiscardHandler),
		procRoot:  DefaultProcRoot,
		meterName: ScopeName,
	}
}

// WithPID watches the master with this process id. When it exits,
// gunicorn.up turns 0 for good: a pid is not followed to a new master (use
// WithPIDFile or WithDiscover for that).
func WithPID(pid int) Option {
	return func(c *config) error {
		if pid <= 0 {
			return fmt.Errorf("procwatch: WithPID(%d): not a process id", pid)
		}
		c.pid = pid
		return nil
	}
}

// WithPIDFile watches the master whose pid is in the file at path
// (Gunicorn's --pid). The file is read again at every pass, so the watcher
// follows a master replaced by a USR2 upgrade or a restart; while the file is
// missing or names no running process, gunicorn.up is 0.
func WithPIDFile(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("procwatch: WithPIDFile: empty path")
		}
		c.pidFile = path
		return nil
	}
}

// WithDiscover makes the watcher find the master itself: a process whose
// command line runs gunicorn (/usr/bin/gunicorn, python -m gunicorn) or whose
// title is "gunicorn: master [name]", and whose parent is not such a process.
// When several are found, the oldest is watched (and the choice logged).
// When the master is gone, the watcher looks again, at most once a second.
func WithDiscover() Option {
	return func(c *config) error {
		c.discover = true
		return nil
	}
}

// WithSampleInterval sets the time between two passes of Run (default
// DefaultSampleInterval). It must be positive.
func WithSampleInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("procwatch: WithSampleInterval(%v): not positive", d)
		}
		c.interval = d
		return nil
	}
}

// WithAttributes adds attributes to every point the watcher reports, for
// example attribute.String("app", "shop.web"): the attribute otelbridge
// derives from the StatsD prefix (mapper.DefaultPrefixKey), so that StatsD
// figures and these land side by side. Keys must not be empty nor one of the
// watcher's own keys (gunicorn.worker.state, process.pid, ...).
func WithAttributes(kv ...attribute.KeyValue) Option {
	return func(c *config) error {
		for _, a := range kv {
			if !a.Valid() {
				return fmt.Errorf("procwatch: WithAttributes: invalid attribute %q", a.Key)
			}
			if ownKeys[a.Key] {
				return fmt.Errorf("procwatch: WithAttributes: %q is an attribute the watcher sets itself", a.Key)
			}
		}
		c.attrs = append(c.attrs, kv...)
		return nil
	}
}

// WithLogger sets where the watcher logs: the master it follows, and each
// kind of failure (such as no permission for /proc/PID/fd) once. The default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("procwatch: WithLogger(nil)")
		}
		c.logger = l
		return nil
	}
}

// WithProcRoot reads the proc file system at path instead of /proc, for
// tests over recorded trees. Socket diagnostics over netlink are used only
// with /proc itself; with another root the accept-queue limit comes from
// Gunicorn's --backlog and the root's sys/net/core/somaxconn, and the queue
// of a unix listener is not reported.
func WithProcRoot(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("procwatch: WithProcRoot: empty path")
		}
		c.procRoot = path
		return nil
	}
}

// WithMeterName sets the instrumentation scope of the instruments (default
// ScopeName).
func WithMeterName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("procwatch: WithMeterName: empty name")
		}
		c.meterName = name
		return nil
	}
}

// WithWorkerClass says which worker class Gunicorn runs ("sync", "gthread",
// "gevent", "eventlet", "tornado", or a class path), when the master's
// command line does not (a config file, or a process title set by
// setproctitle). By default the class is read from the master's -k,
// --worker-class and --threads arguments (also in GUNICORN_CMD_ARGS when its
// environment is readable), and is Gunicorn's default, sync, when none says.
func WithWorkerClass(class string) Option {
	return func(c *config) error {
		if class == "" {
			return errors.New("procwatch: WithWorkerClass: empty class")
		}
		c.workerClass = class
		return nil
	}
}

func (c *config) check() error {
	n := 0
	for _, set := range []bool{c.pid != 0, c.pidFile != "", c.discover} {
		if set {
			n++
		}
	}
	switch n {
	case 0:
		return errors.New("procwatch: no master to watch: give one of WithPID, WithPIDFile, WithDiscover")
	case 1:
		return nil
	default:
		return errors.New("procwatch: more than one of WithPID, WithPIDFile, WithDiscover")
	}
}
