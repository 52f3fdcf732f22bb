package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcPercent is the garbage collector's target when GOGC is not set: the
// heap may grow to five times what is live before a collection, rather
// than twice. Measured at 100,000 discussions (BENCHMARKS.md), quorum
// reads at 500 a second had a p99 of 5.1-5.7 ms with Go's default, nearly
// all of it collections and their assists, and 2.8-3.4 ms with this. The
// memory limit below keeps the cost in memory bounded.
const gcPercent = 400

// tuneGC sets the collector's target and, in a container with a memory
// limit, a soft memory limit of 80% of it (so the heap is collected harder
// as it nears the container's limit, rather than the container being
// killed). GOGC and GOMEMLIMIT, when set, are Go's own and win.
func tuneGC(getenv func(string) string, cgroupLimit func() (int64, bool), log *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		if limit, ok := cgroupLimit(); ok {
			debug.SetMemoryLimit(limit / 5 * 4)
			log.Info("memory limit set from the container's", "container_limit_bytes", limit, "go_memory_limit_bytes", limit/5*4)
		}
	}
}

// containerMemoryLimit reads the memory limit of this process's cgroup
// (version 2, else version 1); none, or "max", is no limit.
func containerMemoryLimit() (int64, bool) {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(f); err == nil {
			return parseMemoryLimit(string(b))
		}
	}
	return 0, false
}

// parseMemoryLimit reads a cgroup memory limit file's value. cgroup v1
// writes "no limit" as a number near 2^63.
func parseMemoryLimit(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
