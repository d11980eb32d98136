//go:build linux

package procwatch

import (
	"encoding/binary"
	"fmt"
	"net/netip"
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

// tcpQuery is the lookup of one accepted connection's TCP information.
type tcpQuery struct {
	cand          int // index in reader.cands
	local, remote netip.AddrPort
	done, found   bool
	times         tcpTimes
}

// queryTCP looks up the TCP information of each connection of r.queries,
// with one request each (a hash lookup in the kernel, not a dump), sent
// together over one netlink socket kept from pass to pass.
func (r *reader) queryTCP() error {
	if len(r.queries) == 0 {
		return nil
	}
	if r.diagFD == 0 {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			return fmt.Errorf("sock_diag: socket: %w", err)
		}
		tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return fmt.Errorf("sock_diag: SO_RCVTIMEO: %w", err)
		}
		r.diagFD = fd
	}
	// Send in batches that the kernel's answers fit in the buffer.
	const batch = 64
	for start := 0; start < len(r.queries); start += batch {
		end := min(start+batch, len(r.queries))
		req := r.reqBuf[:0]
		for k := start; k < end; k++ {
			q := &r.queries[k]
			var m [tcpInfoRequestLen]byte
			n := tcpInfoRequest(m[:], uint32(k+1), q.local, q.remote)
			req = append(req, m[:n]...)
		}
		r.reqBuf = req
		if err := unix.Sendto(r.diagFD, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			r.closeDiag()
			return fmt.Errorf("sock_diag: sending %d TCP lookups: %w", end-start, err)
		}
		for got := 0; got < end-start; {
			m, _, err := unix.Recvfrom(r.diagFD, r.diagBuf, 0)
			if err != nil {
				r.closeDiag() // late answers would be taken for the next pass's
				return fmt.Errorf("sock_diag: reading the TCP lookups: %w", err)
			}
			n, err := parseTCPInfo(r.diagBuf[:m], func(seq uint32, inode uint64, t tcpTimes, found bool) {
				k := int(seq) - 1
				if k < start || k >= end {
					return
				}
				q := &r.queries[k]
				q.done = true
				// A 4-tuple reused by another connection since is not it.
				q.found = found && inode == r.cands[q.cand].inode
				q.times = t
			})
			if err != nil {
				r.closeDiag()
				return fmt.Errorf("sock_diag: TCP lookups: %w", err)
			}
			got += n
		}
	}
	return nil
}

func (r *reader) closeDiag() {
	if r.diagFD != 0 {
		unix.Close(r.diagFD)
		r.diagFD = 0
	}
}

// inFlight returns the worker's connections with a request in flight by
// their TCP information (in r.flying, valid until the next pass), and
// whether every one of its connections was looked up.
func (r *reader) inFlight(owner int) ([]uint64, bool) {
	off := len(r.flying)
	for _, q := range r.queries {
		c := &r.cands[q.cand]
		if c.owner != owner {
			continue
		}
		if !q.done {
			return nil, false
		}
		if q.found && q.times.inFlight() && len(r.flying)-off < maxActiveConns {
			r.flying = append(r.flying, c.inode)
		}
	}
	for _, c := range r.cands {
		if c.owner == owner && c.unix && r.onListener(c) {
			return nil, false // no TCP information for a unix socket
		}
	}
	return r.flying[off:len(r.flying):len(r.flying)], true
}
