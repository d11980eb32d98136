package gunicorntest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGunicornRoutes checks every route of the app, over TCP and over a Unix
// socket, then a graceful stop.
func TestGunicornRoutes(t *testing.T) {
	for _, unix := range []bool{false, true} {
		name := "tcp"
		if unix {
			name = "unix"
		}
		t.Run(name, func(t *testing.T) {
			g := Start(t, Options{Workers: 1, Unix: unix, ReadyPath: "/"})
			if unix != strings.HasPrefix(g.Bind, "unix:") {
				t.Errorf("Bind %q with Unix %v", g.Bind, unix)
			}
			for path, want := range map[string]int{
				"/":            200,
				"/200":         200,
				"/201":         201,
				"/404":         404,
				"/500":         500,
				"/err":         500,
				"/slow?s=0.05": 200,
				"/nowhere":     404,
			} {
				if got := g.Status(path); got != want {
					t.Errorf("GET %s: %d, want %d", path, got, want)
				}
			}
			if !strings.Contains(g.Output(), "Error handling request") {
				t.Errorf("no exception logged for /err:\n%s", g.Output())
			}
			g.Stop()
			if _, err := g.Get("/"); err == nil {
				t.Error("GET / answered after Stop")
			}
			g.Stop() // a no-op
		})
	}
}

// TestGunicornStatsd checks the options reach Gunicorn: a worker added with
// SIGTTIN is reported over StatsD with the prefix and the tags.
func TestGunicornStatsd(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	g := Start(t, Options{
		StatsdHost:    pc.LocalAddr().String(),
		StatsdPrefix:  "shop.web",
		DogstatsdTags: "env:test",
		Workers:       1,
		Timeout:       5,
	})
	const want = "shop.web.gunicorn.workers:2|g|#env:test"
	deadline := time.Now().Add(20 * time.Second)
	signaled := false
	buf := make([]byte, 64<<10)
	var seen []string
	for time.Now().Before(deadline) {
		if err := pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, _, err := pc.ReadFrom(buf)
		if err == nil {
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				if line == want {
					return
				}
				seen = append(seen, line)
				if line == "shop.web.gunicorn.workers:1|g|#env:test" && !signaled {
					g.Signal(syscall.SIGTTIN)
					signaled = true
				}
			}
		}
	}
	t.Fatalf("no %q within 20s; got %q", want, seen)
}

// TestReleasesAndConfig starts every release, configured by flags, by a file
// named with -c and by ./gunicorn.conf.py found by Gunicorn itself, and
// checks the release that answers and that the file's settings took: two
// workers booted, and a 201.
func TestReleasesAndConfig(t *testing.T) {
	for _, release := range Releases {
		for _, how := range []string{"flags", "config", "default-config"} {
			t.Run(ReleaseName(release)+"/"+how, func(t *testing.T) {
				t.Parallel()
				opts := Options{Release: release, Workers: 2, ReadyPath: "/"}
				switch how {
				case "config":
					opts.Config = "proc_name = 'gunicorntest'"
				case "default-config":
					opts.Config, opts.DefaultConfig = "proc_name = 'gunicorntest'", true
				}
				g := Start(t, opts)
				if got := g.Status("/201"); got != 201 {
					t.Errorf("GET /201: %d", got)
				}
				want := "Starting gunicorn " + ReleaseName(release)
				if release == "" {
					want = "Starting gunicorn 20.1.0"
				}
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(g.Output(), "Booting worker") < 2 && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				out := g.Output()
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the output:\n%s", want, out)
				}
				if n := strings.Count(out, "Booting worker"); n != 2 {
					t.Errorf("%d workers booted, want 2:\n%s", n, out)
				}
				args := procArgs(t, g.Pid())
				if how == "flags" != strings.Contains(args, "--workers") {
					t.Errorf("master's command line %q with %s", args, how)
				}
				if strings.Contains(args, " -c ") != (how == "config") {
					t.Errorf("master's command line %q with %s", args, how)
				}
			})
		}
	}
}

// TestProcTitle checks that setproctitle is hidden by default and used with
// ProcTitle.
func TestProcTitle(t *testing.T) {
	for _, title := range []bool{false, true} {
		t.Run(map[bool]string{false: "hidden", true: "title"}[title], func(t *testing.T) {
			t.Parallel()
			g := Start(t, Options{Release: "26.1.0", ProcTitle: title, ReadyPath: "/"})
			args := procArgs(t, g.Pid())
			if got := strings.HasPrefix(args, "gunicorn: master"); got != title {
				t.Errorf("master's command line %q with ProcTitle %v", args, title)
			}
		})
	}
}

// TestASGI serves the ASGI app with uvicorn's worker.
func TestASGI(t *testing.T) {
	RequireModule(t, "uvicorn")
	g := Start(t, Options{Release: "26.1.0", App: "app:asgi", ReadyPath: "/",
		Args: []string{"-k", "uvicorn.workers.UvicornWorker"}})
	for path, want := range map[string]int{"/": 200, "/404": 404, "/slow?s=0.05": 200, "/nowhere": 404} {
		if got := g.Status(path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
}

// procArgs is a process's command line, its words joined by spaces.
func procArgs(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ")
}
