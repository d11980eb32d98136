//go:build linux

package procwatch

import (
	"context"
	"fmt"
	"strconv"
	"testing"
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
