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

// An Option configures a Watcher made by New. An option given a value it
// does not take makes New fail, naming the option; a nil Option is ignored.
type Option interface{ apply(*config) }

// optionFunc is an Option; the error it returns is kept for New.
type optionFunc func(*config) error

func (f optionFunc) apply(c *config) {
	if err := f(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

type config struct {
	pid       int
	pidFile   string
	discover  bool
	interval  time.Duration
	attrs     []attribute.KeyValue
	logger    *slog.Logger
	procRoot  string
	meterName string
	explicit  explicit
	pidAttr   bool
	prefixKey string
	tagAttrs  bool
	errs      []error // of options given a value they do not take
}

func defaultConfig() config {
	return config{
		interval:  DefaultSampleInterval,
		logger:    slog.Default(),
		procRoot:  DefaultProcRoot,
		meterName: ScopeName,
		explicit:  explicit{timeout: -1},
	}
}

// WithPID watches the master with this process id. When it exits,
// gunicorn.up turns 0 for good: a pid is not followed to a new master (use
// WithPIDFile or WithDiscover for that).
func WithPID(pid int) Option {
	return optionFunc(func(c *config) error {
		if pid <= 0 {
			return fmt.Errorf("procwatch: WithPID(%d): not a process id", pid)
		}
		c.pid = pid
		return nil
	})
}

// WithPIDFile watches the master whose pid is in the file at path
// (Gunicorn's --pid). The file is read again at every pass, so the watcher
// follows a master replaced by a USR2 upgrade or a restart; while the file is
// missing or names no running process, gunicorn.up is 0.
func WithPIDFile(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return errors.New("procwatch: WithPIDFile: empty path")
		}
		c.pidFile = path
		return nil
	})
}

// WithDiscover makes the watcher find the master itself: a process whose
// command line runs gunicorn (/usr/bin/gunicorn, python -m gunicorn) or whose
// title is "gunicorn: master [name]", and whose parent is not such a process.
// When several are found, the oldest is watched (and the choice logged).
// When the master is gone, the watcher looks again, at most once a second.
func WithDiscover() Option {
	return optionFunc(func(c *config) error {
		c.discover = true
		return nil
	})
}

// WithSampleInterval sets the time between two passes of Run (default
// DefaultSampleInterval). It must be positive.
func WithSampleInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("procwatch: WithSampleInterval(%v): not positive", d)
		}
		c.interval = d
		return nil
	})
}

// WithAttributes adds attributes to every point the watcher reports, for
// example attribute.String("app", "shop.web"): the attribute otelbridge
// derives from the StatsD prefix (mapper.DefaultPrefixKey), so that StatsD
// figures and these land side by side. Keys must not be empty nor one of the
// watcher's own keys (gunicorn.worker.state, process.pid, ...).
func WithAttributes(kv ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) error {
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
	})
}

// WithLogger sets where the watcher logs: the master it follows (at level
// Info), and each kind of failure (such as no permission for /proc/PID/fd)
// once. The default is slog.Default(); see Options and logging in the
// package documentation.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("procwatch: WithLogger(nil): a logger is required (slog.New(slog.DiscardHandler) logs nothing)")
		}
		c.logger = l
		return nil
	})
}

// WithProcRoot reads the proc file system at path instead of /proc, for
// tests over recorded trees. Socket diagnostics over netlink are used only
// with /proc itself; with another root the accept-queue limit comes from
// Gunicorn's --backlog and the root's sys/net/core/somaxconn, and the queue
// of a unix listener is not reported.
func WithProcRoot(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return errors.New("procwatch: WithProcRoot: empty path")
		}
		c.procRoot = path
		return nil
	})
}

// WithMeterName sets the instrumentation scope of the instruments (default
// ScopeName).
func WithMeterName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("procwatch: WithMeterName: empty name")
		}
		c.meterName = name
		return nil
	})
}

// WithWorkerClass says which worker class Gunicorn runs ("sync", "gthread",
// "gevent", "eventlet", "tornado", "uvicorn.workers.UvicornWorker", or
// another class path), overriding what the master shows. By default the
// class is read from the master's settings (its -k or --worker-class and
// --threads, in its arguments, GUNICORN_CMD_ARGS or a literal of its
// configuration file), else from what its workers show (the libraries
// they map, an epoll instance, their threads), else it is Gunicorn's
// default, sync.
func WithWorkerClass(class string) Option {
	return optionFunc(func(c *config) error {
		if class == "" {
			return errors.New("procwatch: WithWorkerClass: empty class")
		}
		c.explicit.class = class
		return nil
	})
}

// WithThreads says how many threads each gthread worker runs (Gunicorn's
// --threads), overriding the master's settings; capacity is workers ×
// threads. Without it or a setting, the watcher takes the most threads seen
// in a worker, which reaches --threads only once a worker had that many
// requests at once (the pool starts its threads as needed).
func WithThreads(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procwatch: WithThreads(%d): fewer than 1", n)
		}
		c.explicit.threads = n
		return nil
	})
}

// WithWorkerConnections says how many connections each async worker
// serves at once (Gunicorn's --worker-connections, default 1000),
// overriding the master's settings; capacity is workers × that.
func WithWorkerConnections(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procwatch: WithWorkerConnections(%d): fewer than 1", n)
		}
		c.explicit.workerConns = n
		return nil
	})
}

// WithTimeout says Gunicorn's --timeout, overriding the master's settings;
// 0 says there is none (gunicorn.worker.timeout is then not reported). It is
// a whole number of seconds, as Gunicorn takes it. Without it or a setting,
// the timeout of sync workers is measured from the cadence of their
// heartbeats (every timeout/2 while idle); otherwise it is Gunicorn's
// default, 30 s.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 || d%time.Second != 0 {
			return fmt.Errorf("procwatch: WithTimeout(%v): not a whole number of seconds, 0 or more", d)
		}
		c.explicit.timeout = int(d / time.Second)
		return nil
	})
}

// WithPIDAttribute adds process.pid to the per-process series (CPU, memory,
// uptime, connections). By default a worker's series carry its slot
// (gunicorn.worker.slot: a small number, reused by the worker that replaces
// it), so that workers recycled by --max-requests make no new series; with
// the pid, each new worker makes new series. The master's series carry its
// pid either way.
func WithPIDAttribute() Option {
	return optionFunc(func(c *config) error {
		c.pidAttr = true
		return nil
	})
}

// WithPrefixAttribute takes the attribute otelbridge derives from the
// StatsD prefix from the master's own settings: its --statsd-prefix (its
// trailing dots trimmed) under key (mapper.DefaultPrefixKey, "app"), read
// from its arguments, GUNICORN_CMD_ARGS, configuration file, again for each
// new master. WithAttributes wins for a key both give.
func WithPrefixAttribute(key string) Option {
	return optionFunc(func(c *config) error {
		if key == "" || ownKeys[attribute.Key(key)] {
			return fmt.Errorf("procwatch: WithPrefixAttribute(%q): empty, or a key the watcher sets itself", key)
		}
		c.prefixKey = key
		return nil
	})
}

// WithTagAttributes takes the master's --dogstatsd-tags as attributes, as
// otelbridge reads them from what Gunicorn sends ("env:prod,team" makes
// env=prod and team=""), read like WithPrefixAttribute's prefix. A tag whose
// key WithAttributes or the prefix gives, or the watcher sets itself, is
// left out.
func WithTagAttributes() Option {
	return optionFunc(func(c *config) error {
		c.tagAttrs = true
		return nil
	})
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
