package procwatch

import (
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// restartWindow is how long after a worker exits a new worker counts as its
// replacement (Gunicorn's arbiter replaces a worker within its loop, at most
// a second later, plus the new worker's start).
const restartWindow = 5 * time.Second

// userHZ is the unit of CPU times and start times in /proc/PID/stat: 100 on
// every Linux (the kernel's USER_HZ; procfs assumes the same).
const userHZ = 100

// explicit are the settings the program gave (WithWorkerClass, WithThreads,
// WithWorkerConnections, WithTimeout), which override what the master shows.
type explicit struct {
	class       string
	threads     int
	workerConns int
	timeout     int // seconds; -1 when not given
}

// tracker turns the reader's observations into figures: the worker class
// and the settings that size the pool, busy and queued requests, busy
// time, request ages, restarts and the workers' slots. It is pure: it reads
// nothing but its observations, so it builds and is tested on any system.
type tracker struct {
	opt explicit
	log *slog.Logger

	master procID
	res    resolved
	prevAt time.Time
	prevUp bool

	workers  map[int]uint64 // pid → start time at the previous pass
	pending  []time.Time    // exits not yet matched with a new worker
	restarts int64
	busyTime float64

	beats  map[procID]beat      // heartbeat cadence of sync workers
	since  map[uint64]time.Time // an active connection (by inode) → first seen active
	seen   map[uint64]bool      // the active connections of this pass
	active []uint64             // a worker's active connections, a buffer
	slots  map[procID]int       // a worker's slot
	taken  []bool               // slots in use
	// maxThreads is the most threads seen in one worker less its main
	// thread: gthread's pool grows a thread per request in flight, up to
	// --threads.
	maxThreads int
}

// resolved is what the tracker knows of the master's settings, each with
// its source.
type resolved struct {
	class       fact[string]
	kind        Kind
	threads     fact[int]
	workerConns fact[int]
	timeout     fact[int]
	// beat is the longest interval seen between two heartbeats of an idle
	// sync worker: half its --timeout.
	beat   time.Duration
	logged resolvedKey
}

// resolvedKey is what was last logged.
type resolvedKey struct {
	class, classSrc, threadsSrc, timeoutSrc string
	threads, timeout                        int
}

// beat follows one sync worker's heartbeats.
type beat struct {
	last     time.Time     // the heartbeat's change time at the previous pass
	busy     bool          // the worker was busy since last
	interval time.Duration // the previous idle interval, 0 when none
}

// snapshot is the figures of one pass, what the instruments report.
type snapshot struct {
	up        bool
	masterPID int
	kind      Kind
	// workers is the number of HTTP workers.
	workers int64
	// stateKnown: busyWorkers and idleWorkers are known (sync workers
	// whose fds were read).
	stateKnown               bool
	busyWorkers, idleWorkers int64
	// capacity, busy and queued are in requests; each is reported only
	// when known.
	capacity, busy, queued           int64
	capacityKnown, busyKnown         bool
	queuedKnown                      bool
	ageMax                           float64
	ageKnown                         bool
	timeout                          float64
	timeoutKnown                     bool
	busyTime                         float64 // cumulative request-seconds
	restarts                         int64   // cumulative
	procs                            []procPoint
	listeners                        []listenerObs
	listenOpts                       []metric.MeasurementOption // the listeners', made by the reporter
	attrs                            *attrState                 // the base attributes the reporter made it with
	threads, workerConns             int                        // the pool's sizes, for Stats
	classSrc, threadsSrc, timeoutSrc string
	class                            string
}

// procPoint is one process's figures.
type procPoint struct {
	id         procID
	master     bool
	slot       int // a worker's slot
	user, sys  float64
	rss        int64
	uptime     float64
	uptimeOK   bool
	conns      int64
	connsKnown bool // a worker of a class other than sync, whose fds were read
	opts       *procOpts
}

func newTracker(opt explicit, log *slog.Logger) *tracker {
	return &tracker{
		opt: opt, log: log,
		workers: map[int]uint64{}, beats: map[procID]beat{},
		since: map[uint64]time.Time{}, seen: map[uint64]bool{}, slots: map[procID]int{},
	}
}

// update takes one observation and fills snap (whose slices it reuses).
// bootTime is the system's boot time in seconds since the epoch (0 when
// unknown), for the processes' uptimes.
func (t *tracker) update(o *observation, bootTime float64, snap *snapshot) {
	*snap = snapshot{procs: snap.procs[:0], listeners: snap.listeners[:0], listenOpts: snap.listenOpts[:0],
		busyTime: t.busyTime, restarts: t.restarts}
	if o.master.id.pid == 0 {
		t.down()
		snap.busyTime, snap.restarts = t.busyTime, t.restarts
		return
	}
	if o.newMaster || o.master.id != t.master {
		t.newMaster(o.master.id)
	}
	now := o.at
	t.assignSlots(o.workers)
	for i := range o.workers {
		t.followBeat(&o.workers[i], o.workers[i].conns > 0)
	}
	t.resolve(o)
	r := &t.res
	snap.up, snap.masterPID, snap.kind = true, o.master.id.pid, r.kind
	snap.class, snap.classSrc = r.class.v, r.class.src
	snap.threads, snap.threadsSrc = r.threads.v, r.threads.src
	snap.workers = int64(len(o.workers))
	snap.timeoutSrc = r.timeout.src
	if r.timeout.known() && r.timeout.v > 0 {
		snap.timeout, snap.timeoutKnown = float64(r.timeout.v), true
	}

	snap.procs = append(snap.procs, t.procPoint(&o.master, true, 0, bootTime, now))
	clear(t.seen)
	switch r.kind {
	case KindSync:
		t.syncFigures(o, snap)
	case KindThreaded, KindAsync:
		t.pooledFigures(o, snap)
	}
	for i := range o.workers {
		p := &o.workers[i]
		pt := t.procPoint(p, false, t.slots[p.id], bootTime, now)
		if r.kind != KindSync && p.fdsRead {
			pt.conns, pt.connsKnown = int64(p.conns), true
		}
		snap.procs = append(snap.procs, pt)
	}
	for ino := range t.since {
		if !t.seen[ino] {
			delete(t.since, ino)
		}
	}
	snap.listeners = append(snap.listeners, o.listeners...)

	if t.prevUp && !t.prevAt.IsZero() && snap.busyKnown {
		t.busyTime += float64(snap.busy) * now.Sub(t.prevAt).Seconds()
	}
	t.restarts += t.countRestarts(o, now)
	snap.busyTime, snap.restarts = t.busyTime, t.restarts
	t.prevAt, t.prevUp = now, true
}

// syncFigures: a sync worker is busy while it holds an accepted connection;
// its request's age is the time since its last heartbeat.
func (t *tracker) syncFigures(o *observation, snap *snapshot) {
	snap.capacity, snap.capacityKnown = int64(len(o.workers)), true
	if !o.fdsKnown {
		return
	}
	snap.stateKnown, snap.busyKnown, snap.ageKnown = true, true, true
	for i := range o.workers {
		p := &o.workers[i]
		busy := p.conns > 0
		if busy {
			snap.busyWorkers++
			if !p.heartbeat.IsZero() {
				snap.ageMax = max(snap.ageMax, o.at.Sub(p.heartbeat).Seconds())
			}
		} else {
			snap.idleWorkers++
		}
	}
	snap.busy = snap.busyWorkers
	snap.ageMax = max(0, snap.ageMax)
}

// followBeat measures the interval between two heartbeats of a sync worker
// that stayed idle between them: the worker touches its heartbeat file
// every timeout/2 while it waits for a connection (and after each request,
// which is why a busy spell voids the interval). Two such intervals in a row
// that agree make the timeout.
func (t *tracker) followBeat(p *procObs, busy bool) {
	if p.heartbeat.IsZero() {
		return
	}
	b, ok := t.beats[p.id]
	if ok && !p.heartbeat.Equal(b.last) {
		// Two intervals in a row within 5% of each other: the idle
		// cadence (one shortened by a request missed between passes
		// would not repeat).
		if d := p.heartbeat.Sub(b.last); !b.busy && !busy {
			if b.interval > 0 && math.Abs(float64(d-b.interval)) <= 0.05*float64(b.interval) {
				t.res.beat = max(t.res.beat, d)
			}
			b.interval = d
		} else {
			b.interval = 0
		}
		b.busy = false
	}
	b.last = p.heartbeat
	b.busy = b.busy || busy || !ok
	t.beats[p.id] = b
}

// pooledFigures: the requests a gthread or async worker is on are its
// accepted connections that the signal of its class shows active (see
// signalOf); a gthread worker serves threads of them at once, the rest wait
// for a thread. A request's age is the time since its connection was first
// seen active.
func (t *tracker) pooledFigures(o *observation, snap *snapshot) {
	r := &t.res
	per := r.workerConns.v
	if r.kind == KindThreaded {
		per = max(1, r.threads.v)
	}
	snap.capacity, snap.capacityKnown = int64(len(o.workers)*per), true
	sig := signalOf(r.kind, r.class.v)
	known := o.fdsKnown
	for i := range o.workers {
		p := &o.workers[i]
		switch sig {
		case signalParked:
			known = known && p.parkedKnown
		case signalBoth:
			known = known && (p.parkedKnown || p.tcpKnown)
		case signalTCP:
			known = known && p.tcpKnown
		}
	}
	if !known {
		return
	}
	snap.busyKnown, snap.ageKnown = true, true
	snap.queuedKnown = r.kind == KindThreaded
	for i := range o.workers {
		p := &o.workers[i]
		t.active = t.active[:0]
		if sig != signalTCP && p.parkedKnown {
			t.active = append(t.active, p.unparked...)
		}
		if sig != signalParked && p.tcpKnown {
			for _, ino := range p.inFlight {
				if !slices.Contains(t.active, ino) {
					t.active = append(t.active, ino)
				}
			}
		}
		busy := len(t.active)
		if r.kind == KindThreaded {
			busy = min(busy, per)
			snap.queued += int64(len(t.active) - busy)
		}
		snap.busy += int64(busy)
		for _, ino := range t.active {
			t.seen[ino] = true
			first, ok := t.since[ino]
			if !ok {
				first = o.at
				t.since[ino] = first
			}
			snap.ageMax = max(snap.ageMax, o.at.Sub(first).Seconds())
		}
	}
}

// signal is what tells a pooled worker's requests in flight.
type signal uint8

const (
	// signalParked: the accepted connections not registered in the
	// worker's epoll instances. Exact for gthread (its poller holds the
	// idle keep-alive connections and the listener; a connection leaves
	// it while served or waiting for a thread) and eventlet (only the
	// sockets it waits to read are registered).
	signalParked signal = iota
	// signalBoth: those, and the connections whose TCP information shows
	// a request in flight. gevent's libev does not unregister a socket
	// when a request starts, so the epoll list alone is a lower bound.
	signalBoth
	// signalTCP: the connections whose TCP information shows a request in
	// flight (last data received newer than the last sent). uvicorn's
	// asyncio loop keeps every socket registered, so epoll tells nothing;
	// a unix-socket bind has no TCP information, so nothing tells.
	signalTCP
)

// signalOf is the signal of a worker class.
func signalOf(kind Kind, class string) signal {
	if kind == KindThreaded {
		return signalParked
	}
	c := strings.ToLower(strings.TrimPrefix(class, "egg:gunicorn#"))
	switch {
	case c == "eventlet" || strings.HasPrefix(c, "gunicorn.workers.geventlet."):
		return signalParked
	case strings.HasPrefix(c, "gevent") || strings.HasPrefix(c, "gunicorn.workers.ggevent."):
		return signalBoth
	}
	return signalTCP
}

// wantsBeats says whether the next pass should read the heartbeat of every
// worker, idle ones too: while a sync worker's timeout is not known but by
// its cadence.
func (t *tracker) wantsBeats() bool {
	return t.res.kind == KindSync && t.res.timeout.src == sourceDefault
}

// wantsTCP says whether the next pass should read the TCP information of the
// workers' connections: for the classes whose signal needs it.
func (t *tracker) wantsTCP() bool {
	return t.res.kind == KindAsync && signalOf(t.res.kind, t.res.class.v) != signalParked
}

// resolve decides the worker class, threads, worker connections and
// timeout: the program's options first, then the master's settings (its
// arguments, GUNICORN_CMD_ARGS, its configuration file), then what the
// workers show, then Gunicorn's defaults. It logs each change of what it
// decided, with the sources.
func (t *tracker) resolve(o *observation) {
	r := &t.res
	s := o.settings
	if s == nil {
		s = &settings{}
	}
	pick := func(opt int, f fact[int]) fact[int] {
		if opt > 0 {
			return fact[int]{opt, sourceOption}
		}
		return f
	}
	r.threads = pick(t.opt.threads, s.threads)
	r.workerConns = pick(t.opt.workerConns, s.workerConns)
	if !r.workerConns.known() {
		r.workerConns = fact[int]{gunicornDefaultConnections, sourceDefault}
	}
	switch {
	case t.opt.class != "":
		r.class = fact[string]{t.opt.class, sourceOption}
	case s.class.known():
		r.class = s.class
	default:
		r.class = fact[string]{}
	}
	r.kind = KindUnknown
	if r.class.known() {
		r.kind = kindOf(r.class.v, r.threads.v)
		if r.kind == KindThreaded && kindOf(r.class.v, 0) == KindSync {
			r.class.v = "gthread" // Gunicorn runs gthread for sync with --threads above 1
		}
	} else if r.threads.v > 1 {
		r.class, r.kind = fact[string]{"gthread", r.threads.src}, KindThreaded
	}
	if r.kind == KindUnknown {
		if class, kind, ok := classFromEvidence(o.master.evidence, o.workers); ok {
			r.class, r.kind = fact[string]{class, sourceWorkers}, kind
		} else {
			// Nothing to tell from yet: Gunicorn's default until a worker
			// shows otherwise.
			r.class, r.kind = fact[string]{"sync", sourceDefault}, KindSync
		}
	}
	if r.kind == KindThreaded && !r.threads.known() {
		for i := range o.workers {
			t.maxThreads = max(t.maxThreads, o.workers[i].evidence.threads-1)
		}
		r.threads = fact[int]{max(1, t.maxThreads), sourceWorkers}
	}

	switch {
	case t.opt.timeout >= 0:
		r.timeout = fact[int]{t.opt.timeout, sourceOption}
	case s.timeout.known():
		r.timeout = s.timeout
	case r.kind == KindSync && r.beat > 0:
		// A beat every 0.5 s is --timeout 1, or --timeout 0 (no timeout:
		// the worker then waits 0.5 s at a time): not told apart, so
		// reported as none.
		t := int(math.Round(2 * r.beat.Seconds()))
		if t <= 1 {
			t = 0
		}
		r.timeout = fact[int]{t, sourceWorkers}
	default:
		r.timeout = fact[int]{gunicornDefaultTimeout, sourceDefault}
	}

	k := resolvedKey{r.class.v, r.class.src, r.threads.src, r.timeout.src, r.threads.v, r.timeout.v}
	if k != r.logged {
		r.logged = k
		args := []any{"pid", o.master.id.pid, "worker_class", r.class.v, "worker_class_source", r.class.src,
			"kind", r.kind.String()}
		switch r.kind {
		case KindThreaded:
			args = append(args, "threads", r.threads.v, "threads_source", r.threads.src)
		case KindAsync:
			args = append(args, "worker_connections", r.workerConns.v, "worker_connections_source", r.workerConns.src)
		}
		args = append(args, "timeout", r.timeout.v, "timeout_source", r.timeout.src)
		if s.config != "" {
			args = append(args, "config_file", s.config)
		}
		t.log.Info("procwatch: watching the Gunicorn master", args...)
	}
}

// newMaster forgets what belongs to the previous master. Workers of another
// master are not counted as restarts.
func (t *tracker) newMaster(id procID) {
	t.master = id
	t.res = resolved{}
	t.prevUp = false
	t.maxThreads = 0
	clear(t.workers)
	clear(t.beats)
	clear(t.since)
	clear(t.slots)
	t.taken = t.taken[:0]
	t.pending = t.pending[:0]
}

// down records a pass that found no master.
func (t *tracker) down() {
	if t.prevUp {
		t.log.Info("procwatch: the Gunicorn master is gone", "pid", t.master.pid)
	}
	t.newMaster(procID{})
}

// assignSlots gives each new worker the lowest slot no live worker has, and
// frees the slots of workers gone.
func (t *tracker) assignSlots(workers []procObs) {
	for id, slot := range t.slots {
		alive := false
		for i := range workers {
			if workers[i].id == id {
				alive = true
				break
			}
		}
		if !alive {
			delete(t.slots, id)
			t.taken[slot] = false
		}
	}
	for i := range workers {
		id := workers[i].id
		if _, ok := t.slots[id]; ok {
			continue
		}
		slot := 0
		for slot < len(t.taken) && t.taken[slot] {
			slot++
		}
		if slot == len(t.taken) {
			t.taken = append(t.taken, false)
		}
		t.taken[slot] = true
		t.slots[id] = slot
	}
	for id := range t.beats {
		if _, ok := t.slots[id]; !ok {
			delete(t.beats, id)
		}
	}
}

func (t *tracker) procPoint(p *procObs, master bool, slot int, bootTime float64, now time.Time) procPoint {
	pt := procPoint{id: p.id, master: master, slot: slot,
		user: float64(p.utime) / userHZ, sys: float64(p.stime) / userHZ, rss: p.rss}
	if bootTime > 0 {
		pt.uptime = max(0, float64(now.UnixNano())/1e9-(bootTime+float64(p.id.start)/userHZ))
		pt.uptimeOK = true
	}
	return pt
}

// countRestarts compares the workers of this pass with the previous pass's:
// a worker that exited and a new one that appeared within restartWindow of
// it make one restart. Workers added by TTIN or removed by TTOU are not
// matched (unless one of each happens within the window).
func (t *tracker) countRestarts(o *observation, now time.Time) int64 {
	var restarts int64
	newOnes := 0
	for i := range o.workers {
		p := &o.workers[i]
		if start, ok := t.workers[p.id.pid]; !ok || start != p.id.start {
			newOnes++
		}
	}
	for pid, start := range t.workers {
		found := false
		for i := range o.workers {
			if o.workers[i].id == (procID{pid, start}) {
				found = true
				break
			}
		}
		if !found {
			t.pending = append(t.pending, now)
		}
	}
	if !t.prevUp {
		newOnes = 0 // the first pass of a master: its workers are not new
	}
	k := 0
	for _, at := range t.pending {
		if now.Sub(at) <= restartWindow {
			t.pending[k] = at
			k++
		}
	}
	t.pending = t.pending[:k]
	for newOnes > 0 && len(t.pending) > 0 {
		restarts++
		newOnes--
		t.pending = t.pending[1:]
	}
	clear(t.workers)
	for i := range o.workers {
		t.workers[o.workers[i].id.pid] = o.workers[i].id.start
	}
	return restarts
}
