package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
)

func TestMemoryLimit(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name  string
		args  []string
		env   func(string) (string, bool)
		limit int64
		ok    bool
	}{
		{"default", nil, noEnv, 256 << 20, true},
		{"max-memory", []string{"--otel.max-memory=1GiB"}, noEnv, 1 << 30, true},
		{"small max-memory", []string{"--otel.max-memory=8MiB"}, noEnv, wiring.MinMemoryLimit, true},
		{"GOMEMLIMIT set", []string{"--otel.max-memory=1GiB"}, func(k string) (string, bool) { return "100MiB", k == "GOMEMLIMIT" }, 0, false},
		{"GOMEMLIMIT=off", nil, func(k string) (string, bool) { return "off", k == "GOMEMLIMIT" }, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, io0{}, io0{})
			if err != nil {
				t.Fatal(err)
			}
			limit, ok := cfg.Limits.MemoryLimit(tc.env)
			if limit != tc.limit || ok != tc.ok {
				t.Errorf("memoryLimit = %d, %v; want %d, %v", limit, ok, tc.limit, tc.ok)
			}
		})
	}
}

// TestApplyMemoryLimit checks what the program sets and logs. The process's
// own limit is left alone: TestMain replaced setMemoryLimit, and this test
// restores it.
func TestApplyMemoryLimit(t *testing.T) {
	saved := setMemoryLimit
	t.Cleanup(func() { setMemoryLimit = saved })
	var set []int64
	setMemoryLimit = func(n int64) int64 { set = append(set, n); return 0 }

	cfg, err := parseFlags([]string{"--otel.max-memory=300MiB"}, io0{}, io0{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Limits.ApplyMemoryLimit(func(string) (string, bool) { return "", false }, setMemoryLimit, logger)
	if len(set) != 1 || set[0] != 300<<20 {
		t.Errorf("set %v, want [%d]", set, 300<<20)
	}
	if !strings.Contains(logs.String(), "limit_bytes=314572800") {
		t.Errorf("log does not give the limit:\n%s", logs.String())
	}

	set, logs = nil, bytes.Buffer{}
	cfg.Limits.ApplyMemoryLimit(func(k string) (string, bool) { return "1GiB", k == "GOMEMLIMIT" }, setMemoryLimit, logger)
	if len(set) != 0 {
		t.Errorf("GOMEMLIMIT set, yet the program set %v", set)
	}
	if !strings.Contains(logs.String(), "from GOMEMLIMIT") {
		t.Errorf("log does not say the limit is GOMEMLIMIT's:\n%s", logs.String())
	}
}
