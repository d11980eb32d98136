//go:build unix

package statsd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// The socket file gets exactly the mode asked for, whatever the umask: it
// neither widens it (0o000 was once 0o666) nor narrows it.
func TestSocketModeExact(t *testing.T) {
	dir := t.TempDir()
	for _, umask := range []int{0o022, 0o077} {
		for _, tc := range []struct {
			mode os.FileMode // SocketMode
			want os.FileMode
		}{
			{os.ModeSocket, 0}, // 000: the type bit asks for it
			{0o600, 0o600},
			{0o660, 0o660},
			{0o777, 0o777},
			{os.ModeSocket | 0o600, 0o600},
			{0o755, 0o755}, // the drop-in daemon's default
			{0o022, 0o022}, // exactly what the first umask takes away
			{0o007, 0o007}, // others only
			{0, DefaultSocketMode},
		} {
			name := fmt.Sprintf("umask%03o/mode%v", umask, tc.mode)
			t.Run(name, func(t *testing.T) {
				old := syscall.Umask(umask)
				defer syscall.Umask(old)
				path := filepath.Join(dir, fmt.Sprintf("u%03o-%o.sock", umask, uint32(tc.mode)))
				srv := &Server{ErrorLog: quietLog, SocketMode: tc.mode}
				if _, err := srv.Start("unix:" + path); err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				fi, err := os.Lstat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != os.ModeSocket|tc.want {
					t.Errorf("socket file mode %v, want %v", fi.Mode(), os.ModeSocket|tc.want)
				}
			})
		}
	}
}

// On Linux the socket file is created with no permissions (the umask can
// only take away), so that it is never more open than asked before its
// chmod.
func TestSocketFileBornClosed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fchmod before bind is Linux's")
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "s.sock")
	srv := &Server{}
	cfg := srv.config()
	lc := srv.listenConfig(&cfg, false)
	conn, err := lc.ListenPacket(context.Background(), "unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != os.ModeSocket {
		t.Errorf("socket file bound under umask 0 has mode %v, want %v (no permission)", fi.Mode(), os.ModeSocket)
	}
}

// A mode that cannot be given is an error at start that names the path.
func TestSocketModeRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
		want string
	}{
		{"sticky", filepath.Join(dir, "sticky.sock"), os.ModeSticky | 0o600, "only permission bits"},
		{"setuid", filepath.Join(dir, "setuid.sock"), os.ModeSetuid | 0o600, "only permission bits"},
		{"directory", filepath.Join(dir, "dir.sock"), os.ModeDir | 0o700, "only permission bits"},
		{"abstract", "@gunicornotel-test-mode", 0o600, "abstract socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "abstract" && runtime.GOOS != "linux" {
				t.Skip("abstract sockets are Linux's")
			}
			srv := &Server{ErrorLog: quietLog, SocketMode: tc.mode}
			defer srv.Close()
			_, err := srv.Start("unix:" + tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("Start with mode %v: %v; want an error about %q naming %s", tc.mode, err, tc.want, tc.path)
			}
			if !strings.HasPrefix(tc.path, "@") {
				if _, err := os.Lstat(tc.path); !os.IsNotExist(err) {
					t.Errorf("socket file left behind: %v", err)
				}
			}
		})
	}
	// An abstract socket with the mode left zero is served.
	if runtime.GOOS == "linux" {
		srv := &Server{ErrorLog: quietLog}
		defer srv.Close()
		if _, err := srv.Start("unix:@gunicornotel-test-mode-default"); err != nil {
			t.Errorf("abstract socket, SocketMode zero: %v", err)
		}
	}
}
