package main

import (
	"log/slog"
	"runtime/debug"
)

// minMemoryLimit is the least soft memory limit the program sets: what the
// runtime, the readers' buffers, the mapper's cache and the exporters take
// with an empty series state, and more, so that a small --otel.max-memory
// does not make the garbage collector run without pause.
const minMemoryLimit = 64 << 20

// setMemoryLimit is debug.SetMemoryLimit. The tests, which call run in their
// own process, replace it (TestMain): the limit is the process's.
var setMemoryLimit = debug.SetMemoryLimit

// memoryLimit returns the Go runtime's soft memory limit the program sets:
// --otel.max-memory, at least minMemoryLimit. The bridge counts its series
// state and one scrape of it under --otel.max-memory, but resident memory is
// not the count: with the collector's default pacing (GOGC=100) the heap
// grows to twice the live heap before a collection, and wide tag sets took
// the process to 1.2 times --otel.max-memory (BENCHMARKS.md). The limit
// makes the collector work harder as the heap nears it instead. It returns
// false when the environment sets GOMEMLIMIT (lookupEnv is os.LookupEnv),
// which the runtime has applied already, "off" included.
func (c *config) memoryLimit(lookupEnv func(string) (string, bool)) (int64, bool) {
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		return 0, false
	}
	return max(c.maxMemory, minMemoryLimit), true
}

// applyMemoryLimit sets the runtime's soft memory limit as memoryLimit says,
// and logs the limit in force.
func applyMemoryLimit(c *config, lookupEnv func(string) (string, bool), logger *slog.Logger) {
	limit, ok := c.memoryLimit(lookupEnv)
	if !ok {
		logger.Info("Go runtime memory limit from GOMEMLIMIT", "limit_bytes", debug.SetMemoryLimit(-1))
		return
	}
	setMemoryLimit(limit)
	logger.Info("Go runtime memory limit from --otel.max-memory (set GOMEMLIMIT to choose another)", "limit_bytes", limit)
}
