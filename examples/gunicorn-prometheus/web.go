package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gunicornotel/gunicornotel/internal/ratelog"
)

// connLimiter is the web server's listener: it keeps at most max connections
// open, so that idle keep-alive connections cannot use up the process's file
// descriptors (which the StatsD listeners need too). When a new connection
// comes over the limit, the connection that has been idle longest (between
// requests, or accepted and not yet sending) is closed to admit it; if every
// open connection is in the middle of a request, the new one is closed
// instead. Either way it is counted and logged, once a minute at most.
//
// Its connState method must be the http.Server's ConnState hook: it is how
// the limiter learns which connections are idle and which are gone.
type connLimiter struct {
	net.Listener
	max int
	log *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*connInfo

	evicted, rejected atomic.Uint64
	evictLog, rejLog  ratelog.Limiter
}

// connInfo is what the limiter knows of an open connection.
type connInfo struct {
	state http.ConnState
	since time.Time // when it entered state
}

func newConnLimiter(l net.Listener, max int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: l, max: max, log: log, conns: make(map[net.Conn]*connInfo)}
}

// Accept returns the next connection, making room for it if needed.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		l.mu.Lock()
		var victim net.Conn
		if len(l.conns) >= l.max {
			if victim = l.longestIdle(); victim == nil {
				l.mu.Unlock()
				// Counted and logged before the close that the peer sees.
				n := l.rejected.Add(1)
				if since, ok := l.rejLog.Due(now.UnixNano(), n); ok {
					l.log.Warn("web: every connection is busy with a request: new connection closed (logged once a minute at most)",
						"limit", l.max, "flag", "--web.max-connections", "count", since, "rejected", n)
				}
				_ = c.Close()
				continue
			}
			delete(l.conns, victim)
		}
		l.conns[c] = &connInfo{state: http.StateNew, since: now}
		l.mu.Unlock()
		if victim != nil {
			n := l.evicted.Add(1)
			if since, ok := l.evictLog.Due(now.UnixNano(), n); ok {
				l.log.Warn("web: connection limit reached: closed the longest idle connection (logged once a minute at most)",
					"limit", l.max, "flag", "--web.max-connections", "count", since, "evicted", n)
			}
			_ = victim.Close()
		}
		return c, nil
	}
}

// longestIdle returns the open connection idle longest (new or between
// requests), or nil when all are busy. l.mu is held.
func (l *connLimiter) longestIdle() net.Conn {
	var victim net.Conn
	var since time.Time
	for c, info := range l.conns {
		if info.state != http.StateNew && info.state != http.StateIdle {
			continue
		}
		if victim == nil || info.since.Before(since) {
			victim, since = c, info.since
		}
	}
	return victim
}

// connState follows the connections' states: the http.Server's ConnState.
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	default:
		if info, ok := l.conns[c]; ok {
			info.state, info.since = s, time.Now()
		}
	}
}

// open returns the number of connections open.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// newWebServer returns the web server, its timeouts as the flags say, with
// connections limited by l.
func (a *app) newWebServer(l *connLimiter) *http.Server {
	return &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: a.cfg.webReadHeaderTimeout,
		ReadTimeout:       a.cfg.webReadTimeout,
		WriteTimeout:      a.cfg.webWriteTimeout,
		IdleTimeout:       a.cfg.webIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnState:         l.connState,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// handler returns the web interface: the metrics, /-/healthy, /-/ready, a
// landing page, and with --web.enable-lifecycle /-/reload and /-/quit.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(a.log.Handler(), slog.LevelError), // promhttp logs with Println
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            a.reg,
		MaxRequestsInFlight: a.cfg.webMaxRequests,
		Timeout:             a.cfg.webScrapeTimeout,
	})
	mux.Handle(a.cfg.telemetryPath, promhttp.InstrumentMetricHandler(a.reg, metrics))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "Not ready.\n")
			return
		}
		_, _ = io.WriteString(w, "Ready.\n")
	})
	if a.cfg.enableLifecycle {
		mux.HandleFunc("/-/reload", lifecycle(func(w http.ResponseWriter) {
			a.log.Info("received a lifecycle API reload, reloading the mapping config", "file", a.cfg.Mapping.File)
			if err := a.reload(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "Requesting reload\n")
		}))
		mux.HandleFunc("/-/quit", lifecycle(func(w http.ResponseWriter) {
			a.log.Info("received a lifecycle API quit, shutting down")
			_, _ = io.WriteString(w, "Requesting termination... Goodbye!\n")
			a.quitOnce.Do(func() { close(a.quit) })
		}))
	}
	if a.cfg.telemetryPath != "/" {
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<html><head><title>Gunicorn StatsD to Prometheus</title></head><body>"+
				"<h1>Gunicorn StatsD to Prometheus</h1><p><a href=%q>Metrics</a></p></body></html>\n", a.cfg.telemetryPath)
		})
	}
	return mux
}

// lifecycle returns a handler that calls do for POST and PUT, as
// statsd_exporter's lifecycle endpoints act on, and answers 405 to other
// methods.
func lifecycle(do func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Use POST or PUT.", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		do(w)
	}
}
