package procwatch

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzParseTCPLine: the quick and the full parse of a /proc/net/tcp line
// never panic, and agree on the inode and state of what the full parse
// accepts. Seeds are in testdata/fuzz/FuzzParseTCPLine.
func FuzzParseTCPLine(f *testing.F) {
	f.Add([]byte("   1: 00000000:1F40 00000000:0000 0A 00000000:00000007 00:00000000 00000000  1000        0 5000 1 0000000000000000 100 0 0 10 0"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseTCPLine(line)
		ino, st, ok := tcpQuick(line)
		if err == nil && (!ok || ino != e.inode || st != e.state) {
			t.Errorf("full parse %+v, quick %d %d %v", e, ino, st, ok)
		}
	})
}

// FuzzParseUnixLine: likewise for /proc/net/unix.
func FuzzParseUnixLine(f *testing.F) {
	f.Add([]byte("0000000000000000: 00000002 00000000 00010000 0001 01 8000 /run/with a space.sock"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseUnixLine(line)
		ino, ok := unixQuick(line)
		if err == nil && (!ok || ino != e.inode) {
			t.Errorf("full parse %+v, quick %d %v", e, ino, ok)
		}
	})
}

// FuzzParseStat: /proc/PID/stat never panics the parser, and what it
// accepts has a state and a parent. Seeds are in testdata/fuzz/FuzzParseStat.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1001 (gunicorn: w) (x) S 1000 1000 1000 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 10100 30000000 5000 18446744073709551615 1 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err == nil && (st.state == 0 || st.ppid < 0 || st.rssPages < 0) {
			t.Errorf("parseStat(%q) = %+v", b, st)
		}
	})
}

// FuzzParseDiag: a sock_diag answer never panics the parser, each socket it
// reports is of a family asked for, and its unix name renders as
// /proc/net/unix would (as long, less a path's NUL).
func FuzzParseDiag(f *testing.F) {
	f.Add(diagAnswer(inetMsg("0.0.0.0:8000", 5000, 7, 100), unixMsg(8000, "/run/gunicorn.sock\x00", 2, 128)))
	f.Add(diagAnswer())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseDiag(b, func(e diagEntry) {
			if e.family != afInet && e.family != afInet6 && e.family != afUnix {
				t.Errorf("family %d", e.family)
			}
			if n := unixName(nil, e.name); len(e.name) > 0 && len(n) != len(e.name) && len(n) != len(e.name)-1 {
				t.Errorf("name %q rendered %q", e.name, n)
			}
		})
	})
}

// nlMsg is a netlink message of type typ with body.
func nlMsg(typ uint16, body []byte) []byte {
	n := nlmsgHdrLen + len(body)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint32(b[0:4], uint32(n))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	copy(b[nlmsgHdrLen:], body)
	return b
}

// inetMsg is an inet_diag_msg of a listener on local (an IPv4 address makes
// an AF_INET message).
func inetMsg(local string, inode, rq, wq uint32) []byte {
	b := make([]byte, inetDiagMsgLen)
	ap := netip.MustParseAddrPort(local)
	b[0], b[1] = afInet6, tcpListen
	if ap.Addr().Is4() {
		b[0] = afInet
	}
	binary.BigEndian.PutUint16(b[4:6], ap.Port())
	copy(b[8:24], ap.Addr().AsSlice())
	binary.NativeEndian.PutUint32(b[56:60], rq)
	binary.NativeEndian.PutUint32(b[60:64], wq)
	binary.NativeEndian.PutUint32(b[68:72], inode)
	return nlMsg(sockDiagByFamily, b)
}

// unixMsg is a unix_diag_msg of a listener with UNIX_DIAG_RQLEN, after a
// UNIX_DIAG_NAME attribute holding name (as the kernel gives it: a path with
// its terminating NUL, or an abstract name with a leading NUL), padded to 4
// bytes.
func unixMsg(inode uint32, name string, rq, wq uint32) []byte {
	b := make([]byte, unixDiagMsgLen)
	b[0], b[1], b[2] = afUnix, 1, tcpListen
	binary.NativeEndian.PutUint32(b[4:8], inode)
	attr := make([]byte, (4+len(name)+3)&^3)
	binary.NativeEndian.PutUint16(attr[0:2], uint16(4+len(name)))
	binary.NativeEndian.PutUint16(attr[2:4], unixDiagName)
	copy(attr[4:], name)
	rql := make([]byte, 12)
	binary.NativeEndian.PutUint16(rql[0:2], 12)
	binary.NativeEndian.PutUint16(rql[2:4], unixDiagRQLen)
	binary.NativeEndian.PutUint32(rql[4:8], rq)
	binary.NativeEndian.PutUint32(rql[8:12], wq)
	return nlMsg(sockDiagByFamily, append(append(b, attr...), rql...))
}

// diagAnswer is one datagram with msgs then NLMSG_DONE.
func diagAnswer(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	return append(b, nlMsg(nlmsgDone, make([]byte, 4))...)
}

// FuzzEpollTargets: an epoll instance's fdinfo never panics the parser, and
// it finds at most one target a line.
func FuzzEpollTargets(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\ntfd:        5 events:       19 data:                5  pos:0 ino:6a3 sdev:8\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := epollTargets(b, nil)
		if lines := bytes.Count(b, []byte("\n")) + 1; len(got) > lines {
			t.Errorf("%d targets in %d lines", len(got), lines)
		}
	})
}

// FuzzParseConfig: a configuration file never panics the parser, and what
// it reads is one of its settings.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("bind = ['unix:/run/g.sock', \"0.0.0.0:80\"]\nworker_class = 'gthread'\nthreads: int = 4\ntimeout = 1_0  # s\n"))
	f.Add([]byte("if x:\n    threads = 2\nthreads = compute()\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s settings
		unread := s.parseConfig(b, sourceConfig)
		for _, n := range unread {
			if !configKeys[n] {
				t.Errorf("unread %q is not a setting read", n)
			}
		}
		if s.threads.known() && s.threads.v < 1 || s.timeout.known() && s.timeout.v < 0 {
			t.Errorf("settings %+v", s)
		}
	})
}
