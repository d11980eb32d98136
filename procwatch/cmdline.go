package procwatch

import (
	"path/filepath"
	"strconv"
	"strings"
)

// Gunicorn's defaults, for what its command line does not say.
const (
	gunicornDefaultBacklog = 2048
	gunicornDefaultBind    = "127.0.0.1:8000"
	gunicornDefaultTimeout = 30 // seconds
)

// gunicornArgs is what the watcher takes from a Gunicorn master's arguments.
type gunicornArgs struct {
	workerClass string   // -k, --worker-class; "" when not given
	threads     int      // --threads; 0 when not given
	backlog     int      // --backlog; 0 when not given
	binds       []string // -b, --bind
	timeout     int      // -t, --timeout in seconds (0: no timeout)
	hasTimeout  bool     // timeout was given
}

// parseArgs reads Gunicorn's options from args (a command line, or the words
// of GUNICORN_CMD_ARGS), adding to a what it finds: "-k gthread",
// "-kgthread", "--worker-class gthread", "--worker-class=gthread", and the
// same for --threads, --backlog, -b/--bind, -t/--timeout. Other words are
// ignored.
func (a *gunicornArgs) parse(args []string) {
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
		case len(arg) >= 2 && arg[0] == '-' && (arg[1] == 'k' || arg[1] == 'b' || arg[1] == 't'):
			name = arg[:2]
			if len(arg) > 2 {
				value, hasValue = arg[2:], true
			}
		default:
			continue
		}
		switch name {
		case "-k", "--worker-class", "--threads", "--backlog", "-b", "--bind", "-t", "--timeout":
		default:
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				continue
			}
			i++
			value = args[i]
		}
		switch name {
		case "-k", "--worker-class":
			a.workerClass = value
		case "--threads":
			if n, err := strconv.Atoi(value); err == nil {
				a.threads = n
			}
		case "--backlog":
			if n, err := strconv.Atoi(value); err == nil && n > 0 {
				a.backlog = n
			}
		case "-b", "--bind":
			a.binds = append(a.binds, value)
		case "-t", "--timeout":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 {
				a.timeout, a.hasTimeout = n, true
			}
		}
	}
}

// isSyncClass says whether Gunicorn runs the sync worker for this class and
// thread count: the default, "sync" in any of its spellings, and not with
// more than one thread (Gunicorn then runs gthread).
func isSyncClass(class string, threads int) bool {
	switch strings.ToLower(class) {
	case "", "sync", "egg:gunicorn#sync", "gunicorn.workers.sync.syncworker":
		return threads <= 1
	}
	return false
}

// isGunicornCmdline says whether a process's command line runs Gunicorn:
// its program is named gunicorn (/usr/bin/gunicorn), or it is a Python
// running the script or the module gunicorn ("python3 /usr/bin/gunicorn",
// "python3 -u -m gunicorn"), or its title, as setproctitle sets it, is
// "gunicorn: master [name]".
func isGunicornCmdline(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if strings.HasPrefix(args[0], "gunicorn: ") {
		return strings.HasPrefix(args[0], "gunicorn: master")
	}
	if isGunicornName(args[0]) {
		return true
	}
	if !strings.HasPrefix(filepath.Base(args[0]), "python") {
		return false
	}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-m":
			return i+1 < len(args) && isGunicornName(args[i+1])
		case strings.HasPrefix(a, "-"):
			// another interpreter option (-u, -O, -X dev...; their
			// values are not told apart, which does no harm here)
		default:
			return isGunicornName(a)
		}
	}
	return false
}

func isGunicornName(s string) bool {
	b := filepath.Base(s)
	return b == "gunicorn" || b == "gunicorn3"
}

// isDirtyProcess says whether a child of the master is Gunicorn 26's dirty
// arbiter or one of its workers rather than an HTTP worker, by the title
// setproctitle gives them (without setproctitle they cannot be told apart).
func isDirtyProcess(args []string) bool {
	return len(args) > 0 && (strings.HasPrefix(args[0], "dirty-") || strings.HasPrefix(args[0], "gunicorn: dirty"))
}
