package server

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestTuneRuntime: serve's collector settings and, on an embedded store
// only, one P more, each unless its environment variable is set.
func TestTuneRuntime(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOMAXPROCS", "")

	TuneRuntime(Options{Store: "postgres"})
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC after TuneRuntime: %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != memoryLimit {
		t.Errorf("memory limit after TuneRuntime: %d, want %d", got, memoryLimit)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS on PostgreSQL: %d, want %d (unchanged)", got, procs)
	}
	TuneRuntime(Options{Store: "pebble"})
	if got := runtime.GOMAXPROCS(procs); got != procs+1 {
		t.Errorf("GOMAXPROCS on Pebble: %d, want %d", got, procs+1)
	}

	debug.SetGCPercent(100)
	t.Setenv("GOGC", "100")
	t.Setenv("GOMAXPROCS", "2")
	TuneRuntime(Options{Store: "pebble"})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set in the environment: TuneRuntime made it %d", got)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS set in the environment: TuneRuntime made it %d, want %d", got, procs)
	}
}
