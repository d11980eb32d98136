package main

import (
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/cmdtest"
)

// dockerfile is what TestImageBinary reads of the Dockerfile: the flags of
// its go build, the environment it sets for it, and the user the image
// runs as.
type dockerfile struct {
	env, flags []string
	uid, gid   int
}

// readDockerfile reads the Dockerfile's one `go build` line and its USER.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	text, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	builds := 0
	for _, line := range strings.Split(string(text), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0 || strings.HasPrefix(fields[0], "#"):
		case fields[0] == "USER":
			u, g, _ := strings.Cut(fields[1], ":")
			if d.uid, err = strconv.Atoi(u); err != nil {
				t.Fatalf("USER %s: want a numeric uid, so that Kubernetes' runAsNonRoot can check it", fields[1])
			}
			if d.gid, err = strconv.Atoi(g); err != nil {
				t.Fatalf("USER %s: want a numeric gid", fields[1])
			}
		case fields[0] == "RUN" && strings.Contains(line, " go build "):
			builds++
			i := slices.Index(fields, "build")
			for _, f := range fields[1 : i-1] {
				if strings.Contains(f, "=") {
					d.env = append(d.env, f)
				}
			}
			for k := i + 1; k < len(fields); k++ {
				switch f := fields[k]; {
				case f == "-o":
					k++ // and its argument
				case strings.HasPrefix(f, "-"):
					d.flags = append(d.flags, f)
				}
			}
		}
	}
	if builds != 1 {
		t.Fatalf("the Dockerfile has %d go build lines, want 1", builds)
	}
	return d
}

// TestImageBinary builds the program as the Dockerfile builds it, and checks
// what the image relies on, where no container engine is at hand (.ci/run
// builds the image itself where one is): the Dockerfile runs as a user
// other than root, the binary is static (the runtime image has no Go and
// needs no C library of a given version), and it serves StatsD and
// /metrics as that user (as root, the test runs it so; otherwise as its own
// user, which is not root either).
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	d := readDockerfile(t)
	if d.uid == 0 || d.gid == 0 {
		t.Fatalf("the image runs as %d:%d: want a user other than root", d.uid, d.gid)
	}
	if !strings.Contains(strings.Join(d.env, " "), "CGO_ENABLED=0") || !strings.Contains(strings.Join(d.flags, " "), "-trimpath") {
		t.Fatalf("the Dockerfile builds with %v %v: want CGO_ENABLED=0 and -trimpath (static, reproducible)", d.env, d.flags)
	}
	for _, kv := range d.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	bin := cmdtest.Build(t, ".", d.flags...)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	f.Close()

	cmd := exec.Command(bin, "--statsd.listen-udp=127.0.0.1:0", "--statsd.listen-tcp=",
		"--web.listen-address=127.0.0.1:0", "--log.format=json")
	wantUID := os.Geteuid()
	if wantUID == 0 {
		// The user of the image must reach the binary.
		for dir := filepath.Dir(bin); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid)}}
		wantUID = d.uid
		t.Logf("running the binary as %d:%d, the image's user", d.uid, d.gid)
	}
	p := cmdtest.StartCmd(t, cmd)
	p.WaitRecord(t, "accepting StatsD traffic", 30*time.Second)
	web := p.WaitRecord(t, "accepting Prometheus requests", 30*time.Second)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] != strconv.Itoa(wantUID) {
			t.Errorf("the program runs as uid %s, want %d", f[1], wantUID)
		}
	}
	addr, _ := web["addr"].(string)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "gunicornotel_datagrams_total") {
		t.Errorf("GET /metrics as uid %d: %d, %v, %d bytes", wantUID, resp.StatusCode, err, len(body))
	}
	if err, lines := p.Stop(t, 20*time.Second); err != nil {
		t.Errorf("the program ended with %v:\n%s", err, strings.Join(lines, "\n"))
	}
}
