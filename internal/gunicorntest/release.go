package gunicorntest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Releases are the Gunicorn releases the tests run: "" is Debian's (20.1,
// the gunicorn on PATH), the others come from ../shared/gunicorn (see
// [Options.Release]).
var Releases = []string{"", "21.2.0", "23.0.0", "24.1.0", "26.1.0"}

// ReleaseName is a release's name for a subtest: "20.1" for Debian's.
func ReleaseName(release string) string {
	if release == "" {
		return "20.1"
	}
	return strings.TrimSuffix(release, ".0")
}

// SharedEnv names a directory that holds the shared folder's gunicorn
// releases (RELEASE/gunicorn), in place of ../shared/gunicorn found beside
// the repository.
const SharedEnv = "GUNICORNOTEL_GUNICORN_RELEASES"

// ReleaseDir returns the directory of a Gunicorn release of the shared
// folder (the one to put on PYTHONPATH), and skips the test when it is not
// there.
func ReleaseDir(t testing.TB, release string) string {
	t.Helper()
	if d := os.Getenv(SharedEnv); d != "" {
		p := filepath.Join(d, release)
		if isDir(filepath.Join(p, "gunicorn")) {
			return p
		}
		t.Skipf("gunicorn %s is not in %s=%s", release, SharedEnv, d)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "gunicorn", release)
		if isDir(filepath.Join(p, "gunicorn")) {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Skipf("gunicorn %s is not in a shared/gunicorn folder above the test (or %s)", release, SharedEnv)
		}
		dir = up
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Python returns the Python that runs Gunicorn: Debian's /usr/bin/python3
// (which sees Debian's python3-gevent, -uvicorn and -setproctitle), else the
// python3 on PATH; it skips the test when there is none.
func Python(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return p
}

// RequireModule skips the test when the Python that runs Gunicorn cannot
// import module (Debian: python3-gevent, python3-uvicorn,
// python3-setproctitle, python3-eventlet).
func RequireModule(t testing.TB, module string) {
	t.Helper()
	requireModule(t, Python(t), os.Environ(), module)
}

func requireModule(t testing.TB, python string, env []string, module string) {
	t.Helper()
	cmd := exec.Command(python, "-c", "import "+module)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("%s cannot import %s (Debian: apt-get install python3-%s): %v %s", python, module, module, err, out)
	}
}

// command returns the program, its first arguments and the environment that
// run a release.
func command(t testing.TB, release string) (bin string, pre, env []string) {
	t.Helper()
	if release == "" {
		return LookPath(t), nil, os.Environ()
	}
	dir := ReleaseDir(t, release)
	return Python(t), []string{"-m", "gunicorn"}, prependPath(os.Environ(), dir)
}

// hideModule makes module fail to import, with a directory first on
// PYTHONPATH whose module of that name raises ImportError.
func hideModule(t testing.TB, env []string, module string) []string {
	t.Helper()
	dir := t.TempDir()
	src := "raise ImportError(\"hidden by gunicorntest\")\n"
	if err := os.WriteFile(filepath.Join(dir, module+".py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return prependPath(env, dir)
}

// prependPath puts dir first on PYTHONPATH.
func prependPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			if v != "" {
				path = dir + string(os.PathListSeparator) + v
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PYTHONPATH="+path)
}

// setting is one of Start's settings, as a flag and as a configuration
// file's name.
type setting struct {
	flag, name, value string
	quoted            bool // a string in the file, else a number
}

func nonZero(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// configFile writes settings and extra as a gunicorn.conf.py.
func configFile(dir string, settings []setting, extra string) []byte {
	var b strings.Builder
	b.WriteString("# Written by gunicorntest.\n")
	fmt.Fprintf(&b, "chdir = %q\n", dir)
	for _, s := range settings {
		switch {
		case s.value == "":
		case s.quoted:
			fmt.Fprintf(&b, "%s = %q\n", s.name, s.value)
		default:
			fmt.Fprintf(&b, "%s = %s\n", s.name, s.value)
		}
	}
	b.WriteString(extra)
	b.WriteString("\n")
	return []byte(b.String())
}
