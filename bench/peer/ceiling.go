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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/store"
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
	walPages int64
}

func (c ceilingResult) rowsPerSec() float64 { return float64(c.rows) / c.elapsed.Seconds() }

func (c ceilingResult) String() string {
	return fmt.Sprintf("store ceiling: %d rows of %d bytes in Updates of 25 (CreateMany, group commit, fdatasync), %d in flight: %.0f rows/s, %.1f µs of CPU per row, %d WAL pages (%.0f bytes per row)",
		c.rows, c.valueLen, c.conc, c.rowsPerSec(), float64(c.cpu.Microseconds())/float64(c.rows), c.walPages, float64(c.walPages)*4120/float64(c.rows))
}

// ceilingCmd is `peer ceiling`: the store's ceiling on its own.
func ceilingCmd(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	rows := fs.Int("rows", 10000, "rows to commit")
	conc := fs.Int("concurrency", 8, "concurrent Updates (the create workload's requests in flight)")
	size := fs.Int("value", 760, "bytes per row (a new desktop record is about 760)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the commits (not the store's opening and closing) to this file")
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
	r, err := storeCeiling(context.Background(), *rows, *conc, *size, prof)
	if err != nil {
		return err
	}
	fmt.Println(r)
	return nil
}

// storeCeiling opens a fresh embedded store in a temporary directory and
// commits rows rows of valueLen bytes, 25 to an Update, from conc goroutines,
// under the CPU profiler when prof is not nil. The keys are ordered, as the
// server's desktop ids are (newOrderedID).
func storeCeiling(ctx context.Context, rows, conc, valueLen int, prof *os.File) (ceilingResult, error) {
	dir, err := os.MkdirTemp("", "deskplane-ceiling")
	if err != nil {
		return ceilingResult{}, err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "ceiling.db"))
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
	pages0, err := db.WALPages(ctx)
	if err != nil {
		return ceilingResult{}, err
	}
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
	pages, err := db.WALPages(ctx)
	if err != nil {
		return ceilingResult{}, err
	}
	return ceilingResult{rows: rows, conc: conc, valueLen: valueLen, elapsed: el, cpu: cpu, walPages: pages - pages0}, nil
}

// processCPU is the user+system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
