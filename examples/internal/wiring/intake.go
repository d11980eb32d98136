package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Intake is the StatsD side of a program: a statsd.Server handing what it
// reads to the Bridge (or to the program's handler in front of it), and the
// Gunicorn watcher beside them, recording into the same MeterProvider. It
// starts and stops them in the order both programs need: the server, then
// the watcher, then SIGHUP is caught; on shutdown the server is drained
// (everything read is recorded), then the watcher stopped, and only then
// may the program collect or export one last time.
type Intake struct {
	Server  *statsd.Server
	Bridge  *otelbridge.Bridge
	Watcher *Watcher // nil without the watcher
	Log     *slog.Logger

	reg     metric.Registration // the server's telemetry
	hup     chan os.Signal
	started bool
}

// NewIntake returns the intake of srv (whose Handler, if nil, becomes b), b
// and w (nil: no watcher), with the server's telemetry
// (otelbridge.ObserveServer) registered on mp.
func NewIntake(mp metric.MeterProvider, srv *statsd.Server, b *otelbridge.Bridge, w *Watcher, log *slog.Logger) (*Intake, error) {
	if srv.Handler == nil {
		srv.Handler = b
	}
	reg, err := otelbridge.ObserveServer(mp, srv)
	if err != nil {
		return nil, fmt.Errorf("StatsD server telemetry: %w", err)
	}
	return &Intake{Server: srv, Bridge: b, Watcher: w, Log: log, reg: reg, hup: make(chan os.Signal, 1)}, nil
}

// Listener is an address to serve StatsD on, as statsd.Server.Start takes
// it, and the flag that gave it, for errors.
type Listener struct {
	Flag, Addr string
}

// Start serves StatsD on each listener, in order (the server's Handler must
// be set by then), starts the watcher, and from then on catches SIGHUP (see
// HUP): call it before anyone can learn that the program is up, so that a
// SIGHUP then reloads instead of ending the process. It returns the
// addresses bound, one for each listener.
func (in *Intake) Start(ls []Listener) ([]net.Addr, error) {
	in.started = true
	addrs := make([]net.Addr, 0, len(ls))
	for _, l := range ls {
		a, err := in.Server.Start(l.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", l.Flag, l.Addr, err)
		}
		addrs = append(addrs, a)
	}
	in.Watcher.Start()
	signal.Notify(in.hup, syscall.SIGHUP)
	return addrs, nil
}

// HUP receives the SIGHUPs caught since Start: the program reloads its
// mapping file on each.
func (in *Intake) HUP() <-chan os.Signal { return in.hup }

// Shutdown stops reading StatsD and returns once everything read is
// recorded (statsd.Server.Shutdown: ctx bounds it), logs the bridge's
// counts, then stops the watcher, whose instruments keep reporting its last
// pass. The program's final collection or export comes after it; Close
// after that.
func (in *Intake) Shutdown(ctx context.Context) error {
	var err error
	if in.started {
		if err = in.Server.Shutdown(ctx); err != nil {
			err = fmt.Errorf("draining StatsD: %w", err)
		}
		st := in.Bridge.Stats()
		in.Log.Info("StatsD receiver stopped", "datagrams", st.Datagrams, "samples", st.Samples,
			"recorded", st.Recorded, "dropped", st.Dropped, "rejected", st.Rejected,
			"series_overflow", st.SeriesOverflow)
	}
	in.Watcher.Stop()
	return err
}

// Close closes the server at once (call Shutdown first not to lose what the
// sockets hold), stops catching SIGHUP, closes the watcher, unregisters the
// server's telemetry and closes the bridge. It is idempotent.
func (in *Intake) Close() error {
	signal.Stop(in.hup)
	var errs []error
	errs = append(errs, in.Server.Close(), in.Watcher.Close())
	if in.reg != nil {
		errs = append(errs, in.reg.Unregister())
		in.reg = nil
	}
	errs = append(errs, in.Bridge.Close())
	return errors.Join(errs...)
}
