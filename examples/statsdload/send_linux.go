//go:build linux

package main

import (
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgWriter sends with sendmmsg(2) on a connected socket, through its
// syscall.RawConn so that the runtime's poller waits when the socket is
// full (a Unix datagram socket whose reader is behind) instead of a thread
// blocking. The message headers are allocated once.
type mmsgWriter struct {
	conn net.Conn
	rc   syscall.RawConn
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec

	msgs  [][]byte // the batch being sent, for the callback
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func newBatchWriter(c net.Conn, batch int) (batchWriter, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return connWriter{c}, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWriter{conn: c, rc: rc, hdrs: make([]unix.Mmsghdr, batch), iovs: make([]unix.Iovec, batch)}
	for i := range w.hdrs {
		w.hdrs[i].Hdr.Iov = &w.iovs[i]
		w.hdrs[i].Hdr.SetIovlen(1)
	}
	w.fn = w.sendmmsg
	return w, nil
}

// sendmmsg makes one sendmmsg call for w.msgs; false means "wait until the
// socket is writable, then call again".
func (w *mmsgWriter) sendmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])),
			uintptr(len(w.msgs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			w.n, w.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			w.n, w.errno = 0, e
			return true
		}
	}
}

func (w *mmsgWriter) writeBatch(msgs [][]byte) (int, error) {
	if len(msgs) > len(w.hdrs) {
		msgs = msgs[:len(w.hdrs)]
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	for i, m := range msgs {
		w.iovs[i].Base = unsafe.SliceData(m)
		w.iovs[i].SetLen(len(m))
	}
	w.msgs = msgs
	err := w.rc.Write(w.fn)
	for i := range msgs {
		w.iovs[i].Base = nil // keep no datagram reachable
	}
	w.msgs = nil
	if err != nil {
		return 0, err
	}
	if w.errno != 0 {
		return 0, os.NewSyscallError("sendmmsg", w.errno)
	}
	return w.n, nil
}

func (w *mmsgWriter) Close() error { return w.conn.Close() }
