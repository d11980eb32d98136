// Package statsd reads the StatsD wire format, as Gunicorn and DogStatsD
// clients write it, and serves it from sockets in the shape of net/http.
//
// # The wire format
//
// A datagram holds one or more lines separated by '\n' (a '\r' before it is
// dropped, empty lines are skipped). A line is
//
//	name:value[:value...]|type[|@rate][|#tag,key:value][|c:container][|T<unix seconds>]
//
// with the types c (counter), g (gauge; a signed value such as +3 moves it),
// ms (timer), h (histogram), d (distribution) and s (set). Packed values give
// one Sample each. Sections the parser does not know are skipped (see Dialect).
//
// Tags are read in the four formats statsd_exporter reads, each on by default
// and switchable on the Parser: DogStatsD (name:1|c|#k:v), InfluxDB
// (name,k=v:1|c), Librato (name#k=v:1|c) and SignalFX (name[k=v]:1|c, the
// bracket section anywhere in the name). A malformed tag is dropped and
// counted (Batch.TagErrors), never the line; see Parser for the exact rules. A value is
// read as the float64 that strconv.ParseFloat gives, bit for bit (NaN and
// ±Inf are refused), without calling it for plain decimals of up to 19 digits,
// such as Gunicorn's float noise 1016.0360000000001.
//
// A Parser parses a datagram in place, without allocating: every Sample's
// Name, Tags, ContainerID and Member are views into the datagram (or, for a
// name or tags the datagram does not hold in one piece, into the Batch's
// scratch space), valid only until the buffer is reused. TagIter walks the
// tags of every format without allocating.
// A line that cannot be read is rejected with a ParseError whose Reason has a
// stable name ("bad_value", "bad_sample_rate", "too_long", ...), meant to be
// counted; it never spoils the other lines of its datagram.
//
// StatsD servers disagree on a few lines: a sample rate they cannot read, a
// "|T" that is not a timestamp, Etsy's multi-metric lines (name:1|c:2|g),
// sections they do not know. Parser.Dialect picks the rules: DialectDefault,
// this package's, or DialectStatsdExporter, which reads them as
// statsd_exporter v0.31.0 does, for a drop-in replacement of it, and lists
// the lines it forgives in Batch.Forgiven.
//
// # Serving
//
// A Server reads datagrams from UDP and Unix datagram sockets (in batches,
// with recvmmsg on Linux) and newline-framed lines from TCP, parses them, and
// hands each batch to its Handler:
//
//	srv := &statsd.Server{Handler: handler}
//	go srv.ListenAndServe("udp://:8125") // also tcp://..., unixgram:///path, unix:/path
//	...
//	srv.Shutdown(ctx) // stops reading, hands over everything already read, then returns
//
// The Handler runs in the reader goroutine and must not keep the Batch; see
// Handler. The Server keeps counters about itself (Stats).
//
// This package depends on the standard library and golang.org/x/sys only.
// Package statsdtest holds fakes for tests: a byte-exact Gunicorn emitter and
// a recording Handler.
package statsd
