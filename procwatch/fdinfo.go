package procwatch

import "bytes"

// epollTargets appends to inodes the inode of each file an epoll instance
// is registered for, from its /proc/PID/fdinfo/N: one line a target,
//
//	tfd:        5 events:       19 data:                5  pos:0 ino:6a3 sdev:8
//
// (ino in hexadecimal). The inode, not the fd number, names the target: a
// number can be closed and given to another file while the registration
// stays. Lines of other kinds (pos, flags, mnt_id, ino) are skipped, and so
// is a tfd line without a readable ino. It allocates only to grow inodes.
func epollTargets(data []byte, inodes []uint64) []uint64 {
	lines(data, func(line []byte) {
		if !bytes.HasPrefix(line, []byte("tfd:")) {
			return
		}
		i := bytes.Index(line, []byte(" ino:"))
		if i < 0 {
			return
		}
		rest := line[i+len(" ino:"):]
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		if v, ok := hexUint(rest[:end]); ok && end > 0 {
			inodes = append(inodes, v)
		}
	})
	return inodes
}
