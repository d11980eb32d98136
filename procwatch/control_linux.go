//go:build linux

package procwatch

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// controlTimeout bounds a question to a master's control socket.
const controlTimeout = time.Second

// controlRetry is how long after a failed question the next is asked.
const controlRetry = 10 * time.Second

// controlConfig is what the watcher reads of the answer to "show config"
// on the control socket of Gunicorn 25.1+: the effective settings, whatever
// set them (a file, the environment, the command line).
type controlConfig struct {
	WorkerClass       string   `json:"worker_class"`
	Threads           int      `json:"threads"`
	Timeout           *int     `json:"timeout"`
	WorkerConnections int      `json:"worker_connections"`
	Bind              []string `json:"bind"`
}

// askControl asks the control socket at path for the master's effective
// configuration: a request and its answer are each a 4-byte big-endian
// length, then JSON.
func askControl(path string) (controlConfig, error) {
	var cfg controlConfig
	c, err := net.DialTimeout("unix", path, controlTimeout)
	if err != nil {
		return cfg, fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(controlTimeout))
	req := []byte(`{"id":1,"command":"show config"}`)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := c.Write(append(msg, req...)); err != nil {
		return cfg, fmt.Errorf("control socket %s: %w", path, err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return cfg, fmt.Errorf("control socket %s: reading the answer: %w", path, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		return cfg, fmt.Errorf("control socket %s: an answer of %d bytes", path, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return cfg, fmt.Errorf("control socket %s: reading the answer: %w", path, err)
	}
	return parseControl(body)
}

// parseControl reads the answer to "show config".
func parseControl(body []byte) (controlConfig, error) {
	var answer struct {
		Status string        `json:"status"`
		Data   controlConfig `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return controlConfig{}, fmt.Errorf("control socket: the answer to show config: %w", err)
	}
	if answer.Status != "ok" {
		return controlConfig{}, fmt.Errorf("control socket: show config: status %q", answer.Status)
	}
	// "<class 'gunicorn.workers.gthread.ThreadWorker'>": the class path.
	c := &answer.Data
	c.WorkerClass = strings.TrimSuffix(strings.TrimPrefix(c.WorkerClass, "<class '"), "'>")
	return *c, nil
}

// merge takes the control socket's answer into the settings: it is what
// Gunicorn runs with, over every other source.
func (s *settings) merge(c controlConfig) {
	if c.WorkerClass != "" {
		s.class.set(c.WorkerClass, sourceControl)
	}
	if c.Threads > 0 {
		s.threads.set(c.Threads, sourceControl)
	}
	if c.WorkerConnections > 0 {
		s.workerConns.set(c.WorkerConnections, sourceControl)
	}
	if c.Timeout != nil && *c.Timeout >= 0 {
		s.timeout.set(*c.Timeout, sourceControl)
	}
	if len(c.Bind) > 0 {
		s.binds = c.Bind
	}
}

// askControlOnce asks the master's control socket, once it is known and
// while its answer is wanted (the class or the timeout left to the
// workers' evidence or Gunicorn's defaults), at most every controlRetry.
func (r *reader) askControlOnce(now time.Time) {
	if r.ctlDone || r.ctlPath == "" || now.Before(r.ctlNext) || !r.diag {
		return
	}
	if r.cfg.explicit.class != "" && r.cfg.explicit.timeout >= 0 && (r.cfg.explicit.threads > 0 || kindOf(r.cfg.explicit.class, 0) != KindThreaded) {
		r.ctlDone = true // the program said it all
		return
	}
	if r.set.class.known() && r.set.timeout.known() && (r.set.threads.known() || kindOf(r.set.class.v, 0) != KindThreaded) {
		r.ctlDone = true
		return
	}
	// Through the master's root: the watcher may be in another mount
	// namespace (a sidecar).
	c, err := askControl(r.path(fmt.Sprint(r.master.pid), "root", r.ctlPath))
	if err != nil {
		r.ctlNext = now.Add(controlRetry)
		r.cfg.logger.Debug("procwatch: the control socket did not answer", "path", r.ctlPath, "error", err)
		return
	}
	r.ctlDone = true
	r.set.merge(c)
}
