// Command floor is the cost floor of receiving StatsD: it reads datagrams in
// batches, as statsd.Server does with its defaults (recvmmsg on Linux,
// statsd.DefaultBatchSize at a time, an statsd.DefaultReadBufferSize receive
// buffer, one reader per socket), counts them, and does nothing else. It serves
// the count at /metrics as the Prometheus counter floor_datagrams_total, so
// that statsdload measures it as it measures an exporter:
//
//	floor --statsd.listen-udp 127.0.0.1:9125 --web.listen-address 127.0.0.1:9102 &
//	statsdload -metric floor_datagrams_total -counts datagrams -pid $! ...
//
// CPU time per datagram of an exporter over that of floor is what parsing,
// mapping and recording add to the kernel's receive path.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/gunicornotel/gunicornotel/statsd"
)

var datagrams atomic.Uint64

func main() {
	udp := flag.String("statsd.listen-udp", "127.0.0.1:9125", "UDP `address` to read; \"\" for none")
	unixgram := flag.String("statsd.listen-unixgram", "", "Unix datagram socket `path` to read; \"\" for none")
	web := flag.String("web.listen-address", "127.0.0.1:9102", "`address` of /metrics")
	batch := flag.Int("batch", statsd.DefaultBatchSize, "datagrams per read at most")
	rcvbuf := flag.Int("read-buffer", statsd.DefaultReadBufferSize, "receive buffer (SO_RCVBUF) in `bytes`")
	flag.Parse()
	if err := serve(*udp, *unixgram, *web, *batch, *rcvbuf); err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		os.Exit(1)
	}
}

func serve(udp, unixgram, web string, batch, rcvbuf int) error {
	var conns []net.PacketConn
	if udp != "" {
		c, err := listen("udp", udp, rcvbuf)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	if unixgram != "" {
		os.Remove(unixgram)
		c, err := listen("unixgram", unixgram, rcvbuf)
		if err != nil {
			return err
		}
		defer os.Remove(unixgram)
		os.Chmod(unixgram, 0o666)
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return errors.New("nothing to read: --statsd.listen-udp and --statsd.listen-unixgram are empty")
	}
	errc := make(chan error, len(conns)+1)
	for _, c := range conns {
		go func() { errc <- read(c, batch) }()
	}
	http.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b := []byte("# HELP floor_datagrams_total Datagrams read.\n# TYPE floor_datagrams_total counter\nfloor_datagrams_total ")
		b = strconv.AppendUint(b, datagrams.Load(), 10)
		w.Write(append(b, '\n'))
	})
	go func() { errc <- http.ListenAndServe(web, nil) }()
	return <-errc
}
