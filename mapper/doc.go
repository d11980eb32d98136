// Package mapper says what a StatsD sample means: which OpenTelemetry
// instrument it goes to (name, kind, unit, description, bucket advice), with
// which attributes, and how its value is scaled; or that it is dropped. It
// reads statsd_exporter mapping files, and knows Gunicorn's metrics with no
// configuration at all.
//
// It is not a parser (package statsd reads the wire format), it records
// nothing and holds no series state (package otelbridge makes the
// instruments and records the samples), and it does not name metrics for
// Prometheus: it gives OpenTelemetry instrument names and units, and leaves
// the exposition's own naming to the exporter.
//
// A Mapper answers in three steps, the first that claims a name wins:
//
//  1. the rules of a statsd_exporter mapping file, if given (WithRules);
//  2. the built-in Gunicorn profile, unless turned off (WithoutGunicornProfile);
//  3. the generic rules, or a drop with WithDropUnmatched.
//
// Results are cached per series (name, type and raw tag section) in a bounded
// cache (WithCacheSize, default 10,000 series): a series seen before is mapped
// without allocating. CacheStats reports hits, misses and evictions.
//
// # The built-in Gunicorn profile
//
// With no configuration at all, Gunicorn's own metrics become:
//
//	Gunicorn sends (after its prefix)   instrument                 kind       unit          attributes
//	gunicorn.request.duration:<ms>|ms   gunicorn.request.duration  Histogram  s             -
//	gunicorn.requests:1|c               gunicorn.requests          Counter    {request}     -
//	gunicorn.request.status.<code>:1|c  gunicorn.responses         Counter    {response}    http.response.status_code (int)
//	gunicorn.workers:<n>|g              gunicorn.workers           Gauge      {worker}      -
//	gunicorn.log.<level>:1|c            gunicorn.log.messages      Counter    {message}     level
//	gunicorn.backlog:<n>|h (24.1+)      gunicorn.backlog           Gauge      {connection}  -
//
// The request duration is scaled from milliseconds to seconds (Scale 0.001)
// and advises the OpenTelemetry HTTP server duration buckets
// (HTTPServerDurationBuckets, 5 ms to 10 s). The backlog is sent as a
// histogram sample but recorded as a gauge: its last value. Each name is
// recognised only with the type Gunicorn sends it with (gunicorn.requests
// as a counter, and so on); the same name with another type is generic. The
// log levels are the four Gunicorn counts (critical, error, warning,
// exception); gunicorn.log.<other> is generic.
//
// # The prefix
//
// Gunicorn writes --statsd-prefix before every name: with one trailing dot
// ("shop.web" and "shop.web." both give "shop.web.gunicorn.requests"), but
// with none when the prefix is one character ("a" gives
// "agunicorn.requests"), and a prefix that already ends in dots keeps them
// ("a.." gives "a..gunicorn.requests"). The profile finds the prefix by
// itself: it looks for a Gunicorn metric name at the end of the name, and
// takes everything before it as the prefix, so a prefix that itself
// contains "gunicorn" ("gunicorn.prod.") is no trouble. What comes before
// must be something Gunicorn can write: nothing, one character, or text
// ending in a dot ("shopgunicorn.requests" is generic).
//
// The prefix, with its trailing dots trimmed, becomes the attribute "app"
// (app=shop.web, app=a). WithPrefixKey changes the key; WithPrefixKey("")
// drops the attribute. No prefix, or a prefix of dots only, gives no
// attribute.
//
// WithPrefix states the prefix instead. Gunicorn's metrics are then
// recognised under that prefix only, and other names under it lose it: with
// WithPrefix("shop.web"), "shop.web.orders" becomes the instrument "orders"
// with app=shop.web. Without WithPrefix, other names keep their full name
// and get no prefix attribute: the profile cannot know where an
// application's own prefix ends.
//
// # Status codes
//
// gunicorn.request.status.<code> carries whatever integer the application
// returned. To keep the number of series bounded:
//
//   - a three-digit code from 100 to 599 becomes the int attribute
//     http.response.status_code;
//   - any other number (0, 99, 600, 999, 1234567, -1, or a code with a
//     leading zero) still counts in gunicorn.responses, but in one series
//     with error.type=invalid_status_code and no status code attribute;
//   - a code that is not a number (2xx, abc, +200, nothing) is not
//     Gunicorn's: the name is mapped generically.
//
// # Tags
//
// DogStatsD tags become string attributes: "env:prod" gives env=prod, a bare
// "team" gives team="" (WithDropBareTags leaves tags without a value out,
// "team" and "team:" alike, as statsd_exporter does). The attributes a
// mapping sets itself (the prefix attribute, the status code, the level, a
// rule's labels) win over tags with the same key, unless
// WithTagOverride(true) is given, or the rule says honor_labels: true; among
// tags with the same key the last wins.
//
// "The same key" is judged by the Prometheus label name a key becomes when
// the exporter escapes names: "a.b", "a_b" and "a__b" are all a_b, so only one of them is
// kept, by the rule above. No input can make a Prometheus exposition
// invalid: a tag whose key is, or becomes, a label the exposition sets
// itself or Prometheus reserves (le, quantile, __name__ and any "__" prefix,
// otel_scope_*), or no label name at all ("_", "."), is left out. What is
// left out or cut is counted by reason in TagStats, for the bridge's own
// telemetry, and logged at most once a minute per reason with WithLogger.
//
// What one line can add to a series is bounded: the first WithMaxTags tags
// of a sample are read (default DefaultMaxTags, 32), a key longer than
// WithMaxTagBytes (default DefaultMaxTagBytes, 256 bytes) leaves its tag
// out, a longer value is cut to it.
//
// # Generic rules
//
// A name neither the rules nor the profile claim is recorded under its name
// as sent (less the explicit prefix, see above), following the sample type:
//
//	c      Counter
//	g      Gauge (the bridge applies +N/-N to the last value)
//	ms     Histogram, Scale 0.001, unit "s"
//	h, d   Histogram, as sent
//	s      dropped: sets have no OpenTelemetry instrument
//
// Generic timers advise statsd_exporter's default buckets, in seconds
// (PrometheusDefaultBuckets, 5 ms to 10 s); other generic histograms leave
// the buckets to the SDK (Buckets is nil), as their unit is unknown. With a
// mapping file, every generic histogram advises the file's default buckets
// and gets its defaults.ttl, as statsd_exporter treats names no rule
// matches. Exponential histograms are one View away: the advice gives way
// to it. With WithDropUnmatched, such names are dropped instead.
//
// # statsd_exporter mapping files
//
// ParseRules and LoadRules read a statsd_exporter mapping file unchanged:
// any file statsd_exporter v0.31.0 loads loads here, with the same series
// (the few exceptions are listed below). Mappings have match, name, labels,
// match_type (glob, regex), match_metric_type (counter, gauge, observer),
// action (map, drop), help, honor_labels, observer_type,
// histogram_options.buckets, scale and ttl; defaults have match_type,
// observer_type, glob_disable_ordering, histogram_options and ttl. The keys
// of older statsd_exporter versions (timer_type, buckets, quantiles) and
// summary_options are accepted too. Any other key is an error. Anchors,
// aliases and merge keys ("<<: *defaults") are read as statsd_exporter's
// yaml.v2 reads them (a merged mapping such as labels is merged into, a
// label set twice is an error); their expansion is bounded, so a file that
// expands without end is refused. Errors name the file, the line and the
// rule:
//
//	mapping.yml:12: match "*.foo.*": unknown key "colour"
//
// What statsd_exporter accepts silently but is most likely a mistake loads
// as it would there, and is reported by Rules.Warnings, in the same form,
// for the caller to log once: a reference to a capture the match does not
// have ($3 on "*.*", or "$1_foo", which names a capture "1_foo"; both
// expand to ""), an empty bucket list (the defaults apply), a ttl without a
// unit (nanoseconds), a label Prometheus reserves (left out). With
// StrictRules each warning is a load error instead.
//
// A rule's name is used as the instrument name as written
// ("gunicorn_response_code"); labels become string attributes. In a glob
// rule's name and labels, references read as statsd_exporter's glob
// formatter reads them: "$1" or "${1}" is the first wildcard's segment, "$0"
// the whole name; a "$" takes the longest run of letters, digits, '_' and
// '$' after it, so "$1_total" and "$$" refer to nothing and expand to "":
// write "${1}_total". In a regex rule they read as Go's regexp.Expand reads
// them, as statsd_exporter calls it: "$1" or "${1}" is a group, "$0" the
// whole match, "${name}" a named group, "$$" a dollar sign, and "$1_total"
// again the (missing) group "1_total". A rule whose name expands to nothing
// drops the sample, as statsd_exporter does.
//
// Glob rules are compiled into one state machine over the dot-separated
// segments of a name (a trie with exact and wildcard edges, explored as a
// set of states, so no backtracking is lost and a file of 1,000 rules maps a
// name as fast as a file of 10). A "*" matches exactly one whole segment,
// including an empty one ("a..c" matches "a.*.c"). The first matching rule
// in file order wins; with glob_disable_ordering: true the most specific
// wins (an exact segment is preferred to a wildcard, left to right). Regex
// rules are tried after the glob rules, in file order, as statsd_exporter
// does; they use Go's regexp syntax and, as in statsd_exporter, are not
// anchored ("sub" matches "a.substring"): write ^ and $ to match whole
// names. match_metric_type filters by the sample type: counter (c), gauge
// (g), observer (ms, h, d).
//
// Timers are recorded in seconds (Scale 0.001, unit "s") as statsd_exporter
// converts them; a rule's scale multiplies on top (a timer with scale: 1000
// is recorded in milliseconds) and then the unit is left empty, as the
// mapper cannot know it. For h and d samples, scale is the whole Scale.
// Histograms advise the rule's buckets, else the defaults' buckets, else
// the Prometheus default buckets (PrometheusDefaultBuckets), as
// statsd_exporter would make them. ttl is carried in Mapping.TTL for the
// bridge, as statsd_exporter applies it: a rule's ttl, or defaults.ttl when
// the rule has none or 0 (a negative ttl never expires), and defaults.ttl
// for names no rule matches; the Gunicorn profile's metrics never expire
// (gunicorn.workers is sent only when it changes).
//
// Where this package differs from statsd_exporter (TestStatsdExporterDifferences
// and TestStatsdExporterMapperCases show each):
//
//   - Summaries (observer_type: summary, the statsd_exporter default) are
//     recorded as histograms: OpenTelemetry has no summary instrument. What
//     statsd_exporter would make of them is in Mapping.Summary (objectives,
//     max_age, age_buckets, buf_cap, resolved against the defaults as
//     statsd_exporter resolves them), for a program that serves Prometheus
//     itself. A quantile or error outside [0, 1], a negative max_age, and
//     an age_buckets or buf_cap that is not a whole number are load errors,
//     as are summary_options on a histogram and histogram_options on an
//     explicit summary (statsd_exporter refuses those two as well).
//   - Text in a glob template is text: statsd_exporter garbles a '%' beside
//     a capture (it formats with fmt.Sprintf) and "$1" before "$10".
//   - A superset is accepted: names may also hold '.', '-' and '/', as
//     OpenTelemetry instrument names may; labels may have any non-empty key;
//     a glob segment may be any text without '*' (a '*' inside a segment,
//     "foo*bar", is refused, as statsd_exporter does); a drop rule needs no
//     name; the older keys above.
//   - Refused where statsd_exporter loads: scale: 0 (every value would be
//     recorded as 0), and histogram buckets that do not increase (the
//     Prometheus client panics on them at the first observation).
//   - Labels Prometheus reserves are left out, as tags are (see Tags).
//   - Rules combine with the Gunicorn profile: file rules first, the profile
//     for the names they do not match, then the generic rules (statsd_exporter
//     has no profile: WithoutGunicornProfile gives its behaviour, and
//     WithDropUnmatched drops what no rule names).
//   - Sets are always dropped; statsd_exporter rejects them too.
//
// # Options and logging
//
// New takes options in the OpenTelemetry SDK's style: each Option is made by
// a With... function, options apply in order (a later one wins), a nil
// Option is ignored, and an option given a value it does not take makes New
// fail with an error that names it (every such error, joined).
//
// The package logs with log/slog, to slog.Default() (as it is when New is
// called) unless WithLogger gives another logger: slog.New(slog.DiscardHandler)
// logs nothing, and WithLogger(nil) makes New fail. WithLogger says what is
// logged, at which level and how often.
package mapper
