package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is what the load tool reads of a process in /proc/<pid>/stat.
type procStat struct {
	Comm    string // the command name, between the parentheses
	UTime   uint64 // user CPU time, in clock ticks
	STime   uint64 // system CPU time, in clock ticks
	Threads int64
}

// parseProcStat parses the contents of /proc/<pid>/stat (proc(5)). The
// command name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so the fields after it are found after the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	var st procStat
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return st, fmt.Errorf("/proc stat: no (comm) in %q", truncate(data))
	}
	st.Comm = string(data[open+1 : end])
	// Fields from 3 (state) on; proc(5) numbers them from 1.
	f := strings.Fields(string(data[end+1:]))
	const (
		first      = 3
		utime      = 14
		stime      = 15
		numThreads = 20
	)
	if len(f) < numThreads-first+1 {
		return st, fmt.Errorf("/proc stat: %d fields after (comm), want at least %d", len(f), numThreads-first+1)
	}
	var err error
	if st.UTime, err = strconv.ParseUint(f[utime-first], 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat: utime: %w", err)
	}
	if st.STime, err = strconv.ParseUint(f[stime-first], 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat: stime: %w", err)
	}
	if st.Threads, err = strconv.ParseInt(f[numThreads-first], 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat: num_threads: %w", err)
	}
	return st, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// cpuTime converts utime+stime to a duration with ticks clock ticks a
// second.
func (st procStat) cpuTime(ticks int64) time.Duration {
	return time.Duration(int64(st.UTime+st.STime) * int64(time.Second) / ticks)
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// procMem is what the load tool reads of a process in /proc/<pid>/status.
type procMem struct {
	RSS     int64 // VmRSS, bytes
	HWM     int64 // VmHWM (peak RSS), bytes
	Threads int64
}

// parseProcStatus parses the VmRSS, VmHWM and Threads lines of
// /proc/<pid>/status.
func parseProcStatus(data []byte) (procMem, error) {
	var m procMem
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "VmRSS", "VmHWM":
			n, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			if err != nil {
				return m, fmt.Errorf("/proc status: %s %q: %w", k, v, err)
			}
			if k == "VmRSS" {
				m.RSS = n << 10
			} else {
				m.HWM = n << 10
			}
			found++
		case "Threads":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return m, fmt.Errorf("/proc status: Threads %q: %w", v, err)
			}
			m.Threads = n
			found++
		}
	}
	if found < 3 {
		return m, fmt.Errorf("/proc status: VmRSS, VmHWM or Threads missing")
	}
	return m, nil
}

// readProcStatus reads /proc/<pid>/status.
func readProcStatus(pid int) (procMem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	return parseProcStatus(data)
}
