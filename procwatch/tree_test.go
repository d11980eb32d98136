//go:build linux

package procwatch

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The recorded /proc trees under testdata/proc are written by writeTree from
// the scenarios below: go test -run TestTestdataTrees -update rewrites them.
// The same writer makes the benchmark's tree in a temporary directory.
var update = flag.Bool("update", false, "rewrite the /proc trees under testdata/proc")

// fakeProc is one process of a recorded tree.
type fakeProc struct {
	pid, ppid    int
	utime, stime uint64 // clock ticks
	start        uint64 // clock ticks after boot
	rssPages     uint64
	cmdline      []string
	environ      []string       // written when not nil
	fds          map[int]string // fd → link target ("socket:[N]", "hb" for a heartbeat file, "epoll" for an epoll instance)
	fdinfo       map[int]string // fd → its /proc/PID/fdinfo/N
	tasks        int            // threads (task/TID directories), 1 when 0
	children     []int
	noFD         bool // fd is not a readable directory (as without permission)
}

// fakeTree is a recorded proc root: processes, the boot time, somaxconn, and
// the socket tables seen from the first process (the master).
type fakeTree struct {
	btime     int
	somaxconn int
	procs     []fakeProc
	tcp, tcp6 []string
	unix      []string
}

const (
	tcpHeader  = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
	unixHeader = "Num       RefCount Protocol Flags    Type St Inode Path"
)

// hexAddr renders an address as /proc/net/tcp{,6} does.
func hexAddr(ap string) string {
	a := netip.MustParseAddrPort(ap)
	b := a.Addr().AsSlice()
	var s strings.Builder
	for w := 0; w < len(b)/4; w++ {
		fmt.Fprintf(&s, "%02X%02X%02X%02X", b[w*4+3], b[w*4+2], b[w*4+1], b[w*4])
	}
	return fmt.Sprintf("%s:%04X", s.String(), a.Port())
}

// tcpRow is one line of /proc/net/tcp{,6}.
func tcpRow(sl int, local, remote string, state, rx int, inode uint64) string {
	return fmt.Sprintf("%4d: %s %s %02X 00000000:%08X 00:00000000 00000000  1000        0 %d 1 0000000000000000 100 0 0 10 0",
		sl, hexAddr(local), hexAddr(remote), state, rx, inode)
}

// unixRow is one line of /proc/net/unix.
func unixRow(flags, typ, state int, inode uint64, path string) string {
	row := fmt.Sprintf("0000000000000000: 00000002 00000000 %08X %04X %02X %5d", flags, typ, state, inode)
	if path != "" {
		row += " " + path
	}
	return row
}

func statLine(p fakeProc) string {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime vsize rss rsslim, then 28 more.
	f := []string{strconv.Itoa(p.pid), "(gunicorn)", "S", strconv.Itoa(p.ppid),
		"1000", "1000", "0", "-1", "4194560", "100", "0", "0", "0",
		strconv.FormatUint(p.utime, 10), strconv.FormatUint(p.stime, 10), "0", "0", "20", "0", "1", "0",
		strconv.FormatUint(p.start, 10), "30000000", strconv.FormatUint(p.rssPages, 10), "18446744073709551615"}
	for len(f) < 52 {
		f = append(f, "0")
	}
	return strings.Join(f, " ") + "\n"
}

// writeTree writes t under dir. A heartbeat fd links to a file under
// dir/hb, whose change time is when it was written.
func writeTree(dir string, t fakeTree) error {
	w := func(path, data string) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(data), 0o644)
	}
	if err := w(filepath.Join(dir, "stat"), fmt.Sprintf("cpu  1 2 3 4 5 6 7 8 9 10\nbtime %d\nprocesses 1\n", t.btime)); err != nil {
		return err
	}
	if err := w(filepath.Join(dir, "sys/net/core/somaxconn"), fmt.Sprintf("%d\n", t.somaxconn)); err != nil {
		return err
	}
	hasBeat := map[int]bool{}
	for _, p := range t.procs {
		for _, target := range p.fds {
			if target == "hb" {
				hasBeat[p.pid] = true
			}
		}
	}
	for i, p := range t.procs {
		pd := filepath.Join(dir, strconv.Itoa(p.pid))
		// A master holds the heartbeat file of each of its workers.
		fds := map[int]string{}
		for fd, target := range p.fds {
			fds[fd] = target
		}
		for k, c := range p.children {
			if hasBeat[c] {
				fds[100+k] = fmt.Sprintf("hb:%d", c)
			}
		}
		p.fds = fds
		for k := 1; k < p.tasks; k++ {
			if err := os.MkdirAll(filepath.Join(pd, "task", strconv.Itoa(p.pid+10000+k)), 0o755); err != nil {
				return err
			}
		}
		for fd, info := range p.fdinfo {
			if err := w(filepath.Join(pd, "fdinfo", strconv.Itoa(fd)), info); err != nil {
				return err
			}
		}
		if err := w(filepath.Join(pd, "stat"), statLine(p)); err != nil {
			return err
		}
		if err := w(filepath.Join(pd, "cmdline"), strings.Join(p.cmdline, "\x00")+"\x00"); err != nil {
			return err
		}
		if p.environ != nil {
			if err := w(filepath.Join(pd, "environ"), strings.Join(p.environ, "\x00")+"\x00"); err != nil {
				return err
			}
		}
		var kids []string
		for _, c := range p.children {
			kids = append(kids, strconv.Itoa(c))
		}
		kidsLine := ""
		if len(kids) > 0 {
			kidsLine = strings.Join(kids, " ") + " "
		}
		if err := w(filepath.Join(pd, "task", strconv.Itoa(p.pid), "children"), kidsLine); err != nil {
			return err
		}
		if p.noFD {
			if err := w(filepath.Join(pd, "fd"), "recorded without permission: reading this directory fails\n"); err != nil {
				return err
			}
		} else {
			if err := os.MkdirAll(filepath.Join(pd, "fd"), 0o755); err != nil {
				return err
			}
			for fd, target := range p.fds {
				switch {
				case target == "hb":
					name := fmt.Sprintf("wgunicorn-%d (deleted)", p.pid)
					if err := w(filepath.Join(dir, "hb", name), ""); err != nil {
						return err
					}
					target = "../../hb/" + name
				case strings.HasPrefix(target, "hb:"):
					target = fmt.Sprintf("../../hb/wgunicorn-%s (deleted)", target[3:])
				case target == "epoll":
					target = "anon_inode:[eventpoll]"
				}
				if err := os.Symlink(target, filepath.Join(pd, "fd", strconv.Itoa(fd))); err != nil {
					return err
				}
			}
		}
		if i == 0 {
			tables := []struct {
				name, header string
				rows         []string
			}{{"tcp", tcpHeader, t.tcp}, {"tcp6", tcpHeader, t.tcp6}, {"unix", unixHeader, t.unix}}
			for _, tb := range tables {
				var data strings.Builder
				data.WriteString(tb.header + "\n")
				for _, r := range tb.rows {
					data.WriteString(r + "\n")
				}
				if err := w(filepath.Join(pd, "net", tb.name), data.String()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var gunicornCmd = []string{"/usr/bin/python3", "/usr/bin/gunicorn", "--workers", "4", "--backlog", "100", "--bind", "0.0.0.0:8000", "app:app"}

func stdFDs(extra map[int]string) map[int]string {
	m := map[int]string{0: "/dev/null", 1: "pipe:[900]", 2: "pipe:[900]"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// syncTCPTree: a master (1000) with 4 sync workers on 0.0.0.0:8000; 1001
// and 1002 each hold an accepted connection, 1003 a connection of its own to
// a database (not a request), 1004 nothing; 7 connections wait in the accept
// queue; 1100 is a new master started by USR2, holding its own worker's
// (1101) heartbeat file and the listener. Unrelated sockets around them. noFD makes every fd directory
// unreadable.
func syncTCPTree(noFD bool) fakeTree {
	t := fakeTree{btime: 1700000000, somaxconn: 4096}
	master := fakeProc{pid: 1000, ppid: 1, utime: 150, stime: 50, start: 10000, rssPages: 5000,
		cmdline: gunicornCmd, children: []int{1001, 1002, 1003, 1004, 1100}, noFD: noFD,
		fds: stdFDs(map[int]string{5: "socket:[5000]", 6: "pipe:[901]", 7: "pipe:[901]"})}
	t.procs = append(t.procs, master)
	for i, pid := range []int{1001, 1002, 1003, 1004} {
		fds := stdFDs(map[int]string{5: "socket:[5000]", 9: "hb", 10: "socket:[7000" + strconv.Itoa(i) + "]"})
		if pid != 1004 {
			fds[11] = "socket:[600" + strconv.Itoa(i+1) + "]"
		}
		t.procs = append(t.procs, fakeProc{pid: pid, ppid: 1000, utime: uint64(100 * (i + 1)), stime: uint64(10 * (i + 1)),
			start: 10100 + uint64(i), rssPages: 10000 + uint64(i), cmdline: gunicornCmd, fds: fds, noFD: noFD})
	}
	// The new master of a USR2 upgrade, with a worker of its own whose
	// heartbeat file it holds (as a master does), and the listener.
	t.procs = append(t.procs, fakeProc{pid: 1100, ppid: 1000, utime: 5, stime: 5, start: 20000, rssPages: 4000,
		cmdline: gunicornCmd, noFD: noFD, children: []int{1101},
		fds: stdFDs(map[int]string{5: "socket:[5000]"})},
		fakeProc{pid: 1101, ppid: 1100, utime: 1, stime: 1, start: 20100, rssPages: 4000,
			cmdline: gunicornCmd, noFD: noFD, fds: stdFDs(map[int]string{5: "socket:[5000]", 9: "hb"})})
	t.tcp = []string{
		tcpRow(0, "0.0.0.0:22", "0.0.0.0:0", tcpListen, 0, 300),
		tcpRow(1, "0.0.0.0:8000", "0.0.0.0:0", tcpListen, 7, 5000),
		tcpRow(2, "10.0.0.5:8000", "10.0.0.7:51000", tcpEstablished, 0, 6001),
		tcpRow(3, "10.0.0.5:8000", "10.0.0.7:51001", 0x08, 0, 6002), // CLOSE_WAIT: the client left, the worker is still on it
		tcpRow(4, "10.0.0.5:40000", "10.0.0.9:5432", tcpEstablished, 0, 6003),
		tcpRow(5, "10.0.0.5:8000", "10.0.0.7:51002", tcpEstablished, 0, 6100), // in the accept queue
		tcpRow(6, "10.0.0.5:22", "10.0.0.8:60000", tcpEstablished, 0, 301),
	}
	t.tcp6 = []string{tcpRow(0, "[::]:22", "[::]:0", tcpListen, 0, 302)}
	t.unix = []string{
		unixRow(0x10000, 1, 1, 400, "/run/systemd/private"),
		unixRow(0, 2, 1, 70000, ""), // the workers' StatsD sockets are UDP; this is some datagram socket
		unixRow(0, 1, 3, 401, ""),
	}
	return t
}

// gthreadUnixTree: a gthread master (2000) on unix:/run/gunicorn.sock, its
// worker 2001 holding 3 accepted connections and a connection of its own to
// another unix socket, 2002 none.
func gthreadUnixTree() fakeTree {
	cmd := []string{"gunicorn", "-k", "gthread", "--threads", "4", "-b", "unix:/run/gunicorn.sock", "app:app"}
	t := fakeTree{btime: 1700000000, somaxconn: 128}
	t.procs = []fakeProc{
		{pid: 2000, ppid: 1, utime: 10, stime: 10, start: 500, rssPages: 3000, cmdline: cmd, children: []int{2001, 2002},
			fds: stdFDs(map[int]string{3: "socket:[8000]"})},
		{pid: 2001, ppid: 2000, utime: 20, stime: 20, start: 600, rssPages: 6000, cmdline: cmd, tasks: 3,
			fds: stdFDs(map[int]string{3: "socket:[8000]", 4: "hb", 5: "socket:[8101]", 6: "socket:[8102]", 7: "socket:[8103]",
				8: "socket:[8104]", 9: "socket:[8105]", 10: "epoll"}),
			fdinfo: map[int]string{10: epollInfo(8000, 8103)}}, // the listener and an idle keep-alive connection
		{pid: 2002, ppid: 2000, utime: 30, stime: 30, start: 601, rssPages: 6001, cmdline: cmd,
			fds:    stdFDs(map[int]string{3: "socket:[8000]", 4: "hb", 10: "epoll"}),
			fdinfo: map[int]string{10: epollInfo(8000)}},
	}
	t.unix = []string{
		unixRow(0x10000, 1, 1, 8000, "/run/gunicorn.sock"),
		unixRow(0, 1, 3, 8101, "/run/gunicorn.sock"),
		unixRow(0, 1, 3, 8102, "/run/gunicorn.sock"),
		unixRow(0, 1, 3, 8103, "/run/gunicorn.sock"),
		unixRow(0, 1, 3, 8104, ""),                   // its own client connection
		unixRow(0, 2, 1, 8105, ""),                   // a datagram socket
		unixRow(0, 1, 3, 8200, "/run/gunicorn.sock"), // not yet accepted (nobody holds it)
		unixRow(0x10000, 1, 1, 8300, "/run/with a space.sock"),
	}
	return t
}

// epollInfo is the /proc/PID/fdinfo of an epoll instance registered for
// reading on the sockets with these inodes (their fd numbers made up).
func epollInfo(inodes ...uint64) string {
	var b strings.Builder
	b.WriteString("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n")
	for i, ino := range inodes {
		fmt.Fprintf(&b, "tfd: %8d events:       19 data: %16x  pos:0 ino:%x sdev:8\n", 20+i, 20+i, ino)
	}
	return b.String()
}

// discoverTree: an init, an editor with a file named gunicorn.conf.py open, two
// Gunicorn masters (1000, the older, with its workers and a new master 1100
// from a USR2 upgrade; 3000 titled by setproctitle), from syncTCPTree.
func discoverTree() fakeTree {
	t := syncTCPTree(false)
	t.procs = append(t.procs,
		fakeProc{pid: 1, ppid: 0, start: 1, cmdline: []string{"/sbin/init"}, children: []int{1000, 1500, 3000}, fds: stdFDs(nil)},
		fakeProc{pid: 1500, ppid: 1, start: 900, cmdline: []string{"vim", "gunicorn.conf.py"}, fds: stdFDs(nil)},
		fakeProc{pid: 3000, ppid: 1, start: 30000, cmdline: []string{"gunicorn: master [other]"}, fds: stdFDs(nil)},
	)
	return t
}

var trees = map[string]func() fakeTree{
	"sync-tcp":     func() fakeTree { return syncTCPTree(false) },
	"no-fd":        func() fakeTree { return syncTCPTree(true) },
	"gthread-unix": gthreadUnixTree,
	"discover":     discoverTree,
}

// TestTestdataTrees rewrites the recorded trees with -update, and otherwise
// checks that each one is there.
func TestTestdataTrees(t *testing.T) {
	for name, mk := range trees {
		dir := filepath.Join("testdata", "proc", name)
		if *update {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := writeTree(dir, mk()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "stat")); err != nil {
			t.Errorf("tree %s: %v (go test -run TestTestdataTrees -update)", name, err)
		}
	}
}
