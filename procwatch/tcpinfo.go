//go:build linux

package procwatch

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The offsets of the fields of struct tcp_info the watcher reads, as
// golang.org/x/sys lays the struct out (the kernel's layout, which only
// grows at its end).
var (
	offLastDataSent  = unsafe.Offsetof(unix.TCPInfo{}.Last_data_sent)
	offLastDataRecv  = unsafe.Offsetof(unix.TCPInfo{}.Last_data_recv)
	offBytesReceived = unsafe.Offsetof(unix.TCPInfo{}.Bytes_received)
	offDataSegsOut   = unsafe.Offsetof(unix.TCPInfo{}.Data_segs_out)
)

// tcpTimesOf reads the fields of a struct tcp_info (b holds at least
// tcpInfoMinimumSize bytes).
func tcpTimesOf(b []byte) tcpTimes {
	ne := binary.NativeEndian
	return tcpTimes{
		lastDataSent:  ne.Uint32(b[offLastDataSent:]),
		lastDataRecv:  ne.Uint32(b[offLastDataRecv:]),
		bytesReceived: ne.Uint64(b[offBytesReceived:]),
		dataSegsOut:   ne.Uint32(b[offDataSegsOut:]),
	}
}
