package procwatch

import (
	"bytes"
	"errors"
	"fmt"
)

// procStat is what a pass uses of /proc/PID/stat.
type procStat struct {
	state        byte // R, S, D, Z, X...
	ppid         int
	utime, stime uint64 // clock ticks
	start        uint64 // clock ticks after boot
	rssPages     int64
}

// parseStat parses /proc/PID/stat:
//
//	pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
//	majflt cmajflt utime stime cutime cstime priority nice num_threads
//	itrealvalue starttime vsize rss ...
//
// comm may hold spaces and parentheses: the fields start after the last
// ')'. It is read by hand rather than with prometheus/procfs, whose Stat
// opens the file through os.Open (a poller registration and four fcntl) and
// scans it with fmt, for a file read for every process ten times a second.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' after the command name")
	}
	// Fields from the state (3rd) on; we need up to rss (24th).
	var f [22][]byte
	if n := fields(bytes.TrimRight(b[i+1:], "\n"), f[:]); n < len(f) {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least %d", n, len(f))
	}
	var st procStat
	if len(f[0]) != 1 || !('A' <= f[0][0] && f[0][0] <= 'Z' || 'a' <= f[0][0] && f[0][0] <= 'z') {
		return procStat{}, fmt.Errorf("state %q: not one letter", f[0])
	}
	st.state = f[0][0]
	num := func(k int, name string) (uint64, error) {
		v, ok := decUint(f[k])
		if !ok {
			return 0, fmt.Errorf("%s %q: not a number", name, f[k])
		}
		return v, nil
	}
	ppid, err := num(1, "ppid")
	if err != nil || ppid > 1<<31 {
		return procStat{}, fmt.Errorf("ppid %q: not a process id", f[1])
	}
	st.ppid = int(ppid)
	if st.utime, err = num(11, "utime"); err != nil {
		return procStat{}, err
	}
	if st.stime, err = num(12, "stime"); err != nil {
		return procStat{}, err
	}
	if st.start, err = num(19, "starttime"); err != nil {
		return procStat{}, err
	}
	// rss is signed in the kernel's format (%ld); it is never negative in
	// practice, and what is not a number is refused.
	rss := f[21]
	if j := bytes.IndexByte(rss, ' '); j >= 0 {
		rss = rss[:j] // the last field holds the rest of the line
	}
	v, ok := decUint(rss)
	if !ok || v > 1<<62 {
		return procStat{}, fmt.Errorf("rss %q: not a number", rss)
	}
	st.rssPages = int64(v)
	return st, nil
}
