//go:build linux

package main

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// udpHolds asks for a receive buffer of size bytes on conn (SO_RCVBUFFORCE
// first, which ignores net.core.rmem_max but needs CAP_NET_ADMIN, then
// SO_RCVBUF) and returns how many small datagrams the buffer it got surely
// holds: loopback UDP drops what overflows it when the reader lags.
func udpHolds(t *testing.T, conn net.PacketConn, size int) int {
	t.Helper()
	rc, err := conn.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	if err := rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		// The kernel reports twice the size set; a small datagram takes
		// under 2 KiB of that.
		got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		t.Fatal(err)
	}
	return got / 2048
}
