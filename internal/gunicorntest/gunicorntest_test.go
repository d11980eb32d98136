package gunicorntest

import (
	"net"
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
