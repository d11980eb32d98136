//go:build !linux

package main

import "net"

// listen opens the socket with a receive buffer of rcvbuf bytes.
func listen(network, addr string, rcvbuf int) (net.PacketConn, error) {
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	if s, ok := c.(interface{ SetReadBuffer(int) error }); ok {
		s.SetReadBuffer(rcvbuf)
	}
	return c, nil
}

// read counts datagrams, one read each (no recvmmsg here), until an error.
func read(c net.PacketConn, _ int) error {
	buf := make([]byte, 65536)
	for {
		if _, _, err := c.ReadFrom(buf); err != nil {
			return err
		}
		datagrams.Add(1)
	}
}
