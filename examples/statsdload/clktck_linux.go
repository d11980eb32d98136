//go:build linux

package main

import "golang.org/x/sys/unix"

// atClkTck is AT_CLKTCK, the auxiliary vector entry holding the frequency
// of times(2) and of the tick counts in /proc/<pid>/stat (sysconf(_SC_CLK_TCK)).
const atClkTck = 17

// clockTicks returns the clock ticks a second that /proc/<pid>/stat counts
// CPU time in: the kernel's USER_HZ, given to every process in its auxiliary
// vector as AT_CLKTCK (what sysconf(_SC_CLK_TCK) returns). It is 100 on
// nearly every Linux system; 100 is also the fallback.
func clockTicks() int64 {
	if auxv, err := unix.Auxv(); err == nil {
		for _, kv := range auxv {
			if kv[0] == atClkTck && kv[1] > 0 {
				return int64(kv[1])
			}
		}
	}
	return 100
}
