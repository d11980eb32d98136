//go:build !linux

package main

import "net"

// newBatchWriter returns the portable writer: no sendmmsg here.
func newBatchWriter(c net.Conn, batch int) (batchWriter, error) {
	return connWriter{c}, nil
}
