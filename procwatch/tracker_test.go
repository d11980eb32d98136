package procwatch

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

// worker is an observed worker: pid, its accepted connections, and those
// not in its epoll list (unparked) and in flight by TCP (nil: unknown).
func worker(pid, conns int, unparked, inFlight []uint64) procObs {
	p := procObs{id: procID{pid, uint64(pid)}, fdsRead: true, conns: conns,
		unparked: unparked, parkedKnown: unparked != nil, inFlight: inFlight, tcpKnown: inFlight != nil}
	p.evidence.read = true
	return p
}

func obs(at time.Time, s *settings, workers ...procObs) *observation {
	return &observation{at: at, master: procObs{id: procID{100, 1}, fdsRead: true}, settings: s,
		workers: workers, fdsKnown: true}
}

func quietTracker(opt explicit) *tracker {
	return newTracker(opt, slog.New(slog.DiscardHandler))
}

func noOpt() explicit { return explicit{timeout: -1} }

// TestResolveOrder: the program's options, then the master's settings
// (which merge the file, GUNICORN_CMD_ARGS and the command line), then the
// workers' evidence, then Gunicorn's defaults.
func TestResolveOrder(t *testing.T) {
	gthreadWorker := worker(101, 0, []uint64{}, nil)
	gthreadWorker.evidence = evidence{epoll: true, threads: 3, read: true}
	geventMaster := procObs{id: procID{100, 1}, fdsRead: true, evidence: evidence{libs: libGevent | libGreenlet, read: true}}
	for _, c := range []struct {
		name            string
		opt             explicit
		set             settings
		master          *procObs
		workers         []procObs
		class, classSrc string
		kind            Kind
		threads         int
		threadsSrc      string
		timeout         int
		timeoutSrc      string
		capacity        int64
	}{
		{name: "nothing known", workers: []procObs{worker(101, 0, nil, nil)},
			class: "sync", classSrc: sourceWorkers, kind: KindSync, timeout: 30, timeoutSrc: sourceDefault, capacity: 1},
		{name: "no worker yet", class: "sync", classSrc: sourceDefault, kind: KindSync, timeout: 30, timeoutSrc: sourceDefault},
		{name: "threads make gthread", set: settings{threads: fact[int]{4, sourceEnv}}, workers: []procObs{worker(101, 0, []uint64{}, nil)},
			class: "gthread", classSrc: sourceEnv, kind: KindThreaded, threads: 4, threadsSrc: sourceEnv, timeout: 30, timeoutSrc: sourceDefault, capacity: 4},
		{name: "sync with threads runs gthread", set: settings{class: fact[string]{"sync", sourceArgs}, threads: fact[int]{3, sourceArgs}},
			workers: []procObs{worker(101, 0, []uint64{}, nil)},
			class:   "gthread", classSrc: sourceArgs, kind: KindThreaded, threads: 3, threadsSrc: sourceArgs, timeout: 30, timeoutSrc: sourceDefault, capacity: 3},
		{name: "config file", set: settings{class: fact[string]{"gthread", sourceConfig}, threads: fact[int]{2, sourceConfig}, timeout: fact[int]{10, sourceConfig}},
			workers: []procObs{worker(101, 0, []uint64{}, nil), worker(102, 0, []uint64{}, nil)},
			class:   "gthread", classSrc: sourceConfig, kind: KindThreaded, threads: 2, threadsSrc: sourceConfig, timeout: 10, timeoutSrc: sourceConfig, capacity: 4},
		{name: "options win", opt: explicit{class: "gthread", threads: 8, timeout: 0},
			set:     settings{class: fact[string]{"sync", sourceArgs}, threads: fact[int]{2, sourceArgs}, timeout: fact[int]{10, sourceArgs}},
			workers: []procObs{worker(101, 0, []uint64{}, nil)},
			class:   "gthread", classSrc: sourceOption, kind: KindThreaded, threads: 8, threadsSrc: sourceOption, timeout: 0, timeoutSrc: sourceOption, capacity: 8},
		{name: "epoll in a worker: gthread, threads seen", workers: []procObs{gthreadWorker},
			class: "gthread", classSrc: sourceWorkers, kind: KindThreaded, threads: 2, threadsSrc: sourceWorkers, timeout: 30, timeoutSrc: sourceDefault, capacity: 2},
		{name: "gevent's libraries in the master", master: &geventMaster, workers: []procObs{worker(101, 0, []uint64{}, []uint64{})},
			class: "gevent", classSrc: sourceWorkers, kind: KindAsync, timeout: 30, timeoutSrc: sourceDefault, capacity: 1000},
		{name: "custom class path, evidence decides", set: settings{class: fact[string]{"myapp.Worker", sourceArgs}}, master: &geventMaster,
			workers: []procObs{worker(101, 0, []uint64{}, []uint64{})},
			class:   "gevent", classSrc: sourceWorkers, kind: KindAsync, timeout: 30, timeoutSrc: sourceDefault, capacity: 1000},
		{name: "worker connections", set: settings{class: fact[string]{"gevent", sourceArgs}, workerConns: fact[int]{50, sourceArgs}},
			workers: []procObs{worker(101, 0, []uint64{}, []uint64{}), worker(102, 0, []uint64{}, []uint64{})},
			class:   "gevent", classSrc: sourceArgs, kind: KindAsync, timeout: 30, timeoutSrc: sourceDefault, capacity: 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt
			if opt == (explicit{}) {
				opt = noOpt()
			}
			tr := quietTracker(opt)
			o := obs(t0, &c.set, c.workers...)
			if c.master != nil {
				o.master = *c.master
			}
			var s snapshot
			tr.update(o, 0, &s)
			if s.class != c.class || s.classSrc != c.classSrc || s.kind != c.kind {
				t.Errorf("class %q from %q (%v), want %q from %q (%v)", s.class, s.classSrc, s.kind, c.class, c.classSrc, c.kind)
			}
			if c.kind == KindThreaded && (s.threads != c.threads || s.threadsSrc != c.threadsSrc) {
				t.Errorf("threads %d from %q, want %d from %q", s.threads, s.threadsSrc, c.threads, c.threadsSrc)
			}
			if got := tr.res.timeout; got.v != c.timeout || got.src != c.timeoutSrc {
				t.Errorf("timeout %+v, want %d from %q", got, c.timeout, c.timeoutSrc)
			}
			if s.timeoutKnown != (c.timeout > 0) {
				t.Errorf("timeout reported %v with timeout %d", s.timeoutKnown, c.timeout)
			}
			if s.capacity != c.capacity {
				t.Errorf("capacity %d, want %d", s.capacity, c.capacity)
			}
		})
	}
}

// TestPooledBusy: the signal of each class. gthread: the connections not
// in the epoll list, threads of them busy, the rest queued; eventlet the
// same without a queue; gevent: those and the ones in flight by TCP; uvicorn:
// TCP alone, unknown when a worker's connections have none (a unix bind).
func TestPooledBusy(t *testing.T) {
	for _, c := range []struct {
		name         string
		class        string
		threads      int
		workers      []procObs
		busy, queued int64
		known        bool
	}{
		{"gthread", "gthread", 2, []procObs{worker(101, 5, []uint64{1, 2, 3}, nil), worker(102, 1, []uint64{}, nil)}, 2, 1, true},
		{"gthread, one epoll unread", "gthread", 2, []procObs{worker(101, 5, []uint64{1, 2, 3}, nil), worker(102, 1, nil, nil)}, 0, 0, false},
		{"eventlet", "eventlet", 0, []procObs{worker(101, 5, []uint64{1, 2, 3}, nil)}, 3, 0, true},
		{"gevent, union", "gevent", 0, []procObs{worker(101, 5, []uint64{1}, []uint64{1, 2, 4})}, 3, 0, true},
		{"gevent, epoll only", "gevent", 0, []procObs{worker(101, 5, []uint64{1}, nil)}, 1, 0, true},
		{"uvicorn", "uvicorn.workers.UvicornWorker", 0, []procObs{worker(101, 5, []uint64{1, 2, 3, 4, 5}, []uint64{2})}, 1, 0, true},
		{"uvicorn on a unix socket", "uvicorn.workers.UvicornWorker", 0, []procObs{worker(101, 5, []uint64{1, 2, 3, 4, 5}, nil)}, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := quietTracker(noOpt())
			set := &settings{class: fact[string]{c.class, sourceArgs}}
			if c.threads > 0 {
				set.threads = fact[int]{c.threads, sourceArgs}
			}
			var s snapshot
			tr.update(obs(t0, set, c.workers...), 0, &s)
			if s.busyKnown != c.known || s.busy != c.busy || s.queued != c.queued {
				t.Errorf("busy %d (known %v), queued %d; want %d (%v), %d", s.busy, s.busyKnown, s.queued, c.busy, c.known, c.queued)
			}
			if s.queuedKnown != (c.known && c.class == "gthread") {
				t.Errorf("queued reported %v", s.queuedKnown)
			}
			if c.known && c.class != "gthread" && s.stateKnown {
				t.Error("busy/idle workers reported for a pooled class")
			}
			wantTCP := c.class != "gthread" && c.class != "eventlet"
			if tr.wantsTCP() != wantTCP {
				t.Errorf("wantsTCP %v, want %v", tr.wantsTCP(), wantTCP)
			}
		})
	}
}

// TestRequestAges: a pooled worker's request age is the time since its
// connection was first seen active; an ended one is forgotten; a sync
// worker's is the time since its heartbeat.
func TestRequestAges(t *testing.T) {
	tr := quietTracker(noOpt())
	set := &settings{class: fact[string]{"gthread", sourceArgs}, threads: fact[int]{4, sourceArgs}}
	var s snapshot
	tr.update(obs(t0, set, worker(101, 1, []uint64{7}, nil)), 0, &s)
	tr.update(obs(t0.Add(3*time.Second), set, worker(101, 2, []uint64{7, 8}, nil)), 0, &s)
	if s.ageMax != 3 || s.busy != 2 {
		t.Errorf("age %v, busy %d; want 3, 2", s.ageMax, s.busy)
	}
	if s.busyTime != 6 {
		t.Errorf("busy time %v, want 6 (a pass adds its busy requests × the time since the last)", s.busyTime)
	}
	tr.update(obs(t0.Add(4*time.Second), set, worker(101, 2, []uint64{8}, nil)), 0, &s)
	if s.ageMax != 1 || len(tr.since) != 1 {
		t.Errorf("age %v with %d kept, want 1 and 1", s.ageMax, len(tr.since))
	}
	if s.busyTime != 7 {
		t.Errorf("busy time %v, want 7 (1 request for 1 s more)", s.busyTime)
	}

	sync := quietTracker(noOpt())
	w := worker(101, 1, nil, nil)
	w.heartbeat = t0.Add(-7 * time.Second)
	sync.update(obs(t0, &settings{}, w, worker(102, 0, nil, nil)), 0, &s)
	if s.ageMax != 7 || s.busyWorkers != 1 || s.idleWorkers != 1 || !s.stateKnown {
		t.Errorf("sync: age %v, busy %d, idle %d", s.ageMax, s.busyWorkers, s.idleWorkers)
	}
}

// TestTimeoutFromCadence: an idle sync worker touches its heartbeat every
// timeout/2; a busy spell (after which it touches it at once) voids an
// interval, so the longest interval between two idle heartbeats makes the
// timeout.
func TestTimeoutFromCadence(t *testing.T) {
	tr := quietTracker(noOpt())
	var s snapshot
	at := func(pass time.Duration, beat time.Duration, conns int) {
		w := worker(101, conns, nil, nil)
		w.heartbeat = t0.Add(beat)
		tr.update(obs(t0.Add(pass), &settings{}, w), 0, &s)
	}
	at(0, 0, 0)
	if tr.res.timeout.src != sourceDefault {
		t.Fatalf("timeout %+v before any interval", tr.res.timeout)
	}
	at(time.Second, 0, 1)                                            // busy
	at(2*time.Second, 1500*time.Millisecond, 0)                      // touched after the request: voided
	at(7*time.Second, 1500*time.Millisecond, 0)                      // no beat yet
	at(7*time.Second+100*time.Millisecond, 6500*time.Millisecond, 0) // 5 s after the last
	if tr.res.timeout.src != sourceDefault {
		t.Fatalf("timeout %+v after one interval", tr.res.timeout)
	}
	at(9*time.Second, 9*time.Second, 0)   // 2.5 s: a request missed between passes
	at(14*time.Second, 14*time.Second, 0) // 5 s
	at(19*time.Second, 19*time.Second, 0) // 5 s again: timeout 10
	if tr.res.timeout != (fact[int]{10, sourceWorkers}) || s.timeout != 10 {
		t.Errorf("timeout %+v (reported %v), want 10 from the workers", tr.res.timeout, s.timeout)
	}
	// A beat every 0.5 s is --timeout 0 or 1: reported as none.
	tr1 := quietTracker(noOpt())
	for k := range 4 {
		w := worker(101, 0, nil, nil)
		w.heartbeat = t0.Add(time.Duration(k) * 500 * time.Millisecond)
		tr1.update(obs(w.heartbeat.Add(10*time.Millisecond), &settings{}, w), 0, &s)
	}
	if tr1.res.timeout != (fact[int]{0, sourceWorkers}) || s.timeoutKnown {
		t.Errorf("0.5 s beats: timeout %+v, reported %v", tr1.res.timeout, s.timeoutKnown)
	}
	// Explicit settings win over the cadence.
	tr2 := quietTracker(noOpt())
	w := worker(101, 0, nil, nil)
	tr2.res.beat = 5 * time.Second
	tr2.update(obs(t0, &settings{timeout: fact[int]{45, sourceArgs}}, w), 0, &s)
	if s.timeout != 45 {
		t.Errorf("timeout %v, want 45 from the command line", s.timeout)
	}
}

// TestSlotsAndRestarts: a worker that replaces another takes its slot; a
// worker added takes the next free one; a replacement within the window is
// a restart, a TTIN or TTOU is not.
func TestSlotsAndRestarts(t *testing.T) {
	tr := quietTracker(noOpt())
	var s snapshot
	slots := func() []int {
		var out []int
		for _, p := range s.procs[1:] {
			out = append(out, p.slot)
		}
		return out
	}
	pass := func(sec int, pids ...int) {
		var ws []procObs
		for _, pid := range pids {
			ws = append(ws, worker(pid, 0, nil, nil))
		}
		tr.update(obs(t0.Add(time.Duration(sec)*time.Second), &settings{}, ws...), 0, &s)
	}
	pass(0, 101, 102, 103)
	if got := slots(); !slices.Equal(got, []int{0, 1, 2}) || s.restarts != 0 {
		t.Fatalf("slots %v, restarts %d", got, s.restarts)
	}
	pass(1, 101, 103)      // 102 killed
	pass(2, 101, 103, 104) // replaced
	if got := slots(); !slices.Equal(got, []int{0, 2, 1}) || s.restarts != 1 {
		t.Errorf("after the replacement: slots %v, restarts %d; want [0 2 1], 1", got, s.restarts)
	}
	pass(3, 101, 103, 104, 105) // TTIN
	pass(20, 101, 104, 105)     // TTOU, no replacement
	pass(30, 101, 104, 105, 106)
	if got := slots(); !slices.Equal(got, []int{0, 1, 3, 2}) || s.restarts != 1 {
		t.Errorf("after TTIN, TTOU, TTIN: slots %v, restarts %d; want [0 1 3 2], 1", got, s.restarts)
	}
	// A new master starts over.
	o := obs(t0.Add(40*time.Second), &settings{}, worker(201, 0, nil, nil))
	o.master.id = procID{200, 9}
	o.newMaster = true
	tr.update(o, 0, &s)
	if got := slots(); !slices.Equal(got, []int{0}) || s.restarts != 1 {
		t.Errorf("new master: slots %v, restarts %d", got, s.restarts)
	}
}

// TestResolveLogs: each change of what was decided is logged once, with
// its sources.
func TestResolveLogs(t *testing.T) {
	var b strings.Builder
	tr := newTracker(noOpt(), slog.New(slog.NewTextHandler(&b, nil)))
	var s snapshot
	set := &settings{timeout: fact[int]{10, sourceConfig}, config: "/srv/gunicorn.conf.py"}
	tr.update(obs(t0, set), 0, &s)
	tr.update(obs(t0.Add(time.Second), set), 0, &s)
	g := worker(101, 0, []uint64{}, nil)
	g.evidence.epoll = true
	tr.update(obs(t0.Add(2*time.Second), set, g), 0, &s)
	log := b.String()
	if n := strings.Count(log, "watching the Gunicorn master"); n != 2 {
		t.Errorf("%d lines logged, want 2 (sync by default, then gthread from the workers):\n%s", n, log)
	}
	for _, want := range []string{"worker_class=sync worker_class_source=default", "worker_class=gthread worker_class_source=workers",
		"timeout=10 timeout_source=\"config file\"", "config_file=/srv/gunicorn.conf.py", "threads_source=workers"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
