package benchcmp

import (
	"fmt"
	"strings"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// gunicornMix is the datagram mix of every benchmark of the project
// (statsdtest.GunicornMix, without tags): one real-shaped datagram of each
// kind Gunicorn sends, with the prefix "myapp.". Every benchmark here rotates
// over it, one datagram per op.
var gunicornMix = func() []string {
	var out []string
	for _, d := range statsdtest.GunicornMix(statsdtest.Config{Version: statsdtest.V(20, 1, 0), Prefix: "myapp"}) {
		out = append(out, string(d))
	}
	return out
}()

// dogTags is the DogStatsD tag section the Tags variants append.
const dogTags = "|#env:prod,service:web"

// mixStrings returns the mix with tags appended to every datagram.
func mixStrings(tags string) []string {
	out := make([]string, len(gunicornMix))
	for i, d := range gunicornMix {
		out[i] = d + tags
	}
	return out
}

// nameTagged returns the mix with the Tags variants' two tags moved into the
// name, in the given format: "influxdb"
// (myapp.gunicorn.requests,env=prod,service=web:1|c), "librato"
// (myapp.gunicorn.requests#env=prod,service=web:1|c) or "signalfx", in the
// middle of the name as its collectd plugin writes it
// (myapp.[env=prod,service=web]gunicorn.requests:1|c).
func nameTagged(format string) []string {
	const tags = "env=prod,service=web"
	out := make([]string, len(gunicornMix))
	for i, d := range gunicornMix {
		name, rest, _ := strings.Cut(d, ":")
		switch format {
		case "influxdb":
			out[i] = name + "," + tags + ":" + rest
		case "librato":
			out[i] = name + "#" + tags + ":" + rest
		case "signalfx":
			prefix, base, _ := strings.Cut(name, ".")
			out[i] = prefix + ".[" + tags + "]" + base + ":" + rest
		default:
			panic("nameTagged: unknown format " + format)
		}
	}
	return out
}

// toBytes returns the datagrams as byte slices, as datagrams arrive.
func toBytes(ds []string) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = []byte(d)
	}
	return out
}

// mixBytes is mixStrings as byte slices, as datagrams arrive.
func mixBytes(tags string) [][]byte { return toBytes(mixStrings(tags)) }

// gunicornMappingYAML is a statsd_exporter mapping file equivalent to
// gunicornotel's built-in Gunicorn profile (mapper.New()): the same
// instruments, the prefix as the label "app", the status code and log level
// as labels, request durations scaled from milliseconds to seconds into a
// histogram with the OpenTelemetry HTTP server boundaries (statsd_exporter
// turns "ms" into seconds as it parses, so the file needs no scale).
const gunicornMappingYAML = `mappings:
- match: "*.gunicorn.request.duration"
  name: "gunicorn_request_duration_seconds"
  match_metric_type: observer
  observer_type: histogram
  histogram_options:
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
  labels:
    app: "$1"
- match: "*.gunicorn.requests"
  name: "gunicorn_requests_total"
  match_metric_type: counter
  labels:
    app: "$1"
- match: "*.gunicorn.request.status.*"
  name: "gunicorn_responses_total"
  match_metric_type: counter
  labels:
    app: "$1"
    http_response_status_code: "$2"
- match: "*.gunicorn.workers"
  name: "gunicorn_workers"
  match_metric_type: gauge
  labels:
    app: "$1"
- match: "*.gunicorn.log.*"
  name: "gunicorn_log_messages_total"
  match_metric_type: counter
  labels:
    app: "$1"
    level: "$2"
- match: "*.gunicorn.backlog"
  name: "gunicorn_backlog"
  match_metric_type: observer
  observer_type: histogram
  labels:
    app: "$1"
`

// globRules returns a mapping file of n glob rules, "svc<i>.*.requests" to
// "svc<i>_requests" with the label app="$1", readable by both mappers, and
// ten counter datagrams whose names match rules spread over the whole file.
func globRules(n int) (yml string, datagrams []string) {
	var y strings.Builder
	y.WriteString("mappings:\n")
	for i := range n {
		fmt.Fprintf(&y, "- match: \"svc%d.*.requests\"\n  name: \"svc%d_requests\"\n  labels:\n    app: \"$1\"\n", i, i)
		if i%(n/10) == n/20 {
			datagrams = append(datagrams, fmt.Sprintf("svc%d.web.requests:1|c", i))
		}
	}
	return y.String(), datagrams
}
