package procwatch

import "bytes"

// epollTargets appends to fds the file descriptors an epoll instance is
// registered for, from its /proc/PID/fdinfo/N: one line a target,
//
//	tfd:        5 events:       19 data:                5  pos:0 ino:6a3 sdev:8
//
// Lines of other kinds (pos, flags, mnt_id, ino) are skipped, and so is a
// tfd line whose number cannot be read. It allocates only to grow fds.
func epollTargets(data []byte, fds []int) []int {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("tfd:"))
		if !ok {
			continue
		}
		rest = bytes.TrimLeft(rest, " \t")
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if end == 0 || end > 9 {
			continue
		}
		n := 0
		for _, c := range rest[:end] {
			n = n*10 + int(c-'0')
		}
		fds = append(fds, n)
	}
	return fds
}
