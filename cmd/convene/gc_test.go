package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestMemoryLimitFromTheContainer(t *testing.T) {
	for in, want := range map[string]int64{
		"1073741824\n":          1073741824,
		"max\n":                 0, // cgroup v2: no limit
		"9223372036854771712\n": 0, // cgroup v1: no limit
		"":                      0,
		"0":                     0,
	} {
		got, ok := parseMemoryLimit(in)
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", in, got, ok, want)
		}
	}
}

// The collector's target and limit are set unless GOGC and GOMEMLIMIT
// say otherwise.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	limit := func() (int64, bool) { return 1000 << 20, true }
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	debug.SetGCPercent(100)
	tuneGC(getenv, limit, log)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != 800<<20 {
		t.Errorf("memory limit %d, want 80%% of the container's", got)
	}

	env["GOGC"], env["GOMEMLIMIT"] = "100", "2GiB"
	debug.SetMemoryLimit(1 << 40)
	tuneGC(getenv, limit, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("with GOMEMLIMIT set: memory limit %d, want it left", got)
	}
}
