package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/internal/asyncinst"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Names of the server instruments a Receiver registers (scope ScopeName), read
// from statsd.Server.Stats at collection time.
const (
	MetricServerBytes              = "gunicornotel.server.bytes"               // counter By
	MetricServerReads              = "gunicornotel.server.reads"               // counter {read}
	MetricServerReadErrors         = "gunicornotel.server.read_errors"         // counter {error}
	MetricServerKernelDrops        = "gunicornotel.server.kernel_drops"        // counter {datagram}
	MetricServerConnections        = "gunicornotel.server.connections"         // counter {connection}
	MetricServerConnectionsEvicted = "gunicornotel.server.connections.evicted" // counter {connection}
	MetricServerConnectionsOpen    = "gunicornotel.server.connections.open"    // up-down counter {connection}
)

// A Receiver is the common case wired in one call: a statsd.Server listening
// on an address, handing what it reads to a Bridge that records into the
// caller's MeterProvider. Make one with Listen.
type Receiver struct {
	server *statsd.Server
	bridge *Bridge
	addr   net.Addr
	reg    metric.Registration

	closeOnce sync.Once
	closeErr  error
}

// Listen makes a Bridge recording into mp (as New does, with the Options
// among opts), a statsd.Server handing it every batch (WithServer's, or one
// with the defaults that parses as WithParser says), and starts serving addr (any address statsd.Server.Start takes:
// "127.0.0.1:8125", "udp://:8125", "unix:/run/gunicorn-statsd.sock",
// "tcp://:8125"; "" means statsd.DefaultAddr). It returns once the socket is
// bound; serving goes on in the Server's goroutines until Shutdown or Close.
//
// Unless the Bridge's telemetry is off, the Server's counters are registered
// too, as the gunicornotel.server.* instruments.
func Listen(addr string, mp metric.MeterProvider, opts ...ListenOption) (*Receiver, error) {
	cfg := listenConfig{bridge: defaultConfig()}
	for _, o := range opts {
		if o != nil {
			o.applyListen(&cfg)
		}
	}
	b, err := newBridge(mp, cfg.bridge)
	if err != nil {
		return nil, err
	}
	srv := cfg.server
	if srv == nil {
		srv = &statsd.Server{Parser: cfg.bridge.parser}
	}
	srv.Handler = b
	r := &Receiver{server: srv, bridge: b}
	if b.cfg.telemetry {
		if r.reg, err = ObserveServer(mp, srv); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("otelbridge: server telemetry: %w", err)
		}
	}
	r.addr, err = srv.Start(addr)
	if err != nil {
		_ = r.unregister()
		return nil, err
	}
	return r, nil
}

// Addr returns the address the Server bound, such as the port chosen for
// "127.0.0.1:0".
func (r *Receiver) Addr() net.Addr { return r.addr }

// Bridge returns the Bridge, for its Stats or SetMapper.
func (r *Receiver) Bridge() *Bridge { return r.bridge }

// Server returns the Server, for its Stats or to serve more addresses
// (Server().Start(addr)).
func (r *Receiver) Server() *statsd.Server { return r.server }

// Shutdown stops reading, records everything already read (what is queued in
// the socket buffers included: see statsd.Server.Shutdown), and returns when
// the last sample is in the instruments, so that a collection or ForceFlush
// after it sees everything that arrived. The telemetry stays registered, for
// that final collection: call Close after it to unregister. If ctx ends first,
// the Server is closed and ctx.Err() returned.
func (r *Receiver) Shutdown(ctx context.Context) error {
	return r.server.Shutdown(ctx)
}

// Close closes the Server at once (datagrams not yet read are lost; use
// Shutdown first to keep them) and unregisters the telemetry callbacks.
// Close is idempotent.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() {
		r.closeErr = errors.Join(r.server.Close(), r.unregister())
	})
	return r.closeErr
}

func (r *Receiver) unregister() error {
	var err error
	if r.reg != nil {
		err = r.reg.Unregister()
	}
	return errors.Join(err, r.bridge.Close())
}

// ObserveServer registers the telemetry of a statsd.Server (the
// gunicornotel.server.* instruments: bytes, reads, read errors, kernel
// drops, stream connections) on mp under ScopeName, read from srv.Stats at
// each collection. Listen does it for the Server it makes; a program that
// runs its own Server (in front of a Bridge wrapped in a Handler of its
// own, say) calls it once. Unregister the returned Registration when the
// Server is gone.
func ObserveServer(mp metric.MeterProvider, srv *statsd.Server) (metric.Registration, error) {
	if mp == nil || srv == nil {
		return nil, errors.New("otelbridge: ObserveServer: nil MeterProvider or Server")
	}
	m := mp.Meter(ScopeName)
	mk := &asyncinst.Maker{Meter: m}
	counter := mk.Int64Counter
	bytes := counter(MetricServerBytes, "By", "Payload bytes the StatsD server read.")
	reads := counter(MetricServerReads, "{read}", "Reads that returned data (each one batch for the bridge).")
	readErrs := counter(MetricServerReadErrors, "{error}", "Failed reads and accepts.")
	drops := counter(MetricServerKernelDrops, "{datagram}", "Datagrams the kernel dropped, a socket's receive buffer being full (Linux).")
	conns := counter(MetricServerConnections, "{connection}", "Stream connections accepted.")
	evicted := counter(MetricServerConnectionsEvicted, "{connection}", "Stream connections idle longest, closed to admit new ones over the connection limit.")
	open := mk.Int64UpDownCounter(MetricServerConnectionsOpen, "{connection}", "Stream connections open.")
	if err := mk.Err(); err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := srv.Stats()
		o.ObserveInt64(bytes, clampInt64(st.Bytes))
		o.ObserveInt64(reads, clampInt64(st.Reads))
		o.ObserveInt64(readErrs, clampInt64(st.ReadErrors))
		o.ObserveInt64(drops, clampInt64(st.KernelDrops))
		o.ObserveInt64(conns, clampInt64(st.TCPConnections))
		o.ObserveInt64(evicted, clampInt64(st.TCPConnectionsEvicted))
		o.ObserveInt64(open, clampInt64(st.TCPConnectionsOpen))
		return nil
	}, bytes, reads, readErrs, drops, conns, evicted, open)
}
