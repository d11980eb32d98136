package statsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// An endpoint is what listen opened for one address, registered with the
// Server and ready to serve.
type endpoint struct {
	addr       net.Addr
	socks      []*packetSock // packet sockets, or
	readersPer int
	listener   *trackedListener // a stream listener
}

// serveEndpoint serves ep. Its caller must be counted in s.wg.
func (s *Server) serveEndpoint(ep *endpoint) error {
	if ep.listener != nil {
		return s.serveListener(ep.listener)
	}
	return s.servePackets(ep.socks, ep.readersPer)
}

// splitAddr returns the network ("udp", "udp4", "udp6", "unixgram", "tcp",
// "tcp4", "tcp6") and the host:port or path of a Server address.
func splitAddr(addr string) (network, rest string, err error) {
	if addr == "" {
		return "udp", DefaultAddr, nil
	}
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			scheme, rest = "unixgram", p
		} else if strings.Contains(addr, "/") {
			return "", "", fmt.Errorf("statsd: address %q: not host:port, nor a scheme://", addr)
		} else {
			scheme, rest = "udp", addr
		}
	}
	switch scheme {
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		if rest == "" {
			return "", "", fmt.Errorf("statsd: address %q: no host:port", addr)
		}
		return scheme, rest, nil
	case "unix", "unixgram":
		if rest == "" {
			return "", "", fmt.Errorf("statsd: address %q: no socket path", addr)
		}
		return "unixgram", rest, nil
	}
	return "", "", fmt.Errorf("statsd: address %q: unsupported scheme %q (want udp, unixgram, unix or tcp)", addr, scheme)
}

// listen opens the sockets for addr and registers them with the Server.
func (s *Server) listen(addr string) (*endpoint, error) {
	network, where, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed := s.state != stateRunning
	s.mu.Unlock()
	if closed {
		return nil, ErrServerClosed
	}
	cfg := s.config()
	var ep *endpoint
	switch network {
	case "tcp", "tcp4", "tcp6":
		l, err := net.Listen(network, where)
		if err != nil {
			return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
		}
		ep = &endpoint{addr: l.Addr(), listener: &trackedListener{Listener: l}}
		if !s.addListener(ep.listener) {
			return nil, ErrServerClosed
		}
		return ep, nil
	case "unixgram":
		ps, err := s.listenUnixgram(addr, where, &cfg)
		if err != nil {
			return nil, err
		}
		ep = &endpoint{addr: ps.conn.LocalAddr(), socks: []*packetSock{ps}, readersPer: cfg.readers}
	default:
		socks, err := s.listenUDP(addr, network, where, &cfg)
		if err != nil {
			return nil, err
		}
		ep = &endpoint{addr: socks[0].conn.LocalAddr(), socks: socks, readersPer: cfg.readers / len(socks)}
	}
	for i, ps := range ep.socks {
		if !s.addPacket(ps) {
			for _, ps := range ep.socks[i:] {
				ps.close()
			}
			return nil, ErrServerClosed
		}
	}
	return ep, nil
}

// listenUDP opens one UDP socket, or with several readers where the system
// allows it, one SO_REUSEPORT socket per reader, all on one port.
func (s *Server) listenUDP(addr, network, hostport string, cfg *config) ([]*packetSock, error) {
	n := 1
	if cfg.readers > 1 && reusePortSupported {
		n = cfg.readers
	}
	lc := s.listenConfig(cfg, n > 1)
	socks := make([]*packetSock, 0, n)
	fail := func(err error) ([]*packetSock, error) {
		for _, ps := range socks {
			ps.close()
		}
		return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
	}
	for i := 0; i < n; i++ {
		conn, err := lc.ListenPacket(context.Background(), network, hostport)
		if err != nil {
			return fail(err)
		}
		afterListen(conn, cfg, s.logger())
		ps, err := s.newPacketSock(conn, "", nil)
		if err != nil {
			conn.Close()
			return fail(err)
		}
		socks = append(socks, ps)
		if i == 0 {
			// The others bind the port the first one got (":0" picks one).
			hostport = conn.LocalAddr().String()
		}
	}
	return socks, nil
}

// listenUnixgram binds a Unix datagram socket at path, replacing a stale
// socket file that nobody answers on, and gives its file exactly the
// permissions cfg.socketMode asks for before it is served.
func (s *Server) listenUnixgram(addr, path string, cfg *config) (*packetSock, error) {
	abstract := strings.HasPrefix(path, "@")
	perm, err := socketPerm(cfg.socketMode, path, abstract)
	if err != nil {
		return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
	}
	if !abstract {
		if err := removeStaleSocket(path); err != nil {
			return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
		}
	}
	lc := s.listenConfig(cfg, false)
	conn, err := lc.ListenPacket(context.Background(), "unixgram", path)
	if err != nil {
		return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
	}
	afterListen(conn, cfg, s.logger())
	var fi os.FileInfo
	if abstract {
		path = ""
	} else if fi, err = chmodSocket(path, perm); err != nil {
		conn.Close()
		if fi != nil {
			os.Remove(path)
		}
		return nil, fmt.Errorf("statsd: listen %q: %w", addr, err)
	}
	ps, err := s.newPacketSock(conn, path, fi)
	if err != nil {
		conn.Close()
		if path != "" {
			os.Remove(path)
		}
		return nil, err
	}
	return ps, nil
}

// socketPerm returns the permissions Server.SocketMode (mode) asks for the
// socket file at path, DefaultSocketMode for zero, or why they cannot be
// given.
func socketPerm(mode os.FileMode, path string, abstract bool) (os.FileMode, error) {
	if abstract {
		if mode != 0 {
			return 0, fmt.Errorf("socket mode %#o for %s: an abstract socket has no file and no permissions (anyone may send to it): leave SocketMode zero", mode.Perm(), path)
		}
		return 0, nil
	}
	if mode == 0 {
		return DefaultSocketMode, nil
	}
	if extra := mode &^ (os.ModePerm | os.ModeSocket); extra != 0 {
		return 0, fmt.Errorf("socket mode %v for %s: only permission bits (0o777) may be set, not %v", mode, path, extra)
	}
	return mode.Perm(), nil
}

// chmodSocket gives the socket file at path, just bound, the permissions
// perm, whatever the umask made them, and checks that it has them. It
// returns the file's FileInfo, nil if there is no socket file at path.
func chmodSocket(path string, perm os.FileMode) (os.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("%s is not the socket just bound (%s)", path, fi.Mode().Type())
	}
	if err := os.Chmod(path, perm); err != nil {
		return fi, fmt.Errorf("socket mode %#o: %w", perm, err)
	}
	after, err := os.Lstat(path)
	if err != nil {
		return fi, err
	}
	if !os.SameFile(fi, after) {
		return nil, fmt.Errorf("%s was replaced while its mode was set", path)
	}
	if after.Mode() != os.ModeSocket|perm {
		return fi, fmt.Errorf("socket mode %#o for %s: the file has %v", perm, path, after.Mode())
	}
	return after, nil
}

// removeStaleSocket removes the socket file at path if nobody is bound to
// it. Anything else at path is an error: a file that is not a socket, or a
// socket in use.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s): not removing it", path, fi.Mode().Type())
	}
	c, err := net.Dial("unixgram", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("socket %s is in use by another process", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s exists and may be in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale socket: %w", err)
	}
	return nil
}

// A trackedListener is a stream listener being served, with its
// connections.
type trackedListener struct {
	net.Listener
	closeOnce sync.Once
	conns     sync.WaitGroup
}

func (tl *trackedListener) close() {
	tl.closeOnce.Do(func() { tl.Listener.Close() })
}
