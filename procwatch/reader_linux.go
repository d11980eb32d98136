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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// discoverEvery is how often WithDiscover looks for a master while none runs.
const discoverEvery = time.Second

// reader reads one Gunicorn master and its workers from the proc file system
// and the kernel's socket diagnostics: each pass makes an observation, a
// plain value for the tracker. It keeps from pass to pass only what saves
// reading again (what a socket was found to be, a child's title and
// libraries, the master's settings) and its buffers.
type reader struct {
	cfg     *config
	fs      procfs.FS
	diag    bool   // use sock_diag (the root is /proc itself)
	selfNet uint64 // inode of our network namespace, for the diag
	// masterNet is the master's, read once per master.
	masterNet uint64
	bootTime  float64
	bootErr   error
	pageSize  int64

	master       procID
	set          settings
	ctlPath      string    // the master's control socket (Gunicorn 25.1+), once seen
	ctlDone      bool      // its answer was taken, or is not needed
	ctlNext      time.Time // when to ask again after a failure
	masterLibs   libSet
	lastDiscover time.Time

	// info is what was read once of each child of the master.
	info map[procID]*childInfo
	// beats are the names of the heartbeat files the master holds (one per
	// worker), with the last pass that saw each.
	beats map[string]*uint64
	// held are the master's sockets a worker holds too (its listeners, as
	// opposed to Gunicorn 25's control socket, which only the master
	// holds), with the last pass that saw each.
	held map[uint64]uint64

	// known is what the socket tables said of the workers' sockets (by
	// inode), kept while a worker holds the socket: a pass reads a table
	// only for a socket it does not know yet.
	known map[uint64]sockInfo
	// dump lists the LISTEN sockets of the master's network namespace
	// (sock_diag), or says it cannot (ok false: another namespace, or the
	// proc root is not /proc); tests replace it.
	dump func(r *reader, pid int, fn func(diagEntry)) (ok bool, err error)
	// tableReads counts the reads of each socket table, for tests.
	tableReads [numTables]uint64
	passNo     uint64

	// Buffers reused from pass to pass.
	procs    []procRead
	inodes   map[uint64]int // socket inode → index in procs
	sockFD   map[uint64]int // a worker's socket inode → its fd number
	cands    []candidate
	listenrs []listener
	prevLsn  []listener // the previous pass's, whose unix paths are reused
	file     []byte
	dirBuf   []byte
	name     []byte
	diagBuf  []byte
	kids     []int
	targets  []uint64 // an epoll instance's targets
	unparked []uint64 // the workers' connections not in their epoll instances
	queries  []tcpQuery
	tcpOK    bool // the queries were answered
	// wantTCP asks for the TCP information of the workers' accepted
	// connections (set by the watcher for the classes that need it), and
	// wantBeats for the heartbeats of idle workers too (to measure the
	// timeout of sync workers).
	wantTCP, wantBeats bool
	diagFD             int // the netlink socket of the queries, 0 before the first
	reqBuf             []byte
	flying             []uint64 // the workers' connections with a request in flight
	obs                observation
	errs               []readErr
}

// readErr is a failure of a pass, counted under reason.
type readErr struct {
	reason int
	err    error
}

// childInfo is what is read once of a child of the master.
type childInfo struct {
	dirty     bool   // titled as Gunicorn 26's dirty arbiter or one of its workers
	heartbeat string // the path of its heartbeat file's fd
	libs      libSet
	libsRead  bool
	seen      uint64 // the last pass that saw it
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
	remote  netip.AddrPort // tcp: the peer's
	path    string         // unix: the path of a connected stream socket
	seen    uint64         // the last pass that found it in a worker's fds
}

// procRead is what a pass read of one process (procs[0] is the master).
type procRead struct {
	id          procID
	utime       uint64
	stime       uint64
	rss         int64
	fdErr       error
	heartbeat   string // path of the fd of the worker's heartbeat file
	ownBeat     bool   // it holds a heartbeat file the master holds
	epoll       [maxEpoll]int
	nEpoll      int // epoll instances it holds (their fds in epoll)
	conns       int
	unparkedOff int // its connections not in its epoll instances, in reader.unparked
	nUnparked   int // -1 when its epoll instances could not be read
	notWorker   bool
}

// maxEpoll is the most epoll instances of a worker that are read.
const maxEpoll = 4

// candidate is a worker's socket that may be an accepted connection.
type candidate struct {
	owner  int
	inode  uint64
	unix   bool
	local  netip.AddrPort // tcp
	remote netip.AddrPort // tcp
	path   string         // unix
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

func newReader(cfg *config) (*reader, error) {
	f, err := procfs.NewFS(cfg.procRoot)
	if err != nil {
		return nil, fmt.Errorf("procwatch: proc file system at %s: %w", cfg.procRoot, err)
	}
	r := &reader{cfg: cfg, fs: f, pageSize: int64(os.Getpagesize())}
	r.diag = filepath.Clean(cfg.procRoot) == DefaultProcRoot
	if r.diag {
		r.selfNet = netNamespace(f, os.Getpid())
		r.dump = (*reader).dumpDiag
	}
	r.info = map[procID]*childInfo{}
	r.beats = map[string]*uint64{}
	r.held = map[uint64]uint64{}
	r.inodes = map[uint64]int{}
	r.sockFD = map[uint64]int{}
	r.known = map[uint64]sockInfo{}
	r.diagBuf = make([]byte, 32<<10)
	return r, nil
}

// netNamespace is the inode of a process's network namespace, 0 when it
// cannot be read.
func netNamespace(f procfs.FS, pid int) uint64 {
	p, err := f.Proc(pid)
	if err != nil {
		return 0
	}
	ns, err := p.Namespaces()
	if err != nil {
		return 0
	}
	return uint64(ns["net"].Inode)
}

func (r *reader) path(elem ...string) string {
	return filepath.Join(append([]string{r.cfg.procRoot}, elem...)...)
}

func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

func (r *reader) fail(reason int, err error) {
	r.errs = append(r.errs, readErr{reason, err})
}

// read makes one pass: the master, its workers, their sockets. The
// observation and the errors are valid until the next pass.
func (r *reader) read(now time.Time) (*observation, []readErr) {
	r.errs = r.errs[:0]
	r.passNo++
	o := &r.obs
	*o = observation{at: now, workers: o.workers[:0], listeners: o.listeners[:0]}

	master, st, err := r.findMaster(now)
	if err != nil {
		r.fail(errPIDFile, err)
	}
	if master.pid == 0 {
		r.down()
		return o, r.errs
	}
	if master != r.master {
		r.newMaster(master)
		o.newMaster = true
	}
	o.settings = &r.set
	if r.bootTime == 0 && r.bootErr == nil {
		r.bootTime, r.bootErr = r.readBootTime()
		if r.bootErr != nil {
			r.fail(errProcRead, r.bootErr)
		}
	}

	// The master and its children.
	r.procs = append(r.procs[:0], procRead{id: master, utime: st.utime, stime: st.stime, rss: st.rssPages * r.pageSize})
	kids, err := r.children(master.pid)
	if err != nil {
		r.fail(errProcRead, err)
	}
	for _, pid := range kids {
		cst, err := r.stat(pid)
		if err != nil {
			if !gone(err) {
				r.fail(errProcRead, err)
			}
			continue
		}
		if cst.ppid != master.pid || cst.state == 'Z' || cst.state == 'X' {
			continue
		}
		id := procID{pid, cst.start}
		if r.child(id).dirty {
			continue
		}
		r.procs = append(r.procs, procRead{id: id, utime: cst.utime, stime: cst.stime, rss: cst.rssPages * r.pageSize})
	}

	// Their file descriptors: sockets, heartbeat files, epoll instances.
	clear(r.inodes)
	clear(r.sockFD)
	for i := range r.procs {
		p := &r.procs[i]
		p.fdErr = r.readFDs(p, i)
		if p.fdErr != nil {
			if gone(p.fdErr) && i > 0 {
				p.notWorker = true // exited since its stat was read; counted next pass
				continue
			}
			r.fail(errFDAccess, p.fdErr)
		}
	}
	masterFDs := r.procs[0].fdErr == nil
	for name, pass := range r.beats {
		if *pass != r.passNo {
			delete(r.beats, name)
		}
	}
	for i := 1; i < len(r.procs); i++ {
		p := &r.procs[i]
		// A worker holds its own heartbeat file, made by the master before
		// the fork and held by the master too; a child holding none the
		// master holds is a new master started by USR2 (which holds its
		// own workers' files), Gunicorn 26's dirty arbiter, or another
		// helper process.
		if p.fdErr == nil && (masterFDs && !p.ownBeat || !masterFDs && p.heartbeat == "") {
			p.notWorker = true
		}
	}
	netErr, diagErr := r.readSockets()
	if diagErr != nil {
		r.fail(errSockDiag, diagErr)
	}
	if netErr != nil {
		r.fail(errNetRead, netErr)
	}
	r.countConns()
	r.observe(o)
	r.askControlOnce(now)
	r.prune()
	return o, r.errs
}

// child returns what is known of a child of the master, reading its title
// the first time.
func (r *reader) child(id procID) *childInfo {
	c := r.info[id]
	if c == nil {
		c = &childInfo{}
		if p, err := r.fs.Proc(id.pid); err == nil {
			if args, err := p.CmdLine(); err == nil && isDirtyProcess(args) {
				c.dirty = true
			}
		}
		r.info[id] = c
	}
	c.seen = r.passNo
	return c
}

// down records a pass that found no master.
func (r *reader) down() {
	r.master = procID{}
	r.procs = r.procs[:0]
	r.listenrs = r.listenrs[:0]
	clear(r.known)
	clear(r.info)
	clear(r.held)
}

// newMaster forgets what belongs to the previous master and reads the new
// one's settings and libraries.
func (r *reader) newMaster(m procID) {
	r.master = m
	clear(r.known)
	clear(r.info)
	clear(r.held)
	r.ctlPath, r.ctlDone, r.ctlNext = "", false, time.Time{}
	if r.diag {
		r.masterNet = netNamespace(r.fs, m.pid) // sock_diag answers for our namespace only
	}
	r.set = r.readSettings(m.pid)
	r.masterLibs = 0
	if !r.classGiven() {
		r.masterLibs, _ = r.readLibs(m.pid)
	}
}

// classGiven says whether the worker class and its sizes are known without
// the workers' evidence.
func (r *reader) classGiven() bool {
	return r.cfg.explicit.class != "" || r.set.class.known() || r.cfg.explicit.threads > 1 || r.set.threads.v > 1
}

// readSettings reads a master's Gunicorn settings: its configuration file
// (named by -c, else ./gunicorn.conf.py in its working directory), then
// GUNICORN_CMD_ARGS in its environment, then its arguments, each overriding
// the one before, as Gunicorn reads them.
func (r *reader) readSettings(pid int) settings {
	var s settings
	p, err := r.fs.Proc(pid)
	if err != nil {
		return s
	}
	args, _ := p.CmdLine()
	if len(args) > 0 && strings.HasPrefix(args[0], "gunicorn: ") {
		s.proctitle = true // setproctitle wrote over the arguments
		args = nil
	}
	var envArgs []string
	if env, err := p.Environ(); err == nil {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "GUNICORN_CMD_ARGS="); ok {
				envArgs = strings.Fields(v)
			}
		}
	}
	// The file first, as it is overridden by the others; which file, the
	// others say.
	var probe settings
	conf := probe.parseArgs(envArgs, sourceEnv)
	if c := probe.parseArgs(args, sourceArgs); c != "" {
		conf = c
	}
	if conf == "" {
		conf = "gunicorn.conf.py"
	}
	if !strings.HasPrefix(conf, "python:") {
		if data, path, err := r.readConfig(pid, conf); err == nil {
			s.config = path
			if unread := s.parseConfig(data, sourceConfig); len(unread) > 0 {
				r.cfg.logger.Info("procwatch: settings of the Gunicorn configuration file that are not literals are not read",
					"file", path, "settings", unread)
			}
		}
	}
	s.parseArgs(envArgs, sourceEnv)
	s.parseArgs(args, sourceArgs)
	return s
}

// readConfig reads a master's configuration file, path as its command line
// gives it (relative to its working directory), through its root, so that a
// watcher in another mount namespace reads the master's file.
func (r *reader) readConfig(pid int, path string) ([]byte, string, error) {
	var full string
	if filepath.IsAbs(path) {
		full = r.path(strconv.Itoa(pid), "root", path)
	} else {
		full = r.path(strconv.Itoa(pid), "cwd", path)
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, "", err
	}
	if len(data) > 1<<20 {
		data = data[:1<<20]
	}
	if !filepath.IsAbs(path) {
		if cwd, err := os.Readlink(r.path(strconv.Itoa(pid), "cwd")); err == nil {
			path = filepath.Join(cwd, path)
		}
	}
	return data, path, nil
}

// readLibs reads the distinctive libraries a process has mapped.
func (r *reader) readLibs(pid int) (libSet, error) {
	data, err := r.readFile(r.path(strconv.Itoa(pid), "maps"))
	if err != nil {
		return 0, err
	}
	return mapsLibs(data), nil
}

// findMaster returns the master to watch now (pid 0 when none runs) and its
// stat. The error is about the pid file.
func (r *reader) findMaster(now time.Time) (procID, procStat, error) {
	s := r
	var pid int
	var err error
	switch {
	case r.cfg.pid != 0:
		pid = r.cfg.pid
	case r.cfg.pidFile != "":
		pid, err = readPIDFile(r.cfg.pidFile)
	default:
		pid = s.master.pid
	}
	var st procStat
	if pid != 0 {
		var serr error
		st, serr = r.stat(pid)
		if serr != nil || st.state == 'Z' || st.state == 'X' ||
			(r.cfg.discover && st.start != s.master.start) {
			pid = 0
		}
	}
	if pid == 0 && r.cfg.discover && (s.lastDiscover.IsZero() || now.Sub(s.lastDiscover) >= discoverEvery) {
		s.lastDiscover = now
		pid = r.discover()
		if pid != 0 {
			var serr error
			if st, serr = r.stat(pid); serr != nil {
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
func (r *reader) discover() int {
	procs, err := r.fs.AllProcs()
	if err != nil {
		return 0
	}
	self := 0
	if r.diag {
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
		r.cfg.logger.Warn("procwatch: found several Gunicorn masters; watching the oldest", "masters", n, "pid", best.pid)
	}
	return best.pid
}

// stat reads /proc/PID/stat.
func (r *reader) stat(pid int) (procStat, error) {
	data, err := r.readFile(r.path(strconv.Itoa(pid), "stat"))
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
func (r *reader) children(pid int) ([]int, error) {
	s := r
	s.kids = s.kids[:0]
	dir := r.path(strconv.Itoa(pid), "task")
	var tasks []string
	err := r.readDir(dir, func(_ int, name []byte) { tasks = append(tasks, string(name)) })
	if err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("tasks of process %d: %w", pid, err)
	}
	for _, t := range tasks {
		b, err := r.readFile(filepath.Join(dir, t, "children"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(filepath.Join(dir, t)); serr == nil {
					return r.childrenByScan(pid)
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

func (r *reader) childrenByScan(pid int) ([]int, error) {
	s := r
	s.kids = s.kids[:0]
	procs, err := s.fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("listing processes in %s: %w", r.cfg.procRoot, err)
	}
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == pid {
			s.kids = append(s.kids, p.PID)
		}
	}
	return s.kids, nil
}

// readFile reads a whole file into the pass's buffer (valid until the next
// call). It uses the system calls directly: os.Open would add an fcntl and
// an *os.File per file, for files read ten times a second.
func (r *reader) readFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := r.file[:0]
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
			r.file = b
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	r.file = b
	return b, nil
}

// readDir calls fn with each name in directory dir but "." and "..", and
// an fd of the directory (for the *at system calls); a name is valid during
// the call only. It reads the entries with getdents into the pass's buffer:
// os.Open would register the directory with the poller, and Readdirnames
// make a string of every name, for directories read ten times a second.
func (r *reader) readDir(dir string, fn func(dirfd int, name []byte)) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	if r.dirBuf == nil {
		r.dirBuf = make([]byte, 8<<10)
	}
	for {
		n, err := syscall.ReadDirent(fd, r.dirBuf)
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
		for b := r.dirBuf[:n]; len(b) >= 19; {
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
func (r *reader) readSockets() (netErr, diagErr error) {
	s := r
	s.listenrs = s.listenrs[:0]
	s.cands = s.cands[:0]
	s.passNo++
	viaDiag := false
	if s.dump != nil {
		viaDiag, diagErr = r.listenersByDiag()
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
		if err := r.scanTable(t, !viaDiag); err != nil {
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
			s.cands = append(s.cands, candidate{owner: s.inodes[ino], inode: ino, unix: k.unix, local: k.local, remote: k.remote, path: k.path})
		}
	}
	s.prevLsn = append(s.prevLsn[:0], s.listenrs...)
	return errors.Join(errs...), diagErr
}

// scanTable reads socket table t of the master's network namespace: the
// lines of the workers' sockets not yet known go into s.known, and with
// listeners, the master's listening sockets into s.listenrs.
func (r *reader) scanTable(t int, listeners bool) error {
	s := r
	s.tableReads[t]++
	path := r.path(strconv.Itoa(s.procs[0].id.pid), "net", tableNames[t])
	data, err := r.readFile(path)
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
			k, isListener, isWorker := r.socketRole(ino, listeners && state == tcpListen, masterFDs)
			if !isListener && !isWorker {
				return
			}
			e, err := parseTCPLine(line)
			if err != nil {
				bad++
				return
			}
			if isListener && (masterFDs || r.boundByArgs(e.local, "")) {
				s.listenrs = append(s.listenrs, listener{key: listenKey{addr: e.local}, inode: ino, queue: int64(e.rxQueue), queueKnown: true})
			}
			if isWorker {
				k.found, k.conn, k.local, k.remote = true, state != tcpListen, e.local, e.remote
				s.known[ino] = k
			}
		})
	} else {
		lines(data, func(line []byte) {
			ino, ok := unixQuick(line)
			if !ok {
				return
			}
			k, isListener, isWorker := r.socketRole(ino, listeners, masterFDs)
			if !isListener && !isWorker {
				return
			}
			e, err := parseUnixLine(line)
			if err != nil {
				bad++
				return
			}
			if isListener && e.listening() && len(e.path) > 0 && (masterFDs || r.boundByArgs(netip.AddrPort{}, string(e.path))) {
				s.listenrs = append(s.listenrs, listener{key: listenKey{unix: true, path: r.listenPath(ino, e.path)}, inode: ino})
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

// socketRole says what a socket table line with inode ino is to scanTable:
// a listener to report (listening: the table asks for listeners and the
// line's state allows one; the master's, or any when the master's fds
// cannot be read), or a worker's socket not yet found, with what is known of
// it.
func (r *reader) socketRole(ino uint64, listening, masterFDs bool) (k sockInfo, isListener, isWorker bool) {
	owner, mine := r.inodes[ino]
	isListener = listening && (mine && owner == 0 || !masterFDs)
	if mine && owner > 0 {
		k = r.known[ino]
	}
	return k, isListener, mine && owner > 0 && !k.found
}

// listenPath returns path as a string, the previous pass's when the same
// listener had it (no allocation in the steady state).
func (r *reader) listenPath(ino uint64, path []byte) string {
	for _, l := range r.prevLsn {
		if l.inode == ino && l.key.unix && l.key.path == string(path) {
			return l.key.path
		}
	}
	return string(path)
}

// boundByArgs says whether a listening socket is one of the master's binds as
// its arguments give them (default 127.0.0.1:8000), for when the master's
// file descriptors cannot be read.
func (r *reader) boundByArgs(local netip.AddrPort, path string) bool {
	binds := r.set.binds
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
func (r *reader) listenersByDiag() (ok bool, err error) {
	s := r
	masterFDs := s.procs[0].fdErr == nil
	return s.dump(r, s.procs[0].id.pid, func(e diagEntry) {
		owner, mine := s.inodes[e.inode]
		if masterFDs && (!mine || owner != 0) {
			return
		}
		var key listenKey
		if e.family == afUnix {
			s.name = unixName(s.name[:0], e.name)
			if len(s.name) == 0 || !masterFDs && !r.boundByArgs(netip.AddrPort{}, string(s.name)) {
				return
			}
			key = listenKey{unix: true, path: r.listenPath(e.inode, s.name)}
		} else {
			if !masterFDs && !r.boundByArgs(e.local, "") {
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
func (r *reader) dumpDiag(pid int, fn func(diagEntry)) (bool, error) {
	if r.masterNet == 0 || r.masterNet != r.selfNet {
		return false, nil // another namespace (or unknown): the tables, and the arguments
	}
	if err := dumpListeners(r.diagBuf, fn); err != nil {
		return false, err
	}
	return true, nil
}

// fallbackLimit is the accept-queue limit as Gunicorn asks for it (--backlog,
// default 2048) capped by net.core.somaxconn, for when sock_diag cannot say.
func (r *reader) fallbackLimit() int64 {
	b := r.set.backlog.v
	if b == 0 {
		b = gunicornDefaultBacklog
	}
	data, err := r.readFile(r.path("sys", "net", "core", "somaxconn"))
	if err != nil {
		return int64(b)
	}
	if m, ok := decUint(bytes.TrimSpace(data)); ok && int(m) < b {
		return int64(m)
	}
	return int64(b)
}

// readBootTime reads the system's boot time (btime of the root's stat).
func (r *reader) readBootTime() (float64, error) {
	st, err := r.fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("boot time: %w", err)
	}
	if st.BootTime == 0 {
		return 0, fmt.Errorf("boot time: no btime in %s", r.path("stat"))
	}
	return float64(st.BootTime), nil
}

// readFDs reads the process's file descriptors: its sockets go into the
// inode table; the master's heartbeat files are noted, and a worker's, with
// its epoll instances.
func (r *reader) readFDs(p *procRead, idx int) error {
	dir := r.path(strconv.Itoa(p.id.pid), "fd")
	var buf [256]byte
	err := r.readDir(dir, func(dirfd int, name []byte) {
		k, err := unix.Readlinkat(dirfd, string(name), buf[:])
		if err != nil {
			return // closed since the listing
		}
		t := buf[:k]
		if ino, ok := bytes.CutPrefix(t, []byte("socket:[")); ok {
			v, ok := decUint(bytes.TrimSuffix(ino, []byte("]")))
			if !ok {
				return
			}
			if owner, seen := r.inodes[v]; !seen {
				r.inodes[v] = idx
				if idx > 0 {
					if fd, ok := decUint(name); ok {
						r.sockFD[v] = int(fd)
					}
				}
			} else if owner == 0 && idx > 0 {
				r.held[v] = r.passNo // a listener the workers inherit
			}
			return
		}
		if bytes.Equal(t, []byte("anon_inode:[eventpoll]")) {
			if fd, ok := decUint(name); ok && idx > 0 && p.nEpoll < maxEpoll {
				p.epoll[p.nEpoll] = int(fd)
				p.nEpoll++
			}
			return
		}
		if !bytes.HasPrefix(t[bytes.LastIndexByte(t, '/')+1:], []byte("wgunicorn-")) {
			return
		}
		if idx == 0 {
			if pass, ok := r.beats[string(t)]; ok {
				*pass = r.passNo
			} else {
				n := r.passNo
				r.beats[string(t)] = &n
			}
			return
		}
		// A worker holds only its own (it closes its siblings' after the
		// fork); a new master holds those of its workers.
		own := false
		if pass, ok := r.beats[string(t)]; ok && *pass == r.passNo {
			own = true
		}
		if own || p.heartbeat == "" {
			p.ownBeat = own
			p.heartbeat = r.heartbeatPath(p.id, dir, name)
		}
	})
	if err != nil {
		return fmt.Errorf("file descriptors of process %d (%s): %w", p.id.pid, dir, err)
	}
	return nil
}

// heartbeatPath returns dir/name, the path of a worker's heartbeat fd, made
// once per worker.
func (r *reader) heartbeatPath(id procID, dir string, name []byte) string {
	c := r.info[id]
	if c != nil && strings.HasSuffix(c.heartbeat, string(name)) && len(c.heartbeat) == len(dir)+1+len(name) {
		return c.heartbeat
	}
	path := dir + "/" + string(name)
	if c != nil {
		c.heartbeat = path
	}
	return path
}

// countConns counts the accepted connections each worker holds, and notes
// those not registered in its epoll instances (being served, or waiting
// for a thread), and with wantTCP, those whose TCP information shows a
// request in flight.
func (r *reader) countConns() {
	r.unparked = r.unparked[:0]
	r.flying = r.flying[:0]
	r.queries = r.queries[:0]
	for i, c := range r.cands {
		if !r.onListener(c) {
			continue
		}
		r.procs[c.owner].conns++
		if r.wantTCP && !c.unix {
			r.queries = append(r.queries, tcpQuery{cand: i, local: c.local, remote: c.remote})
		}
	}
	for i := 1; i < len(r.procs); i++ {
		p := &r.procs[i]
		p.unparkedOff = len(r.unparked)
		p.nUnparked = 0
		if p.conns == 0 || p.notWorker {
			continue
		}
		r.targets = r.targets[:0]
		for k := range p.nEpoll {
			data, err := r.readFile(r.path(strconv.Itoa(p.id.pid), "fdinfo", strconv.Itoa(p.epoll[k])))
			if err != nil {
				p.nUnparked = -1
				break
			}
			r.targets = epollTargets(data, r.targets)
		}
		if p.nUnparked < 0 {
			continue
		}
		for _, c := range r.cands {
			if c.owner != i || !r.onListener(c) || slices.Contains(r.targets, c.inode) {
				continue
			}
			if len(r.unparked)-p.unparkedOff < maxActiveConns {
				r.unparked = append(r.unparked, c.inode)
			}
		}
		p.nUnparked = len(r.unparked) - p.unparkedOff
	}
	r.tcpOK = false
	if r.wantTCP {
		err := r.queryTCP()
		if err != nil {
			r.fail(errSockDiag, err) // busy is then not reported for classes that need it
		}
		r.tcpOK = err == nil
	}
}

// onListener says whether a worker's connection was accepted on one of the
// master's listeners.
func (r *reader) onListener(c candidate) bool {
	for _, l := range r.listenrs {
		if c.unix != l.key.unix {
			continue
		}
		if c.unix && c.path == l.key.path ||
			!c.unix && c.local.Port() == l.key.addr.Port() &&
				(l.key.addr.Addr().IsUnspecified() || l.key.addr.Addr().Unmap() == c.local.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// observe fills o with what the pass read.
func (r *reader) observe(o *observation) {
	m := &r.procs[0]
	o.master = procObs{id: m.id, utime: m.utime, stime: m.stime, rss: m.rss, fdsRead: m.fdErr == nil,
		evidence: evidence{libs: r.masterLibs, read: r.masterLibs != 0}}
	o.fdsKnown = true
	for i := range r.procs {
		if r.procs[i].fdErr != nil {
			o.fdsKnown = false
		}
	}
	wantEvidence := !r.classGiven()
	for i := 1; i < len(r.procs); i++ {
		p := &r.procs[i]
		if p.notWorker {
			continue
		}
		w := procObs{id: p.id, utime: p.utime, stime: p.stime, rss: p.rss, fdsRead: p.fdErr == nil,
			conns: p.conns}
		if p.heartbeat != "" && (p.conns > 0 || r.wantBeats) {
			w.heartbeat = changeTime(p.heartbeat)
		}
		if p.fdErr == nil && p.nUnparked >= 0 {
			w.parkedKnown = true
			if p.conns > 0 {
				w.unparked = r.unparked[p.unparkedOff : p.unparkedOff+p.nUnparked]
			}
		}
		w.tcpKnown = r.wantTCP && r.tcpOK && p.fdErr == nil
		if w.tcpKnown && p.conns > 0 {
			w.inFlight, w.tcpKnown = r.inFlight(i)
		}
		if wantEvidence {
			w.evidence = r.evidence(p)
		}
		o.workers = append(o.workers, w)
	}

	// The listeners: the master's sockets the workers hold too (not the
	// control socket of Gunicorn 25+, which only the master holds).
	var limit int64
	for _, l := range r.listenrs {
		if len(r.held) > 0 && r.held[l.inode] == 0 {
			if l.key.unix && len(o.workers) > 0 {
				r.ctlPath = l.key.path // only the master holds it: the control socket
			}
			continue
		}
		lo := listenerObs{key: l.key, queue: l.queue, queueKnown: l.queueKnown, limit: l.limit, limitKnown: l.limitKnown}
		if !lo.limitKnown {
			if limit == 0 {
				limit = r.fallbackLimit()
			}
			lo.limit, lo.limitKnown = limit, true
		}
		o.listeners = append(o.listeners, lo)
	}
}

// evidence reads what a worker shows of its class: its epoll instances,
// (once) its libraries, and for a worker with an epoll instance (gthread,
// unless its libraries say otherwise) its threads.
func (r *reader) evidence(p *procRead) evidence {
	e := evidence{epoll: p.nEpoll > 0}
	c := r.child(p.id)
	if !c.libsRead {
		if libs, err := r.readLibs(p.id.pid); err == nil {
			c.libs, c.libsRead = libs, true
		}
	}
	e.libs, e.read = c.libs, c.libsRead && p.fdErr == nil
	if e.epoll && e.libs == 0 && r.cfg.explicit.threads == 0 && !r.set.threads.known() {
		n := 0
		if err := r.readDir(r.path(strconv.Itoa(p.id.pid), "task"), func(int, []byte) { n++ }); err == nil {
			e.threads = n
		}
	}
	return e
}

// prune forgets what was kept of children and sockets no longer seen.
func (r *reader) prune() {
	for id, c := range r.info {
		if c.seen != r.passNo {
			delete(r.info, id)
		}
	}
	// Listeners the workers held: forgotten after a while without a worker
	// holding them (a listener closed by a HUP with a new --bind).
	for ino, pass := range r.held {
		if r.passNo-pass > 50 {
			delete(r.held, ino)
		}
	}
}

// changeTime is the change time of the file at path (zero when it cannot
// be read): for a heartbeat file, the last time its worker touched it, which
// both of Gunicorn's ways to touch it move (fchmod before 22.0, os.utime
// since, which sets the modification time to a monotonic clock reading, not
// a wall-clock time).
func changeTime(path string) time.Time {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return time.Time{}
	}
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
}
