package main

import "runtime/debug"

// setMemoryLimit is debug.SetMemoryLimit, which --otel.max-memory sets
// (wiring.Limits.ApplyMemoryLimit). The tests, which call run in their own
// process, replace it (TestMain): the limit is the process's.
var setMemoryLimit = debug.SetMemoryLimit
