package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// config is what the command line says; parseFlags fills in the defaults.
type config struct {
	target   string
	rate     float64
	count    int64
	duration time.Duration
	batch    int
	senders  int
	prefix   string
	tags     string

	distinctNames int64
	distinctTags  int64
	wideTags      int
	wideNames     int64
	wideType      string

	metricsURL    string
	metric        string
	counts        string // "requests" or "datagrams"
	pid           int
	settle        time.Duration
	scrapeEvery   time.Duration
	scrapeTimeout time.Duration
	deadline      time.Duration
	waitTarget    time.Duration
	maxLoss       float64

	soak           time.Duration
	sampleEvery    time.Duration
	warmup         time.Duration
	rssTolerance   float64
	rssSlack       int64
	heapSlack      int64
	goroutineSlack int64

	json bool
}

// What -counts accepts.
const (
	countsRequests  = "requests"
	countsDatagrams = "datagrams"
)

// traffic returns a new traffic of the run's mode (each sender has its own).
func (c *config) traffic() *traffic {
	switch {
	case c.distinctNames > 0:
		return newTraffic(c.prefix, c.tags, extraNames, c.distinctNames)
	case c.distinctTags > 0:
		return newTraffic(c.prefix, c.tags, extraTags, c.distinctTags)
	case c.wideTags > 0:
		return newWideTraffic(c.prefix, c.tags, c.wideTags, c.wideNames, c.wideType)
	}
	return newTraffic(c.prefix, c.tags, extraNone, 1)
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := new(config)
	fs := flag.NewFlagSet("statsdload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: statsdload [flags]\n\n"+
			"Sends Gunicorn StatsD traffic to -target, then reports loss and the target's CPU cost.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.target, "target", "udp://127.0.0.1:9125", "`address` to send to: udp://host:port, host:port, unixgram:///path or unix:/path")
	fs.Float64Var(&c.rate, "rate", 200_000, "datagrams a `second`; 0 sends as fast as possible")
	fs.Int64Var(&c.count, "count", 600_000, "datagrams to send (rounded up to whole requests); ignored with -duration")
	fs.DurationVar(&c.duration, "duration", 0, "send for this `long` instead of -count")
	fs.IntVar(&c.batch, "batch", 64, "datagrams per sendmmsg call at most")
	fs.IntVar(&c.senders, "senders", 1, "sending `sockets`, each its own goroutine and source port, sharing -rate and -count")
	fs.StringVar(&c.prefix, "prefix", "", "Gunicorn's --statsd-prefix")
	fs.StringVar(&c.tags, "tags", "", "Gunicorn's --dogstatsd-tags (\"env:prod,team:web\")")
	fs.Int64Var(&c.distinctNames, "distinct-names", 0, "follow each request with a counter of a new name, cycling through `N` names")
	fs.Int64Var(&c.distinctTags, "distinct-tags", 0, "follow each request with one counter with a new tag value, cycling through `N` values")
	fs.IntVar(&c.wideTags, "wide-tags", 0, "follow each request with one line carrying `N` tags (w0:<i>,w1:<i>,...), their value <i> new every line, so that every line is a new series")
	fs.Int64Var(&c.wideNames, "wide-names", 1, "with -wide-tags: the lines' names cycle through `M` names (statsdload.wide.<i mod M>)")
	fs.StringVar(&c.wideType, "wide-type", "c", "with -wide-tags: the StatsD `type` of the lines: c, g, ms, h or d")
	fs.StringVar(&c.metricsURL, "metrics-url", "", "the target's Prometheus `URL` (http://127.0.0.1:9102/metrics); empty: send only")
	fs.StringVar(&c.metric, "metric", "gunicorn_requests_total", "the `name` of the target's counter, summed over its series")
	fs.StringVar(&c.counts, "counts", countsRequests, "what -metric counts: requests or datagrams")
	fs.IntVar(&c.pid, "pid", 0, "the target's process `id`, for its CPU time, memory and threads (/proc)")
	fs.DurationVar(&c.scrapeEvery, "scrape-every", 0, "while sending, scrape -metrics-url every `interval` as Prometheus would (0: only to read -metric); each scrape is timed and sized")
	fs.DurationVar(&c.scrapeTimeout, "scrape-timeout", time.Minute, "give up a scrape of -metrics-url after this `long`")
	fs.DurationVar(&c.settle, "settle", time.Second, "after sending, stop polling -metric once it has not changed for this `long`")
	fs.DurationVar(&c.deadline, "deadline", 30*time.Second, "after sending, stop polling -metric after this `long` in any case")
	fs.DurationVar(&c.waitTarget, "wait-target", 10*time.Second, "before sending, wait this `long` at most for -metrics-url to answer")
	fs.Float64Var(&c.maxLoss, "max-loss", -1, "exit 1 if loss_pct is above this `percent` (negative: no check; -soak: 0)")
	fs.DurationVar(&c.soak, "soak", 0, "soak: send at -rate for this `long`, sampling memory and goroutines")
	fs.DurationVar(&c.sampleEvery, "sample-every", 5*time.Second, "soak: sampling `interval`")
	fs.DurationVar(&c.warmup, "warmup", time.Minute, "soak: growth is measured from the first sample after this `long`")
	fs.Float64Var(&c.rssTolerance, "rss-tolerance", 10, "soak: allowed VmRSS growth after -warmup, in `percent`")
	fs.Int64Var(&c.rssSlack, "rss-slack", 4<<20, "soak: allowed VmRSS growth after -warmup, in `bytes`, when more than -rss-tolerance")
	fs.Int64Var(&c.heapSlack, "heap-slack", 2<<20, "soak: allowed growth of the GC heap goal (go_memstats_next_gc_bytes) after -warmup, in `bytes`, when more than -rss-tolerance")
	fs.Int64Var(&c.goroutineSlack, "goroutine-slack", 0, "soak: allowed goroutine (or thread) growth after -warmup")
	fs.BoolVar(&c.json, "json", false, "report in JSON instead of key=value")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var errs []error
	if c.rate < 0 {
		errs = append(errs, fmt.Errorf("-rate %v: want 0 (as fast as possible) or more", c.rate))
	}
	if c.senders < 1 || c.senders > 64 {
		errs = append(errs, fmt.Errorf("-senders %d: want 1 to 64", c.senders))
	}
	if c.batch < 1 || c.batch > 1024 {
		errs = append(errs, fmt.Errorf("-batch %d: want 1 to 1024", c.batch))
	}
	modes := 0
	for _, on := range []bool{c.distinctNames != 0, c.distinctTags != 0, c.wideTags != 0} {
		if on {
			modes++
		}
	}
	if c.distinctNames < 0 || c.distinctTags < 0 || c.wideTags < 0 || modes > 1 {
		errs = append(errs, errors.New("-distinct-names, -distinct-tags and -wide-tags: one at most, not negative"))
	}
	if (set["wide-names"] || set["wide-type"]) && c.wideTags == 0 {
		errs = append(errs, errors.New("-wide-names and -wide-type go with -wide-tags"))
	}
	if c.wideNames < 1 {
		errs = append(errs, fmt.Errorf("-wide-names %d: want 1 or more", c.wideNames))
	}
	switch c.wideType {
	case "c", "g", "ms", "h", "d":
	default:
		errs = append(errs, fmt.Errorf("-wide-type %q: want c, g, ms, h or d", c.wideType))
	}
	if c.scrapeEvery < 0 || c.scrapeTimeout <= 0 {
		errs = append(errs, errors.New("-scrape-every must not be negative, -scrape-timeout must be positive"))
	}
	if c.scrapeEvery > 0 && c.metricsURL == "" {
		errs = append(errs, errors.New("-scrape-every needs -metrics-url"))
	}
	if n := max(c.distinctNames, c.distinctTags); n > 0 && !set["count"] && c.duration == 0 && c.soak == 0 {
		c.count = n * (requestDatagrams + distinctUnitExtra)
	}
	if c.count < 1 && c.duration <= 0 && c.soak <= 0 {
		errs = append(errs, errors.New("nothing to send: -count, -duration or -soak"))
	}
	for _, f := range []struct{ name, value string }{{"prefix", c.prefix}, {"tags", c.tags}} {
		if i := strings.IndexFunc(f.value, func(r rune) bool { return r >= 0x80 }); i >= 0 {
			errs = append(errs, fmt.Errorf("-%s %q: not ASCII at byte %d (Gunicorn would send nothing)", f.name, f.value, i))
		}
	}
	switch c.counts {
	case countsRequests, countsDatagrams:
	default:
		errs = append(errs, fmt.Errorf("-counts %q: want requests or datagrams", c.counts))
	}
	if c.soak > 0 {
		if c.rate == 0 {
			errs = append(errs, errors.New("-soak needs a steady -rate above 0"))
		}
		if c.warmup >= c.soak {
			errs = append(errs, fmt.Errorf("-warmup %v must be shorter than -soak %v", c.warmup, c.soak))
		}
		if c.sampleEvery <= 0 {
			errs = append(errs, errors.New("-sample-every must be positive"))
		}
		if c.pid == 0 {
			errs = append(errs, errors.New("-soak needs -pid, to read the target's memory"))
		}
		if c.metricsURL == "" {
			errs = append(errs, errors.New("-soak needs -metrics-url, to check that nothing was lost"))
		}
		if !set["max-loss"] {
			c.maxLoss = 0
		}
		c.duration = c.soak
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}
