// Package statsdtest provides fakes for unit tests of programs that receive
// Gunicorn's StatsD traffic: an [Emitter] that produces the byte-exact
// datagrams a given Gunicorn version sends, sinks that deliver them to a
// [statsd.Handler], an [io.Writer], a slice or a socket, a [Recorder] that
// keeps copies of what a Handler was given, and [ReadCapture] to replay
// captured traffic.
//
// It imports only the standard library and package statsd, so any test may
// use it without pulling in OpenTelemetry.
//
// # Wire facts
//
// The Emitter reproduces gunicorn/instrument/statsd.py of each release, read
// from Gunicorn's public source (benoitc/gunicorn) and checked against the
// captures in the project's shared testdata:
//
//   - Every datagram holds one metric, ASCII, no trailing newline:
//     "<prefix><name>:<value>|<type>" for gauges and histograms,
//     "<prefix><name>:<value>|c|@1.0" for counters (Python's str(1.0) for the
//     default sampling rate), and from 20.0 "|#<tags>" appended to all of them
//     when --dogstatsd-tags is not empty, without any check of the tag text.
//   - A datagram that is not ASCII is never sent: Gunicorn encodes it as ASCII
//     and swallows the UnicodeEncodeError.
//   - The prefix is normalised with re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", p);
//     see [NormalizePrefix].
//   - A request sends, in order, "gunicorn.request.duration:<ms>|ms",
//     "gunicorn.requests:1|c|@1.0" and "gunicorn.request.status.<code>:1|c|@1.0".
//     The duration is request_time.seconds*1000 +
//     float(request_time.microseconds)/10**3 of a datetime.timedelta, printed
//     with Python's str(float); see [FormatDuration] and [AppendPythonFloat].
//   - Log records of level critical, error, warning and exception each send
//     "gunicorn.log.<level>:1|c|@1.0".
//   - Values logged with extra={"metric", "value", "mtype"} (the arbiter's
//     gunicorn.workers gauge, the 24.1+ gunicorn.backlog histogram, and
//     applications' own metrics) are sent only when metric, value and mtype
//     are all truthy before 26.1, so a value of 0 is dropped there.
//     "histogram" is "|ms" before 24.1 and "|h" from 24.1; "timer" (24.1+) is
//     "|ms"; any other mtype sends nothing.
//
// # Not modelled
//
// Gunicorn 19.1.0 sent durations in seconds; versions before 19.1.1 are
// treated as 19.1.1. Behaviour that depends on Gunicorn's processes rather
// than on the wire format (the arbiter sending gunicorn.workers on every loop
// before 19.4 and only on change since; backlog sampled about once a second;
// the ASGI worker sending request metrics only with an access log from 25.2)
// is left to the caller, who decides when to call each method.
package statsdtest
