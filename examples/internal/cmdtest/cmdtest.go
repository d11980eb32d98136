// Package cmdtest builds the examples' programs with go build, as a user
// does, and runs them, for tests of what only the real binary shows: its
// --version (the build information the go command records) and every
// line it writes to stderr (what the process-wide loggers write too).
package cmdtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GoTool returns the go command: the one on PATH, else the one of the Go
// that built the test.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Build builds the main package in dir (a test's own package: ".") with go
// build and extra arguments (-ldflags ..., -buildvcs=false), into a
// temporary directory of t, and returns the binary's path.
func Build(t testing.TB, dir string, extra ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(mustAbs(t, dir)))
	args := append([]string{"build", "-o", bin}, extra...)
	cmd := exec.Command(GoTool(), append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

func mustAbs(t testing.TB, dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// Process is a program started by Start, its stderr read line by line.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when stderr is read to its end

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced at each new line
}

// Start runs bin with args, the environment of the test plus env, and
// reads its stderr. It kills the program at the end of the test if it is
// still running.
func Start(t testing.TB, bin string, args []string, env ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return StartCmd(t, cmd)
}

// StartCmd starts cmd, made by the test (to run it as another user, say),
// as Start does.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), more: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
			_ = cmd.Wait()
		}
	})
	return p
}

// Pid returns the program's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Lines returns the lines of stderr read so far.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// WaitRecord waits up to timeout for a line of stderr that is a JSON object
// whose msg is msg (--log.format=json), and returns it.
func (p *Process) WaitRecord(t testing.TB, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for seen := 0; ; {
		p.mu.Lock()
		lines, more := p.lines[seen:], p.more
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			var r map[string]any
			if json.Unmarshal([]byte(l), &r) == nil && r["msg"] == msg {
				return r
			}
		}
		select {
		case <-more:
		case <-p.done:
			t.Fatalf("the program ended before logging %q; stderr:\n%s", msg, strings.Join(p.Lines(), "\n"))
		case <-deadline:
			t.Fatalf("no %q logged within %v; stderr:\n%s", msg, timeout, strings.Join(p.Lines(), "\n"))
		}
	}
}

// Stop sends SIGTERM, waits up to timeout for the program to exit, and
// returns its exit error (nil for status 0) and every line of its stderr.
func (p *Process) Stop(t testing.TB, timeout time.Duration) (error, []string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("the program did not exit within %v of SIGTERM", timeout)
	}
	return p.cmd.Wait(), p.Lines()
}

// Output runs bin with args to its end (within a minute) and returns its
// stdout, stderr and exit error.
func Output(t testing.TB, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb strings.Builder
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// JSONLog checks that every line is a JSON object with a string level and
// a string msg, as --log.format=json writes them, and returns the records.
func JSONLog(lines []string) ([]map[string]any, error) {
	recs := make([]map[string]any, 0, len(lines))
	for i, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("line %d %q: not a JSON object: %w", i+1, l, err)
		}
		if _, ok := r["level"].(string); !ok {
			return nil, fmt.Errorf("line %d %q: no string level", i+1, l)
		}
		if _, ok := r["msg"].(string); !ok {
			return nil, fmt.Errorf("line %d %q: no string msg", i+1, l)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// VersionInfo is what go version -m says of a binary: its main module's
// version and the vcs.* settings.
type VersionInfo struct {
	Module   string            // the main module's version, "(devel)" when none
	Settings map[string]string // build settings: vcs.revision, vcs.time, vcs.modified, ...
}

// ReadVersion runs go version -m on bin.
func ReadVersion(t testing.TB, bin string) VersionInfo {
	t.Helper()
	out, err := exec.Command(GoTool(), "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m %s: %v\n%s", bin, err, out)
	}
	v := VersionInfo{Settings: map[string]string{}}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			v.Module = f[2]
		case len(f) >= 2 && f[0] == "build":
			k, val, _ := strings.Cut(strings.TrimPrefix(l, "\tbuild\t"), "=")
			v.Settings[k] = val
		}
	}
	return v
}

// CheckVersion runs bin --version and checks what it prints against what
// go version -m reads in bin, in the format of prometheus/common/version
// that statsd_exporter prints:
//
//	program, version V (branch: , revision: R)
//	  build user:
//	  build date:       D
//	  go version:       goX
//	  platform:         GOOS/GOARCH
//	  tags:             unknown
//
// V is the main module's version without its "v" ("devel" for "(devel)"),
// R vcs.revision (with "-modified" when vcs.modified is true; "unknown"
// without it), D vcs.time.
func CheckVersion(t testing.TB, bin, program string) {
	t.Helper()
	stdout, stderr, err := Output(t, bin, "--version")
	if err != nil || stderr != "" {
		t.Fatalf("--version: %v, stderr %q", err, stderr)
	}
	bi := ReadVersion(t, bin)
	version := strings.TrimPrefix(bi.Module, "v")
	if bi.Module == "(devel)" || bi.Module == "" {
		version = "devel"
	}
	rev := bi.Settings["vcs.revision"]
	switch {
	case rev == "":
		rev = "unknown"
	case bi.Settings["vcs.modified"] == "true":
		rev += "-modified"
	}
	tags := bi.Settings["-tags"]
	if tags == "" {
		tags = "unknown"
	}
	want := fmt.Sprintf("%s, version %s (branch: , revision: %s)\n"+
		"  build user:       \n"+
		"  build date:       %s\n"+
		"  go version:       %s\n"+
		"  platform:         %s/%s\n"+
		"  tags:             %s\n", program, version, rev, bi.Settings["vcs.time"], runtime.Version(), runtime.GOOS, runtime.GOARCH, tags)
	if stdout != want {
		t.Errorf("--version printed\n%s\nwant\n%s\n(go version -m: %+v)", stdout, want, bi)
	}
}

// CheckLimitLog checks what a program started with --log.format=json and
// --otel.max-series=1 logs, its StatsD on the UDP address addr: it sends two
// series of one counter (the second over the limit) and a line that is not
// StatsD, waits for the bridge's limit warning, stops the program, and
// checks that it exited with status 0, that every line of its stderr is a
// JSON record, and that the last counts it logged are 3 datagrams, 1
// rejected, 1 in the overflow series. It returns the records.
func CheckLimitLog(t testing.TB, p *Process, addr string) []map[string]any {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("udp %q: %v", addr, err)
	}
	defer conn.Close()
	for _, l := range []string{"app.hits:1|c|#shard:a", "app.hits:1|c|#shard:b", "not a statsd line"} {
		if _, err := conn.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	limit := p.WaitRecord(t, "otelbridge: a limit dropped data", 10*time.Second)
	if limit["level"] != "WARN" || limit["limit"] != "series_limit" {
		t.Errorf("limit warning %v, want level WARN, limit series_limit", limit)
	}
	err, lines := p.Stop(t, 40*time.Second)
	if err != nil {
		t.Errorf("exit: %v", err)
	}
	recs, err := JSONLog(lines)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	for _, r := range recs {
		if r["msg"] == "StatsD receiver stopped" {
			stopped = r["datagrams"] == 3.0 && r["rejected"] == 1.0 && r["series_overflow"] == 1.0
		}
	}
	if !stopped {
		t.Errorf("no record of the receiver stopped with datagrams 3, rejected 1 (the line that is not StatsD), series_overflow 1:\n%s",
			strings.Join(lines, "\n"))
	}
	return recs
}
