package main

import (
	"math"
	"time"

	"github.com/prometheus/procfs"
)

// procRoot is where procfs is mounted; tests point it at a fake tree.
var procRoot = procfs.DefaultMountPoint

// openProc returns process pid in procRoot.
func openProc(pid int) (procfs.Proc, error) {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return procfs.Proc{}, err
	}
	return fs.Proc(pid)
}

// procCPU returns the CPU time, user and system, process pid has used
// (/proc/<pid>/stat, counted by the kernel in USER_HZ ticks, which procfs
// takes as 100 a second, as it is on every platform Go supports).
func procCPU(pid int) (time.Duration, error) {
	p, err := openProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(math.Round(st.CPUTime() * float64(time.Second))), nil
}

// procMem is what the load tool reads of a process's memory and threads.
type procMem struct {
	RSS     int64 // VmRSS, bytes
	HWM     int64 // VmHWM (peak RSS), bytes
	Threads int64
}

// procMemory reads the memory and thread count of process pid
// (/proc/<pid>/status and /proc/<pid>/stat).
func procMemory(pid int) (procMem, error) {
	p, err := openProc(pid)
	if err != nil {
		return procMem{}, err
	}
	status, err := p.NewStatus()
	if err != nil {
		return procMem{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return procMem{}, err
	}
	return procMem{RSS: int64(status.VmRSS), HWM: int64(status.VmHWM), Threads: int64(st.NumThreads)}, nil
}
