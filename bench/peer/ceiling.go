package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// ceilingResult is what the embedded store alone commits: rows inserted in
// groups of 25 per Update (one CreateWorkspaces request's desktops), with the
// store's group commit and fdatasync, from a number of concurrent callers.
type ceilingResult struct {
	rows     int
	conc     int
	valueLen int
	elapsed  time.Duration
	cpu      time.Duration // user+system CPU of this process during the run
	store    string        // sqlite or pebble
	walBytes int64
}

func (c ceilingResult) rowsPerSec() float64 { return float64(c.rows) / c.elapsed.Seconds() }

func (c ceilingResult) String() string {
	return fmt.Sprintf("store ceiling (%s): %d rows of %d bytes in Updates of 25 (CreateMany, group commit, fdatasync), %d in flight: %.0f rows/s, %.1f µs of CPU per row, %d WAL bytes (%.0f per row)",
		c.store, c.rows, c.valueLen, c.conc, c.rowsPerSec(), float64(c.cpu.Microseconds())/float64(c.rows), c.walBytes, float64(c.walBytes)/float64(c.rows))
}

// ceilingCmd is `peer ceiling`: the store's ceiling on its own.
func ceilingCmd(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	rows := fs.Int("rows", 10000, "rows to commit")
	conc := fs.Int("concurrency", 8, "concurrent Updates (the create workload's requests in flight)")
	size := fs.Int("value", 760, "bytes per row (a new desktop record is about 760)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the commits (not the store's opening and closing) to this file")
	stores := fs.String("store", "sqlite,pebble", "embedded stores to measure, one after the other: sqlite, pebble or both")
	fs.Parse(args)
	var prof *os.File
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		prof = f
	}
	for _, st := range strings.Split(*stores, ",") {
		r, err := storeCeiling(context.Background(), st, *rows, *conc, *size, prof)
		if err != nil {
			return err
		}
		fmt.Println(r)
		prof = nil // the profile is of the first store's commits
	}
	return nil
}

// openCeilingStore opens a fresh embedded store (sqlite or pebble) in dir,
// as the server opens it.
func openCeilingStore(ctx context.Context, name, dir string) (store.Store, error) {
	switch name {
	case "", "sqlite":
		return sqlite.Open(ctx, filepath.Join(dir, "ceiling.db"))
	case "pebble":
		return pebble.Open(ctx, filepath.Join(dir, "pebble"), pebble.Options{})
	}
	return nil, fmt.Errorf("unknown store %q (want sqlite or pebble)", name)
}

// walBytes is what an embedded store has written to its write-ahead log
// since it opened (0 for a store that does not say): SQLite's WAL pages
// with their frame headers, Pebble's WAL bytes.
func walBytes(ctx context.Context, s any) int64 {
	switch s := s.(type) {
	case interface {
		WALBytes(context.Context) (int64, error)
	}:
		n, _ := s.WALBytes(ctx)
		return n
	case interface {
		WALPages(context.Context) (int64, error)
	}:
		n, _ := s.WALPages(ctx)
		return n * 4120
	}
	return 0
}

// storeCeiling opens a fresh embedded store (sqlite or pebble) in a
// temporary directory and
// commits rows rows of valueLen bytes, 25 to an Update, from conc goroutines,
// under the CPU profiler when prof is not nil. The keys are ordered, as the
// server's desktop ids are (newOrderedID).
func storeCeiling(ctx context.Context, storeName string, rows, conc, valueLen int, prof *os.File) (ceilingResult, error) {
	dir, err := os.MkdirTemp("", "deskplane-ceiling")
	if err != nil {
		return ceilingResult{}, err
	}
	defer os.RemoveAll(dir)
	db, err := openCeilingStore(ctx, storeName, dir)
	if err != nil {
		return ceilingResult{}, err
	}
	defer db.Close()
	value := make([]byte, valueLen)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var prefix [8]byte
	rand.Read(prefix[:])
	pfx := hex.EncodeToString(prefix[:])
	wal0 := walBytes(ctx, db)
	groups := (rows + 24) / 25
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return ceilingResult{}, err
		}
	}
	cpu0 := processCPU()
	st := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				g := int(next.Add(1)) - 1
				if g >= groups {
					return
				}
				n := min(25, rows-g*25)
				recs := make([]store.KV, n)
				for i := range recs {
					recs[i] = store.KV{Key: fmt.Sprintf("%s/ws-%08d", pfx, g*25+i), Value: value}
				}
				err := db.Update(ctx, func(tx store.Tx) error {
					existing, err := tx.CreateMany(ctx, "ceiling", recs)
					if err == nil && len(existing) > 0 {
						err = fmt.Errorf("%d rows existed", len(existing))
					}
					return err
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(st)
	cpu := processCPU() - cpu0
	if prof != nil {
		pprof.StopCPUProfile()
	}
	if firstErr != nil {
		return ceilingResult{}, fmt.Errorf("store ceiling: %w", firstErr)
	}
	if storeName == "" {
		storeName = "sqlite"
	}
	return ceilingResult{rows: rows, conc: conc, valueLen: valueLen, elapsed: el, cpu: cpu, store: storeName, walBytes: walBytes(ctx, db) - wal0}, nil
}

// processCPU is the user+system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pageFaults is this process's page faults so far, minor and major: on a
// virtual machine each costs microseconds of (system) CPU, so a workload's
// faults per item explain part of its CPU.
func pageFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt + ru.Majflt
}
