//go:build linux

package procwatch

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"
)

// fakeDiag stands for sock_diag over a recorded tree: it reports the LISTEN
// sockets in *entries, as the kernel would for the master's namespace.
func fakeDiag(entries *[]diagEntry) func(*reader, int, func(diagEntry)) (bool, error) {
	return func(_ *reader, _ int, fn func(diagEntry)) (bool, error) {
		for _, e := range *entries {
			fn(e)
		}
		return true, nil
	}
}

// reads is how many times each socket table was read: tcp, tcp6, unix.
func reads(w *Watcher) [numTables]uint64 { return w.rd.tableReads }

// TestSocketCache goes pass by pass over a recorded tree whose master is in
// the watcher's network namespace (sock_diag, faked, gives the listeners):
// a socket table is read only in a pass where a worker holds a socket not
// yet known, and only the tables of the listeners' families; what a known
// socket was stays while a worker holds it (an accepted connection in
// CLOSE_WAIT is still busy); a closed socket is forgotten.
func TestSocketCache(t *testing.T) {
	dir := t.TempDir()
	tree := syncTCPTree(false)
	write := func() {
		t.Helper()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := writeTree(dir, tree); err != nil {
			t.Fatal(err)
		}
	}
	write()
	listeners := []diagEntry{
		{family: afInet, inode: 300, local: netip.MustParseAddrPort("0.0.0.0:22"), hasQueue: true, wqueue: 128}, // sshd's, not the master's
		{family: afInet, inode: 5000, local: netip.MustParseAddrPort("0.0.0.0:8000"), hasQueue: true, rqueue: 7, wqueue: 100},
	}
	w, r := newTestWatcher(t, WithProcRoot(dir), WithPID(1000))
	w.rd.dump = fakeDiag(&listeners)
	now := time.Unix(btime+1000, 0)
	w.now = func() time.Time { return now }
	pass := func(step string, busy, idle float64, want [numTables]uint64) view {
		t.Helper()
		if err := w.Sample(context.Background()); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		v := collect(t, r)
		if !stateIs(busy, idle)(v) {
			t.Errorf("%s: %s, want busy %v, idle %v", step, v.summary(), busy, idle)
		}
		if got := reads(w); got != want {
			t.Errorf("%s: tables read %v times (tcp, tcp6, unix), want %v", step, got, want)
		}
		return v
	}
	worker := func(pid int) *fakeProc {
		for i := range tree.procs {
			if tree.procs[i].pid == pid {
				return &tree.procs[i]
			}
		}
		t.Fatalf("no process %d", pid)
		return nil
	}
	setState := func(inode uint64, state int) {
		for i, row := range tree.tcp {
			if e, err := parseTCPLine([]byte(row)); err == nil && e.inode == inode {
				tree.tcp[i] = tcpRow(i, e.local.String(), "10.0.0.7:51000", state, 0, inode)
				return
			}
		}
		t.Fatalf("no tcp row of inode %d", inode)
	}

	// 1001 and 1002 hold accepted connections (1002's in CLOSE_WAIT); 1003
	// a connection to a database; each worker a socket in no table. The
	// workers' sockets are all new: tcp is read (the only listener is
	// IPv4), not tcp6 nor unix.
	v := pass("first", 2, 2, [numTables]uint64{1, 0, 0})
	listen := "network.local.address=0.0.0.0,network.local.port=8000,network.transport=tcp"
	wantPoints(t, v, "gunicorn.listen.backlog", []point{{listen, 7}})
	wantPoints(t, v, "gunicorn.listen.backlog.limit", []point{{listen, 100}})
	if n := len(w.rd.known); n != 7 {
		t.Errorf("%d sockets known, want 7 (4 in no table, 2 accepted, 1 to a database)", n)
	}

	// Nothing new: no table is read, the figures are the same.
	now = now.Add(500 * time.Millisecond)
	pass("same", 2, 2, [numTables]uint64{1, 0, 0})
	if bt := w.Stats().BusyTime; bt != 1 {
		t.Errorf("busy time %v, want 1 (2 busy workers for 0.5 s)", bt)
	}

	// A request reaches 1004 (a new socket: tcp is read once), while
	// 1001's connection goes to CLOSE_WAIT (a known socket: still busy).
	worker(1004).fds[11] = "socket:[6004]"
	tree.tcp = append(tree.tcp, tcpRow(7, "10.0.0.5:8000", "10.0.0.7:51003", tcpEstablished, 0, 6004))
	setState(6001, 0x08)
	write()
	pass("1004 busy", 3, 1, [numTables]uint64{2, 0, 0})
	pass("1004 still busy", 3, 1, [numTables]uint64{2, 0, 0})

	// 1001 closes its connection: idle again, with no table read, and the
	// socket is forgotten.
	delete(worker(1001).fds, 11)
	write()
	pass("1001 done", 2, 2, [numTables]uint64{2, 0, 0})
	if _, ok := w.rd.known[6001]; ok || len(w.rd.known) != 7 {
		t.Errorf("known sockets %v: want 6001 forgotten, 7 left", len(w.rd.known))
	}

	// A reload adds an IPv6 listener: the workers' sockets not found in tcp
	// are looked for in tcp6, once.
	for _, pid := range []int{1000, 1001, 1002, 1003, 1004} {
		worker(pid).fds[8] = "socket:[5001]" // the workers inherit it
	}
	listeners = append(listeners, diagEntry{family: afInet6, inode: 5001, local: netip.MustParseAddrPort("[::]:8001"), hasQueue: true, wqueue: 100})
	write()
	v = pass("IPv6 listener", 2, 2, [numTables]uint64{2, 1, 0})
	listen6 := "network.local.address=::,network.local.port=8001,network.transport=tcp"
	wantPoints(t, v, "gunicorn.listen.backlog", []point{{listen, 7}, {listen6, 0}})
	pass("IPv6 listener, again", 2, 2, [numTables]uint64{2, 1, 0})

	// A request on the IPv6 listener, from an IPv4 client (a mapped
	// address), reaches 1001: tcp and tcp6 are read for its new socket.
	worker(1001).fds[11] = "socket:[6101]"
	tree.tcp6 = append(tree.tcp6, tcpRow(1, "[::ffff:10.0.0.5]:8001", "[::ffff:10.0.0.7]:52000", tcpEstablished, 0, 6101))
	write()
	pass("1001 busy on IPv6", 3, 1, [numTables]uint64{3, 2, 0})
	if s := w.Stats(); len(s.Errors) != 0 {
		t.Errorf("errors %v", s.Errors)
	}
}

// TestSocketCacheUnix: with a unix listener only, the TCP tables are never
// read, and /proc/PID/net/unix only for new sockets.
func TestSocketCacheUnix(t *testing.T) {
	listeners := []diagEntry{
		{family: afUnix, inode: 8000, name: []byte("/run/gunicorn.sock\x00"), hasQueue: true, rqueue: 2, wqueue: 128},
		{family: afUnix, inode: 8300, name: []byte("/run/with a space.sock\x00"), hasQueue: true, wqueue: 128}, // not the master's
		{family: afInet, inode: 300, local: netip.MustParseAddrPort("0.0.0.0:22"), hasQueue: true, wqueue: 128},
	}
	w, r := newTestWatcher(t, WithProcRoot("testdata/proc/gthread-unix"), WithPID(2000), WithPIDAttribute())
	w.rd.dump = fakeDiag(&listeners)
	for i := range 3 {
		if err := w.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		v := collect(t, r)
		wantPoints(t, v, "gunicorn.worker.connections", []point{
			{"gunicorn.process.role=worker,gunicorn.worker.slot=0,process.pid=2001", 3},
			{"gunicorn.process.role=worker,gunicorn.worker.slot=1,process.pid=2002", 0}})
		listen := "network.local.address=/run/gunicorn.sock,network.transport=unix"
		wantPoints(t, v, "gunicorn.listen.backlog", []point{{listen, 2}})
		wantPoints(t, v, "gunicorn.listen.backlog.limit", []point{{listen, 128}})
		if got, want := reads(w), [numTables]uint64{0, 0, 1}; got != want {
			t.Errorf("pass %d: tables read %v times (tcp, tcp6, unix), want %v", i+1, got, want)
		}
	}
}

// TestTablesWithoutDiag: when sock_diag cannot be used (a master in another
// network namespace, or a recorded tree), every pass reads the three tables:
// they give the listeners and the TCP queues.
func TestTablesWithoutDiag(t *testing.T) {
	w, _ := newTestWatcher(t, WithProcRoot("testdata/proc/sync-tcp"), WithPID(1000))
	for i := range 3 {
		if err := w.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := uint64(i + 1)
		if got, want := reads(w), [numTables]uint64{n, n, n}; got != want {
			t.Errorf("pass %d: tables read %v times, want %v", n, got, want)
		}
	}
}
