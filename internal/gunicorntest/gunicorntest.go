// Package gunicorntest runs a real Gunicorn, serving a small WSGI app, for
// the tests that check what Gunicorn sends over StatsD.
//
// The app (app.py, embedded in the test binary and written to a temporary
// directory; "app:app" is WSGI, "app:asgi" the same as ASGI; beside it,
// dirtyapp.py holds dirtyapp:Hello for Gunicorn 26's --dirty-app) answers:
//
//	/          200
//	/NNN       the status NNN, a three-digit code (/200, /201, /404, /500...)
//	/err       raises: Gunicorn answers 500 and logs an exception
//	/slow?s=N  sleeps N seconds (a float), then 200
//	otherwise  404
//
// [Start] runs Debian's Gunicorn (20.1, the gunicorn on PATH) or a release of
// the shared folder ([Options.Release], [Releases]), configured by flags or
// by a file ([Options.Config]), and skips the test when that Gunicorn is
// missing (Debian: apt-get install gunicorn). Gunicorn runs in its own process group, which is killed when the
// test ends; its output (the arbiter's and the workers' logs) is logged when
// the test has failed. Every wait is bounded.
package gunicorntest

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed app.py
var app []byte

//go:embed dirtyapp.py
var dirtyApp []byte

const (
	// StartTimeout bounds how long [Start] waits for Gunicorn to answer.
	StartTimeout = 30 * time.Second
	// StopTimeout bounds how long [Server.Stop] waits for Gunicorn to exit
	// after SIGTERM before it kills it.
	StopTimeout = 30 * time.Second
	// ClientTimeout is the timeout of the requests of [Server.Get] and
	// [Server.Status].
	ClientTimeout = 5 * time.Second

	killTimeout = 10 * time.Second // for the process group to go after SIGKILL
	pollDelay   = 100 * time.Millisecond
)

// Options says how to start Gunicorn. The zero value runs it with its
// defaults (one sync worker, a 30 s timeout, no StatsD) on 127.0.0.1.
type Options struct {
	// StatsdHost is --statsd-host: "host:port" for UDP or "unix:PATH" for a
	// Unix datagram socket. Empty sends no StatsD.
	StatsdHost string
	// StatsdPrefix is --statsd-prefix; empty leaves it out.
	StatsdPrefix string
	// DogstatsdTags is --dogstatsd-tags ("k:v,k:v"); empty leaves it out.
	DogstatsdTags string
	// Workers is --workers; 0 leaves Gunicorn's default (1).
	Workers int
	// Timeout is --timeout in seconds, after which the arbiter kills a
	// silent worker; 0 leaves Gunicorn's default (30).
	Timeout int
	// GracefulTimeout is --graceful-timeout in seconds, how long Stop's
	// SIGTERM lets workers finish; 0 means 5 s. Gunicorn's own default, 30
	// s, would be waited out whole when Gunicorn 20.1 spawns a worker just
	// as the SIGTERM arrives (that worker never gets it), past StopTimeout.
	GracefulTimeout int
	// Unix binds on a Unix socket in a temporary directory instead of
	// 127.0.0.1 and a port that was free a moment before.
	Unix bool
	// ReadyPath, when set, is the path Start GETs until a request is
	// answered (whatever the status): exactly one answered request then
	// reaches the app before Start returns. When empty, Start only waits
	// until the bound socket accepts a connection, which it closes without
	// a request: Gunicorn then sends no request metric for it.
	ReadyPath string
	// Args are more arguments, put before the app ("app:app").
	Args []string

	// Release runs a Gunicorn release from ../shared/gunicorn/RELEASE
	// ("21.2.0", "26.1.0", see [Releases]) with Debian's python3, instead of
	// the gunicorn on PATH (Debian's 20.1). Start skips the test when the
	// release is not there (the library tested alone, without ../shared).
	Release string
	// App is the application: "app:app" (the WSGI app, the default) or
	// "app:asgi" (the same routes as an ASGI app, for
	// uvicorn.workers.UvicornWorker).
	App string
	// Config, when set, configures Gunicorn by a configuration file instead
	// of flags: Start writes gunicorntest.conf.py with the bind, the StatsD
	// settings, the workers, the timeouts and Config's own lines (Python
	// assignments such as "worker_class = 'gthread'"), and the command line
	// names only the app (and -c, unless DefaultConfig). Args still go on the
	// command line.
	Config string
	// DefaultConfig names the configuration file gunicorn.conf.py and leaves
	// it to be found by Gunicorn itself in its working directory (Gunicorn
	// 20+), instead of naming it with -c.
	DefaultConfig bool
	// ProcTitle lets Gunicorn set its processes' titles with setproctitle
	// ("gunicorn: master [app:app]", "gunicorn: worker [app:app]"), skipping
	// the test when python3-setproctitle is not installed. By default Start
	// hides setproctitle from Gunicorn, so its command lines stay as
	// started whatever is installed.
	ProcTitle bool
}

// Server is a Gunicorn started by [Start]. Its methods are for the test's
// goroutine: those that fail the test call t.Fatalf.
type Server struct {
	// Bind is the address Gunicorn is bound to, as given to --bind:
	// "127.0.0.1:PORT" or "unix:PATH".
	Bind string
	// Dir is Gunicorn's working directory, a temporary directory that holds
	// the app and, with [Options.Config], gunicorn.conf.py.
	Dir string

	t       testing.TB
	cmd     *exec.Cmd
	log     string // Gunicorn's stdout and stderr
	network string // of Bind for net.Dial: "tcp" or "unix"
	address string // of Bind for net.Dial
	exited  chan struct{}
	stop    sync.Once
}

// Start runs Gunicorn with the app and opts and returns once it answers (see
// [Options.ReadyPath]), failing the test if it does not within
// [StartTimeout] or exits first. It skips the test when gunicorn is not on
// PATH. Gunicorn's process group is killed when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string][]byte{"app.py": app, "dirtyapp.py": dirtyApp} {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, pre, env := command(t, opts.Release)
	if opts.ProcTitle {
		requireModule(t, bin, env, "setproctitle")
	} else {
		env = hideModule(t, env, "setproctitle")
	}
	s := &Server{t: t, Dir: dir, log: filepath.Join(dir, "gunicorn.log"), exited: make(chan struct{})}
	if opts.Unix {
		s.network, s.address = "unix", filepath.Join(dir, "gunicorn.sock")
		s.Bind = "unix:" + s.address
	} else {
		s.network, s.address = "tcp", freePort(t)
		s.Bind = s.address
	}

	graceful := opts.GracefulTimeout
	if graceful == 0 {
		graceful = 5
	}
	settings := []setting{
		{"--bind", "bind", s.Bind, true},
		{"--statsd-host", "statsd_host", opts.StatsdHost, true},
		{"--statsd-prefix", "statsd_prefix", opts.StatsdPrefix, true},
		{"--dogstatsd-tags", "dogstatsd_tags", opts.DogstatsdTags, true},
		{"--workers", "workers", nonZero(opts.Workers), false},
		{"--timeout", "timeout", nonZero(opts.Timeout), false},
		// Args may say otherwise: the last one counts.
		{"--graceful-timeout", "graceful_timeout", strconv.Itoa(graceful), false},
	}
	app := opts.App
	if app == "" {
		app = "app:app"
	}
	args := append([]string(nil), pre...)
	if opts.Config == "" {
		args = append(args, "--chdir", dir)
		for _, o := range settings {
			if o.value != "" {
				args = append(args, o.flag, o.value)
			}
		}
	} else {
		conf := filepath.Join(dir, "gunicorntest.conf.py") // not where Gunicorn looks by itself
		if opts.DefaultConfig {
			conf = filepath.Join(dir, "gunicorn.conf.py")
		}
		if err := os.WriteFile(conf, configFile(dir, settings, opts.Config), 0o644); err != nil {
			t.Fatal(err)
		}
		if !opts.DefaultConfig {
			args = append(args, "-c", conf)
		}
	}
	args = append(append(args, opts.Args...), app)

	// A file rather than a pipe: Gunicorn writes to it directly, and
	// waiting for the arbiter does not wait for its workers.
	out, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // Gunicorn has its own copy
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir // where Gunicorn looks for ./gunicorn.conf.py
	// XDG_RUNTIME_DIR: Gunicorn 25.1+ makes its control socket there
	// (else in ~/.gunicorn, where the masters of parallel tests would take
	// it from each other).
	s.cmd.Env = append(env, "PYTHONDONTWRITEBYTECODE=1", "XDG_RUNTIME_DIR="+dir)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("gunicorn %v output:\n%s", args, s.Output())
		}
	})

	s.waitReady(opts.ReadyPath)
	return s
}

// LookPath returns the path of the gunicorn on PATH, and skips the test when
// there is none. [Start] calls it; a test that prepares more before starting
// Gunicorn can call it first so as to skip early.
func LookPath(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("gunicorn")
	if err != nil {
		t.Skip("gunicorn is not installed (Debian: apt-get install gunicorn)")
	}
	return bin
}

// waitReady waits until Gunicorn answers.
func (s *Server) waitReady(path string) {
	s.t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		var err error
		if path != "" {
			_, err = s.Get(path)
		} else {
			var c net.Conn
			if c, err = net.DialTimeout(s.network, s.address, ClientTimeout); err == nil {
				c.Close()
			}
		}
		if err == nil {
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("gunicorn exited before answering (%v): %v", s.cmd.ProcessState, err)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("gunicorn not answering after %v: %v", StartTimeout, err)
		}
		time.Sleep(pollDelay)
	}
}

// kill kills the process group and waits, bounded, for the arbiter.
func (s *Server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(killTimeout):
		s.t.Errorf("gunicorn (pid %d) not reaped %v after SIGKILL", s.cmd.Process.Pid, killTimeout)
	}
}

// Pid returns the process id of the arbiter (the master process).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Signal sends sig to the arbiter: SIGTTIN adds a worker, SIGTTOU removes
// one, SIGHUP reloads, SIGTERM stops gracefully (see also [Server.Stop]). It
// fails the test if the signal cannot be sent.
func (s *Server) Signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("gunicorn: sending %v: %v", sig, err)
	}
}

// Stop stops Gunicorn gracefully, with SIGTERM to the arbiter (its workers
// finish their requests, then it exits), and waits for it to exit. If it has
// not within [StopTimeout], Stop kills the process group and marks the test
// failed. Calls after the first do nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.stop.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(StopTimeout):
			s.kill()
			s.t.Errorf("gunicorn did not stop within %v of SIGTERM", StopTimeout)
		}
	})
}

// Output returns what Gunicorn has written so far to its stdout and stderr.
func (s *Server) Output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(reading Gunicorn's output: %v)", err)
	}
	return string(b)
}

// URL returns the URL of path (which may have a query) for a client from
// [Server.Client]. With a Unix socket its host is a placeholder.
func (s *Server) URL(path string) string {
	if s.network == "unix" {
		return "http://gunicorn" + path
	}
	return "http://" + s.address + path
}

// Client returns an HTTP client with the given timeout that connects to
// Gunicorn whatever the URL's host, for the URLs of [Server.URL].
func (s *Server) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true, // the sync worker closes each connection
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return new(net.Dialer).DialContext(ctx, s.network, s.address)
			},
		},
	}
}

// Dial opens a connection to Gunicorn, for a test that speaks HTTP itself
// (keep-alive connections, requests sent in pieces). It fails the test
// when it cannot connect, and closes the connection when the test ends.
func (s *Server) Dial() net.Conn {
	s.t.Helper()
	c, err := net.DialTimeout(s.network, s.address, ClientTimeout)
	if err != nil {
		s.t.Fatalf("dialing gunicorn at %s: %v", s.Bind, err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Get GETs path (which may have a query), reads the body and returns the
// status code, within [ClientTimeout].
func (s *Server) Get(path string) (int, error) {
	resp, err := s.Client(ClientTimeout).Get(s.URL(path))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("GET %s: reading the body: %w", path, err)
	}
	return resp.StatusCode, nil
}

// Status is [Server.Get] failing the test when the request fails.
func (s *Server) Status(path string) int {
	s.t.Helper()
	code, err := s.Get(path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return code
}

// freePort returns a TCP address on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
