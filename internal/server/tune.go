package server

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Garbage collector settings of serve, unless GOGC or GOMEMLIMIT say
// otherwise. A request allocates little that outlives it, so the live heap
// is small and the collector's default (GOGC=100) runs it very often;
// letting the heap grow to five times the live data before a cycle cuts the
// collector's share of the CPU, and the soft limit keeps the heap bounded
// when the live data itself is large (docs/benchmarks.md has both).
const (
	gcPercent   = 400
	memoryLimit = 384 << 20
)

// TuneRuntime sets the process's garbage collector (gcPercent,
// memoryLimit) and, on an embedded store, its Ps as `deskplane serve` runs
// with them, each unless its environment variable (GOGC, GOMEMLIMIT,
// GOMAXPROCS) is set. serve calls it before New, and so does `bench/peer
// profile`'s server process, so that the CPU it measures per request is
// serve's.
//
// On an embedded store the process gets one more P than the CPUs Go would
// use. The embedded store's goroutines spend much of their time in
// blocking file system calls (the writer's WAL writes, the flusher's
// fdatasync, the checkpointer's copies), which, unlike socket I/O, hold
// their P; a goroutine back from one waits for a free P, and with one P per
// CPU that wait is on the path of every commit's acknowledgement. The extra
// P keeps the CPUs busy meanwhile (docs/benchmarks.md: about +7% creations
// and +10% describes on 2 CPUs). On PostgreSQL the store's I/O is on
// sockets, and nodes share the machine with the database: there it only
// added contention.
func TuneRuntime(o Options) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if o.Embedded() && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}
