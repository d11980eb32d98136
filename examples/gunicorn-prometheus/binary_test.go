package main

import (
	"net"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/cmdtest"
)

// TestBinary builds the program with go build and runs it, for what only
// the real binary shows: --version from its build information, and that
// with --log.format=json every line of its stderr is JSON, the bridge's
// limit warnings and what the process-wide loggers write included.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := cmdtest.Build(t, ".")
	t.Run("version", func(t *testing.T) { cmdtest.CheckVersion(t, bin, programName) })
	t.Run("json log", func(t *testing.T) {
		p := cmdtest.Start(t, bin, []string{"--statsd.listen-udp=127.0.0.1:0", "--statsd.listen-tcp=",
			"--web.listen-address=127.0.0.1:0", "--log.format=json", "--otel.max-series=1"})
		up := p.WaitRecord(t, "accepting StatsD traffic", 30*time.Second)
		addr, _ := up["udp"].(string)
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatalf("udp %q: %v", addr, err)
		}
		defer conn.Close()
		// Two series over a series limit of 1, and a line that is not StatsD.
		for _, l := range []string{"app.hits:1|c|#shard:a", "app.hits:1|c|#shard:b", "not a statsd line"} {
			if _, err := conn.Write([]byte(l)); err != nil {
				t.Fatal(err)
			}
		}
		limit := p.WaitRecord(t, "otelbridge: a limit dropped data", 10*time.Second)
		if limit["level"] != "WARN" || limit["limit"] != "series_limit" {
			t.Errorf("limit warning %v, want level WARN, limit series_limit", limit)
		}
		err, lines := p.Stop(t, 20*time.Second)
		if err != nil {
			t.Errorf("exit: %v", err)
		}
		if _, err := cmdtest.JSONLog(lines); err != nil {
			t.Error(err)
		}
		stopped := false
		for _, r := range mustJSON(t, lines) {
			if r["msg"] == "StatsD receiver stopped" {
				stopped = r["datagrams"] == 3.0 && r["rejected"] == 1.0 && r["series_overflow"] == 1.0
			}
		}
		if !stopped {
			t.Errorf("no record of the receiver stopped with datagrams 3, rejected 1 (the line that is not StatsD), series_overflow 1:\n%q", lines)
		}
	})
}

func mustJSON(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	recs, err := cmdtest.JSONLog(lines)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
