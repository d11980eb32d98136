package procwatch

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/asyncinst"
)

// The names of the watcher's instruments.
const (
	MetricWorkerCount       = "gunicorn.worker.count"
	MetricWorkerCapacity    = "gunicorn.worker.capacity"
	MetricWorkerBusy        = "gunicorn.worker.busy"
	MetricWorkerQueued      = "gunicorn.worker.queued"
	MetricWorkerBusyTime    = "gunicorn.worker.busy_time"
	MetricRequestAgeMax     = "gunicorn.worker.request.age.max"
	MetricWorkerConnections = "gunicorn.worker.connections"
	MetricWorkerRestarts    = "gunicorn.worker.restarts"
	MetricWorkerTimeout     = "gunicorn.worker.timeout"
	MetricProcessCPUTime    = "gunicorn.process.cpu.time"
	MetricProcessMemory     = "gunicorn.process.memory.usage"
	MetricProcessUptime     = "gunicorn.process.uptime"
	MetricListenBacklog     = "gunicorn.listen.backlog"
	MetricListenLimit       = "gunicorn.listen.backlog.limit"
	MetricUp                = "gunicorn.up"
	MetricWatchErrors       = "gunicorn.watch.errors"
)

// The attribute keys the watcher sets.
const (
	KeyWorkerState = attribute.Key("gunicorn.worker.state")
	KeyWorkerSlot  = attribute.Key("gunicorn.worker.slot")
	KeyRole        = attribute.Key("gunicorn.process.role")
	KeyPID         = attribute.Key("process.pid")
	KeyCPUMode     = attribute.Key("cpu.mode")
	KeyAddress     = attribute.Key("network.local.address")
	KeyPort        = attribute.Key("network.local.port")
	KeyTransport   = attribute.Key("network.transport")
	KeyErrorType   = attribute.Key("error.type")
)

var ownKeys = map[attribute.Key]bool{
	KeyWorkerState: true, KeyWorkerSlot: true, KeyRole: true, KeyPID: true, KeyCPUMode: true,
	KeyAddress: true, KeyPort: true, KeyTransport: true, KeyErrorType: true,
}

// reporter owns the instruments and the attribute sets of what they
// report. prepare runs in the pass (one at a time); observe is the
// instruments' callback, which reads a prepared snapshot.
type reporter struct {
	inst    instruments
	reg     metric.Registration
	withPID bool
	attrs   *attrState // the pass's (changed by setBase)
	initial *attrState // reported before the first pass; never changes

	// The options of the processes and listeners now seen, pruned at each
	// pass so that nothing of exited workers stays.
	procs   map[procKey]*procOpts
	listens map[listenKey]metric.MeasurementOption
	live    map[procKey]bool
}

// attrState is the base attributes (those of WithAttributes, and what the
// master's StatsD settings add) and the sets made of them alone.
type attrState struct {
	base             []attribute.KeyValue
	baseOpt          metric.MeasurementOption
	busyOpt, idleOpt metric.MeasurementOption
	reasonOpts       [numReasons]metric.MeasurementOption
}

// procKey names a process's series: the master, or a worker's slot (and
// pid, with WithPIDAttribute).
type procKey struct {
	master bool
	slot   int
	pid    int
}

// procOpts are the measurement options of one process, made once.
type procOpts struct {
	proc      metric.MeasurementOption // role, slot (pid)
	user, sys metric.MeasurementOption // the same and cpu.mode
}

type instruments struct {
	count, capacity, busy, queued metric.Int64ObservableGauge
	busyTime                      metric.Float64ObservableCounter
	ageMax                        metric.Float64ObservableGauge
	connections                   metric.Int64ObservableGauge
	restarts                      metric.Int64ObservableCounter
	timeout                       metric.Float64ObservableGauge
	cpu                           metric.Float64ObservableCounter
	memory                        metric.Int64ObservableGauge
	uptime                        metric.Float64ObservableGauge
	backlog, limit, up            metric.Int64ObservableGauge
	errors                        metric.Int64ObservableCounter
}

func newReporter(base []attribute.KeyValue, withPID bool) *reporter {
	r := &reporter{withPID: withPID,
		procs: map[procKey]*procOpts{}, listens: map[listenKey]metric.MeasurementOption{}, live: map[procKey]bool{}}
	r.setBase(base)
	r.initial = r.attrs
	return r
}

// setBase makes the sets of new base attributes, and forgets those made of
// the old ones. Snapshots already prepared keep theirs.
func (r *reporter) setBase(base []attribute.KeyValue) {
	a := &attrState{base: base}
	r.attrs = a
	a.baseOpt = metric.WithAttributeSet(attribute.NewSet(base...))
	a.busyOpt = metric.WithAttributeSet(r.set(KeyWorkerState.String("busy")))
	a.idleOpt = metric.WithAttributeSet(r.set(KeyWorkerState.String("idle")))
	for i, reason := range reasons {
		a.reasonOpts[i] = metric.WithAttributeSet(r.set(KeyErrorType.String(reason)))
	}
	clear(r.procs)
	clear(r.listens)
}

// set returns the set of the base attributes and kv.
func (r *reporter) set(kv ...attribute.KeyValue) attribute.Set {
	base := r.attrs.base
	all := make([]attribute.KeyValue, 0, len(base)+len(kv))
	all = append(append(all, base...), kv...)
	return attribute.NewSet(all...)
}

// register creates the instruments and registers observe as their callback.
func (r *reporter) register(m metric.Meter, observe metric.Callback) error {
	mk := &asyncinst.Maker{Meter: m}
	ig, fg, ic, fc := mk.Int64Gauge, mk.Float64Gauge, mk.Int64Counter, mk.Float64Counter
	i := &r.inst
	i.count = ig(MetricWorkerCount, "{worker}", "Gunicorn workers now (sync workers: by state, busy while holding an accepted connection)")
	i.capacity = ig(MetricWorkerCapacity, "{request}", "Requests Gunicorn's workers can serve at once: workers (sync), workers × threads (gthread), workers × worker_connections (async)")
	i.busy = ig(MetricWorkerBusy, "{request}", "Requests Gunicorn's workers are serving now")
	i.queued = ig(MetricWorkerQueued, "{request}", "Accepted requests waiting for a thread of a gthread worker")
	i.busyTime = fc(MetricWorkerBusyTime, "s", "Request-seconds Gunicorn's workers spent serving, summed over samples: rate over capacity is utilization")
	i.ageMax = fg(MetricRequestAgeMax, "s", "Longest time a request now in flight has been served")
	i.connections = ig(MetricWorkerConnections, "{connection}", "Connections a gthread or async worker holds")
	i.restarts = ic(MetricWorkerRestarts, "{worker}", "Workers that exited and were replaced since the watch began")
	i.timeout = fg(MetricWorkerTimeout, "s", "Gunicorn's timeout: the master kills a worker silent that long (a sync worker: on one request)")
	i.cpu = fc(MetricProcessCPUTime, "s", "CPU time of Gunicorn's master and workers")
	i.memory = ig(MetricProcessMemory, "By", "Resident memory of Gunicorn's master and workers")
	i.uptime = fg(MetricProcessUptime, "s", "Time since Gunicorn's master or worker started")
	i.backlog = ig(MetricListenBacklog, "{connection}", "Connections waiting to be accepted on a Gunicorn listener")
	i.limit = ig(MetricListenLimit, "{connection}", "The most connections a Gunicorn listener's accept queue holds")
	i.up = ig(MetricUp, "", "1 while the Gunicorn master runs, 0 when it is gone")
	i.errors = ic(MetricWatchErrors, "{error}", "What the Gunicorn watcher failed to read, by reason")
	if err := mk.Err(); err != nil {
		return fmt.Errorf("procwatch: creating instruments: %w", err)
	}
	var err error
	r.reg, err = m.RegisterCallback(observe,
		i.count, i.capacity, i.busy, i.queued, i.busyTime, i.ageMax, i.connections, i.restarts, i.timeout,
		i.cpu, i.memory, i.uptime, i.backlog, i.limit, i.up, i.errors)
	if err != nil {
		return fmt.Errorf("procwatch: registering the callback: %w", err)
	}
	return nil
}

// prepare gives the snapshot's processes and listeners their measurement
// options, made once for each and forgotten once it is gone.
func (r *reporter) prepare(s *snapshot) {
	clear(r.live)
	for i := range s.procs {
		p := &s.procs[i]
		k := procKey{master: p.master, slot: p.slot}
		if r.withPID || p.master {
			k.pid = p.id.pid
		}
		r.live[k] = true
		o := r.procs[k]
		if o == nil {
			o = r.newProcOpts(k)
			r.procs[k] = o
		}
		p.opts = o
	}
	for k := range r.procs {
		if !r.live[k] {
			delete(r.procs, k)
		}
	}
	for k := range r.listens {
		found := false
		for _, l := range s.listeners {
			if l.key == k {
				found = true
				break
			}
		}
		if !found {
			delete(r.listens, k)
		}
	}
	s.listenOpts = s.listenOpts[:0]
	for _, l := range s.listeners {
		opt, ok := r.listens[l.key]
		if !ok {
			opt = r.listenOpt(l.key)
			r.listens[l.key] = opt
		}
		s.listenOpts = append(s.listenOpts, opt)
	}
	s.attrs = r.attrs
}

func (r *reporter) newProcOpts(k procKey) *procOpts {
	kv := make([]attribute.KeyValue, 0, 4)
	if k.master {
		kv = append(kv, KeyRole.String("master"), KeyPID.Int(k.pid))
	} else {
		kv = append(kv, KeyRole.String("worker"), KeyWorkerSlot.Int(k.slot))
		if r.withPID {
			kv = append(kv, KeyPID.Int(k.pid))
		}
	}
	n := len(kv)
	return &procOpts{
		proc: metric.WithAttributeSet(r.set(kv...)),
		user: metric.WithAttributeSet(r.set(append(kv[:n:n], KeyCPUMode.String("user"))...)),
		sys:  metric.WithAttributeSet(r.set(append(kv[:n:n], KeyCPUMode.String("system"))...)),
	}
}

// listenOpt makes the measurement option of a listener: tcp with its address
// and port, or unix with its path.
func (r *reporter) listenOpt(k listenKey) metric.MeasurementOption {
	if k.unix {
		return metric.WithAttributeSet(r.set(KeyTransport.String("unix"), KeyAddress.String(k.path)))
	}
	return metric.WithAttributeSet(r.set(KeyTransport.String("tcp"),
		KeyAddress.String(k.addr.Addr().String()), KeyPort.Int(int(k.addr.Port()))))
}

// observe reports a prepared snapshot and the error counts.
func (r *reporter) observe(o metric.Observer, s *snapshot, errs *[numReasons]uint64) {
	i, a := &r.inst, s.attrs
	if a == nil {
		a = r.initial // no pass yet
	}
	up := int64(0)
	if s.up {
		up = 1
	}
	o.ObserveInt64(i.up, up, a.baseOpt)
	o.ObserveFloat64(i.busyTime, s.busyTime, a.baseOpt)
	o.ObserveInt64(i.restarts, s.restarts, a.baseOpt)
	for k, n := range errs {
		if n > 0 {
			o.ObserveInt64(i.errors, int64(n), a.reasonOpts[k])
		}
	}
	if !s.up {
		return
	}
	if s.stateKnown {
		o.ObserveInt64(i.count, s.busyWorkers, a.busyOpt)
		o.ObserveInt64(i.count, s.idleWorkers, a.idleOpt)
	} else {
		o.ObserveInt64(i.count, s.workers, a.baseOpt)
	}
	if s.capacityKnown {
		o.ObserveInt64(i.capacity, s.capacity, a.baseOpt)
	}
	if s.busyKnown {
		o.ObserveInt64(i.busy, s.busy, a.baseOpt)
	}
	if s.queuedKnown {
		o.ObserveInt64(i.queued, s.queued, a.baseOpt)
	}
	if s.ageKnown {
		o.ObserveFloat64(i.ageMax, s.ageMax, a.baseOpt)
	}
	if s.timeoutKnown {
		o.ObserveFloat64(i.timeout, s.timeout, a.baseOpt)
	}
	for k := range s.procs {
		p := &s.procs[k]
		if p.opts == nil {
			continue
		}
		o.ObserveFloat64(i.cpu, p.user, p.opts.user)
		o.ObserveFloat64(i.cpu, p.sys, p.opts.sys)
		o.ObserveInt64(i.memory, p.rss, p.opts.proc)
		if p.uptimeOK {
			o.ObserveFloat64(i.uptime, p.uptime, p.opts.proc)
		}
		if p.connsKnown {
			o.ObserveInt64(i.connections, p.conns, p.opts.proc)
		}
	}
	for k := range s.listeners {
		l := &s.listeners[k]
		opt := s.listenOpts[k]
		if l.queueKnown {
			o.ObserveInt64(i.backlog, l.queue, opt)
		}
		if l.limitKnown {
			o.ObserveInt64(i.limit, l.limit, opt)
		}
	}
}

// unregister removes the callback.
func (r *reporter) unregister() error {
	if r.reg == nil {
		return nil
	}
	return r.reg.Unregister()
}
