package procwatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Reasons under which failures are counted in gunicorn.watch.errors and
// Stats.Errors.
const (
	// ReasonFDAccess: /proc/PID/fd of the master or a worker could not be
	// read (no permission: another user and no CAP_SYS_PTRACE). Busy/idle,
	// connections and request age are then unknown.
	ReasonFDAccess = "fd_access"
	// ReasonPIDFile: the pid file exists but could not be read or holds no
	// pid. (A missing pid file only means the master is down.)
	ReasonPIDFile = "pid_file"
	// ReasonProcRead: a process's stat or the children of the master could
	// not be read, for another reason than the process being gone.
	ReasonProcRead = "proc_read"
	// ReasonNetRead: the socket tables /proc/PID/net/{tcp,tcp6,unix} could
	// not be read or held lines that could not be parsed.
	ReasonNetRead = "net_read"
	// ReasonSockDiag: the socket diagnostics over netlink failed: the dump
	// of the listeners (the accept-queue limit then comes from --backlog
	// and somaxconn), or the lookups of connections' TCP information
	// (gevent's and uvicorn's busy requests are then not reported).
	ReasonSockDiag = "sock_diag"
)

var reasons = [...]string{ReasonFDAccess, ReasonPIDFile, ReasonProcRead, ReasonNetRead, ReasonSockDiag}

const (
	errFDAccess = iota
	errPIDFile
	errProcRead
	errNetRead
	errSockDiag
	numReasons
)

// Watcher watches one Gunicorn master and its workers through /proc and the
// kernel's socket diagnostics, and reports what it sees in instruments made
// from the MeterProvider given to New. Make it with New; start it with Run
// (or call Sample at your own pace); stop it by cancelling Run's context;
// Close removes its instruments' callback. Its methods are safe for
// concurrent use.
//
// Inside, a pass has three steps: a reader (Linux only) reads the master,
// its workers and their sockets into a plain observation; a tracker, pure
// logic, turns it into figures (the worker class, busy and queued requests,
// ages, restarts, slots); a reporter owns the instruments and the attribute
// sets, and reports the last figures at each collection.
type Watcher struct {
	cfg config
	rd  *reader
	tr  *tracker
	rep *reporter

	now     func() time.Time // the clock; tests set it
	running atomic.Bool

	passMu   sync.Mutex // one pass at a time; guards rd, tr, rep and spare
	spare    snapshot
	masterID procID // the master the base attributes were made for
	warned   bool   // that the pid or pid file names no master

	mu     sync.Mutex // guards what the callback reads
	snap   snapshot
	errs   [numReasons]uint64
	passes uint64
	logged [numReasons]bool
}

// New makes a Watcher of the Gunicorn master that opts name (exactly one of
// WithPID, WithPIDFile, WithDiscover) and creates its instruments, once,
// from provider. It does not start watching: call Run, or Sample. It
// returns an error for an invalid option, and on other operating systems
// than Linux an error wrapping errors.ErrUnsupported.
func New(provider metric.MeterProvider, opts ...Option) (*Watcher, error) {
	if provider == nil {
		return nil, errors.New("procwatch: New: nil MeterProvider")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, now: time.Now}
	rd, err := newReader(&w.cfg)
	if err != nil {
		return nil, err
	}
	w.rd = rd
	w.tr = newTracker(cfg.explicit, cfg.logger)
	w.rep = newReporter(cfg.attrs, cfg.pidAttr)
	if err := w.rep.register(provider.Meter(cfg.meterName), w.callback); err != nil {
		return nil, err
	}
	return w, nil
}

// callback reports the last pass's figures.
func (w *Watcher) callback(_ context.Context, o metric.Observer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rep.observe(o, &w.snap, &w.errs)
	return nil
}

// pass is one sampling pass. Call with passMu held.
func (w *Watcher) pass() error {
	now := w.now()
	o, rerrs := w.rd.read(now)
	var errs []error
	for _, e := range rerrs {
		errs = append(errs, w.fail(e.reason, e.err))
	}
	if o.master.id != w.masterID {
		w.masterID = o.master.id
		if o.master.id.pid != 0 {
			w.rep.setBase(w.baseAttributes(o.settings))
		}
	}
	boot := 0.0
	if w.rd.bootErr == nil {
		boot = w.rd.bootTime
	}
	w.tr.update(o, boot, &w.spare)
	w.rd.wantTCP, w.rd.wantBeats = w.tr.wantsTCP(), w.tr.wantsBeats()
	w.rep.prepare(&w.spare)
	w.mu.Lock()
	w.snap, w.spare = w.spare, w.snap
	w.passes++
	up := w.snap.up
	w.mu.Unlock()
	if !up && !w.warned && (w.cfg.pid != 0 || w.cfg.pidFile != "") {
		w.warned = true
		what, name := "pid", any(w.cfg.pid)
		if w.cfg.pidFile != "" {
			what, name = "pid_file", w.cfg.pidFile
		}
		w.cfg.logger.Warn("procwatch: no Gunicorn master runs where the watcher was told to look (yet); gunicorn.up is 0 until one does",
			what, name)
	} else if up {
		w.warned = false
	}
	return errors.Join(errs...)
}

// baseAttributes are WithAttributes's, and the master's StatsD prefix
// (WithPrefixAttribute) and DogStatsD tags (WithTagAttributes), as
// otelbridge derives them from what Gunicorn sends.
func (w *Watcher) baseAttributes(s *settings) []attribute.KeyValue {
	base := w.cfg.attrs
	if w.cfg.prefixKey == "" && !w.cfg.tagAttrs || s == nil {
		return base
	}
	has := func(k attribute.Key) bool {
		if ownKeys[k] {
			return true
		}
		for _, kv := range base {
			if kv.Key == k {
				return true
			}
		}
		return false
	}
	out := append([]attribute.KeyValue(nil), base...)
	if p := strings.TrimRight(s.prefix.v, "."); w.cfg.prefixKey != "" && p != "" && !has(attribute.Key(w.cfg.prefixKey)) {
		out = append(out, attribute.String(w.cfg.prefixKey, p))
	}
	if !w.cfg.tagAttrs {
		return out
	}
	for _, tag := range strings.Split(s.tags.v, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(tag), ":")
		if k != "" && !has(attribute.Key(k)) {
			out = append(out, attribute.String(k, v))
		}
	}
	return out
}

// Run samples at every interval (WithSampleInterval) until ctx is done, then
// returns nil; a pass under way when ctx is done finishes first (a pass
// takes well under a millisecond for a few workers) and no goroutine is left
// behind. What a pass fails to read is logged (once per reason) and counted,
// never returned: Run returns an error only if it is already running. The
// instruments keep reporting the last pass after Run returns; see Close.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("procwatch: Run: already running")
	}
	defer w.running.Store(false)
	t := time.NewTicker(w.cfg.interval)
	defer t.Stop()
	for {
		_ = w.Sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample makes one pass now: it finds the master, reads its workers and
// sockets, and updates what the instruments report (a busy_time increment
// covers the time since the previous pass). It is what Run calls at each
// interval, and what tests and benchmarks call. It returns ctx's error if
// ctx is done before it starts, else what it failed to read in this pass
// (also counted and logged), or nil; a master that is gone is no error
// (gunicorn.up is 0).
func (w *Watcher) Sample(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.passMu.Lock()
	defer w.passMu.Unlock()
	return w.pass()
}

// Close removes the instruments' callback: from the next collection on, the
// watcher's instruments report nothing. Stop Run first (cancel its context);
// Sample still works but is not reported.
func (w *Watcher) Close() error {
	if err := w.rep.unregister(); err != nil {
		return fmt.Errorf("procwatch: Close: %w", err)
	}
	return nil
}

// Stats is what the watcher has seen, for tests and logs.
type Stats struct {
	// Passes is the number of passes made.
	Passes uint64
	// Up says the master ran at the last pass; MasterPID is its pid then (0
	// when down).
	Up        bool
	MasterPID int
	// Workers is the number of workers at the last pass.
	Workers int
	// WorkerClass is the worker class as the watcher knows it ("sync",
	// "gthread", "gevent", a class path...), Kind how it serves, and
	// WorkerClassSource where that came from ("option", "command line",
	// "GUNICORN_CMD_ARGS", "config file", "workers", "default").
	WorkerClass       string
	WorkerClassSource string
	Kind              Kind
	// Threads is a gthread worker's threads (0 for other kinds), and
	// ThreadsSource where that came from.
	Threads       int
	ThreadsSource string
	// Timeout is Gunicorn's timeout in seconds (0 when off, or before a
	// master is seen), and TimeoutSource where it came from.
	Timeout       float64
	TimeoutSource string
	// Capacity, Busy and Queued are the requests the workers can serve at
	// once, serve now, and (gthread) wait for a thread; -1 when unknown.
	Capacity, Busy, Queued int64
	// BusyTime is the request-seconds counted; Restarts the workers
	// replaced.
	BusyTime float64
	Restarts int64
	// Errors counts failures by reason (ReasonFDAccess, ...); only reasons
	// that happened are present.
	Errors map[string]uint64
}

// Stats returns what the watcher has seen so far.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := &w.snap
	known := func(v int64, ok bool) int64 {
		if !ok {
			return -1
		}
		return v
	}
	s := Stats{
		Passes: w.passes, Up: n.up, MasterPID: n.masterPID, Workers: int(n.workers),
		WorkerClass: n.class, WorkerClassSource: n.classSrc, Kind: n.kind,
		Timeout: n.timeout, TimeoutSource: n.timeoutSrc,
		Capacity: known(n.capacity, n.capacityKnown), Busy: known(n.busy, n.busyKnown),
		Queued:   known(n.queued, n.queuedKnown),
		BusyTime: n.busyTime, Restarts: n.restarts,
		Errors: map[string]uint64{},
	}
	if n.kind == KindThreaded {
		s.Threads, s.ThreadsSource = n.threads, n.threadsSrc
	}
	for r, n := range w.errs {
		if n > 0 {
			s.Errors[reasons[r]] = n
		}
	}
	return s
}

// fail counts a failure under reason r and logs the first of each reason.
// It returns err for the pass's error. Call with w.mu not held.
func (w *Watcher) fail(r int, err error) error {
	w.mu.Lock()
	w.errs[r]++
	first := !w.logged[r]
	w.logged[r] = true
	w.mu.Unlock()
	if first {
		w.cfg.logger.Warn("procwatch: cannot read what it needs; keeping what it can (logged once per reason, counted in gunicorn.watch.errors)",
			"reason", reasons[r], "error", err)
	}
	return err
}
