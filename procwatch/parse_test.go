package procwatch

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseTCPLine(t *testing.T) {
	for _, c := range []struct {
		line string
		want tcpEntry
		err  bool
	}{
		{"   1: 0100007F:1F40 00000000:0000 0A 00000000:00000005 00:00000000 00000000  1000        0 5000 1 0000000000000000 100 0 0 10 0",
			tcpEntry{inode: 5000, state: tcpListen, local: netip.MustParseAddrPort("127.0.0.1:8000"), remote: netip.MustParseAddrPort("0.0.0.0:0"), rxQueue: 5}, false},
		{"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0",
			tcpEntry{inode: 77, state: tcpListen, local: netip.MustParseAddrPort("[::1]:8080"), remote: netip.MustParseAddrPort("[::]:0")}, false},
		{"   0: 0000000000000000FFFF00000500000A:1F90 0000000000000000FFFF00000700000A:C738 01 00000000:00000000 00:00000000 00000000     0        0 78 1 0",
			tcpEntry{inode: 78, state: tcpEstablished, local: netip.MustParseAddrPort("[::ffff:10.0.0.5]:8080"), remote: netip.MustParseAddrPort("[::ffff:10.0.0.7]:51000")}, false},
		{"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", tcpEntry{}, true},
		{"   1: 0100007F 00000000:0000 0A 00000000:00000005 00:00000000 00000000  1000 0 5000", tcpEntry{}, true},
		{"   1: 0100007F:1F40 00000000:0000 0A 00000000:00000005 00:00000000 00000000  1000 0 x", tcpEntry{}, true},
	} {
		got, err := parseTCPLine([]byte(c.line))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseTCPLine(%q) = %+v, %v; want %+v, error %v", c.line, got, err, c.want, c.err)
		}
	}
}

func TestParseUnixLine(t *testing.T) {
	got, err := parseUnixLine([]byte("0000000000000000: 00000002 00000000 00010000 0001 01 8000 /run/with a space.sock"))
	want := unixEntry{inode: 8000, flags: unixAcceptCon, typ: unixStream, state: 1, path: []byte("/run/with a space.sock")}
	if err != nil || !reflect.DeepEqual(got, want) || !got.listening() {
		t.Errorf("parseUnixLine = %+v, %v; want %+v", got, err, want)
	}
	got, err = parseUnixLine([]byte("0000000000000000: 00000002 00000000 00000000 0002 01 8105"))
	if err != nil || got.inode != 8105 || got.path != nil || got.connectedStream() {
		t.Errorf("datagram: %+v, %v", got, err)
	}
	if _, err := parseUnixLine([]byte("Num       RefCount Protocol Flags    Type St Inode Path")); err == nil {
		t.Error("header parsed")
	}
}

func TestParseDiag(t *testing.T) {
	type entry struct {
		family         uint8
		inode          uint64
		local          netip.AddrPort
		name           string // rendered by unixName
		rqueue, wqueue uint32
		hasQueue       bool
	}
	var got []entry
	done, err := parseDiag(diagAnswer(
		inetMsg("[::]:8000", 5000, 7, 100),
		inetMsg("127.0.0.1:8001", 5001, 0, 64),
		unixMsg(8000, "/run/gunicorn.sock\x00", 2, 128),
		unixMsg(8001, "\x00gunicorn\x00x", 0, 16),
	), func(e diagEntry) {
		got = append(got, entry{e.family, e.inode, e.local, string(unixName(nil, e.name)), e.rqueue, e.wqueue, e.hasQueue})
	})
	want := []entry{
		{afInet6, 5000, netip.MustParseAddrPort("[::]:8000"), "", 7, 100, true},
		{afInet, 5001, netip.MustParseAddrPort("127.0.0.1:8001"), "", 0, 64, true},
		{afUnix, 8000, netip.AddrPort{}, "/run/gunicorn.sock", 2, 128, true},
		{afUnix, 8001, netip.AddrPort{}, "@gunicorn@x", 0, 16, true}, // as /proc/net/unix prints it
	}
	if err != nil || !done || !reflect.DeepEqual(got, want) {
		t.Errorf("parseDiag = %+v, %v, %v; want %+v", got, done, err, want)
	}
	e := make([]byte, 4)
	binary.NativeEndian.PutUint32(e, uint32(0xffffffff&^0)) // -1: EPERM
	if _, err := parseDiag(nlMsg(nlmsgError, e), func(diagEntry) {}); err == nil {
		t.Error("NLMSG_ERROR not returned")
	}
	if _, err := parseDiag(inetMsg("127.0.0.1:1", 1, 2, 3)[:40], func(diagEntry) {}); err == nil {
		t.Error("truncated message accepted")
	}
}

func TestParseArgs(t *testing.T) {
	var s settings
	conf := s.parseArgs([]string{"/usr/bin/gunicorn", "-kgthread", "--threads=4", "--backlog", "64", "-b", "unix:/run/g.sock",
		"--bind=0.0.0.0:80", "--timeout", "5", "--worker-connections", "50", "--statsd-prefix", "shop.web",
		"--dogstatsd-tags=env:prod", "-c", "/etc/g.py", "app:app"}, sourceArgs)
	want := settings{class: fact[string]{"gthread", sourceArgs}, threads: fact[int]{4, sourceArgs},
		backlog: fact[int]{64, sourceArgs}, binds: []string{"unix:/run/g.sock", "0.0.0.0:80"},
		timeout: fact[int]{5, sourceArgs}, workerConns: fact[int]{50, sourceArgs},
		prefix: fact[string]{"shop.web", sourceArgs}, tags: fact[string]{"env:prod", sourceArgs}}
	if !reflect.DeepEqual(s, want) || conf != "/etc/g.py" {
		t.Errorf("parseArgs = %+v, %q\nwant %+v", s, conf, want)
	}
	for _, c := range []struct {
		args    []string
		timeout int
		has     bool
	}{
		{[]string{"gunicorn", "app:app"}, 0, false},
		{[]string{"gunicorn", "-t", "120", "app:app"}, 120, true},
		{[]string{"gunicorn", "-t90", "app:app"}, 90, true},
		{[]string{"gunicorn", "--timeout=0", "app:app"}, 0, true},
		{[]string{"gunicorn", "--timeout", "60", "-t", "45"}, 45, true}, // the last one wins, as in argparse
		{[]string{"gunicorn", "--timeout", "-5"}, 0, false},
		{[]string{"gunicorn", "--timeout", "1.5"}, 0, false}, // Gunicorn refuses it too
		{[]string{"gunicorn", "--timeout"}, 0, false},
	} {
		var s settings
		s.parseArgs(c.args, sourceArgs)
		if s.timeout.v != c.timeout || s.timeout.known() != c.has {
			t.Errorf("parseArgs(%q): timeout %+v; want %d, %v", c.args, s.timeout, c.timeout, c.has)
		}
	}
	for _, c := range []struct {
		class   string
		threads int
		want    Kind
	}{
		{"", 0, KindSync}, {"sync", 1, KindSync}, {"sync", 2, KindThreaded}, {"gthread", 0, KindThreaded},
		{"gevent", 0, KindAsync}, {"egg:gunicorn#eventlet", 0, KindAsync}, {"gunicorn.workers.sync.SyncWorker", 0, KindSync},
		{"uvicorn.workers.UvicornWorker", 0, KindAsync}, {"uvicorn_worker.UvicornWorker", 0, KindAsync},
		{"myapp.workers.Custom", 0, KindUnknown},
	} {
		if got := kindOf(c.class, c.threads); got != c.want {
			t.Errorf("kindOf(%q, %d) = %v, want %v", c.class, c.threads, got, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/bin/python3", "/usr/bin/gunicorn", "app:app"}, true},
		{[]string{"python3", "-u", "-m", "gunicorn", "app:app"}, true},
		{[]string{"/venv/bin/gunicorn", "-w", "4"}, true},
		{[]string{"gunicorn: master [shop]"}, true},
		{[]string{"gunicorn: worker [shop]"}, false},
		{[]string{"vim", "gunicorn"}, false},
		{[]string{"python3", "manage.py", "gunicorn"}, false},
		{nil, false},
	} {
		if got := isGunicornCmdline(c.args); got != c.want {
			t.Errorf("isGunicornCmdline(%q) = %v", c.args, got)
		}
	}
}

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		line string
		want procStat
		err  string
	}{
		{"1000 (gunicorn) S 1 1000 1000 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 10000 30000000 5000 18446744073709551615 1 1 0 0 0 0 0 16781312 134234627 0 0 0 17 1 0 0 0 0 0\n",
			procStat{state: 'S', ppid: 1, utime: 150, stime: 50, start: 10000, rssPages: 5000}, ""},
		// A name with spaces and parentheses, as setproctitle may set it
		// (the kernel cuts it at 15 bytes), and a zombie with the last fields only up to rss.
		{"1001 (gunicorn: w) (x) Z 1000 1000 1000 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 10100 0 0",
			procStat{state: 'Z', ppid: 1000, utime: 7, stime: 3, start: 10100}, ""},
		{"1001 gunicorn S 1000", procStat{}, "no ')'"},
		{"1001 (gunicorn) S 1000 1000", procStat{}, "fields after the command name"},
		{"1001 (gunicorn) S x 1000 1000 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 10100 0 0", procStat{}, `ppid "x"`},
		{"1001 (gunicorn) S 1000 1000 1000 0 -1 4194560 100 0 0 0 7 -3 0 0 20 0 1 0 10100 0 0", procStat{}, `stime "-3"`},
		{"1001 (gunicorn) SS 1000 1000 1000 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 10100 0 0", procStat{}, `state "SS"`},
		{"1001 (gunicorn) S 1000 1000 1000 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 10100 0 -1 0", procStat{}, `rss "-1"`},
	} {
		got, err := parseStat([]byte(c.line))
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, error %q", c.line, got, err, c.want, c.err)
		}
	}
}

// TestParseConfig reads the literals of a configuration file and leaves
// what is computed, indented or not a literal.
func TestParseConfig(t *testing.T) {
	const file = `# gunicorn.conf.py
import multiprocessing
bind = ["unix:/run/g.sock", '0.0.0.0:8000']
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "gthread"   # threads below
threads: int = 4
timeout = 10
worker_connections = 1_000
backlog = compute()
statsd_prefix = 'shop.web'
if DEBUG:
    timeout = 600
dogstatsd_tags = "env:prod,team"
threadsx = 9
`
	var s settings
	unread := s.parseConfig([]byte(file), sourceConfig)
	want := settings{class: fact[string]{"gthread", sourceConfig}, threads: fact[int]{4, sourceConfig},
		binds: []string{"unix:/run/g.sock", "0.0.0.0:8000"}, timeout: fact[int]{10, sourceConfig},
		workerConns: fact[int]{1000, sourceConfig}, prefix: fact[string]{"shop.web", sourceConfig},
		tags: fact[string]{"env:prod,team", sourceConfig}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("parseConfig = %+v\nwant %+v", s, want)
	}
	if !reflect.DeepEqual(unread, []string{"backlog"}) {
		t.Errorf("unread = %q, want [backlog]", unread)
	}
	// The command line overrides the file, as in Gunicorn.
	s.parseArgs([]string{"gunicorn", "--threads", "8", "-b", "127.0.0.1:9000"}, sourceArgs)
	if s.threads != (fact[int]{8, sourceArgs}) || !reflect.DeepEqual(s.binds, []string{"127.0.0.1:9000"}) || s.timeout.src != sourceConfig {
		t.Errorf("after the command line: %+v", s)
	}
}

func TestMapsLibs(t *testing.T) {
	for _, c := range []struct {
		line string
		want libSet
	}{
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/python3/dist-packages/gevent/libev/corecext.cpython-311-x86_64-linux-gnu.so", libGevent},
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/python3/dist-packages/gevent/_gevent_c_greenlet_primitives.cpython-311-x86_64-linux-gnu.so", libGevent},
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/python3/dist-packages/greenlet/_greenlet.cpython-311-x86_64-linux-gnu.so", libGreenlet},
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/python3/dist-packages/uvloop/loop.cpython-311-x86_64-linux-gnu.so", libUvloop},
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so", libAsyncio},
		{"7f0-7f1 r-xp 0 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6", 0},
		{"7f0-7f1 rw-p 0 00:00 0 [heap]", 0},
	} {
		if got := mapsLibs([]byte(c.line + "\n")); got != c.want {
			t.Errorf("mapsLibs(%q) = %b, want %b", c.line, got, c.want)
		}
	}
}

func TestEpollTargets(t *testing.T) {
	const info = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n" +
		"tfd:        5 events:       19 data:                5  pos:0 ino:6a3 sdev:8\n" +
		"tfd:       12 events:       19 data:                c  pos:0 ino:6b0 sdev:8\n" +
		"tfd: x events: 1 ino:zz\n" +
		"tfd:       13 events:       19 data:                d  pos:0 ino:1f"
	got := epollTargets([]byte(info), nil)
	if !reflect.DeepEqual(got, []uint64{0x6a3, 0x6b0, 0x1f}) {
		t.Errorf("epollTargets = %x, want [6a3 6b0 1f]", got)
	}
}
