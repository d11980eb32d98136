package procwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The accept-queue limit of a TCP listener (idiag_wqueue) and both figures
// of a unix listener (UNIX_DIAG_RQLEN) are only in the kernel's socket
// diagnostics (sock_diag over netlink). The request is written here with
// golang.org/x/sys/unix rather than with github.com/vishvananda/netlink
// v1.3.1, whose source shows why not: its unix dump reads the first two bytes
// of unix_diag_msg in the wrong order (udiag_type as the family), so the
// first datagram or seqpacket socket of the dump stops the whole dump (its
// callback returns false), and every later socket is silently missing; its
// dumps ask for every state of every socket (on a host with 10,000
// connections, all of them at each pass), and it slices a unix socket's name
// with the attribute length including the attribute header. We dump LISTEN
// sockets only, so an answer holds a few sockets, look the workers'
// connections up one by one (tcpInfoRequest), and read only the fields we
// need.

// Netlink and sock_diag constants (linux/netlink.h, linux/sock_diag.h,
// linux/inet_diag.h, linux/unix_diag.h), spelt here so that the parser builds
// and is fuzzed on every OS.
const (
	nlmsgHdrLen      = 16
	nlmsgError       = 2
	nlmsgDone        = 3
	sockDiagByFamily = 20

	afUnix  = 1
	afInet  = 2
	afInet6 = 10

	inetDiagMsgLen = 72   // struct inet_diag_msg
	unixDiagMsgLen = 16   // struct unix_diag_msg
	unixDiagName   = 0    // UNIX_DIAG_NAME attribute
	unixDiagRQLen  = 4    // UNIX_DIAG_RQLEN attribute
	udiagShowName  = 0x01 // UDIAG_SHOW_NAME in unix_diag_req.udiag_show
	udiagShowRQLen = 0x10 // UDIAG_SHOW_RQLEN in unix_diag_req.udiag_show
)

// diagEntry is one socket of a sock_diag answer.
type diagEntry struct {
	family   uint8
	inode    uint64
	local    netip.AddrPort // inet: the local address and port
	name     []byte         // unix: UNIX_DIAG_NAME as the kernel gives it (see unixName); points into the answer
	rqueue   uint32         // a listener's accept queue now
	wqueue   uint32         // a listener's accept-queue limit (sk_max_ack_backlog)
	hasQueue bool           // rqueue and wqueue are set (always for inet; with UNIX_DIAG_RQLEN for unix)
}

var errDiagTruncated = errors.New("truncated netlink message")

// eachNetlinkMsg calls fn with the type, sequence number and body of each
// netlink message of the datagram b, in order (messages are aligned to 4
// bytes, NLMSG_ALIGN), until fn says stop or fails. A message whose length
// does not fit is an error.
func eachNetlinkMsg(b []byte, fn func(typ uint16, seq uint32, body []byte) (stop bool, err error)) error {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return errDiagTruncated
		}
		l := int(ne.Uint32(b[0:4]))
		if l < nlmsgHdrLen || l > len(b) {
			return fmt.Errorf("netlink message length %d with %d bytes left: %w", l, len(b), errDiagTruncated)
		}
		if stop, err := fn(ne.Uint16(b[4:6]), ne.Uint32(b[8:12]), b[nlmsgHdrLen:l]); stop || err != nil {
			return err
		}
		next := (l + 3) &^ 3
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return nil
}

// eachAttr calls fn with the type and payload of each attribute of b
// (struct rtattr: a 2-byte length, a 2-byte type, aligned to 4 bytes); what
// names them in errors ("unix_diag", "inet_diag").
func eachAttr(b []byte, what string, fn func(typ uint16, payload []byte)) error {
	ne := binary.NativeEndian
	for len(b) >= 4 {
		al := int(ne.Uint16(b[0:2]))
		if al < 4 || al > len(b) {
			return fmt.Errorf("%s attribute length %d with %d bytes left: %w", what, al, len(b), errDiagTruncated)
		}
		fn(ne.Uint16(b[2:4]), b[4:al])
		next := (al + 3) &^ 3
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return nil
}

// parseDiag parses one datagram of a sock_diag dump answer, calling fn for
// each socket in it. done is true when the datagram ends the dump
// (NLMSG_DONE). An NLMSG_ERROR message is returned as an error.
func parseDiag(b []byte, fn func(diagEntry)) (done bool, err error) {
	err = eachNetlinkMsg(b, func(typ uint16, _ uint32, body []byte) (bool, error) {
		switch typ {
		case nlmsgDone:
			done = true
			return true, nil
		case nlmsgError:
			if len(body) < 4 {
				return true, errDiagTruncated
			}
			if code := int32(binary.NativeEndian.Uint32(body[0:4])); code != 0 { // 0: an acknowledgement
				return true, fmt.Errorf("sock_diag: kernel error %d", -code)
			}
		case sockDiagByFamily:
			e, err := parseDiagMsg(body)
			if err != nil {
				return true, err
			}
			fn(e)
		}
		return false, nil
	})
	return done && err == nil, err
}

// parseDiagMsg parses the body of one SOCK_DIAG_BY_FAMILY message: an
// inet_diag_msg or a unix_diag_msg with its attributes, told apart by the
// family in their first byte.
func parseDiagMsg(b []byte) (diagEntry, error) {
	ne := binary.NativeEndian
	if len(b) < 1 {
		return diagEntry{}, errDiagTruncated
	}
	switch b[0] {
	case afInet, afInet6:
		if len(b) < inetDiagMsgLen {
			return diagEntry{}, fmt.Errorf("inet_diag_msg of %d bytes: %w", len(b), errDiagTruncated)
		}
		// struct inet_diag_sockid at 4: sport, dport (network order),
		// src[4], dst[4] (the address in network order; IPv4 in src[0]).
		var a netip.Addr
		if b[0] == afInet {
			a = netip.AddrFrom4([4]byte(b[8:12]))
		} else {
			a = netip.AddrFrom16([16]byte(b[8:24]))
		}
		return diagEntry{
			family:   b[0],
			local:    netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[4:6])),
			rqueue:   ne.Uint32(b[56:60]),
			wqueue:   ne.Uint32(b[60:64]),
			inode:    uint64(ne.Uint32(b[68:72])),
			hasQueue: true,
		}, nil
	case afUnix:
		if len(b) < unixDiagMsgLen {
			return diagEntry{}, fmt.Errorf("unix_diag_msg of %d bytes: %w", len(b), errDiagTruncated)
		}
		e := diagEntry{family: afUnix, inode: uint64(ne.Uint32(b[4:8]))}
		err := eachAttr(b[unixDiagMsgLen:], "unix_diag", func(at uint16, v []byte) {
			switch {
			case at == unixDiagName:
				e.name = v
			case at == unixDiagRQLen && len(v) >= 8:
				e.rqueue, e.wqueue, e.hasQueue = ne.Uint32(v[0:4]), ne.Uint32(v[4:8]), true
			}
		})
		if err != nil {
			return diagEntry{}, err
		}
		return e, nil
	default:
		return diagEntry{}, fmt.Errorf("sock_diag answer of family %d", b[0])
	}
}

// unixName renders a unix socket's name (UNIX_DIAG_NAME: sun_path, with its
// terminating NUL for a path) into dst as /proc/net/unix prints it: a path
// as is, an abstract name with '@' for its leading NUL, and '@' for any other
// NUL byte. An unnamed socket renders empty.
func unixName(dst, name []byte) []byte {
	if len(name) == 0 {
		return dst
	}
	if name[0] != 0 {
		name = name[:len(name)-1] // the terminating NUL
	} else {
		dst = append(dst, '@')
		name = name[1:]
	}
	for _, c := range name {
		if c == 0 {
			c = '@'
		}
		dst = append(dst, c)
	}
	return dst
}

// What the TCP information of an accepted connection tells: whether a
// request is in flight on it.
const (
	inetDiagInfo       = 2          // INET_DIAG_INFO attribute: struct tcp_info
	inetDiagNoCookie   = 0xffffffff // INET_DIAG_NOCOOKIE, both words
	inetDiagReqV2Len   = 56         // struct inet_diag_req_v2
	tcpInfoRequestLen  = nlmsgHdrLen + inetDiagReqV2Len
	tcpInfoAllStates   = 0xffffffff
	tcpInfoMinimumSize = 160 // through tcpi_data_segs_out (kernel 4.6+)
)

// tcpTimes is what the watcher reads of a connection's struct tcp_info.
type tcpTimes struct {
	lastDataSent  uint32 // ms since data was last sent
	lastDataRecv  uint32 // ms since data was last received
	bytesReceived uint64
	dataSegsOut   uint32 // segments sent with data
}

// inFlight says whether a request is in flight on the connection: it has
// received data (a request), and has sent none since (no segment with data
// yet, or the last data received is newer than the last sent). The kernel
// counts both times in jiffies: a request that arrives in the same tick as
// the previous response on a keep-alive connection ties, and is not seen;
// neither is a response that is still being sent (a stream), which looks
// idle.
func (t tcpTimes) inFlight() bool {
	return t.bytesReceived > 0 && (t.dataSegsOut == 0 || t.lastDataRecv < t.lastDataSent)
}

// tcpInfoRequest writes into b (at least tcpInfoRequestLen bytes) a
// SOCK_DIAG_BY_FAMILY request for the one TCP socket with this local and
// remote address (a lookup in the kernel's hash, not a dump), asking for
// its tcp_info, and returns its length. Addresses of an IPv6 socket are
// 16 bytes (a v4-mapped peer included), of an IPv4 socket 4.
func tcpInfoRequest(b []byte, seq uint32, local, remote netip.AddrPort) int {
	ne := binary.NativeEndian
	b = b[:tcpInfoRequestLen]
	clear(b)
	ne.PutUint32(b[0:4], tcpInfoRequestLen)
	ne.PutUint16(b[4:6], sockDiagByFamily)
	ne.PutUint16(b[6:8], 1) // NLM_F_REQUEST
	ne.PutUint32(b[8:12], seq)
	r := b[nlmsgHdrLen:]
	// struct inet_diag_req_v2: family, protocol, ext, pad, states, then
	// struct inet_diag_sockid: sport, dport (network order), src[4],
	// dst[4], if, cookie[2].
	r[0] = afInet6
	if local.Addr().Is4() {
		r[0] = afInet
	}
	r[1] = 6                       // IPPROTO_TCP
	r[2] = 1 << (inetDiagInfo - 1) // the extension bit of INET_DIAG_INFO
	ne.PutUint32(r[4:8], tcpInfoAllStates)
	binary.BigEndian.PutUint16(r[8:10], local.Port())
	binary.BigEndian.PutUint16(r[10:12], remote.Port())
	putAddr := func(dst []byte, a netip.Addr) {
		if a.Is4() {
			v := a.As4()
			copy(dst, v[:])
		} else {
			v := a.As16()
			copy(dst, v[:])
		}
	}
	putAddr(r[12:28], local.Addr())
	putAddr(r[28:44], remote.Addr())
	ne.PutUint32(r[48:52], inetDiagNoCookie)
	ne.PutUint32(r[52:56], inetDiagNoCookie)
	return tcpInfoRequestLen
}

// parseTCPInfo parses one datagram of answers to tcpInfoRequest, calling fn
// with each answer's sequence number, the socket's inode and its times, or
// found false for a socket the kernel no longer has (an NLMSG_ERROR
// answer). It returns how many answers the datagram held.
func parseTCPInfo(b []byte, fn func(seq uint32, inode uint64, t tcpTimes, found bool)) (int, error) {
	n := 0
	err := eachNetlinkMsg(b, func(typ uint16, seq uint32, body []byte) (bool, error) {
		switch typ {
		case nlmsgError:
			n++
			fn(seq, 0, tcpTimes{}, false)
		case sockDiagByFamily:
			if len(body) < inetDiagMsgLen {
				return true, fmt.Errorf("inet_diag_msg of %d bytes: %w", len(body), errDiagTruncated)
			}
			var t tcpTimes
			found := false
			err := eachAttr(body[inetDiagMsgLen:], "inet_diag", func(at uint16, v []byte) {
				if at == inetDiagInfo && len(v) >= tcpInfoMinimumSize {
					t, found = tcpTimesOf(v), true
				}
			})
			if err != nil {
				return true, err
			}
			n++
			fn(seq, uint64(binary.NativeEndian.Uint32(body[68:72])), t, found)
		}
		return false, nil
	})
	return n, err
}
