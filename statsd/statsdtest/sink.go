package statsdtest

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// A Sink receives datagrams from an Emitter, one call per datagram.
// WriteDatagram must not keep p after it returns: the Emitter reuses it.
type Sink interface {
	WriteDatagram(p []byte) error
}

// SinkFunc adapts an ordinary function to a Sink. The function must not keep
// p after it returns.
type SinkFunc func(p []byte) error

// WriteDatagram calls f(p).
func (f SinkFunc) WriteDatagram(p []byte) error { return f(p) }

// HandlerSink returns a Sink that parses each datagram with a zero
// statsd.Parser into a Batch of its own (Datagrams is 1) and calls h.Handle
// with it: no sockets, the same Batch a Server would give h for that
// datagram alone. The datagram is copied into a buffer that is overwritten
// after Handle returns, so a Handler that keeps views into it past the call
// is caught by its tests. The Sink is safe for concurrent use; calls are
// serialised.
func HandlerSink(h statsd.Handler) Sink {
	return &handlerSink{h: h}
}

type handlerSink struct {
	h      statsd.Handler
	parser statsd.Parser
	mu     sync.Mutex
	buf    []byte
	batch  statsd.Batch
}

func (s *handlerSink) WriteDatagram(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf[:0], p...)
	s.batch.Reset()
	s.parser.Parse(&s.batch, s.buf)
	s.h.Handle(&s.batch)
	s.batch.Reset()
	// Poison the buffer: views kept past Handle now read garbage.
	for i := range s.buf {
		s.buf[i] = '#'
	}
	return nil
}

// WriterSink returns a Sink that writes each datagram to w with one Write
// call, as Gunicorn's sock.send does; on a net.Conn from Dial (or any
// datagram socket) each Write is one datagram. A short write without an
// error is reported as io.ErrShortWrite.
func WriterSink(w io.Writer) Sink {
	return SinkFunc(func(p []byte) error {
		n, err := w.Write(p)
		if err == nil && n != len(p) {
			err = io.ErrShortWrite
		}
		return err
	})
}

// Dial connects a datagram socket to addr, written as for Gunicorn's
// --statsd-host or as a URL:
//
//	"host:port", "udp://host:port"  UDP ("host" alone means port 8125)
//	"unix:PATH", "unix://PATH"      Unix datagram socket (as Gunicorn 21+)
//	"unixgram://PATH"               Unix datagram socket
//
// so "unix:/run/s.sock", "unix:///run/s.sock" and "unixgram:///run/s.sock"
// name the same socket. Wrap the connection with WriterSink to send an
// Emitter's datagrams to a real server.
func Dial(addr string) (net.Conn, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	return net.Dial(network, address)
}

func splitAddr(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "unixgram://"):
		network, address = "unixgram", addr[len("unixgram://"):]
	case strings.HasPrefix(addr, "unix://"):
		network, address = "unixgram", addr[len("unix://"):]
	case strings.HasPrefix(addr, "unix:"):
		network, address = "unixgram", addr[len("unix:"):]
	case strings.HasPrefix(addr, "udp://"):
		network, address = "udp", addr[len("udp://"):]
	case strings.Contains(addr, "://"):
		return "", "", fmt.Errorf("statsdtest: Dial %q: unsupported scheme", addr)
	default:
		network, address = "udp", addr
	}
	if address == "" {
		return "", "", fmt.Errorf("statsdtest: Dial %q: no address", addr)
	}
	if network == "udp" {
		if _, _, err := net.SplitHostPort(address); err != nil {
			// No port (or a bare IPv6 address): use StatsD's default port.
			host := strings.TrimSuffix(strings.TrimPrefix(address, "["), "]")
			address = net.JoinHostPort(host, "8125")
		}
	}
	return network, address, nil
}
