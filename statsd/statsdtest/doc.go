// Package statsdtest helps test programs that receive Gunicorn's StatsD
// traffic: it plays Gunicorn, byte for byte, and records what a
// [statsd.Handler] was given. It is for unit tests, benchmarks and load
// tools. It is not a StatsD client for applications' own metrics, nor a fake
// of the OpenTelemetry side (read a bridge's metrics with the SDK's
// ManualReader), and it asserts nothing about what arrived: the test does.
//
// The pieces, in the order a test uses them:
//
//   - An [Emitter], made by [NewEmitter] from a [Config] (Gunicorn's
//     version, --statsd-prefix and --dogstatsd-tags), sends what Gunicorn
//     sends: [Emitter.Request], [Emitter.Workers], [Emitter.Log],
//     [Emitter.Backlog] and [Emitter.Metric]. [GunicornMix] returns a
//     fixed mix of those datagrams for benchmarks.
//   - A [Sink] takes each datagram: [HandlerSink] parses it and calls a
//     Handler (no sockets); [WriterSink] writes it to a socket from [Dial],
//     which takes Gunicorn's --statsd-host forms; [SinkFunc] is any function.
//   - A [Recorder] is a Handler that keeps copies of the samples and the
//     rejected lines it was given, to assert on.
//   - [NewLoopback] runs a real statsd.Server on a loopback socket for one
//     test; it is a Sink too, and its Flush returns once everything sent
//     was handled.
//   - [ReadCapture] reads the traffic of a real Gunicorn captured to a file,
//     to replay through any Sink.
//
// It imports only the standard library and package statsd, so any test may
// use it without pulling in OpenTelemetry.
//
// # Wire facts
//
// The Emitter reproduces gunicorn/instrument/statsd.py of each release, read
// from Gunicorn's public source (benoitc/gunicorn), and is checked against
// real Gunicorn 20.1 captures in the project's testdata:
//
//   - Every datagram holds one metric, ASCII, no trailing newline:
//     "<prefix><name>:<value>|<type>" for gauges and histograms,
//     "<prefix><name>:<value>|c|@1.0" for counters (Python's str(1.0) for the
//     default sampling rate), and from 20.0 "|#<tags>" appended to all of them
//     when --dogstatsd-tags is not empty, without any check of the tag text.
//   - A datagram that is not ASCII is never sent: Gunicorn encodes it as ASCII
//     and swallows the UnicodeEncodeError.
//   - A request sends, in order, "gunicorn.request.duration:<ms>|ms",
//     "gunicorn.requests:1|c|@1.0" and "gunicorn.request.status.<code>:1|c|@1.0".
//   - Log records of level critical, error, warning and exception each send
//     "gunicorn.log.<level>:1|c|@1.0".
//   - Values logged with extra={"metric", "value", "mtype"} (the arbiter's
//     gunicorn.workers gauge, the 24.1+ gunicorn.backlog histogram, and
//     applications' own metrics) are sent only when metric, value and mtype
//     are all truthy before 26.1, so a value of 0 is dropped there.
//
// Not modelled: Gunicorn 19.1.0 sent durations in seconds (versions before
// 19.1.1 are treated as 19.1.1). What depends on Gunicorn's processes rather
// than on the wire format (the arbiter sending gunicorn.workers on every loop
// before 19.4 and only on change since; backlog sampled about once a second;
// the ASGI worker sending request metrics only with an access log from 25.2)
// is left to the caller, who decides when to call each method.
package statsdtest
