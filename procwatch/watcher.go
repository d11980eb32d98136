package procwatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys the watcher sets.
const (
	keyState     = attribute.Key("gunicorn.worker.state")
	keyRole      = attribute.Key("gunicorn.process.role")
	keyPID       = attribute.Key("process.pid")
	keyCPUMode   = attribute.Key("cpu.mode")
	keyAddress   = attribute.Key("network.local.address")
	keyPort      = attribute.Key("network.local.port")
	keyTransport = attribute.Key("network.transport")
	keyErrorType = attribute.Key("error.type")
)

var ownKeys = map[attribute.Key]bool{
	keyState: true, keyRole: true, keyPID: true, keyCPUMode: true,
	keyAddress: true, keyPort: true, keyTransport: true, keyErrorType: true,
}

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
	// ReasonSockDiag: the socket diagnostics over netlink failed; the
	// accept-queue limit then comes from --backlog and somaxconn.
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
type Watcher struct {
	cfg  config
	inst instruments
	reg  metric.Registration
	opts attrCache // measurement options, shared by pass and callback

	now     func() time.Time // the clock; tests set it
	running atomic.Bool

	passMu sync.Mutex // one pass at a time; guards os
	os     osState

	mu       sync.Mutex // guards what the callback reads
	snap     snapshot
	busyTime float64
	restarts int64
	errs     [numReasons]uint64
	passes   uint64
	logged   [numReasons]bool
}

// snapshot is the state one pass saw, read by the instruments' callback.
type snapshot struct {
	up           bool
	masterPID    int
	stateKnown   bool // busy and idle are known (sync workers, fds readable)
	busy, idle   int64
	workers      int64
	ageKnown     bool
	ageMax       float64
	timeout      float64 // the master's --timeout, in seconds
	timeoutKnown bool    // false with --timeout 0 (no timeout)
	procs        []procPoint
	listeners    []listenPoint
}

// procPoint is one process's figures.
type procPoint struct {
	opts       *pidOpts
	user, sys  float64 // CPU seconds
	rss        int64
	uptime     float64
	conns      int64
	connsKnown bool // a worker of a class other than sync, whose fds were read
}

// listenPoint is one listener's figures.
type listenPoint struct {
	opt                    metric.MeasurementOption
	queue, limit           int64
	queueKnown, limitKnown bool
}

// pidOpts are the measurement options of one process, made once.
type pidOpts struct {
	proc      metric.MeasurementOption // role, pid
	user, sys metric.MeasurementOption // role, pid, cpu.mode
	conns     metric.MeasurementOption // pid
}

// attrCache holds the measurement options of the base attributes and those
// of the processes now seen (pruned at each pass, so nothing of exited
// workers stays).
type attrCache struct {
	base             []attribute.KeyValue
	baseOpt          metric.MeasurementOption
	busyOpt, idleOpt metric.MeasurementOption
	reasonOpts       [numReasons]metric.MeasurementOption
}

type instruments struct {
	count       metric.Int64ObservableGauge
	busyTime    metric.Float64ObservableCounter
	ageMax      metric.Float64ObservableGauge
	connections metric.Int64ObservableGauge
	restarts    metric.Int64ObservableCounter
	timeout     metric.Float64ObservableGauge
	cpu         metric.Float64ObservableCounter
	memory      metric.Int64ObservableGauge
	uptime      metric.Float64ObservableGauge
	backlog     metric.Int64ObservableGauge
	limit       metric.Int64ObservableGauge
	up          metric.Int64ObservableGauge
	errors      metric.Int64ObservableCounter
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
		if o == nil {
			return nil, errors.New("procwatch: New: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, now: time.Now}
	if err := w.initOS(); err != nil {
		return nil, err
	}
	w.initAttrs()
	if err := w.register(provider.Meter(cfg.meterName)); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Watcher) initAttrs() {
	c := &w.opts
	c.base = w.cfg.attrs
	c.baseOpt = metric.WithAttributeSet(attribute.NewSet(c.base...))
	c.busyOpt = metric.WithAttributeSet(w.attrSet(keyState.String("busy")))
	c.idleOpt = metric.WithAttributeSet(w.attrSet(keyState.String("idle")))
	for i, r := range reasons {
		c.reasonOpts[i] = metric.WithAttributeSet(w.attrSet(keyErrorType.String(r)))
	}
}

// attrSet returns the set of the base attributes and kv.
func (w *Watcher) attrSet(kv ...attribute.KeyValue) attribute.Set {
	all := make([]attribute.KeyValue, 0, len(w.opts.base)+len(kv))
	all = append(append(all, w.opts.base...), kv...)
	return attribute.NewSet(all...)
}

// newPIDOpts makes the measurement options of a process.
func (w *Watcher) newPIDOpts(role string, pid int) *pidOpts {
	r, p := keyRole.String(role), keyPID.Int(pid)
	return &pidOpts{
		proc:  metric.WithAttributeSet(w.attrSet(r, p)),
		user:  metric.WithAttributeSet(w.attrSet(r, p, keyCPUMode.String("user"))),
		sys:   metric.WithAttributeSet(w.attrSet(r, p, keyCPUMode.String("system"))),
		conns: metric.WithAttributeSet(w.attrSet(p)),
	}
}

func (w *Watcher) register(m metric.Meter) error {
	var errs []error
	i := &w.inst
	ig := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	fg := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, err := m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	i.count = ig("gunicorn.worker.count", "{worker}", "Gunicorn workers now, by state (busy: holding an accepted connection; sync workers only)")
	var err error
	i.busyTime, err = m.Float64ObservableCounter("gunicorn.worker.busy_time", metric.WithUnit("s"),
		metric.WithDescription("Worker-seconds Gunicorn's workers spent busy, summed over samples"))
	errs = append(errs, err)
	i.ageMax = fg("gunicorn.worker.request.age.max", "s", "Longest time any busy worker has been on its current request")
	i.connections = ig("gunicorn.worker.connections", "{connection}", "Connections a gthread or async worker holds")
	i.restarts, err = m.Int64ObservableCounter("gunicorn.worker.restarts", metric.WithUnit("{worker}"),
		metric.WithDescription("Workers that exited and were replaced since the watch began"))
	errs = append(errs, err)
	i.timeout = fg("gunicorn.worker.timeout", "s", "Gunicorn's --timeout: the master kills a worker silent that long (on one request)")
	i.cpu, err = m.Float64ObservableCounter("gunicorn.process.cpu.time", metric.WithUnit("s"),
		metric.WithDescription("CPU time of Gunicorn's master and workers"))
	errs = append(errs, err)
	i.memory = ig("gunicorn.process.memory.usage", "By", "Resident memory of Gunicorn's master and workers")
	i.uptime = fg("gunicorn.process.uptime", "s", "Time since Gunicorn's master or worker started")
	i.backlog = ig("gunicorn.listen.backlog", "{connection}", "Connections waiting to be accepted on a Gunicorn listener")
	i.limit = ig("gunicorn.listen.backlog.limit", "{connection}", "The most connections a Gunicorn listener's accept queue holds")
	i.up = ig("gunicorn.up", "", "1 while the Gunicorn master runs, 0 when it is gone")
	i.errors, err = m.Int64ObservableCounter("gunicorn.watch.errors", metric.WithUnit("{error}"),
		metric.WithDescription("What the Gunicorn watcher failed to read, by reason"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("procwatch: creating instruments: %w", err)
	}
	w.reg, err = m.RegisterCallback(w.observe,
		i.count, i.busyTime, i.ageMax, i.connections, i.restarts, i.timeout, i.cpu,
		i.memory, i.uptime, i.backlog, i.limit, i.up, i.errors)
	if err != nil {
		return fmt.Errorf("procwatch: registering the callback: %w", err)
	}
	return nil
}

// observe reports the last pass's figures.
func (w *Watcher) observe(_ context.Context, o metric.Observer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, c, s := &w.inst, &w.opts, &w.snap
	up := int64(0)
	if s.up {
		up = 1
	}
	o.ObserveInt64(i.up, up, c.baseOpt)
	o.ObserveFloat64(i.busyTime, w.busyTime, c.baseOpt)
	o.ObserveInt64(i.restarts, w.restarts, c.baseOpt)
	for r, n := range w.errs {
		if n > 0 {
			o.ObserveInt64(i.errors, int64(n), c.reasonOpts[r])
		}
	}
	if !s.up {
		return nil
	}
	if s.stateKnown {
		o.ObserveInt64(i.count, s.busy, c.busyOpt)
		o.ObserveInt64(i.count, s.idle, c.idleOpt)
	} else {
		o.ObserveInt64(i.count, s.workers, c.baseOpt)
	}
	if s.ageKnown {
		o.ObserveFloat64(i.ageMax, s.ageMax, c.baseOpt)
	}
	if s.timeoutKnown {
		o.ObserveFloat64(i.timeout, s.timeout, c.baseOpt)
	}
	for k := range s.procs {
		p := &s.procs[k]
		o.ObserveFloat64(i.cpu, p.user, p.opts.user)
		o.ObserveFloat64(i.cpu, p.sys, p.opts.sys)
		o.ObserveInt64(i.memory, p.rss, p.opts.proc)
		o.ObserveFloat64(i.uptime, p.uptime, p.opts.proc)
		if p.connsKnown {
			o.ObserveInt64(i.connections, p.conns, p.opts.conns)
		}
	}
	for k := range s.listeners {
		l := &s.listeners[k]
		if l.queueKnown {
			o.ObserveInt64(i.backlog, l.queue, l.opt)
		}
		if l.limitKnown {
			o.ObserveInt64(i.limit, l.limit, l.opt)
		}
	}
	return nil
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
	if err := w.reg.Unregister(); err != nil {
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
	// BusyTime is the busy worker-seconds counted; Restarts the workers
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
	s := Stats{
		Passes: w.passes, Up: w.snap.up, MasterPID: w.snap.masterPID,
		Workers: int(w.snap.workers), BusyTime: w.busyTime, Restarts: w.restarts,
		Errors: map[string]uint64{},
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
