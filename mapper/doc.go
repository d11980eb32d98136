// Package mapper says what a StatsD sample means: which OpenTelemetry
// instrument it goes to (name, kind, unit, description, bucket advice), with
// which attributes, and how its value is scaled; or that it is dropped.
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
// "team" gives team="". Among tags with the same key the last wins. The
// attributes a mapping sets itself (the prefix attribute, the status code,
// the level, a rule's labels) win over tags with the same key, unless
// WithTagOverride(true) is given, or the rule says honor_labels: true.
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
// Generic histograms leave the buckets to the SDK (Buckets is nil). With
// WithDropUnmatched, such names are dropped instead.
//
// # statsd_exporter mapping files
//
// ParseRules and LoadRules read a statsd_exporter mapping file unchanged:
// mappings with match, name, labels, match_type (glob, regex),
// match_metric_type (counter, gauge, observer), action (map, drop), help,
// honor_labels, observer_type, histogram_options.buckets, scale and ttl, and
// defaults with match_type, observer_type, glob_disable_ordering,
// histogram_options and ttl. The deprecated keys timer_type, buckets and
// quantiles, and summary_options, are accepted too. Any other key is an
// error. Errors name the file, the line and the rule:
//
//	mapping.yml:12: match "*.foo.*": label "app": $3 refers to a capture the match does not have (it has 2)
//
// A rule's name is used as the instrument name as written
// ("gunicorn_response_code"); labels become string attributes. In names and
// label values "$1" and "${1}" are the captures (glob wildcards left to
// right, or regex groups; "$0" is a regex's whole match, "${name}" a named
// group), "$$" is a dollar sign. As in Go's regexp.Expand and in
// statsd_exporter, "$1_total" refers to a capture named "1_total": write
// "${1}_total".
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
// bridge.
//
// Where this package differs from statsd_exporter:
//
//   - Summaries (observer_type: summary, the statsd_exporter default) are
//     recorded as histograms: OpenTelemetry has no summary instrument. Their
//     summary_options are accepted and ignored.
//   - A reference to a capture the match does not have is a load error;
//     statsd_exporter silently substitutes an empty string.
//   - Names may also hold '.', '-' and '/', as OpenTelemetry instrument names
//     may; labels may have any non-empty key. A glob segment may be any text
//     without '*' (statsd_exporter only allows identifier characters), but a
//     '*' inside a segment ("foo*bar") is refused, as statsd_exporter does.
//   - scale must be positive; histogram buckets must increase.
//   - A rule that expands to an empty name does not claim the sample: the
//     profile and the generic rules get it.
//   - Rules combine with the Gunicorn profile: file rules first, the profile
//     for the names they do not match, then the generic rules (statsd_exporter
//     has no profile: WithoutGunicornProfile gives its behaviour, and
//     WithDropUnmatched drops what no rule names).
//   - Sets are always dropped; statsd_exporter rejects them too.
package mapper
