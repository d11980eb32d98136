package procwatch

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Gunicorn's defaults, for what its settings do not say.
const (
	gunicornDefaultBacklog     = 2048
	gunicornDefaultBind        = "127.0.0.1:8000"
	gunicornDefaultTimeout     = 30 // seconds
	gunicornDefaultConnections = 1000
)

// Where a fact about the master came from, as logged.
const (
	sourceOption  = "option"            // WithWorkerClass, WithThreads, ...
	sourceControl = "control socket"    // Gunicorn 25.1+'s, show config
	sourceArgs    = "command line"      // the master's arguments
	sourceEnv     = "GUNICORN_CMD_ARGS" // the master's environment
	sourceConfig  = "config file"       // a literal in its configuration file
	sourceWorkers = "workers"           // what the workers show
	sourceDefault = "default"           // Gunicorn's default
)

// fact is a setting's value and where it came from ("" when unknown).
type fact[T any] struct {
	v   T
	src string
}

func (f fact[T]) known() bool { return f.src != "" }

// set sets f. The sources are read in the order in which Gunicorn lets
// them override each other: the file, then GUNICORN_CMD_ARGS, then the
// command line.
func (f *fact[T]) set(v T, src string) { *f = fact[T]{v, src} }

// settings is what the watcher knows of a master's Gunicorn settings, from
// its configuration file, GUNICORN_CMD_ARGS and its arguments, each
// overriding the one before as in Gunicorn.
type settings struct {
	class       fact[string] // worker_class as given ("gthread", "gevent", a class path...)
	threads     fact[int]
	workerConns fact[int]
	timeout     fact[int] // seconds; 0 turns the timeout off
	backlog     fact[int]
	prefix      fact[string] // statsd_prefix
	tags        fact[string] // dogstatsd_tags
	binds       []string
	config      string // the configuration file read, "" when none
	proctitle   bool   // the master's title was set by setproctitle: its arguments are gone
}

// gunicornOptions are the options the watcher reads, by flag.
var gunicornOptions = map[string]string{
	"-k": "worker_class", "--worker-class": "worker_class",
	"--threads":            "threads",
	"--worker-connections": "worker_connections",
	"-t":                   "timeout", "--timeout": "timeout",
	"--backlog": "backlog",
	"-b":        "bind", "--bind": "bind",
	"--statsd-prefix":  "statsd_prefix",
	"--dogstatsd-tags": "dogstatsd_tags",
	"-c":               "config", "--config": "config",
}

// shortWithValue are the short flags whose value may be glued on ("-kgevent").
const shortWithValue = "kbtc"

// parseArgs reads Gunicorn's options from args (a command line, or the words
// of GUNICORN_CMD_ARGS) into s, each attributed to src: "-k gthread",
// "-kgthread", "--worker-class gthread", "--worker-class=gthread", and the
// same for the other options of gunicornOptions. Other words are ignored.
// It returns the configuration file that -c names, if any.
func (s *settings) parseArgs(args []string, src string) (config string) {
	var binds []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var name, value string
		hasValue := false
		switch {
		case strings.HasPrefix(arg, "--"):
			name = arg
			if eq := strings.IndexByte(arg, '='); eq >= 0 {
				name, value, hasValue = arg[:eq], arg[eq+1:], true
			}
		case len(arg) >= 2 && arg[0] == '-' && strings.IndexByte(shortWithValue, arg[1]) >= 0:
			name = arg[:2]
			if len(arg) > 2 {
				value, hasValue = arg[2:], true
			}
		default:
			continue
		}
		key, ok := gunicornOptions[name]
		if !ok {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				continue
			}
			i++
			value = args[i]
		}
		switch key {
		case "config":
			config = value
		case "bind":
			binds = append(binds, value)
		default:
			s.setValue(key, value, src)
		}
	}
	if len(binds) > 0 {
		s.binds = binds // replaces the file's
	}
	return config
}

// setValue sets the setting key from its text.
func (s *settings) setValue(key, value, src string) {
	atoi := func(min int) (int, bool) {
		n, err := strconv.Atoi(value)
		return n, err == nil && n >= min
	}
	switch key {
	case "worker_class":
		s.class.set(value, src)
	case "threads":
		if n, ok := atoi(1); ok {
			s.threads.set(n, src)
		}
	case "worker_connections":
		if n, ok := atoi(1); ok {
			s.workerConns.set(n, src)
		}
	case "timeout":
		if n, ok := atoi(0); ok {
			s.timeout.set(n, src)
		}
	case "backlog":
		if n, ok := atoi(1); ok {
			s.backlog.set(n, src)
		}
	case "statsd_prefix":
		s.prefix.set(value, src)
	case "dogstatsd_tags":
		s.tags.set(value, src)
	}
}

// configKeys are the names the watcher reads from a configuration file.
var configKeys = map[string]bool{
	"worker_class": true, "threads": true, "worker_connections": true, "timeout": true,
	"backlog": true, "bind": true, "statsd_prefix": true, "dogstatsd_tags": true,
}

// parseConfig reads the top-level assignments of literals in a Gunicorn
// configuration file (Python): `threads = 4`, `worker_class = "gthread"`,
// `bind = ["unix:/run/g.sock", "0.0.0.0:8000"]`, `timeout = 10  # comment`.
// A value computed at run time (`workers = cpu_count() * 2`), an assignment
// inside a block (indented), or a name assigned twice where the last is not
// a literal, is not known: such a setting is left to the other sources. It
// returns the names it found assigned but could not read.
func (s *settings) parseConfig(data []byte, src string) (unread []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(rest, "=") {
			continue
		}
		name = strings.TrimSpace(name)
		if n, _, annotated := strings.Cut(name, ":"); annotated {
			name = strings.TrimSpace(n) // threads: int = 4
		}
		if !configKeys[name] {
			continue
		}
		values, ok := pyLiterals(rest)
		if !ok || len(values) == 0 || len(values) > 1 && name != "bind" {
			unread = append(unread, name)
			continue
		}
		if name == "bind" {
			s.binds = values
			continue
		}
		s.setValue(name, values[0], src)
	}
	return unread
}

// pyLiterals reads the right-hand side of an assignment: a number, a
// string, True or False, or a list or tuple of strings; a trailing comment
// is allowed. It returns the values' texts.
func pyLiterals(rhs string) ([]string, bool) {
	r := strings.TrimSpace(rhs)
	if len(r) == 0 {
		return nil, false
	}
	if r[0] == '[' || r[0] == '(' {
		closer := map[byte]byte{'[': ']', '(': ')'}[r[0]]
		r = r[1:]
		var out []string
		for {
			r = strings.TrimLeft(r, " \t,")
			if len(r) == 0 {
				return nil, false // continues on the next line: not read
			}
			if r[0] == closer {
				return out, onlyComment(r[1:])
			}
			v, n, ok := pyString(r)
			if !ok {
				return nil, false
			}
			out = append(out, v)
			r = r[n:]
		}
	}
	if r[0] == '"' || r[0] == '\'' {
		v, n, ok := pyString(r)
		if !ok || !onlyComment(r[n:]) {
			return nil, false
		}
		return []string{v}, true
	}
	end := strings.IndexAny(r, " \t#")
	if end < 0 {
		end = len(r)
	}
	word := r[:end]
	if !onlyComment(r[end:]) {
		return nil, false
	}
	if _, err := strconv.Atoi(strings.ReplaceAll(word, "_", "")); err == nil {
		return []string{strings.ReplaceAll(word, "_", "")}, true
	}
	return nil, false
}

// pyString reads a quoted string without escapes at the start of r,
// returning its text and the bytes it took.
func pyString(r string) (string, int, bool) {
	if len(r) < 2 || r[0] != '"' && r[0] != '\'' {
		return "", 0, false
	}
	end := strings.IndexByte(r[1:], r[0])
	if end < 0 || strings.IndexByte(r[1:1+end], '\\') >= 0 {
		return "", 0, false
	}
	return r[1 : 1+end], end + 2, true
}

func onlyComment(r string) bool {
	r = strings.TrimSpace(r)
	return r == "" || r[0] == '#'
}
