// Command statsdload sends real-shaped Gunicorn StatsD traffic to a UDP or
// Unix datagram address, at a fixed rate or as fast as it can, then reads the
// target's Prometheus endpoint and reports what was lost and, given the
// target's pid, what receiving it cost in CPU time.
//
//	go -C examples run ./statsdload -target udp://127.0.0.1:9125 -rate 200000 -count 600000 -senders 2 \
//		-metrics-url http://127.0.0.1:9102/metrics -pid $pid
//
// Each simulated request is the three datagrams Gunicorn sends for it
// (gunicorn.request.duration, gunicorn.requests, gunicorn.request.status.<code>),
// byte for byte as the statsdtest Emitter writes them, with -prefix and -tags
// as Gunicorn's --statsd-prefix and --dogstatsd-tags. Counts and rates are in
// datagrams; a count is rounded up to whole requests. Datagrams are sent with
// sendmmsg(2) on Linux, -batch at a time, paced by the clock (a batch about
// every millisecond at 200,000 a second); elsewhere one write each. -senders
// splits the run over several sockets: on loopback a UDP send carries the
// whole delivery to the receiving socket, and one sender on a small machine
// does not reach 200,000 a second alone.
//
// After sending, the tool waits for the target's CPU time to stop rising (with
// -pid), then polls -metric at -metrics-url until it reaches what was sent or
// stops changing for -settle. The metric is summed over all its series; it
// counts requests (-counts requests, the default: gunicorn_requests_total) or
// datagrams (-counts datagrams: the floor program's floor_datagrams_total), and
// loss_pct compares it with what the socket accepted. The report is one line
// of key=value pairs, or JSON with -json:
//
//	offered_datagrams, offered_requests  what the socket accepted
//	send_rate                            datagrams a second achieved
//	counted, counted_requests            the metric's increase, and in requests
//	counted_datagrams                    counted_requests times the datagrams per request
//	loss_pct                             100 * (1 - counted/offered) in the metric's unit
//	cpu_s, cpu_ns_per_datagram           the target's user+system CPU time during the run
//	                                     (/proc/<pid>/stat, read with prometheus/procfs)
//	rss_bytes, rss_peak_bytes            the target's VmRSS and VmHWM (its peak, scrapes
//	                                     included) after the run
//	scrapes, scrape_errors               scrapes of -metrics-url answered, and failed
//	scrape_max_s, scrape_last_s          the longest scrape, and the last (one whole scrape
//	                                     after the counter settled), from the request to the
//	                                     last byte
//	scrape_bytes_max, scrape_bytes_last  the largest exposition, and the last one's size
//
// The memory modes follow every request with one more datagram:
// -distinct-names N a counter with a name never sent before
// (statsdload.distinct.<i>), -distinct-tags N one counter
// (statsdload.tagged) with a new value of the tag statsdload_id; the index
// cycles through N values, and -count defaults to N requests' worth.
// -wide-tags N follows every request with one line with N tags whose values
// change every line (statsdload.wide.<i mod M>:1|c|#w0:<i>,...,w<N-1>:<i>,
// for unit i; M is -wide-names, the type -wide-type), so that every line is a
// series never seen before, as wide as the target lets it be; the report adds
// wide_lines and wide_line_bytes_max (keep it under the target's line length
// limit, 8,192 bytes for gunicorn-prometheus, or the lines are rejected
// whole). -scrape-every D scrapes -metrics-url every D while sending, as
// Prometheus would, and the report adds scrapes_during_send: a scrape of a
// wide exposition is where an exporter's memory peaks.
//
// -soak D sends at a steady -rate for D, sampling the target's resident memory
// (VmRSS) and goroutines (go_goroutines from the exposition, or its thread
// count) every -sample-every, and exits 1 if anything was lost or if, between
// the end of -warmup and the end, memory grew by more than -rss-tolerance
// percent (and -rss-slack) or goroutines by more than -goroutine-slack.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errFailed):
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "statsdload: %v\n", err)
		os.Exit(2)
	}
}

// errFailed is returned by run when the report was printed but a check
// failed (loss or growth): exit status 1.
var errFailed = errors.New("check failed")

// run is the whole program: parse args, load, print the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep, err := load(ctx, cfg, stderr)
	if rep != nil {
		if cfg.json {
			err2 := rep.writeJSON(stdout)
			err = errors.Join(err, err2)
		} else {
			err = errors.Join(err, rep.writeKV(stdout))
		}
	}
	if err != nil {
		return err
	}
	if len(rep.Failures) > 0 {
		for _, f := range rep.Failures {
			fmt.Fprintf(stderr, "statsdload: FAIL: %s\n", f)
		}
		return errFailed
	}
	return nil
}
