package procwatch

import (
	"path/filepath"
	"strings"
)

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
