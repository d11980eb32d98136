//go:build !linux

package statsd

import (
	"log/slog"
	"net"
	"syscall"
)

// reusePortSupported reports whether UDP readers get a socket each.
// Elsewhere than Linux they share one.
const reusePortSupported = false

func (s *Server) listenConfig(cfg *config, reuse bool) net.ListenConfig {
	return net.ListenConfig{}
}

// afterListen sets the receive buffer through the portable
// SetReadBuffer: no SO_RCVBUFFORCE here.
func afterListen(conn net.PacketConn, cfg *config, log *slog.Logger) {
	if cfg.readBufferSize <= 0 {
		return
	}
	if b, ok := conn.(interface{ SetReadBuffer(int) error }); ok {
		if err := b.SetReadBuffer(cfg.readBufferSize); err != nil {
			log.Warn("statsd: cannot set the receive buffer", "addr", conn.LocalAddr().String(), "want", cfg.readBufferSize, "err", err)
		}
	}
}

// readPackets serves ps one datagram per read.
func (s *Server) readPackets(ps *packetSock, cfg *config) error {
	return s.readPacketsSimple(ps, cfg)
}

// reportDrops does nothing: SO_RXQ_OVFL is Linux's. Stats.KernelDrops stays 0.
func reportDrops(rc syscall.RawConn) error { return nil }
