package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/settingtest"
)

// TestMappingReload: SIGHUP reloads --statsd.mapping-config, as the
// daemon's does; an invalid file keeps the rules in use. Each line is sent
// once the one before it is exported and the log says the rules it must
// meet are in use; the final export holds each under its name of the time.
func TestMappingReload(t *testing.T) {
	cleanEnv(t)
	sink := new(otlptest.Sink)
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	file := filepath.Join(t.TempDir(), "mapping.yml")
	rules := func(name string) string {
		return fmt.Sprintf("mappings:\n  - match: \"app.*.hits\"\n    name: %q\n    labels:\n      shard: \"$1\"\n", name)
	}
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rules("first_hits"))
	logs := new(lockedBuffer)
	// waitLog waits for the n-th line saying msg.
	waitLog := func(msg string, n int) {
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(logs.String(), msg) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %d lines saying %q within 10s:\n%s", n, msg, logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// waitExported waits for an export holding the series key.
	waitExported := func(key string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if reqs := sink.Received(t); len(reqs) > 0 {
				if _, ok := exportedSeries(reqs[len(reqs)-1].GetResourceMetrics())[key]; ok {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not exported within 10s", key)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	args := []string{"--statsd.listen=udp://127.0.0.1:0", "--statsd.mapping-config=" + file, "--log.format=json", "--export.interval=20ms"}
	forwardLog(t, logs, args, func(addr string) {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		send := func(line string) {
			if _, err := conn.Write([]byte(line)); err != nil {
				t.Fatal(err)
			}
		}
		send("app.a.hits:1|c")
		waitExported(settingtest.Key("first_hits", "shard=a"))
		write(rules("second_hits"))
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(`"msg":"mapping config reloaded"`, 1)
		send("app.b.hits:2|c")
		waitExported(settingtest.Key("second_hits", "shard=b"))
		write("mappings:\n  - match: [\n")
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(`"msg":"mapping config reload failed; the rules in use are kept"`, 1)
		send("app.c.hits:4|c")
	})
	reqs := sink.Received(t)
	got := exportedSeries(reqs[len(reqs)-1].GetResourceMetrics()) // the final export, cumulative
	for key, want := range map[string]float64{
		settingtest.Key("first_hits", "shard=a"):  1,
		settingtest.Key("second_hits", "shard=b"): 2,
		settingtest.Key("second_hits", "shard=c"): 4,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	for _, key := range []string{settingtest.Key("first_hits", "shard=b"), settingtest.Key("first_hits", "shard=c"), settingtest.Key("second_hits", "shard=a")} {
		if v, ok := got[key]; ok {
			t.Errorf("%s = %v, want no such series", key, v)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
