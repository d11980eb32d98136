package watchopt

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestCheck(t *testing.T) {
	n := FlagNames("--gunicorn.")
	for _, tc := range []struct {
		name     string
		s        Settings
		watching bool
		want     []string // substrings of the error; none means valid
	}{
		{"none", Settings{}, true, nil},
		{"none, off", Settings{}, false, nil},
		{"all", Settings{WorkerClass: "gthread", Threads: ptr(4), WorkerConnections: ptr(500), Timeout: ptr(10 * time.Second), PIDAttribute: true}, true, nil},
		{"timeout 0", Settings{Timeout: ptr(time.Duration(0))}, true, nil},
		{"class path", Settings{WorkerClass: "uvicorn.workers.UvicornWorker"}, true, nil},
		{"egg", Settings{WorkerClass: "egg:gunicorn#gevent"}, true, nil},
		{"threads 1", Settings{Threads: ptr(1), WorkerConnections: ptr(1)}, true, nil},
		{"unknown class", Settings{WorkerClass: "gthred"}, true, []string{`--gunicorn.worker-class "gthred": not a worker class Gunicorn knows`, "sync, eventlet"}},
		{"class with a space", Settings{WorkerClass: "my.Worker x"}, true, []string{`--gunicorn.worker-class "my.Worker x": not a worker class`}},
		{"threads 0", Settings{Threads: ptr(0)}, true, []string{"--gunicorn.threads 0: want at least 1"}},
		{"connections -1", Settings{WorkerConnections: ptr(-1)}, true, []string{"--gunicorn.worker-connections -1: want at least 1"}},
		{"timeout 1.5s", Settings{Timeout: ptr(1500 * time.Millisecond)}, true, []string{"--gunicorn.timeout 1.5s: want a whole number of seconds"}},
		{"timeout -1s", Settings{Timeout: ptr(-time.Second)}, true, []string{"--gunicorn.timeout -1s: want a whole number of seconds, 0s (no timeout) or more"}},
		{"off", Settings{Threads: ptr(2), PIDAttribute: true}, false,
			[]string{"--gunicorn.threads, --gunicorn.pid-attribute: set the Gunicorn watcher, which is off: give --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover too"}},
		{"several", Settings{Threads: ptr(0), Timeout: ptr(time.Millisecond)}, true, []string{"--gunicorn.threads 0", "--gunicorn.timeout 1ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Check(n, tc.watching)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if got := len(tc.s.Options()); tc.watching && got != countSet(tc.s) {
					t.Errorf("%d options, want %d", got, countSet(tc.s))
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func countSet(s Settings) int {
	n := 0
	for _, set := range []bool{s.WorkerClass != "", s.Threads != nil, s.WorkerConnections != nil, s.Timeout != nil, s.PIDAttribute} {
		if set {
			n++
		}
	}
	return n
}

// TestValues: the flag values leave their pointer nil until the flag is
// given, and name the flag in their errors (the flag package adds it).
func TestValues(t *testing.T) {
	var s Settings
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(IntValue(&s.Threads), "threads", HelpThreads)
	fs.Var(DurationValue(&s.Timeout), "timeout", HelpTimeout)
	if err := fs.Parse(nil); err != nil || s.Threads != nil || s.Timeout != nil {
		t.Fatalf("no flags: %v %+v", err, s)
	}
	if err := fs.Parse([]string{"-threads", "0", "-timeout=1m"}); err != nil || *s.Threads != 0 || *s.Timeout != time.Minute {
		t.Fatalf("flags: %v %+v", err, s)
	}
	if got := fs.Lookup("timeout").Value.String(); got != "1m0s" {
		t.Errorf("String %q", got)
	}
	for _, args := range [][]string{{"-threads", "four"}, {"-timeout", "10"}} {
		err := fs.Parse(args)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%q: %v, want an error naming the flag", args, err)
		}
	}
	// Named names the flag, for kingpin.
	if err := Named("--threads", IntValue(&s.Threads)).Set("x"); err == nil || err.Error() != `--threads "x": not a whole number` {
		t.Errorf("Named: %v", err)
	}
	// The flag package's usage takes the backquoted word as the value's
	// name; Plain drops the backquotes.
	if name, _ := flag.UnquoteUsage(fs.Lookup("threads")); name != "n" {
		t.Errorf("usage name %q", name)
	}
	for _, h := range []string{HelpWorkerClass, HelpThreads, HelpWorkerConnections, HelpTimeout, HelpPIDAttribute} {
		if p := Plain(h); strings.Contains(p, "`") || !strings.Contains(p, "Default") {
			t.Errorf("help %q", p)
		}
	}
}

func TestTargetCheck(t *testing.T) {
	n := FlagNames("--gunicorn.")
	for _, tc := range []struct {
		name string
		t    Target
		on   bool
		want []string // substrings of the error; none means valid
	}{
		{"off", Target{Interval: time.Second}, false, nil},
		{"pid file", Target{PIDFile: "/run/g.pid", Interval: time.Second}, true, nil},
		{"pid", Target{PID: 7, Interval: time.Second}, true, nil},
		{"discover", Target{Discover: true, Interval: time.Second}, true, nil},
		{"two", Target{PIDFile: "/run/g.pid", PID: 7, Interval: time.Second}, true,
			[]string{"--gunicorn.pid-file, --gunicorn.pid, --gunicorn.discover: give only one"}},
		{"negative pid", Target{PID: -3, Interval: time.Second}, true, []string{"--gunicorn.pid -3: not a process id"}},
		{"interval 0", Target{Discover: true}, true, []string{"--gunicorn.sample-interval 0s: must be positive"}},
		{"all wrong", Target{PID: -1, Discover: true, Interval: -time.Second}, true,
			[]string{"give only one", "--gunicorn.pid -1", "--gunicorn.sample-interval -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if on := tc.t.On(); on != tc.on {
				t.Errorf("On() = %v, want %v", on, tc.on)
			}
			err := tc.t.Check(n)
			if tc.want == nil {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v, want it to say %q", err, w)
				}
			}
		})
	}
}
