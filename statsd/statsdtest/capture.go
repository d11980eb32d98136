package statsdtest

import (
	"bytes"
	"os"
)

// ReadCapture reads a capture file: one datagram per line, each followed by
// a newline (a datagram never holds one), as the files in the project's
// testdata/gunicorn. It returns the datagrams without their newlines, in
// file order; empty lines are skipped. A "\r" before a newline is kept, as
// it would be part of the datagram. To replay them, give each one to a
// [Sink].
func ReadCapture(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return splitCapture(data), nil
}

// splitCapture splits the contents of a capture file into its datagrams, as
// ReadCapture does. The datagrams point into data; each one's capacity ends
// with it.
func splitCapture(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > 0 {
			out = append(out, line[:len(line):len(line)])
		}
	}
	return out
}
