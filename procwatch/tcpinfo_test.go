//go:build linux

package procwatch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// TestTCPInfo: the lookup request names one socket by its addresses, the
// answers are read by sequence, and a request is in flight when data came
// after the last data sent (or none was sent yet).
func TestTCPInfo(t *testing.T) {
	var b [tcpInfoRequestLen]byte
	n := tcpInfoRequest(b[:], 7, netip.MustParseAddrPort("127.0.0.1:8000"), netip.MustParseAddrPort("127.0.0.1:51000"))
	r := b[nlmsgHdrLen:n]
	if n != tcpInfoRequestLen || r[0] != afInet || r[1] != 6 || r[2] != 2 ||
		binary.BigEndian.Uint16(r[8:10]) != 8000 || binary.BigEndian.Uint16(r[10:12]) != 51000 ||
		!bytes.Equal(r[12:16], []byte{127, 0, 0, 1}) || !bytes.Equal(r[28:32], []byte{127, 0, 0, 1}) ||
		binary.NativeEndian.Uint32(b[8:12]) != 7 || binary.NativeEndian.Uint16(b[6:8]) != 1 {
		t.Errorf("request % x", b[:n])
	}
	n = tcpInfoRequest(b[:], 8, netip.MustParseAddrPort("[::ffff:10.0.0.5]:8000"), netip.MustParseAddrPort("[::ffff:10.0.0.7]:51000"))
	if r := b[nlmsgHdrLen:n]; r[0] != afInet6 || r[12+10] != 0xff || r[12+12] != 10 {
		t.Errorf("mapped request % x", r)
	}
	answers := append(tcpInfoAnswer(1, 6001, tcpTimes{lastDataSent: 40, lastDataRecv: 8, bytesReceived: 120, dataSegsOut: 2}),
		tcpInfoAnswer(2, 6002, tcpTimes{lastDataSent: 8, lastDataRecv: 40, bytesReceived: 120, dataSegsOut: 2})...)
	answers = append(answers, nlMsg(nlmsgError, []byte{0xfe, 0xff, 0xff, 0xff})...)
	binary.NativeEndian.PutUint32(answers[len(answers)-20+8:], 3)
	var got []string
	count, err := parseTCPInfo(answers, func(seq uint32, inode uint64, tt tcpTimes, found bool) {
		got = append(got, fmt.Sprintf("%d:%d:%v:%v", seq, inode, found, tt.inFlight()))
	})
	want := []string{"1:6001:true:true", "2:6002:true:false", "3:0:false:false"}
	if err != nil || count != 3 || !slices.Equal(got, want) {
		t.Errorf("parseTCPInfo = %d %v %v, want %v", count, got, err, want)
	}
	for _, c := range []struct {
		t    tcpTimes
		want bool
	}{
		{tcpTimes{bytesReceived: 0}, false},                                                      // accepted, no request yet
		{tcpTimes{bytesReceived: 80, dataSegsOut: 0}, true},                                      // first request, no answer yet
		{tcpTimes{bytesReceived: 80, dataSegsOut: 1, lastDataRecv: 5, lastDataSent: 4}, false},   // answered
		{tcpTimes{bytesReceived: 80, dataSegsOut: 1, lastDataRecv: 4, lastDataSent: 4}, false},   // a tie: not seen
		{tcpTimes{bytesReceived: 160, dataSegsOut: 1, lastDataRecv: 3, lastDataSent: 900}, true}, // the next request
	} {
		if got := c.t.inFlight(); got != c.want {
			t.Errorf("%+v.inFlight() = %v", c.t, got)
		}
	}
}

// FuzzParseTCPInfo: answers to TCP lookups never panic the parser, and each
// answer is counted once.
func FuzzParseTCPInfo(f *testing.F) {
	f.Add(append(tcpInfoAnswer(1, 6001, tcpTimes{lastDataSent: 40, lastDataRecv: 8, bytesReceived: 120, dataSegsOut: 2}),
		nlMsg(nlmsgError, []byte{0xfe, 0xff, 0xff, 0xff})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		calls := 0
		n, _ := parseTCPInfo(b, func(uint32, uint64, tcpTimes, bool) { calls++ })
		if n != calls {
			t.Errorf("%d answers counted, %d reported", n, calls)
		}
	})
}

// tcpInfoAnswer is the kernel's answer to a TCP lookup: an inet_diag_msg
// of the socket with an INET_DIAG_INFO attribute holding t.
func tcpInfoAnswer(seq, inode uint32, t tcpTimes) []byte {
	body := append([]byte(nil), inetMsg("127.0.0.1:8000", inode, 0, 0)[nlmsgHdrLen:nlmsgHdrLen+inetDiagMsgLen]...)
	info := make([]byte, 4+232) // a 6.x kernel's tcp_info
	binary.NativeEndian.PutUint16(info[0:2], uint16(len(info)))
	binary.NativeEndian.PutUint16(info[2:4], inetDiagInfo)
	ti := info[4:]
	binary.NativeEndian.PutUint32(ti[offLastDataSent:], t.lastDataSent)
	binary.NativeEndian.PutUint32(ti[offLastDataRecv:], t.lastDataRecv)
	binary.NativeEndian.PutUint64(ti[offBytesReceived:], t.bytesReceived)
	binary.NativeEndian.PutUint32(ti[offDataSegsOut:], t.dataSegsOut)
	m := nlMsg(sockDiagByFamily, append(body, info...))
	binary.NativeEndian.PutUint32(m[8:12], seq)
	return m
}
