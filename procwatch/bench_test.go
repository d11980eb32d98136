//go:build linux

package procwatch

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// benchTree is a master with 32 sync workers, half of them busy, on a host
// with 10,000 unrelated TCP sockets and 1,000 unrelated unix sockets.
func benchTree() fakeTree {
	t := fakeTree{btime: btime, somaxconn: 4096}
	master := fakeProc{pid: 1000, ppid: 1, start: 100, cmdline: gunicornCmd,
		fds: stdFDs(map[int]string{5: "socket:[5000]"})}
	var workers []fakeProc
	for i := range 32 {
		pid := 1001 + i
		master.children = append(master.children, pid)
		fds := stdFDs(map[int]string{5: "socket:[5000]", 9: "hb", 10: "socket:[" + strconv.Itoa(70000+i) + "]"})
		if i%2 == 0 {
			fds[11] = "socket:[" + strconv.Itoa(6000+i) + "]"
			t.tcp = append(t.tcp, tcpRow(i, "10.0.0.5:8000", fmt.Sprintf("10.0.0.7:%d", 50000+i), tcpEstablished, 0, uint64(6000+i)))
		}
		workers = append(workers, fakeProc{pid: pid, ppid: 1000, start: 200, rssPages: 10000, cmdline: gunicornCmd, fds: fds})
	}
	t.procs = append([]fakeProc{master}, workers...)
	t.tcp = append(t.tcp, tcpRow(40, "0.0.0.0:8000", "0.0.0.0:0", tcpListen, 3, 5000))
	for i := range 10000 {
		t.tcp = append(t.tcp, tcpRow(100+i, "10.0.0.5:443", fmt.Sprintf("10.1.%d.%d:%d", i/250, i%250, 1024+i), tcpEstablished, 0, uint64(100000+i)))
	}
	for i := range 1000 {
		t.unix = append(t.unix, unixRow(0, 1, 3, uint64(200000+i), ""))
	}
	return t
}

// gthreadBenchTree is a master with 32 gthread workers (4 threads), each
// with an epoll instance holding the listener and 2 idle keep-alive
// connections, and every other worker serving 2 more requests, on a host
// with 10,000 unrelated TCP sockets.
func gthreadBenchTree() fakeTree {
	t := benchTree()
	t.procs[0].cmdline = []string{"/usr/bin/python3", "/usr/bin/gunicorn", "-k", "gthread", "--threads", "4", "--bind", "0.0.0.0:8000", "app:app"}
	t.tcp = t.tcp[:0]
	for i := range 32 {
		p := &t.procs[1+i]
		p.cmdline = t.procs[0].cmdline
		p.tasks = 5
		p.fds = stdFDs(map[int]string{5: "socket:[5000]", 9: "hb", 12: "epoll"})
		registered := []uint64{5000}
		n := 2
		if i%2 == 0 {
			n = 4
		}
		for k := range n {
			ino := uint64(60000 + 10*i + k)
			p.fds[20+k] = fmt.Sprintf("socket:[%d]", ino)
			t.tcp = append(t.tcp, tcpRow(len(t.tcp), "10.0.0.5:8000", fmt.Sprintf("10.0.0.7:%d", 40000+10*i+k), tcpEstablished, 0, ino))
			if k < 2 {
				registered = append(registered, ino)
			}
		}
		p.fdinfo = map[int]string{12: epollInfo(registered...)}
	}
	t.tcp = append(t.tcp, tcpRow(len(t.tcp), "0.0.0.0:8000", "0.0.0.0:0", tcpListen, 3, 5000))
	for i := range 10000 {
		t.tcp = append(t.tcp, tcpRow(len(t.tcp), "10.0.0.5:443", fmt.Sprintf("10.1.%d.%d:%d", i/250, i%250, 1024+i), tcpEstablished, 0, uint64(100000+i)))
	}
	return t
}

// BenchmarkSampleGthread is one pass over a recorded tree of 32 gthread
// workers: their fds, their epoll instances' fdinfo, 96 accepted
// connections of which 32 are busy.
func BenchmarkSampleGthread(b *testing.B) {
	dir := b.TempDir()
	if err := writeTree(dir, gthreadBenchTree()); err != nil {
		b.Fatal(err)
	}
	w, _ := newTestWatcher(b, WithProcRoot(dir), WithPID(1000))
	ctx := context.Background()
	if err := w.Sample(ctx); err != nil {
		b.Fatal(err)
	}
	if s := w.Stats(); s.Workers != 32 || s.Busy != 32 || s.Capacity != 128 || s.Kind != KindThreaded {
		b.Fatalf("Stats() = %+v, want 32 workers, 32 busy of 128", s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSample is one pass over a recorded tree: a master with 32
// workers and 10,000 unrelated sockets. (Reading a real /proc costs the
// kernel more: it prints each socket table at each read.)
func BenchmarkSample(b *testing.B) {
	dir := b.TempDir()
	if err := writeTree(dir, benchTree()); err != nil {
		b.Fatal(err)
	}
	w, _ := newTestWatcher(b, WithProcRoot(dir), WithPID(1000))
	ctx := context.Background()
	if err := w.Sample(ctx); err != nil {
		b.Fatal(err)
	}
	if s := w.Stats(); s.Workers != 32 {
		b.Fatalf("%d workers, want 32", s.Workers)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSampleGunicorn is one pass over the real /proc of a real Gunicorn
// with 4 idle sync workers: the steady state of a watcher with no traffic,
// where the kernel's cost of what a pass reads counts too (sock_diag, the
// fd directories, and no socket table while no worker holds a new socket).
// It is skipped without gunicorn.
func BenchmarkSampleGunicorn(b *testing.B) {
	gunicorntest.LookPath(b)
	g := gunicorntest.Start(b, gunicorntest.Options{Workers: 4})
	w, r := newTestWatcher(b, WithPID(g.Pid()))
	deadline := time.Now().Add(bootWait)
	for {
		_ = w.Sample(context.Background())
		if v := collect(b, r); v.val("gunicorn.worker.count", "gunicorn.worker.state=idle") == 4 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("4 idle workers not seen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	reads := w.rd.tableReads
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		if err := w.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.rd.tableReads[idxTCP]-reads[idxTCP]+w.rd.tableReads[idxTCP6]-reads[idxTCP6])/float64(b.N), "tcp-reads/op")
}
