//go:build linux

package procwatch

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// Bounds of the waits against real Gunicorn (a loaded 2-core machine runs
// other tests at the same time).
const (
	bootWait   = 20 * time.Second
	changeWait = 10 * time.Second
)

// inFlight sends n GETs of /slow?s=secs at once, each reading its whole
// body; wait waits for all of them and fails the test on an error.
type inFlight struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func send(g *gunicorntest.Server, n int, secs float64, timeout time.Duration) *inFlight {
	f := &inFlight{}
	c := g.Client(timeout)
	for range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			resp, err := c.Get(g.URL(fmt.Sprintf("/slow?s=%g", secs)))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				f.mu.Lock()
				f.errs = append(f.errs, err)
				f.mu.Unlock()
			}
		}()
	}
	return f
}

func (f *inFlight) wait(t *testing.T) {
	t.Helper()
	f.wg.Wait()
	for _, err := range f.errs {
		t.Errorf("slow request: %v", err)
	}
}

func somaxconn(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stateIs(busy, idle float64) func(v view) bool {
	return func(v view) bool {
		return v.val("gunicorn.worker.count", "gunicorn.worker.state=busy") == busy &&
			v.val("gunicorn.worker.count", "gunicorn.worker.state=idle") == idle
	}
}

// TestGunicornBusyAndBacklog runs 4 sync workers, over TCP and over a unix
// socket: 3 slow requests make busy 3 and idle 1 exactly, busy time grows by
// about 3 worker-seconds a second, a request held past half the timeout
// shows in request.age.max; 9 slow requests make busy 4 and a backlog of 5,
// whose limit is min(--backlog, somaxconn).
func TestGunicornBusyAndBacklog(t *testing.T) {
	gunicorntest.LookPath(t)
	const backlog = 64
	wantLimit := float64(min(backlog, somaxconn(t)))
	for _, unix := range []bool{false, true} {
		name := "tcp"
		if unix {
			name = "unix"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const timeout = 8 // seconds: half is 4
			g := gunicorntest.Start(t, gunicorntest.Options{
				Workers: 4, Timeout: timeout, Unix: unix,
				Args: []string{"--backlog", strconv.Itoa(backlog)},
			})
			w, r := newTestWatcher(t, WithPID(g.Pid()), WithAttributes(attrApp))
			waitUntil(t, w, r, bootWait, "4 idle workers", stateIs(0, 4))
			// Idle workers hold no socket of their own: a pass reads no
			// socket table (sock_diag gives the listeners).
			idleReads := w.rd.tableReads
			for range 3 {
				_ = w.Sample(context.Background())
			}
			if got := w.rd.tableReads; got != idleReads {
				t.Errorf("idle passes read the socket tables (tcp, tcp6, unix): %v, then %v", idleReads, got)
			}

			// 3 requests of 5.5 s: longer than half the timeout, shorter than it.
			f := send(g, 3, 5.5, 20*time.Second)
			v := waitUntil(t, w, r, changeWait, "3 busy, 1 idle", stateIs(3, 1))
			if up := v.val("gunicorn.up", "app=shop.web"); up != 1 {
				t.Errorf("gunicorn.up = %v, want 1", up)
			}
			if to := v.val("gunicorn.worker.timeout", "app=shop.web"); to != timeout {
				t.Errorf("gunicorn.worker.timeout = %v, want --timeout %d", to, timeout)
			}
			// Busy time over two seconds of samples, timed from just after
			// the first pass to just after the last.
			_ = w.Sample(context.Background())
			b0, start := w.Stats().BusyTime, time.Now()
			for time.Since(start) < 2*time.Second {
				time.Sleep(50 * time.Millisecond)
				_ = w.Sample(context.Background())
			}
			elapsed := time.Since(start).Seconds()
			v = collect(t, r)
			if busy := v.val("gunicorn.worker.count", "gunicorn.worker.state=busy"); busy == 3 {
				rate := (w.Stats().BusyTime - b0) / elapsed
				if rate < 2.7 || rate > 3.3 {
					t.Errorf("busy time grew by %.2f worker-s/s with 3 busy workers, want about 3 (%.3f in %.3f s)", rate, w.Stats().BusyTime-b0, elapsed)
				}
			} else {
				t.Errorf("busy = %v after two seconds, want 3: %s", busy, v.summary())
			}
			v = waitUntil(t, w, r, changeWait, "request age past half the timeout", func(v view) bool {
				return v.val("gunicorn.worker.request.age.max") >= timeout/2.0
			})
			if age := v.val("gunicorn.worker.request.age.max"); age >= timeout {
				t.Errorf("request.age.max = %v, want under the timeout %d", age, timeout)
			}
			f.wait(t)
			v = waitUntil(t, w, r, changeWait, "0 busy", stateIs(0, 4))
			if age := v.val("gunicorn.worker.request.age.max"); age != 0 {
				t.Errorf("request.age.max = %v with no request in flight, want 0", age)
			}

			// 9 requests for 4 workers: 4 busy, 5 waiting.
			f = send(g, 9, 2, 20*time.Second)
			listen := "network.transport=tcp"
			if unix {
				listen = "network.transport=unix"
			}
			v = waitUntil(t, w, r, changeWait, "4 busy, backlog 5", func(v view) bool {
				return stateIs(4, 0)(v) && v.val("gunicorn.listen.backlog", listen) == 5
			})
			if limit := v.val("gunicorn.listen.backlog.limit", listen); limit != wantLimit {
				t.Errorf("backlog limit = %v, want min(--backlog %d, somaxconn) = %v", limit, backlog, wantLimit)
			}
			addr := strings.TrimPrefix(g.Bind, "unix:")
			if !unix {
				addr, _, _ = strings.Cut(g.Bind, ":")
			}
			if _, ok := v.get("gunicorn.listen.backlog", "network.local.address="+addr, "app=shop.web"); !ok {
				t.Errorf("no backlog point for address %s: %v", addr, v.points("gunicorn.listen.backlog"))
			}
			f.wait(t)
			v = waitUntil(t, w, r, changeWait, "0 busy, backlog 0", func(v view) bool {
				return stateIs(0, 4)(v) && v.val("gunicorn.listen.backlog", listen) == 0
			})
			if errs := v.points("gunicorn.watch.errors"); len(errs) != 0 {
				t.Errorf("watch errors: %v", errs)
			}
			// Only the table of the listener's family was read, and only
			// for the requests' new sockets.
			reads := w.rd.tableReads
			want := [numTables]bool{idxTCP: !unix, idxUnix: unix}
			for i, n := range reads {
				if (n > 0) != want[i] {
					t.Errorf("%s read %d times, want it read: %v (all: %v)", tableNames[i], n, want[i], reads)
				}
			}
		})
	}
}

// TestGunicornRestarts follows a master through its pid file: a worker killed
// with SIGKILL is replaced (restarts 1, its series gone), TTIN and TTOU
// change the count without counting restarts, and a stopped Gunicorn is
// down.
func TestGunicornRestarts(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	g := gunicorntest.Start(t, gunicorntest.Options{Workers: 2, Timeout: 10, Args: []string{"--pid", pidFile}})
	w, r := newTestWatcher(t, WithPIDFile(pidFile))
	workers := func(n float64) func(v view) bool {
		return func(v view) bool { return v.val("gunicorn.worker.count", "gunicorn.worker.state=idle") == n }
	}
	v := settle(t, w, r, 2, bootWait)
	if pid := v.val("gunicorn.process.memory.usage", "gunicorn.process.role=master"); pid <= 0 {
		t.Errorf("master memory %v, want > 0", pid)
	}
	// The workers' series carry their slots, 0 and 1; the worker killed is
	// replaced in its slot, whose uptime starts again.
	wantSlots := []string{"gunicorn.process.role=worker,gunicorn.worker.slot=0", "gunicorn.process.role=worker,gunicorn.worker.slot=1"}
	workerSeries := func(v view) []string {
		var s []string
		for _, p := range v.points("gunicorn.process.uptime") {
			if strings.Contains(p.attrs, "role=worker") {
				s = append(s, p.attrs)
			}
		}
		return s
	}
	if got := workerSeries(v); !slices.Equal(got, wantSlots) {
		t.Fatalf("worker series %q, want %q", got, wantSlots)
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", g.Pid(), g.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	victim, err := strconv.Atoi(strings.Fields(string(kids))[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	v = waitUntil(t, w, r, changeWait, "1 restart and 2 workers again", func(v view) bool {
		return v.val("gunicorn.worker.restarts") == 1 && workers(2)(v)
	})
	if got := workerSeries(v); !slices.Equal(got, wantSlots) {
		t.Errorf("after the restart, worker series %q, want %q", got, wantSlots)
	}
	// Both started together, and the replacement at least settle's 1.5 s
	// later (uptimes share the error of the boot time, whole seconds).
	if d := math.Abs(v.val("gunicorn.process.uptime", "gunicorn.worker.slot=0") - v.val("gunicorn.process.uptime", "gunicorn.worker.slot=1")); d < 1 {
		t.Errorf("the workers' uptimes differ by %.2f s, want a young replacement: %v", d, v.points("gunicorn.process.uptime"))
	}

	// Each signal only once Gunicorn has settled: a SIGTERM while its
	// arbiter still adjusts the worker count can leave a worker it spawns
	// afterwards without the TERM, and the stop then takes
	// --graceful-timeout (Gunicorn 20.1).
	settle(t, w, r, 2, changeWait)
	g.Signal(syscall.SIGTTIN)
	settle(t, w, r, 3, changeWait)
	g.Signal(syscall.SIGTTOU)
	v = settle(t, w, r, 2, changeWait)
	if n := v.val("gunicorn.worker.restarts"); n != 1 {
		t.Errorf("restarts = %v after TTIN and TTOU, want 1", n)
	}
	g.Stop()
	v = waitUntil(t, w, r, changeWait, "down", func(v view) bool { return v.val("gunicorn.up") == 0 })
	if ps := v.points("gunicorn.worker.count"); len(ps) != 0 {
		t.Errorf("worker count reported while down: %v", ps)
	}
	if n := v.val("gunicorn.worker.restarts"); n != 1 {
		t.Errorf("restarts = %v after stop, want 1 (a counter keeps its total)", n)
	}
}

// settle waits until the same n workers, all idle, have been seen for
// 1.5 s (longer than a turn of Gunicorn's arbiter loop), failing the test
// after timeout.
func settle(t *testing.T, w *Watcher, r *sdkmetric.ManualReader, n int, timeout time.Duration) view {
	t.Helper()
	const stable = 1500 * time.Millisecond
	deadline := time.Now().Add(timeout)
	var since time.Time
	var last string
	for {
		_ = w.Sample(context.Background())
		v := collect(t, r)
		var pids []string
		for _, p := range v.points("gunicorn.process.uptime") {
			if strings.Contains(p.attrs, "role=worker") {
				pids = append(pids, p.attrs)
			}
		}
		set := strings.Join(pids, ";")
		ok := len(pids) == n && v.val("gunicorn.worker.count", "gunicorn.worker.state=idle") == float64(n)
		switch {
		case !ok:
			since = time.Time{}
		case set != last || since.IsZero():
			since = time.Now()
		case time.Since(since) >= stable:
			return v
		}
		last = set
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d workers not settled: %s", timeout, n, v.summary())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGunicornMaxRequestsSeries: workers recycled by --max-requests 5 make
// no new series by slot (the default: the slots of the 2 workers), and one
// per worker with
// WithPIDAttribute. It logs the figures BENCHMARKS.md quotes (series created
// per hour under --max-requests 5).
func TestGunicornMaxRequestsSeries(t *testing.T) {
	gunicorntest.LookPath(t)
	t.Parallel()
	g := gunicorntest.Start(t, gunicorntest.Options{Workers: 2, Timeout: 10, ReadyPath: "/",
		Args: []string{"--max-requests", "5"}})
	bySlot, rs := newTestWatcher(t, WithPID(g.Pid()))
	byPID, rp := newTestWatcher(t, WithPID(g.Pid()), WithPIDAttribute())
	slotSeries, pidSeries := map[string]bool{}, map[string]bool{}
	note := func(v view, into map[string]bool) {
		for _, p := range v.points(MetricProcessMemory) {
			if strings.Contains(p.attrs, "role=worker") {
				into[p.attrs] = true
			}
		}
	}
	// Both workers up, each in its slot, before the requests start.
	waitUntil(t, bySlot, rs, bootWait, "2 workers", func(v view) bool {
		note(v, slotSeries)
		return bySlot.Stats().Workers == 2
	})
	if len(slotSeries) != 2 {
		t.Fatalf("worker series by slot at the start: %v, want 2", slotSeries)
	}
	const requests = 100
	start := time.Now()
	for i := range requests {
		if code := g.Status("/"); code != 200 {
			t.Fatalf("request %d: status %d", i, code)
		}
		for _, w := range []*Watcher{bySlot, byPID} {
			_ = w.Sample(context.Background())
		}
		note(collect(t, rs), slotSeries)
		note(collect(t, rp), pidSeries)
	}
	elapsed := time.Since(start)
	restarts := byPID.Stats().Restarts
	// 100 requests (and the ready one) over 2 workers recycled every 5:
	// some 20 workers replaced, each seen by a pass or not.
	if restarts < 10 {
		t.Errorf("%d restarts after %d requests with --max-requests 5, want 10 or more", restarts, requests)
	}
	// A replacement takes the slot of the worker it replaces: the slots
	// stay those of the live workers (one more at most, should a pass catch
	// a replacement before its predecessor is reaped).
	if len(slotSeries) > 3 {
		t.Errorf("worker series by slot: %d, want 2 (3 at most): %v", len(slotSeries), slotSeries)
	}
	if int64(len(pidSeries)) < restarts {
		t.Errorf("worker series by pid: %d, want at least the %d restarts", len(pidSeries), restarts)
	}
	t.Logf("%d requests in %v, %d restarts: worker series by slot %d (whatever the restarts), by pid %d (%.0f an hour at this rate)",
		requests, elapsed.Round(time.Millisecond), restarts, len(slotSeries), len(pidSeries), float64(len(pidSeries))/elapsed.Hours())
}
