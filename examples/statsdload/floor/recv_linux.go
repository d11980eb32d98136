//go:build linux

package main

import (
	"context"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listen opens the socket with the receive buffer statsd.Server asks for:
// SO_RCVBUFFORCE, else SO_RCVBUF.
func listen(network, addr string, rcvbuf int) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}
		})
	}}
	return lc.ListenPacket(context.Background(), network, addr)
}

// read counts datagrams, read with recvmmsg through the socket's RawConn
// as statsd.Server reads them, until an error.
func read(c net.PacketConn, batch int) error {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	const size = 65535 + 1
	hdrs := make([]unix.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	bufs := make([]byte, batch*size)
	for i := range hdrs {
		iovs[i].Base = &bufs[i*size]
		iovs[i].SetLen(size)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	var n int
	var errno syscall.Errno
	recv := func(fd uintptr) bool {
		for {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])),
				uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case 0:
				n, errno = int(r), 0
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				n, errno = 0, e
				return true
			}
		}
	}
	for {
		if err := rc.Read(recv); err != nil {
			return err
		}
		if errno != 0 {
			return os.NewSyscallError("recvmmsg", errno)
		}
		datagrams.Add(uint64(n))
	}
}
