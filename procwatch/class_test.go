//go:build linux

package procwatch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// keepAlive opens n HTTP/1.1 connections to Gunicorn, sends one request on
// each and reads its whole response, and leaves them open: idle keep-alive
// connections, which must not count as busy.
func keepAlive(t *testing.T, g *gunicorntest.Server, n int) {
	t.Helper()
	for range n {
		c := g.Dial()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: gunicorn\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(gunicorntest.ClientTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("keep-alive request: %v", err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("keep-alive request: status %d, close %v, %v", resp.StatusCode, resp.Close, err)
		}
	}
}

// classCase is a Gunicorn of one worker class, and what the watcher must
// report of it.
type classCase struct {
	name     string
	opts     gunicorntest.Options
	kind     Kind
	class    string // Stats().WorkerClass
	classSrc string // Stats().WorkerClassSource
	workers  int
	capacity int64
	threads  int   // per worker (threaded)
	ks       []int // requests held at once, in steps
	idle     int   // idle keep-alive connections held meanwhile
	timeout  float64
	// timeoutSrc is where the timeout must come from.
	timeoutSrc string
	module     string // a Python module the class needs
}

// checkClass runs c: the pool's capacity and the timeout; then, for each K
// of c.ks, K slow requests in flight beside c.idle idle keep-alive
// connections make busy exactly min(K, capacity) (one worker: queued is the
// rest for gthread), held over several passes; request age grows.
func checkClass(t *testing.T, c classCase) {
	t.Helper()
	if c.module != "" {
		gunicorntest.RequireModule(t, c.module)
	}
	g := gunicorntest.Start(t, c.opts)
	w, r := newTestWatcher(t, WithPID(g.Pid()))
	v := waitUntil(t, w, r, bootWait, fmt.Sprintf("%d workers, capacity %d", c.workers, c.capacity), func(v view) bool {
		s := w.Stats()
		return s.Workers == c.workers && v.val(MetricWorkerCapacity) == float64(c.capacity) &&
			s.WorkerClass == c.class
	})
	s := w.Stats()
	if s.Kind != c.kind || s.WorkerClassSource != c.classSrc {
		t.Errorf("class %q (%v) from %q, want %v from %q", s.WorkerClass, s.Kind, s.WorkerClassSource, c.kind, c.classSrc)
	}
	if n := len(v.points(MetricListenBacklog)) + len(v.points(MetricListenLimit)); n != 2 {
		t.Errorf("listener series: backlog %v, limit %v; want one listener", v.points(MetricListenBacklog), v.points(MetricListenLimit))
	}
	if c.timeoutSrc != "" {
		v = waitUntil(t, w, r, 3*time.Duration(c.timeout)*time.Second, fmt.Sprintf("timeout %v from %s", c.timeout, c.timeoutSrc), func(v view) bool {
			return v.val(MetricWorkerTimeout) == c.timeout && w.Stats().TimeoutSource == c.timeoutSrc
		})
	}
	keepAlive(t, g, c.idle)
	waitUntil(t, w, r, changeWait, "no request busy beside the idle connections", func(v view) bool {
		return v.val(MetricWorkerBusy) == 0
	})
	hold := 8.0 // seconds each slow request sleeps
	if c.kind == KindSync {
		hold = 0.7 * c.timeout // a sync worker is killed at its timeout
	}
	var flights []*inFlight
	sent := 0
	start := time.Now()
	for _, k := range c.ks {
		flights = append(flights, send(g, k-sent, hold, time.Duration(3*hold+5)*time.Second)) // a queued one waits a whole hold first
		sent = k
		busy, queued := int64(k), int64(0)
		if c.kind == KindThreaded && c.workers == 1 {
			busy, queued = min(busy, int64(c.threads)), max(0, busy-int64(c.threads))
		}
		busy = min(busy, c.capacity)
		// Past the capacity of several gthread workers, how the requests
		// spread over them decides how many wait for a thread: busy and
		// queued add up to K, and at least K - capacity wait.
		spread := c.kind == KindThreaded && c.workers > 1 && int64(k) > c.capacity
		what := fmt.Sprintf("K=%d: busy %d, queued %d", k, busy, queued)
		if spread {
			what = fmt.Sprintf("K=%d: busy + queued %d, queued at least %d", k, k, int64(k)-c.capacity)
		}
		holds := func(v view) bool {
			b, q := v.val(MetricWorkerBusy), v.val(MetricWorkerQueued)
			if spread {
				return b+q == float64(k) && q >= float64(int64(k)-c.capacity) && b <= float64(c.capacity)
			}
			return b == float64(busy) && (c.kind != KindThreaded || q == float64(queued))
		}
		waitUntil(t, w, r, changeWait, what, holds)
		// Exact, not by chance: the same in the next passes.
		for range 3 {
			time.Sleep(50 * time.Millisecond)
			_ = w.Sample(context.Background())
			if v := collect(t, r); !holds(v) {
				t.Errorf("%s: busy %v, queued %v in a later pass", what, v.val(MetricWorkerBusy), v.val(MetricWorkerQueued))
			}
		}
	}
	if sent > 0 {
		time.Sleep(time.Second)
		_ = w.Sample(context.Background())
		v := collect(t, r)
		if age := v.val(MetricRequestAgeMax); age < 1 || age > time.Since(start).Seconds()+1 {
			t.Errorf("request age %v after %v held", age, time.Since(start))
		}
		if bt := w.Stats().BusyTime; bt <= 0 {
			t.Errorf("busy time %v with requests held", bt)
		}
	}
	for _, f := range flights {
		f.wait(t)
	}
	waitUntil(t, w, r, changeWait, "idle again", func(v view) bool { return v.val(MetricWorkerBusy) == 0 })
}

// gthreadConfig is the configuration file of the check: gthread, 2
// workers, 4 threads, timeout 10 (and a keep-alive long enough to hold idle
// connections through the test).
const gthreadConfig = "worker_class = 'gthread'\nthreads = 4\nkeepalive = 60\n"

// TestGunicornGthreadByConfig: Gunicorn 26.1 configured only by
// ./gunicorn.conf.py (gthread, 2 workers, 4 threads, timeout 10), with and
// without setproctitle: capacity 8, busy exactly K with 2 idle keep-alive
// connections open, and past 8, busy + queued = K with at least K - 8
// queued; the timeout 10 from the file, one listener series (not the
// control socket), 2 workers (no dirty arbiter). With one worker, busy and
// queued are exact past the threads.
func TestGunicornGthreadByConfig(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	for _, title := range []bool{false, true} {
		t.Run(fmt.Sprintf("proctitle=%v", title), func(t *testing.T) {
			t.Parallel()
			checkClass(t, classCase{
				opts: gunicorntest.Options{Release: "26.1.0", Workers: 2, Timeout: 10, Config: gthreadConfig,
					DefaultConfig: true, ProcTitle: title},
				kind: KindThreaded, class: "gthread", classSrc: sourceConfig, workers: 2, capacity: 8, threads: 4,
				ks: []int{1, 2, 3, 10}, idle: 2, timeout: 10, timeoutSrc: sourceConfig,
			})
		})
	}
	// Named with -c under setproctitle, the file is out of sight: the
	// control socket (26.1) tells.
	t.Run("control-socket", func(t *testing.T) {
		t.Parallel()
		checkClass(t, classCase{
			opts: gunicorntest.Options{Release: "26.1.0", Workers: 1, Timeout: 17,
				Config: "worker_class = 'gthread'\nthreads = 3\nkeepalive = 60\n", ProcTitle: true},
			kind: KindThreaded, class: "gunicorn.workers.gthread.ThreadWorker", classSrc: sourceControl, workers: 1, capacity: 3, threads: 3,
			ks: []int{1, 4}, idle: 2, timeout: 17, timeoutSrc: sourceControl,
		})
	})
	for _, release := range gunicorntest.Releases {
		t.Run("one-worker/"+gunicorntest.ReleaseName(release), func(t *testing.T) {
			t.Parallel()
			checkClass(t, classCase{
				opts: gunicorntest.Options{Release: release, Workers: 1, Timeout: 10, Config: gthreadConfig},
				kind: KindThreaded, class: "gthread", classSrc: sourceConfig, workers: 1, capacity: 4, threads: 4,
				ks: []int{2, 4, 6}, idle: 2, timeout: 10, timeoutSrc: sourceConfig,
			})
		})
	}
}

// TestGunicornSyncByConfig: sync workers configured by a file: by
// ./gunicorn.conf.py (the timeout read from it), and by a file named with
// -c under setproctitle, whose arguments are gone (the timeout measured
// from the heartbeats: every timeout/2 while idle).
func TestGunicornSyncByConfig(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	t.Run("default-config", func(t *testing.T) {
		t.Parallel()
		checkClass(t, classCase{
			opts: gunicorntest.Options{Release: "26.1.0", Workers: 2, Timeout: 10, Config: "# sync", DefaultConfig: true, ProcTitle: true},
			kind: KindSync, class: "sync", classSrc: sourceWorkers, workers: 2, capacity: 2, ks: []int{1, 2},
			timeout: 10, timeoutSrc: sourceConfig,
		})
	})
	t.Run("proctitle-cadence", func(t *testing.T) {
		t.Parallel()
		checkClass(t, classCase{
			opts: gunicorntest.Options{Release: "23.0.0", Workers: 2, Timeout: 6, Config: "# sync", ProcTitle: true},
			kind: KindSync, class: "sync", classSrc: sourceWorkers, workers: 2, capacity: 2, ks: []int{2},
			timeout: 6, timeoutSrc: sourceWorkers,
		})
	})
}

// TestGunicornAsync: gevent, eventlet and uvicorn workers, one each, K
// requests held beside 2 idle keep-alive connections. eventlet's epoll list
// is exact; gevent's is a lower bound that the TCP information completes;
// uvicorn's is the TCP information alone.
func TestGunicornAsync(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	for _, c := range []classCase{
		{name: "gevent/20.1", module: "gevent", opts: gunicorntest.Options{Args: []string{"-k", "gevent"}},
			class: "gevent", classSrc: sourceArgs},
		{name: "gevent/23.0", module: "gevent", opts: gunicorntest.Options{Release: "23.0.0", Config: "worker_class = 'gevent'", DefaultConfig: true},
			class: "gevent", classSrc: sourceConfig},
		{name: "eventlet/20.1", module: "eventlet", opts: gunicorntest.Options{Args: []string{"-k", "eventlet"}},
			class: "eventlet", classSrc: sourceArgs},
		{name: "uvicorn/26.1", module: "uvicorn", opts: gunicorntest.Options{Release: "26.1.0", App: "app:asgi",
			Args: []string{"-k", "uvicorn.workers.UvicornWorker"}}, class: "uvicorn.workers.UvicornWorker", classSrc: sourceArgs},
		{name: "uvicorn/23.0-proctitle", module: "uvicorn", opts: gunicorntest.Options{Release: "23.0.0", App: "app:asgi",
			Config: "worker_class = 'uvicorn.workers.UvicornWorker'", ProcTitle: true}, class: "uvicorn", classSrc: sourceWorkers},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.opts.Workers, c.opts.Timeout = 1, 10
			c.kind, c.workers, c.capacity = KindAsync, 1, gunicornDefaultConnections
			c.ks, c.idle = []int{1, 3, 10}, 2
			c.timeout, c.timeoutSrc = 10, ""
			checkClass(t, c)
		})
	}
}

// TestGunicornDirtyArbiter: Gunicorn 26.1's dirty arbiter (a child of the
// master, which inherits the listener and holds its own dirty workers'
// heartbeat files), without setproctitle to name it, is not an HTTP worker.
func TestGunicornDirtyArbiter(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	g := gunicorntest.Start(t, gunicorntest.Options{Release: "26.1.0", Workers: 2, ReadyPath: "/",
		Args: []string{"--dirty-workers", "1", "--dirty-app", "dirtyapp:Hello"}})
	w, r := newTestWatcher(t, WithPID(g.Pid()))
	waitUntil(t, w, r, bootWait, "3 children of the master seen", func(view) bool {
		kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", g.Pid(), g.Pid()))
		return err == nil && len(strings.Fields(string(kids))) == 3
	})
	v := settle(t, w, r, 2, changeWait)
	if s := w.Stats(); s.Workers != 2 || s.Capacity != 2 {
		t.Errorf("Stats() = %+v, want 2 workers (not the dirty arbiter)", s)
	}
	if n := len(v.points(MetricProcessUptime)); n != 3 {
		t.Errorf("uptime series %v, want the master's and 2 workers'", v.points(MetricProcessUptime))
	}
}
