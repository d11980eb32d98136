//go:build linux

package procwatch

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// diagTimeout bounds each wait for the kernel's answer.
const diagTimeout = time.Second

// dumpListeners asks the kernel, over one NETLINK_SOCK_DIAG socket, for the
// TCP (IPv4 and IPv6) and unix sockets in LISTEN state of the caller's
// network namespace, with their local address and port or name, their accept
// queue and its limit, and calls fn for each (an entry's name is valid during
// the call only). buf is the receive buffer (at least 8 KiB).
func dumpListeners(buf []byte, fn func(diagEntry)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("sock_diag: socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("sock_diag: SO_RCVTIMEO: %w", err)
	}
	for seq, family := range []uint8{afInet, afInet6, afUnix} {
		var req [nlmsgHdrLen + 56]byte
		n := diagRequest(req[:], family, uint32(seq+1))
		if err := unix.Sendto(fd, req[:n], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("sock_diag: sending the request for family %d: %w", family, err)
		}
		for {
			m, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return fmt.Errorf("sock_diag: reading the answer for family %d: %w", family, err)
			}
			done, err := parseDiag(buf[:m], fn)
			if err != nil {
				return fmt.Errorf("sock_diag: answer for family %d: %w", family, err)
			}
			if done {
				break
			}
		}
	}
	return nil
}

// diagRequest writes into b a SOCK_DIAG_BY_FAMILY dump request for the
// LISTEN sockets of family (TCP for inet families; with UDIAG_SHOW_NAME and
// UDIAG_SHOW_RQLEN for unix) and returns its length.
func diagRequest(b []byte, family uint8, seq uint32) int {
	ne := binary.NativeEndian
	clear(b)
	var n int
	if family == afUnix {
		// struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2]
		n = nlmsgHdrLen + 24
		r := b[nlmsgHdrLen:n]
		r[0] = afUnix
		ne.PutUint32(r[4:8], 1<<tcpListen)
		ne.PutUint32(r[12:16], udiagShowName|udiagShowRQLen)
	} else {
		// struct inet_diag_req_v2: family, protocol, ext, pad, states, id (48 bytes)
		n = nlmsgHdrLen + 56
		r := b[nlmsgHdrLen:n]
		r[0] = family
		r[1] = unix.IPPROTO_TCP
		ne.PutUint32(r[4:8], 1<<tcpListen)
	}
	ne.PutUint32(b[0:4], uint32(n))
	ne.PutUint16(b[4:6], sockDiagByFamily)
	ne.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:12], seq)
	return n
}
