package statsdtest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// A Loopback is a statsd.Server listening on a loopback socket (UDP on
// 127.0.0.1, or a Unix datagram socket in the test's temporary directory)
// and a datagram socket connected to it. Write to it, call Flush, then
// check what the Handler was given: nothing sent before Flush is lost.
//
// It is also a Sink, so an Emitter can send to it.
type Loopback struct {
	// Server is the running server. Read its Stats at any time.
	Server *statsd.Server
	// Addr is the server's address as Gunicorn's --statsd-host takes it:
	// "127.0.0.1:PORT", or "unix:PATH" for a Unix datagram socket. Dial
	// accepts it too.
	Addr string
	// Conn is a datagram socket connected to the server: each Write is one
	// datagram.
	Conn net.Conn

	tb        testing.TB
	flushOnce sync.Once
}

// A LoopbackOption configures NewLoopback.
type LoopbackOption func(*loopbackConfig)

type loopbackConfig struct {
	unixgram  bool
	configure func(*statsd.Server)
}

// LoopbackUnixgram makes the Loopback use a Unix datagram socket in
// tb.TempDir() instead of UDP.
func LoopbackUnixgram() LoopbackOption {
	return func(c *loopbackConfig) { c.unixgram = true }
}

// LoopbackServer lets configure set the Server's fields (Readers,
// Parser, ErrorLog, ...) before it starts. The Handler is already
// set; by default ErrorLog discards.
func LoopbackServer(configure func(*statsd.Server)) LoopbackOption {
	return func(c *loopbackConfig) { c.configure = configure }
}

// NewLoopback starts a statsd.Server that gives what it reads to h, and
// connects a datagram socket to it. It fails tb if either cannot be done.
// tb.Cleanup closes both.
func NewLoopback(tb testing.TB, h statsd.Handler, opts ...LoopbackOption) *Loopback {
	tb.Helper()
	var cfg loopbackConfig
	for _, o := range opts {
		o(&cfg)
	}
	srv := &statsd.Server{Handler: h, ErrorLog: slog.New(slog.DiscardHandler)}
	if cfg.configure != nil {
		cfg.configure(srv)
	}
	listen := "udp://127.0.0.1:0"
	if cfg.unixgram {
		listen = "unix:" + filepath.Join(tb.TempDir(), "statsd.sock")
	}
	addr, err := srv.Start(listen)
	if err != nil {
		tb.Fatalf("statsdtest: NewLoopback: %v", err)
	}
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		srv.Close()
		tb.Fatalf("statsdtest: NewLoopback: dial %s: %v", addr, err)
	}
	l := &Loopback{Server: srv, Addr: addr.String(), Conn: conn, tb: tb}
	if cfg.unixgram {
		l.Addr = "unix:" + addr.String()
	}
	tb.Cleanup(func() {
		conn.Close()
		srv.Close()
	})
	return l
}

// Send writes each string as one datagram. It fails the test on an error.
func (l *Loopback) Send(datagrams ...string) {
	l.tb.Helper()
	for _, d := range datagrams {
		if _, err := l.Conn.Write([]byte(d)); err != nil {
			l.tb.Fatalf("statsdtest: Loopback.Send %q: %v", d, err)
		}
	}
}

// WriteDatagram writes p as one datagram, making a Loopback a Sink.
func (l *Loopback) WriteDatagram(p []byte) error {
	_, err := l.Conn.Write(p)
	return err
}

// Flush shuts the server down: it reads every datagram already sent, and
// returns once the Handler has been given all of them. The Loopback
// receives nothing after. Flush may be called more than once; it fails the
// test if the shutdown takes longer than 10 seconds.
func (l *Loopback) Flush() {
	l.tb.Helper()
	l.flushOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Server.Shutdown(ctx); err != nil {
			l.tb.Fatalf("statsdtest: Loopback.Flush: %v", err)
		}
	})
}
