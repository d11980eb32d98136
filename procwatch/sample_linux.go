//go:build linux

package procwatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sys/unix"
)

// userHZ is the unit of CPU times and start times in /proc/PID/stat: 100 on
// every Linux (the kernel's USER_HZ; procfs assumes the same).
const userHZ = 100

// discoverEvery is how often WithDiscover looks for a master while none runs.
const discoverEvery = time.Second

// restartWindow is how long after a worker exits a new worker counts as its
// replacement (Gunicorn's arbiter replaces a worker within its loop, at most
// a second later, plus the new worker's start).
const restartWindow = 5 * time.Second

// osState is what passes keep from one to the next.
type osState struct {
	fs       procfs.FS
	diag     bool   // use sock_diag (the root is /proc itself)
	selfNet  uint64 // inode of our network namespace, for the diag
	bootTime float64
	bootErr  error
	pageSize int64

	master       procID
	args         gunicornArgs
	sync         bool
	lastDiscover time.Time

	prevAt   time.Time
	prevUp   bool
	workers  map[int]uint64 // pid → start time at the previous pass
	pending  []time.Time    // exits not yet matched with a new worker
	children map[procID]bool
	pidOpts  map[procID]*pidOpts
	listens  map[listenKey]metric.MeasurementOption

	// known is what the socket tables said of the workers' sockets (by
	// inode), kept while a worker holds the socket: a pass reads a table
	// only for a socket it does not know yet.
	known map[uint64]sockInfo
	// dump lists the LISTEN sockets of the master's network namespace
	// (sock_diag), or says it cannot (ok false: another namespace, or the
	// proc root is not /proc); tests replace it.
	dump func(w *Watcher, pid int, fn func(diagEntry)) (ok bool, err error)
	// tableReads counts the reads of each socket table, for tests.
	tableReads [numTables]uint64
	passNo     uint64

	// Buffers reused from pass to pass.
	procs    []procRead
	inodes   map[uint64]int // socket inode → index in procs
	cands    []candidate
	listenrs []listener
	prevLsn  []listener // the previous pass's, whose unix paths are reused
	file     []byte
	dirBuf   []byte
	name     []byte
	diagBuf  []byte
	kids     []int
	spare    snapshot
}

// The socket tables of the master's network namespace, as bits.
const (
	tblTCP    = 1 << iota // /proc/PID/net/tcp
	tblTCP6               // /proc/PID/net/tcp6
	tblUnix               // /proc/PID/net/unix
	numTables = 3
	allTables = tblTCP | tblTCP6 | tblUnix
)

// Their indexes, in tableNames and tableReads.
const (
	idxTCP = iota
	idxTCP6
	idxUnix
)

var tableNames = [numTables]string{idxTCP: "tcp", idxTCP6: "tcp6", idxUnix: "unix"}

// sockInfo is what the socket tables said of a worker's socket. It holds
// while the socket lives: an accepted connection is in its table from its
// birth (made by the kernel before accept returns it) until the worker
// closes it, and its local address and port, or its unix path, never change;
// no other socket can become one. So a socket once found keeps what was
// found (an accepted connection stays one through CLOSE_WAIT), and a socket
// looked for in a table and not found is not one of that table's accepted
// connections.
type sockInfo struct {
	checked uint8          // tables it was looked for in and not found
	found   bool           // a line of a table was found: what follows is set
	conn    bool           // may be an accepted connection: tcp not in LISTEN, or a connected unix stream with a path
	unix    bool           // found in /proc/PID/net/unix (path), else in tcp or tcp6 (local)
	local   netip.AddrPort // tcp: the local address and port
	path    string         // unix: the path of a connected stream socket
	seen    uint64         // the last pass that found it in a worker's fds
}

// procID tells a process apart from a later one with the same pid.
type procID struct {
	pid   int
	start uint64
}

// procRead is what a pass read of one process (procs[0] is the master).
type procRead struct {
	id        procID
	utime     uint64
	stime     uint64
	rss       int64
	fdErr     error
	heartbeat string // path of the fd of the worker's heartbeat file
	conns     int64
	notWorker bool // a child with readable fds and no heartbeat file
}

// candidate is a worker's socket that may be an accepted connection.
type candidate struct {
	owner int
	unix  bool
	local netip.AddrPort // tcp
	path  string         // unix
}

type listenKey struct {
	unix bool
	addr netip.AddrPort
	path string
}

// listener is a listening socket of the master.
type listener struct {
	key        listenKey
	inode      uint64
	queue      int64
	limit      int64
	queueKnown bool
	limitKnown bool // from sock_diag; otherwise fallbackLimit
}

// table is the socket table where the listener's accepted connections are.
func (l *listener) table() uint8 {
	switch {
	case l.key.unix:
		return tblUnix
	case l.key.addr.Addr().Is4():
		return tblTCP
	default:
		return tblTCP6
	}
}

func (w *Watcher) initOS() error {
	f, err := procfs.NewFS(w.cfg.procRoot)
	if err != nil {
		return fmt.Errorf("procwatch: proc file system at %s: %w", w.cfg.procRoot, err)
	}
	s := &w.os
	s.fs = f
	s.pageSize = int64(os.Getpagesize())
	s.diag = filepath.Clean(w.cfg.procRoot) == DefaultProcRoot
	if s.diag {
		s.selfNet, _ = nsInode("/proc/self/ns/net")
	}
	s.workers = map[int]uint64{}
	s.children = map[procID]bool{}
	s.pidOpts = map[procID]*pidOpts{}
	s.listens = map[listenKey]metric.MeasurementOption{}
	s.inodes = map[uint64]int{}
	s.known = map[uint64]sockInfo{}
	s.diagBuf = make([]byte, 32<<10)
	if s.diag {
		s.dump = (*Watcher).dumpDiag
	}
	return nil
}

func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func (w *Watcher) path(elem ...string) string {
	return filepath.Join(append([]string{w.cfg.procRoot}, elem...)...)
}

func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// pass is one sampling pass. Call with passMu held.
func (w *Watcher) pass() error {
	s := &w.os
	now := w.now()
	var errs []error
	fail := func(r int, err error) { errs = append(errs, w.fail(r, err)) }

	master, st, err := w.findMaster(now)
	if err != nil {
		fail(errPIDFile, err)
	}
	if master.pid == 0 {
		w.down()
		return errors.Join(errs...)
	}
	if master != s.master {
		w.newMaster(master)
	}
	if s.bootTime == 0 && s.bootErr == nil {
		s.bootTime, s.bootErr = w.readBootTime()
		if s.bootErr != nil {
			fail(errProcRead, s.bootErr)
		}
	}

	// The master and its workers.
	s.procs = append(s.procs[:0], procRead{id: master, utime: st.utime, stime: st.stime, rss: st.rssPages * s.pageSize})
	kids, err := w.children(master.pid)
	if err != nil {
		fail(errProcRead, err)
	}
	for _, pid := range kids {
		cst, err := w.stat(pid)
		if err != nil {
			if !gone(err) {
				fail(errProcRead, err)
			}
			continue
		}
		if cst.ppid != master.pid || cst.state == 'Z' || cst.state == 'X' {
			continue
		}
		id := procID{pid, cst.start}
		if !w.isWorker(id) {
			continue
		}
		s.procs = append(s.procs, procRead{id: id, utime: cst.utime, stime: cst.stime, rss: cst.rssPages * s.pageSize})
	}

	// Their sockets.
	clear(s.inodes)
	for i := range s.procs {
		p := &s.procs[i]
		p.fdErr = w.readFDs(p, i)
		if p.fdErr != nil {
			if gone(p.fdErr) && i > 0 {
				continue // exited since its stat was read; counted next pass
			}
			fail(errFDAccess, p.fdErr)
		} else if i > 0 && p.heartbeat == "" {
			// Every worker holds its heartbeat file from birth (made by
			// the master before the fork); a child without one is a new
			// master started by USR2 (exec closed the files) or another
			// helper process.
			p.notWorker = true
		}
	}
	netErr, diagErr := w.readSockets()
	if diagErr != nil {
		fail(errSockDiag, diagErr)
	}
	if netErr != nil {
		fail(errNetRead, netErr)
	}

	snap := w.build(now)

	// Restarts: workers gone since the last pass, matched with new ones.
	restarts := w.countRestarts(now)

	w.mu.Lock()
	if s.prevUp && !s.prevAt.IsZero() && snap.stateKnown {
		w.busyTime += float64(snap.busy) * now.Sub(s.prevAt).Seconds()
	}
	w.restarts += restarts
	w.passes++
	s.spare, w.snap = w.snap, snap
	w.mu.Unlock()
	s.prevAt, s.prevUp = now, true
	w.prune()
	return errors.Join(errs...)
}

// down records a pass that found no master.
func (w *Watcher) down() {
	s := &w.os
	w.mu.Lock()
	if w.snap.up {
		w.cfg.logger.Info("procwatch: the Gunicorn master is gone", "pid", w.snap.masterPID)
	}
	s.spare, w.snap = w.snap, snapshot{procs: s.spare.procs[:0], listeners: s.spare.listeners[:0]}
	w.passes++
	w.mu.Unlock()
	s.master = procID{}
	s.procs = s.procs[:0]
	s.listenrs = s.listenrs[:0]
	clear(s.known)
	s.prevUp = false
	clear(s.workers)
	s.pending = s.pending[:0]
	w.prune()
}

// newMaster resets what belongs to the previous master and reads the new
// one's arguments. Workers of another master are not counted as restarts.
func (w *Watcher) newMaster(m procID) {
	s := &w.os
	s.master = m
	s.prevUp = false
	clear(s.known)
	clear(s.workers)
	s.pending = s.pending[:0]
	s.args = gunicornArgs{}
	if p, err := s.fs.Proc(m.pid); err == nil {
		if env, err := p.Environ(); err == nil {
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, "GUNICORN_CMD_ARGS="); ok {
					s.args.parse(strings.Fields(v))
				}
			}
		}
		if args, err := p.CmdLine(); err == nil {
			s.args.parse(args)
		}
	}
	class := s.args.workerClass
	if w.cfg.workerClass != "" {
		class = w.cfg.workerClass
	}
	s.sync = isSyncClass(class, s.args.threads)
	if class == "" {
		class = "sync (Gunicorn's default)"
	}
	w.cfg.logger.Info("procwatch: watching the Gunicorn master", "pid", m.pid, "worker_class", class, "sync", s.sync)
}

// findMaster returns the master to watch now (pid 0 when none runs) and its
// stat. The error is about the pid file.
func (w *Watcher) findMaster(now time.Time) (procID, procStat, error) {
	s := &w.os
	var pid int
	var err error
	switch {
	case w.cfg.pid != 0:
		pid = w.cfg.pid
	case w.cfg.pidFile != "":
		pid, err = readPIDFile(w.cfg.pidFile)
	default:
		pid = s.master.pid
	}
	var st procStat
	if pid != 0 {
		var serr error
		st, serr = w.stat(pid)
		if serr != nil || st.state == 'Z' || st.state == 'X' ||
			(w.cfg.discover && st.start != s.master.start) {
			pid = 0
		}
	}
	if pid == 0 && w.cfg.discover && (s.lastDiscover.IsZero() || now.Sub(s.lastDiscover) >= discoverEvery) {
		s.lastDiscover = now
		pid = w.discover()
		if pid != 0 {
			var serr error
			if st, serr = w.stat(pid); serr != nil {
				pid = 0
			}
		}
	}
	if pid == 0 {
		return procID{}, st, err
	}
	return procID{pid, st.start}, st, err
}

// readPIDFile reads Gunicorn's pid file. A missing file is no error: the
// master is down.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("pid file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return 0, nil // being written
	}
	pid, err := strconv.Atoi(t)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, t)
	}
	return pid, nil
}

// discover looks through the proc root for Gunicorn masters and returns the
// oldest, or 0.
func (w *Watcher) discover() int {
	procs, err := w.os.fs.AllProcs()
	if err != nil {
		return 0
	}
	self := 0
	if w.os.diag {
		self = os.Getpid()
	}
	type cand struct {
		pid, ppid int
		start     uint64
	}
	var cands []cand
	isCand := map[int]bool{}
	for _, p := range procs {
		if p.PID == self {
			continue
		}
		args, err := p.CmdLine()
		if err != nil || !isGunicornCmdline(args) {
			continue
		}
		st, err := p.Stat()
		if err != nil || st.State == "Z" || st.State == "X" {
			continue
		}
		cands = append(cands, cand{p.PID, st.PPID, st.Starttime})
		isCand[p.PID] = true
	}
	best, n := cand{}, 0
	for _, c := range cands {
		if isCand[c.ppid] {
			continue // a worker, or a new master during a USR2 upgrade
		}
		n++
		if best.pid == 0 || c.start < best.start || (c.start == best.start && c.pid < best.pid) {
			best = c
		}
	}
	if n > 1 {
		w.cfg.logger.Warn("procwatch: found several Gunicorn masters; watching the oldest", "masters", n, "pid", best.pid)
	}
	return best.pid
}

// stat reads /proc/PID/stat.
func (w *Watcher) stat(pid int) (procStat, error) {
	data, err := w.readFile(w.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	if len(data) == 0 {
		// Reaped between the open and the read.
		return procStat{}, fmt.Errorf("process %d: stat: %w", pid, fs.ErrNotExist)
	}
	st, err := parseStat(data)
	if err != nil {
		return procStat{}, fmt.Errorf("process %d: stat: %w", pid, err)
	}
	return st, nil
}

// children returns the pids of the master's children, from
// /proc/PID/task/TID/children, or when the kernel has no such file, by
// looking at every process's parent.
func (w *Watcher) children(pid int) ([]int, error) {
	s := &w.os
	s.kids = s.kids[:0]
	dir := w.path(strconv.Itoa(pid), "task")
	var tasks []string
	err := w.readDir(dir, func(_ int, name []byte) { tasks = append(tasks, string(name)) })
	if err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("tasks of process %d: %w", pid, err)
	}
	for _, t := range tasks {
		b, err := w.readFile(filepath.Join(dir, t, "children"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(filepath.Join(dir, t)); serr == nil {
					return w.childrenByScan(pid)
				}
				continue // the thread is gone
			}
			return nil, fmt.Errorf("children of process %d: %w", pid, err)
		}
		for _, f := range bytes.Fields(b) {
			if c, ok := decUint(f); ok && c <= math.MaxInt32 {
				s.kids = append(s.kids, int(c))
			}
		}
	}
	return s.kids, nil
}

func (w *Watcher) childrenByScan(pid int) ([]int, error) {
	s := &w.os
	s.kids = s.kids[:0]
	procs, err := s.fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("listing processes in %s: %w", w.cfg.procRoot, err)
	}
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == pid {
			s.kids = append(s.kids, p.PID)
		}
	}
	return s.kids, nil
}

// isWorker says whether a child of the master is an HTTP worker (not Gunicorn
// 26's dirty arbiter), reading its command line once.
func (w *Watcher) isWorker(id procID) bool {
	s := &w.os
	if v, ok := s.children[id]; ok {
		return v
	}
	v := true
	if p, err := s.fs.Proc(id.pid); err == nil {
		if args, err := p.CmdLine(); err == nil && isDirtyProcess(args) {
			v = false
		}
	}
	s.children[id] = v
	return v
}

// readFile reads a whole file into the pass's buffer (valid until the next
// call). It uses the system calls directly: os.Open would add an fcntl and
// an *os.File per file, for files read ten times a second.
func (w *Watcher) readFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := w.os.file[:0]
	if cap(b) < 4096 {
		b = make([]byte, 0, 4096)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			w.os.file = b
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	w.os.file = b
	return b, nil
}

// readDir calls fn with each name in directory dir but "." and "..", and
// an fd of the directory (for the *at system calls); a name is valid during
// the call only. It reads the entries with getdents into the pass's buffer:
// os.Open would register the directory with the poller, and Readdirnames
// make a string of every name, for directories read ten times a second.
func (w *Watcher) readDir(dir string, fn func(dirfd int, name []byte)) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	if w.os.dirBuf == nil {
		w.os.dirBuf = make([]byte, 8<<10)
	}
	for {
		n, err := syscall.ReadDirent(fd, w.os.dirBuf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino (8), off (8), reclen (2), type (1),
		// name (NUL-terminated).
		for b := w.os.dirBuf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return &fs.PathError{Op: "getdents", Path: dir, Err: errors.New("malformed entry")}
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if string(name) != "." && string(name) != ".." {
				fn(fd, name)
			}
			b = b[reclen:]
		}
	}
}

// readFDs reads the process's file descriptors: its sockets go into the
// inode table, and a worker's heartbeat file is noted.
func (w *Watcher) readFDs(p *procRead, idx int) error {
	dir := w.path(strconv.Itoa(p.id.pid), "fd")
	var buf [256]byte
	err := w.readDir(dir, func(dirfd int, name []byte) {
		k, err := unix.Readlinkat(dirfd, string(name), buf[:])
		if err != nil {
			return // closed since the listing
		}
		t := buf[:k]
		if ino, ok := bytes.CutPrefix(t, []byte("socket:[")); ok {
			if v, ok := decUint(bytes.TrimSuffix(ino, []byte("]"))); ok {
				if _, seen := w.os.inodes[v]; !seen { // the master's own (listeners) stay the master's
					w.os.inodes[v] = idx
				}
			}
			return
		}
		if idx > 0 && bytes.HasPrefix(t[bytes.LastIndexByte(t, '/')+1:], []byte("wgunicorn-")) {
			p.heartbeat = dir + "/" + string(name)
		}
	})
	if err != nil {
		return fmt.Errorf("file descriptors of process %d (%s): %w", p.id.pid, dir, err)
	}
	return nil
}

// readSockets finds the master's listeners, and which of the workers'
// sockets may be accepted connections (s.cands). When the master is in our
// network namespace, the listeners, their queues and limits come from a
// sock_diag dump of the LISTEN sockets (cheap: the kernel walks its listener
// hash), and a socket table is read only when a worker holds a socket not
// yet known, and only the tables of the listeners' families: the kernel
// makes /proc/PID/net/tcp and tcp6 by walking its whole table of
// established connections, which is sized by the machine's memory. Else the
// tables give the listeners too, and all three are read at each pass. It
// returns the errors of the tables and of sock_diag.
func (w *Watcher) readSockets() (netErr, diagErr error) {
	s := &w.os
	s.listenrs = s.listenrs[:0]
	s.cands = s.cands[:0]
	s.passNo++
	viaDiag := false
	if s.dump != nil {
		viaDiag, diagErr = w.listenersByDiag()
		if diagErr != nil {
			s.listenrs = s.listenrs[:0]
			viaDiag = false
		}
	}
	var need uint8 // the tables where the listeners' accepted connections are
	for i := range s.listenrs {
		need |= s.listenrs[i].table()
	}
	// What to read for the workers' sockets not known yet.
	missing := uint8(0)
	for ino, owner := range s.inodes {
		if owner == 0 {
			continue // the master's (an inherited listener)
		}
		k := s.known[ino]
		k.seen = s.passNo
		s.known[ino] = k
		if !k.found {
			missing |= need &^ k.checked
		}
	}
	read := missing
	if !viaDiag {
		read = allTables // for the listeners and their queues
		if len(s.inodes) == 0 && s.procs[0].fdErr == nil {
			read = 0 // no socket at all
		}
	}
	var errs []error
	var readOK uint8
	for t := range numTables {
		bit := uint8(1) << t
		if read&bit == 0 {
			continue
		}
		if err := w.scanTable(t, !viaDiag); err != nil {
			errs = append(errs, err)
			continue
		}
		readOK |= bit
	}
	for ino, k := range s.known {
		if k.seen != s.passNo {
			delete(s.known, ino) // closed: its inode is not reused while it lives
			continue
		}
		if !k.found && readOK != 0 {
			k.checked |= readOK
			s.known[ino] = k
		}
		if k.found && k.conn {
			s.cands = append(s.cands, candidate{owner: s.inodes[ino], unix: k.unix, local: k.local, path: k.path})
		}
	}
	s.prevLsn = append(s.prevLsn[:0], s.listenrs...)
	return errors.Join(errs...), diagErr
}

// scanTable reads socket table t of the master's network namespace: the
// lines of the workers' sockets not yet known go into s.known, and with
// listeners, the master's listening sockets into s.listenrs.
func (w *Watcher) scanTable(t int, listeners bool) error {
	s := &w.os
	s.tableReads[t]++
	path := w.path(strconv.Itoa(s.procs[0].id.pid), "net", tableNames[t])
	data, err := w.readFile(path)
	if err != nil {
		if t == idxTCP6 && errors.Is(err, fs.ErrNotExist) {
			return nil // no IPv6: nothing is in it
		}
		return fmt.Errorf("reading %s: %w", path, err)
	}
	masterFDs := s.procs[0].fdErr == nil
	bad := 0
	if t != idxUnix {
		lines(data, func(line []byte) {
			ino, state, ok := tcpQuick(line)
			if !ok {
				return
			}
			owner, mine := s.inodes[ino]
			isListener := listeners && state == tcpListen && (mine && owner == 0 || !masterFDs)
			var k sockInfo
			if mine && owner > 0 {
				k = s.known[ino]
			}
			isWorker := mine && owner > 0 && !k.found
			if !isListener && !isWorker {
				return
			}
			e, err := parseTCPLine(line)
			if err != nil {
				bad++
				return
			}
			if isListener && (masterFDs || w.boundByArgs(e.local, "")) {
				s.listenrs = append(s.listenrs, listener{key: listenKey{addr: e.local}, inode: ino, queue: int64(e.rxQueue), queueKnown: true})
			}
			if isWorker {
				k.found, k.conn, k.local = true, state != tcpListen, e.local
				s.known[ino] = k
			}
		})
	} else {
		lines(data, func(line []byte) {
			ino, ok := unixQuick(line)
			if !ok {
				return
			}
			owner, mine := s.inodes[ino]
			isListener := listeners && (mine && owner == 0 || !masterFDs)
			var k sockInfo
			if mine && owner > 0 {
				k = s.known[ino]
			}
			isWorker := mine && owner > 0 && !k.found
			if !isListener && !isWorker {
				return
			}
			e, err := parseUnixLine(line)
			if err != nil {
				bad++
				return
			}
			if isListener && e.listening() && len(e.path) > 0 && (masterFDs || w.boundByArgs(netip.AddrPort{}, string(e.path))) {
				s.listenrs = append(s.listenrs, listener{key: listenKey{unix: true, path: w.listenPath(ino, e.path)}, inode: ino})
			}
			if isWorker {
				k.found, k.unix = true, true
				if e.connectedStream() && len(e.path) > 0 {
					k.conn, k.path = true, string(e.path)
				}
				s.known[ino] = k
			}
		})
	}
	if bad > 0 {
		return fmt.Errorf("%s: %d lines not understood", path, bad)
	}
	return nil
}

// listenPath returns path as a string, the previous pass's when the same
// listener had it (no allocation in the steady state).
func (w *Watcher) listenPath(ino uint64, path []byte) string {
	for _, l := range w.os.prevLsn {
		if l.inode == ino && l.key.unix && l.key.path == string(path) {
			return l.key.path
		}
	}
	return string(path)
}

// boundByArgs says whether a listening socket is one of the master's binds as
// its arguments give them (default 127.0.0.1:8000), for when the master's
// file descriptors cannot be read.
func (w *Watcher) boundByArgs(local netip.AddrPort, path string) bool {
	binds := w.os.args.binds
	if len(binds) == 0 {
		binds = []string{gunicornDefaultBind}
	}
	for _, b := range binds {
		if p, ok := strings.CutPrefix(b, "unix:"); ok {
			if path != "" && filepath.Clean(p) == path {
				return true
			}
			continue
		}
		if path != "" {
			continue
		}
		b = strings.TrimPrefix(b, "tcp://")
		host, port, err := splitHostPort(b)
		if err != nil || port != local.Port() {
			continue
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			return true
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == local.Addr().Unmap() {
			return true
		}
		if host == "localhost" && local.Addr().IsLoopback() {
			return true
		}
	}
	return false
}

func splitHostPort(b string) (string, uint16, error) {
	i := strings.LastIndexByte(b, ':')
	if i < 0 {
		return "", 0, errors.New("no port")
	}
	host := strings.Trim(b[:i], "[]")
	p, err := strconv.ParseUint(b[i+1:], 10, 16)
	return host, uint16(p), err
}

// listenersByDiag fills s.listenrs from a sock_diag dump of the LISTEN
// sockets: the master's (or, when its fds cannot be read, those its --bind
// names), with their queues and limits. ok is false when the dump cannot
// be made for the master (another network namespace).
func (w *Watcher) listenersByDiag() (ok bool, err error) {
	s := &w.os
	masterFDs := s.procs[0].fdErr == nil
	return s.dump(w, s.procs[0].id.pid, func(e diagEntry) {
		owner, mine := s.inodes[e.inode]
		if masterFDs && (!mine || owner != 0) {
			return
		}
		var key listenKey
		if e.family == afUnix {
			s.name = unixName(s.name[:0], e.name)
			if len(s.name) == 0 || !masterFDs && !w.boundByArgs(netip.AddrPort{}, string(s.name)) {
				return
			}
			key = listenKey{unix: true, path: w.listenPath(e.inode, s.name)}
		} else {
			if !masterFDs && !w.boundByArgs(e.local, "") {
				return
			}
			key = listenKey{addr: e.local}
		}
		l := listener{key: key, inode: e.inode}
		if e.hasQueue {
			l.queue, l.queueKnown = int64(e.rqueue), true
			l.limit, l.limitKnown = int64(e.wqueue), true
		}
		s.listenrs = append(s.listenrs, l)
	})
}

// dumpDiag is the dump of a Watcher of /proc: sock_diag, when the master
// is in our network namespace.
func (w *Watcher) dumpDiag(pid int, fn func(diagEntry)) (bool, error) {
	if ns, err := nsInode(w.path(strconv.Itoa(pid), "ns", "net")); err != nil || ns != w.os.selfNet {
		return false, nil // another namespace (or unknown): the tables, and the arguments
	}
	if err := dumpListeners(w.os.diagBuf, fn); err != nil {
		return false, err
	}
	return true, nil
}

// build turns what the pass read into a snapshot.
func (w *Watcher) build(now time.Time) snapshot {
	s := &w.os
	snap := snapshot{up: true, masterPID: s.master.pid,
		procs: s.spare.procs[:0], listeners: s.spare.listeners[:0]}
	switch a := &s.args; {
	case !a.hasTimeout:
		snap.timeout, snap.timeoutKnown = gunicornDefaultTimeout, true
	case a.timeout > 0:
		snap.timeout, snap.timeoutKnown = float64(a.timeout), true
	} // --timeout 0: Gunicorn kills no worker for its time

	// Accepted connections per worker.
	for _, c := range s.cands {
		for _, l := range s.listenrs {
			if c.unix != l.key.unix {
				continue
			}
			if c.unix && c.path == l.key.path ||
				!c.unix && c.local.Port() == l.key.addr.Port() &&
					(l.key.addr.Addr().IsUnspecified() || l.key.addr.Addr().Unmap() == c.local.Addr().Unmap()) {
				s.procs[c.owner].conns++
				break
			}
		}
	}

	fdsKnown := true
	for i := range s.procs {
		if s.procs[i].fdErr != nil {
			fdsKnown = false
		}
		if i > 0 && !s.procs[i].notWorker {
			snap.workers++
		}
	}
	snap.stateKnown = s.sync && fdsKnown
	for i := range s.procs {
		p := &s.procs[i]
		if p.notWorker {
			continue
		}
		role := "worker"
		if i == 0 {
			role = "master"
		}
		opts := s.pidOpts[p.id]
		if opts == nil {
			opts = w.newPIDOpts(role, p.id.pid)
			s.pidOpts[p.id] = opts
		}
		pt := procPoint{opts: opts, user: float64(p.utime) / userHZ, sys: float64(p.stime) / userHZ, rss: p.rss}
		if s.bootErr == nil {
			pt.uptime = max(0, float64(now.UnixNano())/1e9-(s.bootTime+float64(p.id.start)/userHZ))
		}
		if i > 0 {
			if !s.sync && p.fdErr == nil {
				pt.conns, pt.connsKnown = p.conns, true
			}
			if snap.stateKnown {
				if p.conns > 0 {
					snap.busy++
					if age, ok := heartbeatAge(p.heartbeat, now); ok {
						snap.ageKnown = true
						snap.ageMax = max(snap.ageMax, age)
					}
				} else {
					snap.idle++
				}
			}
		}
		snap.procs = append(snap.procs, pt)
	}
	if snap.stateKnown && snap.busy == 0 {
		snap.ageKnown = true // no request in flight
	}

	// Listeners.
	var limit int64
	for _, l := range s.listenrs {
		opt, ok := s.listens[l.key]
		if !ok {
			opt = w.listenOpt(l.key)
			s.listens[l.key] = opt
		}
		lp := listenPoint{opt: opt, queue: l.queue, queueKnown: l.queueKnown, limit: l.limit, limitKnown: l.limitKnown}
		if !lp.limitKnown {
			if limit == 0 {
				limit = w.fallbackLimit()
			}
			lp.limit, lp.limitKnown = limit, true
		}
		snap.listeners = append(snap.listeners, lp)
	}
	return snap
}

// fallbackLimit is the accept-queue limit as Gunicorn asks for it (--backlog,
// default 2048) capped by net.core.somaxconn, for when sock_diag cannot say.
func (w *Watcher) fallbackLimit() int64 {
	b := w.os.args.backlog
	if b == 0 {
		b = gunicornDefaultBacklog
	}
	data, err := w.readFile(w.path("sys", "net", "core", "somaxconn"))
	if err != nil {
		return int64(b)
	}
	if m, ok := decUint(bytes.TrimSpace(data)); ok && int(m) < b {
		return int64(m)
	}
	return int64(b)
}

// heartbeatAge is the time since the worker last touched its heartbeat file
// (the fd at path): its change time, which both of Gunicorn's ways to touch
// it move (fchmod before 22.0, os.utime since, which sets the modification
// time to a monotonic clock reading, not a wall-clock time).
func heartbeatAge(path string, now time.Time) (float64, bool) {
	if path == "" {
		return 0, false
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	ctime := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	return max(0, now.Sub(ctime).Seconds()), true
}

// countRestarts compares the workers of this pass with the previous pass's:
// a worker that exited and a new one that appeared within restartWindow of
// it make one restart. Workers added by TTIN or removed by TTOU are not
// matched (unless one of each happens within the window).
func (w *Watcher) countRestarts(now time.Time) int64 {
	s := &w.os
	var restarts int64
	newOnes := 0
	for _, p := range s.procs[1:] {
		if start, ok := s.workers[p.id.pid]; !p.notWorker && (!ok || start != p.id.start) {
			newOnes++
		}
	}
	for pid, start := range s.workers {
		found := false
		for _, p := range s.procs[1:] {
			if !p.notWorker && p.id.pid == pid && p.id.start == start {
				found = true
				break
			}
		}
		if !found {
			s.pending = append(s.pending, now)
		}
	}
	if !s.prevUp {
		newOnes = 0 // the first pass of a master: its workers are not new
	}
	// Expire exits with no replacement in time.
	k := 0
	for _, t := range s.pending {
		if now.Sub(t) <= restartWindow {
			s.pending[k] = t
			k++
		}
	}
	s.pending = s.pending[:k]
	for newOnes > 0 && len(s.pending) > 0 {
		restarts++
		newOnes--
		s.pending = s.pending[1:]
	}
	clear(s.workers)
	for _, p := range s.procs[1:] {
		if !p.notWorker {
			s.workers[p.id.pid] = p.id.start
		}
	}
	return restarts
}

// prune forgets the attribute options of processes no longer seen.
func (w *Watcher) prune() {
	s := &w.os
	for id := range s.pidOpts {
		seen := false
		for _, p := range s.procs {
			if p.id == id {
				seen = true
				break
			}
		}
		if !seen || !w.snap.up {
			delete(s.pidOpts, id)
		}
	}
	for id := range s.children {
		if _, ok := s.workers[id.pid]; !ok {
			delete(s.children, id)
		}
	}
}

func (w *Watcher) readBootTime() (float64, error) {
	path := w.path("stat")
	data, err := w.readFile(path)
	if err != nil {
		return 0, fmt.Errorf("boot time: %w", err)
	}
	for l := range bytes.SplitSeq(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("btime ")); ok {
			if t, ok := decUint(bytes.TrimSpace(v)); ok {
				return float64(t), nil
			}
		}
	}
	return 0, fmt.Errorf("boot time: no btime line in %s", path)
}

// listenOpt makes the measurement option of a listener: tcp with its address
// and port, or unix with its path.
func (w *Watcher) listenOpt(k listenKey) metric.MeasurementOption {
	if k.unix {
		return metric.WithAttributeSet(w.attrSet(keyTransport.String("unix"), keyAddress.String(k.path)))
	}
	return metric.WithAttributeSet(w.attrSet(keyTransport.String("tcp"),
		keyAddress.String(k.addr.Addr().String()), keyPort.Int(int(k.addr.Port()))))
}
