package procwatch

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
)

// The socket tables /proc/PID/net/tcp, tcp6 and unix are read by hand rather
// than with prometheus/procfs (which reads the master's command line and
// environment here, and lists the processes for WithDiscover): procfs parses
// every line into a struct with net.IP and strings (several allocations a
// line), and on a host with 10,000 sockets that is the whole cost of a pass,
// ten times a second; we need the few lines whose inode belongs to Gunicorn,
// found by looking at one field of each line. procfs also cuts a unix
// socket's path at its first space.

// TCP states as the kernel numbers them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

// Unix socket facts from /proc/net/unix.
const (
	unixAcceptCon  = 0x10000 // __SO_ACCEPTCON in Flags: a listening socket
	unixStream     = 0x0001  // SOCK_STREAM in Type
	unixSeqpacket  = 0x0005  // SOCK_SEQPACKET in Type
	unixConnected  = 0x03    // SS_CONNECTED in St
	unixTableField = 7       // fields before the path
)

var errShortLine = errors.New("too few fields")

// fields splits line at runs of spaces into at most len(dst) fields, the last
// of which is the rest of the line (with its inner spaces), and returns how
// many it found.
func fields(line []byte, dst [][]byte) int {
	n := 0
	i := 0
	for n < len(dst) {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		if n == len(dst)-1 {
			dst[n] = bytes.TrimRight(line[i:], " ")
			n++
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		dst[n] = line[i:j]
		n++
		i = j
	}
	return n
}

// hexUint parses b, hexadecimal digits only, as an unsigned number of at
// most 64 bits.
func hexUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// decUint parses b, decimal digits only, as an unsigned number.
func decUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// tcpEntry is what we use of one line of /proc/net/tcp or tcp6.
type tcpEntry struct {
	inode   uint64
	state   uint8
	local   netip.AddrPort
	remote  netip.AddrPort
	rxQueue uint32 // for a LISTEN socket: connections in the accept queue
}

// tcpQuick returns the inode and state of a line of /proc/net/tcp{,6}
// without parsing the rest, so that a pass can skip the lines of sockets
// that are not Gunicorn's; ok is false for the header and malformed lines.
func tcpQuick(line []byte) (inode uint64, state uint8, ok bool) {
	var f [11][]byte
	if fields(line, f[:]) < 10 {
		return 0, 0, false
	}
	st, ok1 := hexUint(f[3])
	ino, ok2 := decUint(f[9])
	if !ok1 || !ok2 || st > 0xff {
		return 0, 0, false
	}
	return ino, uint8(st), true
}

// parseTCPLine parses a line of /proc/net/tcp or tcp6:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	0: 0100007F:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000 0 0 12345 1 ...
func parseTCPLine(line []byte) (tcpEntry, error) {
	var f [11][]byte
	if fields(line, f[:]) < 10 {
		return tcpEntry{}, errShortLine
	}
	var e tcpEntry
	var err error
	if e.local, err = parseHexAddrPort(f[1]); err != nil {
		return tcpEntry{}, fmt.Errorf("local_address %q: %w", f[1], err)
	}
	if e.remote, err = parseHexAddrPort(f[2]); err != nil {
		return tcpEntry{}, fmt.Errorf("rem_address %q: %w", f[2], err)
	}
	st, ok := hexUint(f[3])
	if !ok || st > 0xff {
		return tcpEntry{}, fmt.Errorf("st %q: not a state", f[3])
	}
	e.state = uint8(st)
	q := f[4]
	c := bytes.IndexByte(q, ':')
	if c < 0 {
		return tcpEntry{}, fmt.Errorf("tx_queue:rx_queue %q: no colon", q)
	}
	rx, ok := hexUint(q[c+1:])
	if !ok || rx > 0xffffffff {
		return tcpEntry{}, fmt.Errorf("rx_queue %q: not a 32-bit hexadecimal number", q[c+1:])
	}
	e.rxQueue = uint32(rx)
	if e.inode, ok = decUint(f[9]); !ok {
		return tcpEntry{}, fmt.Errorf("inode %q: not a number", f[9])
	}
	return e, nil
}

// parseHexAddrPort parses the kernel's "ADDR:PORT": for IPv4 eight hex
// digits, the address as a 32-bit word in host byte order (little-endian on
// every platform Gunicorn runs on here), for IPv6 four such words; the port
// in four hex digits, in network order.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	c := bytes.IndexByte(b, ':')
	if c < 0 {
		return netip.AddrPort{}, errors.New("no colon")
	}
	h, p := b[:c], b[c+1:]
	port, ok := hexUint(p)
	if !ok || port > 0xffff {
		return netip.AddrPort{}, fmt.Errorf("port %q: not a 16-bit hexadecimal number", p)
	}
	var ip [16]byte
	switch len(h) {
	case 8, 32:
	default:
		return netip.AddrPort{}, fmt.Errorf("address %q: %d hex digits, want 8 or 32", h, len(h))
	}
	for w := 0; w < len(h)/8; w++ {
		v, ok := hexUint(h[w*8 : w*8+8])
		if !ok {
			return netip.AddrPort{}, fmt.Errorf("address %q: not hexadecimal", h)
		}
		// Each 32-bit word was printed from memory in host order (%08X of
		// a __be32 read as a host integer): its bytes come back reversed.
		ip[w*4], ip[w*4+1], ip[w*4+2], ip[w*4+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	var a netip.Addr
	if len(h) == 8 {
		a = netip.AddrFrom4([4]byte(ip[:4]))
	} else {
		a = netip.AddrFrom16(ip)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// unixEntry is what we use of one line of /proc/net/unix.
type unixEntry struct {
	inode uint64
	flags uint32
	typ   uint16
	state uint8
	path  []byte // points into the line; empty when unbound; "@..." abstract
}

func (e *unixEntry) listening() bool { return e.flags&unixAcceptCon != 0 }

// connectedStream says e is a connected stream (or seqpacket) socket.
func (e *unixEntry) connectedStream() bool {
	return (e.typ == unixStream || e.typ == unixSeqpacket) && e.state == unixConnected
}

// unixQuick returns the inode of a line of /proc/net/unix without parsing
// the rest; ok is false for the header and malformed lines.
func unixQuick(line []byte) (inode uint64, ok bool) {
	var f [unixTableField][]byte
	if fields(line, f[:]) < unixTableField {
		return 0, false
	}
	// f[6] is the inode followed by the path, if any.
	ino := f[6]
	if i := bytes.IndexByte(ino, ' '); i >= 0 {
		ino = ino[:i]
	}
	return decUint(ino)
}

// parseUnixLine parses a line of /proc/net/unix:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/gunicorn.sock
//
// The path is the rest of the line: it may hold spaces.
func parseUnixLine(line []byte) (unixEntry, error) {
	var f [unixTableField + 1][]byte
	n := fields(line, f[:])
	if n < unixTableField {
		return unixEntry{}, errShortLine
	}
	var e unixEntry
	fl, ok := hexUint(f[3])
	if !ok || fl > 0xffffffff {
		return unixEntry{}, fmt.Errorf("flags %q: not a 32-bit hexadecimal number", f[3])
	}
	e.flags = uint32(fl)
	t, ok := hexUint(f[4])
	if !ok || t > 0xffff {
		return unixEntry{}, fmt.Errorf("type %q: not a 16-bit hexadecimal number", f[4])
	}
	e.typ = uint16(t)
	st, ok := hexUint(f[5])
	if !ok || st > 0xff {
		return unixEntry{}, fmt.Errorf("st %q: not a state", f[5])
	}
	e.state = uint8(st)
	if e.inode, ok = decUint(f[6]); !ok {
		return unixEntry{}, fmt.Errorf("inode %q: not a number", f[6])
	}
	if n > unixTableField {
		e.path = f[unixTableField]
	}
	return e, nil
}

// lines calls fn with each line of data, without its newline.
func lines(data []byte, fn func(line []byte)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fn(data)
			return
		}
		fn(data[:i])
		data = data[i+1:]
	}
}
