//go:build linux

package procwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

const btime = 1700000000

// ctimeOf returns the change time of a heartbeat file of a recorded tree.
func ctimeOf(t *testing.T, tree string, pid int) time.Time {
	t.Helper()
	var st syscall.Stat_t
	path := filepath.Join("testdata", "proc", tree, "hb", fmt.Sprintf("wgunicorn-%d (deleted)", pid))
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
}

// uptime is what the watcher computes for a process started start ticks
// after boot, at now.
func uptime(now time.Time, start uint64) float64 {
	return float64(now.UnixNano())/1e9 - (btime + float64(start)/100)
}

func wantPoints(t *testing.T, v view, name string, want []point) {
	t.Helper()
	got := v.points(name)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

func TestSyncTCPTree(t *testing.T) {
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/sync-tcp"), WithPID(1000), WithAttributes(attrApp))
	c1, c2 := ctimeOf(t, "sync-tcp", 1001), ctimeOf(t, "sync-tcp", 1002)
	now := c1
	if c2.After(now) {
		now = c2
	}
	now = now.Add(30 * time.Second)
	w.now = func() time.Time { return now }
	if err := w.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := collect(t, r)
	const app = "app=shop.web"
	page := float64(os.Getpagesize())
	wantPoints(t, v, "gunicorn.up", []point{{app, 1}})
	wantPoints(t, v, "gunicorn.worker.count", []point{
		{app + ",gunicorn.worker.state=busy", 2}, {app + ",gunicorn.worker.state=idle", 2}})
	wantPoints(t, v, "gunicorn.worker.busy_time", []point{{app, 0}})
	oldest := c1
	if c2.Before(oldest) {
		oldest = c2
	}
	wantPoints(t, v, "gunicorn.worker.request.age.max", []point{{app, now.Sub(oldest).Seconds()}})
	wantPoints(t, v, "gunicorn.worker.connections", nil)
	wantPoints(t, v, "gunicorn.worker.restarts", []point{{app, 0}})
	wantPoints(t, v, "gunicorn.worker.timeout", []point{{app, 30}}) // Gunicorn's default
	proc := func(role string, pid int) string {
		if role == "worker" {
			return fmt.Sprintf("%s,gunicorn.process.role=worker,gunicorn.worker.slot=%d", app, pid-1001)
		}
		return fmt.Sprintf("%s,gunicorn.process.role=%s,process.pid=%d", app, role, pid)
	}
	wantPoints(t, v, "gunicorn.process.cpu.time", []point{
		{app + ",cpu.mode=system,gunicorn.process.role=master,process.pid=1000", 0.5},
		{app + ",cpu.mode=system,gunicorn.process.role=worker,gunicorn.worker.slot=0", 0.1},
		{app + ",cpu.mode=system,gunicorn.process.role=worker,gunicorn.worker.slot=1", 0.2},
		{app + ",cpu.mode=system,gunicorn.process.role=worker,gunicorn.worker.slot=2", 0.3},
		{app + ",cpu.mode=system,gunicorn.process.role=worker,gunicorn.worker.slot=3", 0.4},
		{app + ",cpu.mode=user,gunicorn.process.role=master,process.pid=1000", 1.5},
		{app + ",cpu.mode=user,gunicorn.process.role=worker,gunicorn.worker.slot=0", 1},
		{app + ",cpu.mode=user,gunicorn.process.role=worker,gunicorn.worker.slot=1", 2},
		{app + ",cpu.mode=user,gunicorn.process.role=worker,gunicorn.worker.slot=2", 3},
		{app + ",cpu.mode=user,gunicorn.process.role=worker,gunicorn.worker.slot=3", 4},
	})
	wantPoints(t, v, "gunicorn.process.memory.usage", []point{
		{proc("master", 1000), 5000 * page}, {proc("worker", 1001), 10000 * page}, {proc("worker", 1002), 10001 * page},
		{proc("worker", 1003), 10002 * page}, {proc("worker", 1004), 10003 * page}})
	wantPoints(t, v, "gunicorn.process.uptime", []point{
		{proc("master", 1000), uptime(now, 10000)}, {proc("worker", 1001), uptime(now, 10100)},
		{proc("worker", 1002), uptime(now, 10101)}, {proc("worker", 1003), uptime(now, 10102)},
		{proc("worker", 1004), uptime(now, 10103)}})
	listen := app + ",network.local.address=0.0.0.0,network.local.port=8000,network.transport=tcp"
	wantPoints(t, v, "gunicorn.listen.backlog", []point{{listen, 7}})
	wantPoints(t, v, "gunicorn.listen.backlog.limit", []point{{listen, 100}}) // min(--backlog 100, somaxconn 4096)
	wantPoints(t, v, "gunicorn.watch.errors", nil)

	// Half a second later: 2 busy workers make 1 worker-second.
	now = now.Add(500 * time.Millisecond)
	if err := w.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	v = collect(t, r)
	wantPoints(t, v, "gunicorn.worker.busy_time", []point{{app, 1}})
	if s := w.Stats(); s.Passes != 2 || !s.Up || s.MasterPID != 1000 || s.Workers != 4 || s.BusyTime != 1 || len(s.Errors) != 0 {
		t.Errorf("Stats() = %+v", s)
	}
}

// TestDefaultLogger: without WithLogger, the watcher logs to slog.Default(),
// as it is when New is called.
func TestDefaultLogger(t *testing.T) {
	var log bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	w, err := New(mp, WithProcRoot("testdata/proc/no-fd"), WithPID(1000))
	slog.SetDefault(old)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Sample(context.Background()) // fails on the fds, and says so
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "reason=fd_access") {
		t.Errorf("%d warnings in slog.Default()'s handler, want 1 naming fd_access:\n%s", n, log.String())
	}
}

// TestNoFDTree: without access to the fd directories, the watcher keeps
// counts, CPU, memory, uptime and the backlog (its listener found by the
// master's --bind), says so once in the log, and counts each failure.
func TestNoFDTree(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/no-fd"), WithPID(1000), WithLogger(logger))
	now := time.Unix(btime+1000, 0)
	w.now = func() time.Time { return now }
	for range 2 {
		err := w.Sample(context.Background())
		if err == nil || !strings.Contains(err.Error(), "file descriptors of process 1000 (testdata/proc/no-fd/1000/fd)") {
			t.Errorf("Sample() = %v, want the master's fds named", err)
		}
	}
	v := collect(t, r)
	// Without fds, the USR2 child 1100 cannot be told from a worker.
	wantPoints(t, v, "gunicorn.worker.count", []point{{"", 5}})
	wantPoints(t, v, "gunicorn.worker.request.age.max", nil)
	wantPoints(t, v, "gunicorn.worker.connections", nil)
	wantPoints(t, v, "gunicorn.worker.busy_time", []point{{"", 0}})
	if n := len(v.points("gunicorn.process.cpu.time")); n != 12 {
		t.Errorf("%d cpu.time points, want 12 (6 processes, 2 modes)", n)
	}
	if n := len(v.points("gunicorn.process.uptime")); n != 6 {
		t.Errorf("%d uptime points, want 6", n)
	}
	listen := "network.local.address=0.0.0.0,network.local.port=8000,network.transport=tcp"
	wantPoints(t, v, "gunicorn.listen.backlog", []point{{listen, 7}})
	wantPoints(t, v, "gunicorn.listen.backlog.limit", []point{{listen, 100}})
	wantPoints(t, v, "gunicorn.watch.errors", []point{{"error.type=fd_access", 12}})
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "reason=fd_access") {
		t.Errorf("log does not name the reason:\n%s", log.String())
	}
}

// TestGthreadUnixTree: for a gthread master on a unix socket (4 threads),
// connections per worker (only those accepted on Gunicorn's socket), the
// requests in flight (the connections not in the worker's epoll instance:
// one of 2001's three is an idle keep-alive connection), the capacity,
// workers without a busy/idle split, and the limit of the unix listener.
func TestGthreadUnixTree(t *testing.T) {
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/gthread-unix"), WithPID(2000))
	if err := w.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := collect(t, r)
	wantPoints(t, v, "gunicorn.worker.count", []point{{"", 2}})
	wantPoints(t, v, "gunicorn.worker.connections", []point{
		{"gunicorn.process.role=worker,gunicorn.worker.slot=0", 3}, {"gunicorn.process.role=worker,gunicorn.worker.slot=1", 0}})
	wantPoints(t, v, MetricWorkerCapacity, []point{{"", 8}})
	wantPoints(t, v, MetricWorkerBusy, []point{{"", 2}})
	wantPoints(t, v, MetricWorkerQueued, []point{{"", 0}})
	wantPoints(t, v, "gunicorn.worker.request.age.max", []point{{"", 0}}) // first seen now
	if s := w.Stats(); s.Kind != KindThreaded || s.WorkerClass != "gthread" || s.WorkerClassSource != sourceArgs ||
		s.Threads != 4 || s.ThreadsSource != sourceArgs {
		t.Errorf("Stats() = %+v", s)
	}
	listen := "network.local.address=/run/gunicorn.sock,network.transport=unix"
	wantPoints(t, v, "gunicorn.listen.backlog", nil) // only sock_diag knows a unix queue
	wantPoints(t, v, "gunicorn.listen.backlog.limit", []point{{listen, 128}})
}

// TestDiscoverTree: of two masters the older is watched; a new master under
// it (USR2) and an editor on gunicorn.conf.py are not masters.
func TestDiscoverTree(t *testing.T) {
	var log bytes.Buffer
	w, _ := newTestWatcher(t, WithProcRoot("testdata/proc/discover"), WithDiscover(),
		WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err := w.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.MasterPID != 1000 || s.Workers != 4 {
		t.Errorf("Stats() = %+v, want master 1000 with 4 workers", s)
	}
	if !strings.Contains(log.String(), "masters=2") {
		t.Errorf("the choice between 2 masters is not logged:\n%s", log.String())
	}
}

// TestPIDFile: the pid file is read at each pass.
func TestPIDFile(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/sync-tcp"), WithPIDFile(pidFile))
	for _, c := range []struct {
		content string // "" removes the file
		up      float64
		err     string
	}{
		{"1000\n", 1, ""},
		{"4242\n", 0, ""}, // no such process
		{"", 0, ""},
		{"gunicorn\n", 0, `pid file ` + pidFile + `: "gunicorn" is not a pid`},
		{"1000", 1, ""},
	} {
		if c.content == "" {
			os.Remove(pidFile)
		} else if err := os.WriteFile(pidFile, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		err := w.Sample(context.Background())
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("pid file %q: Sample() = %v, want %q", c.content, err, c.err)
		}
		v := collect(t, r)
		wantPoints(t, v, "gunicorn.up", []point{{"", c.up}})
		if n := len(v.points("gunicorn.worker.count")); (n > 0) != (c.up == 1) {
			t.Errorf("pid file %q: worker.count %v", c.content, v.points("gunicorn.worker.count"))
		}
		if n := len(v.points("gunicorn.worker.timeout")); (n > 0) != (c.up == 1) {
			t.Errorf("pid file %q: worker.timeout %v", c.content, v.points("gunicorn.worker.timeout"))
		}
	}
	if s := w.Stats(); s.Errors[ReasonPIDFile] != 1 {
		t.Errorf("Stats().Errors = %v, want 1 pid_file", s.Errors)
	}
}

// TestRestarts changes a tree between passes: a worker replaced is a
// restart and its series go; a worker removed (TTOU) or added (TTIN) is not.
func TestRestarts(t *testing.T) {
	dir := t.TempDir()
	tree := syncTCPTree(false)
	if err := writeTree(dir, tree); err != nil {
		t.Fatal(err)
	}
	w, r := newTestWatcher(t, WithProcRoot(dir), WithPID(1000))
	now := time.Unix(btime+1000, 0)
	w.now = func() time.Time { return now }
	pass := func(step string, restarts float64, workers int) view {
		t.Helper()
		if err := w.Sample(context.Background()); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		v := collect(t, r)
		if got := v.val("gunicorn.worker.restarts"); got != restarts {
			t.Errorf("%s: restarts %v, want %v", step, got, restarts)
		}
		if s := w.Stats(); s.Workers != workers {
			t.Errorf("%s: %d workers, want %d", step, s.Workers, workers)
		}
		return v
	}
	setChildren := func(kids string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "1000/task/1000/children"), []byte(kids), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addWorker := func(pid int, start uint64) {
		t.Helper()
		p := tree.procs[4] // like 1004
		p.pid, p.start = pid, start
		p.fds = stdFDs(map[int]string{5: "socket:[5000]", 9: "hb"})
		one := fakeTree{btime: btime, somaxconn: 4096, procs: []fakeProc{{pid: 999, cmdline: []string{"x"}, fds: map[int]string{}}, p}}
		if err := writeTree(dir, one); err != nil {
			t.Fatal(err)
		}
		// The master holds the new worker's heartbeat file too.
		hb := fmt.Sprintf("../../hb/wgunicorn-%d (deleted)", pid)
		if err := os.Symlink(hb, filepath.Join(dir, "1000", "fd", strconv.Itoa(pid))); err != nil {
			t.Fatal(err)
		}
	}
	pass("start", 0, 4)

	// 1004 killed, 1005 in its place a pass later.
	os.RemoveAll(filepath.Join(dir, "1004"))
	setChildren("1001 1002 1003 1100 ")
	now = now.Add(100 * time.Millisecond)
	pass("1004 gone", 0, 3)
	addWorker(1005, 110000)
	setChildren("1001 1002 1003 1005 1100 ")
	now = now.Add(100 * time.Millisecond)
	v := pass("1005 replaces it", 1, 4)
	for _, p := range v.points("gunicorn.process.uptime") {
		if strings.Contains(p.attrs, "gunicorn.worker.slot=4") {
			t.Errorf("the series of 1004 remain: %v", p)
		}
	}

	// TTOU: 1003 leaves; TTIN 6 s later: 1006 comes.
	os.RemoveAll(filepath.Join(dir, "1003"))
	setChildren("1001 1002 1005 1100 ")
	now = now.Add(100 * time.Millisecond)
	pass("TTOU", 1, 3)
	now = now.Add(6 * time.Second)
	pass("later", 1, 3)
	addWorker(1006, 120000)
	setChildren("1001 1002 1005 1006 1100 ")
	now = now.Add(100 * time.Millisecond)
	pass("TTIN", 1, 4)
}

// TestWorkerTimeout: gunicorn.worker.timeout is the master's --timeout or
// -t, from its command line or GUNICORN_CMD_ARGS (the command line wins, as
// in Gunicorn), 30 s when neither gives one, and not reported with
// --timeout 0 (no timeout).
func TestWorkerTimeout(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		environ []string
		want    []point
	}{
		{"default", nil, nil, []point{{"app=shop.web", 30}}},
		{"-t", []string{"-t", "90"}, nil, []point{{"app=shop.web", 90}}},
		{"--timeout=", []string{"--timeout=120"}, nil, []point{{"app=shop.web", 120}}},
		{"environment", nil, []string{"LANG=C", "GUNICORN_CMD_ARGS=--workers 4 --timeout 45"}, []point{{"app=shop.web", 45}}},
		{"command line over environment", []string{"-t", "60"}, []string{"GUNICORN_CMD_ARGS=--timeout 45"}, []point{{"app=shop.web", 60}}},
		{"no timeout", []string{"--timeout", "0"}, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			tree := syncTCPTree(false)
			m := &tree.procs[0]
			m.cmdline = append(append(slices.Clone(m.cmdline[:len(m.cmdline)-1]), c.args...), "app:app")
			m.environ = c.environ
			if err := writeTree(dir, tree); err != nil {
				t.Fatal(err)
			}
			w, r := newTestWatcher(t, WithProcRoot(dir), WithPID(1000), WithAttributes(attrApp))
			if err := w.Sample(context.Background()); err != nil {
				t.Fatal(err)
			}
			v := collect(t, r)
			wantPoints(t, v, "gunicorn.worker.timeout", c.want)
			wantPoints(t, v, "gunicorn.up", []point{{"app=shop.web", 1}})
		})
	}
}

func TestNewErrors(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	for _, c := range []struct {
		name string
		opts []Option
		want string
	}{
		{"no master", nil, "no master to watch"},
		{"two ways", []Option{WithPID(1), WithDiscover()}, "more than one"},
		{"pid", []Option{WithPID(0)}, "WithPID(0)"},
		{"pid file", []Option{WithPIDFile("")}, "WithPIDFile: empty path"},
		{"interval", []Option{WithPID(1), WithSampleInterval(0)}, "WithSampleInterval(0s)"},
		{"attribute", []Option{WithPID(1), WithAttributes(attribute.String("process.pid", "x"))}, `"process.pid"`},
		{"empty key", []Option{WithPID(1), WithAttributes(attribute.String("", "x"))}, "invalid attribute"},
		{"logger", []Option{WithPID(1), WithLogger(nil)}, "WithLogger(nil)"},
		{"proc root", []Option{WithPID(1), WithProcRoot("testdata/nowhere")}, "testdata/nowhere"},
		{"meter", []Option{WithPID(1), WithMeterName("")}, "WithMeterName"},
		{"class", []Option{WithPID(1), WithWorkerClass("")}, "WithWorkerClass"},
		{"every bad option named", []Option{WithPID(0), nil, WithSampleInterval(-1), WithMeterName("")}, "WithPID(0): not a process id\nprocwatch: WithSampleInterval(-1ns)"},
	} {
		_, err := New(mp, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New() = %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := New(nil, WithPID(1)); err == nil {
		t.Error("New(nil) succeeded")
	}
	w, err := New(mp, WithProcRoot("testdata/proc/sync-tcp"), nil, WithPID(1000))
	if err != nil {
		t.Errorf("a nil Option: %v", err)
	} else {
		_ = w.Close()
	}
}

// TestRun: Run samples until its context is done, then returns nil; a second
// Run at the same time is refused; Close removes the instruments.
func TestRun(t *testing.T) {
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/sync-tcp"), WithPID(1000), WithSampleInterval(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Passes < 3 {
		if time.Now().After(deadline) {
			t.Fatal("Run made fewer than 3 passes in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run() = %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context's end")
	}
	if err := w.Sample(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample(done ctx) = %v", err)
	}
	if v := collect(t, r); len(v.points("gunicorn.up")) != 1 {
		t.Errorf("before Close: up %v", v.points("gunicorn.up"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if v := collect(t, r); len(v) != 0 {
		t.Errorf("after Close: %v", v.summary())
	}
}
