package pebble

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/deskplane/deskplane/internal/store"
)

// BenchmarkCreateMany measures the store's share of a create: one Update
// per 25 new records of about a desktop's size (900 bytes), each checked
// absent and written, over a store that already holds pre records. It
// reports the process's CPU (user and system, its getrusage) and minor
// page faults per record, which a shared machine moves less than ns/op.
func BenchmarkCreateMany(b *testing.B) {
	benchCreateMany(b, 1)
}

// BenchmarkCreateManyGrouped is BenchmarkCreateMany with eight creates
// queued at once (UpdateEach), as eight requests in flight are: the writer
// commits them in one group.
func BenchmarkCreateManyGrouped(b *testing.B) {
	benchCreateMany(b, 8)
}

func benchCreateMany(b *testing.B, inFlight int) {
	for _, pre := range []int{0, 10000, 100000} {
		b.Run(fmt.Sprintf("pre=%d", pre), func(b *testing.B) {
			var o Options
			// DESKPLANE_BENCH_MEMTABLE_MIB sets the memtable size to compare.
			if mib, _ := strconv.Atoi(os.Getenv("DESKPLANE_BENCH_MEMTABLE_MIB")); mib > 0 {
				o.MemTableBytes = uint64(mib) << 20
			}
			// DESKPLANE_BENCH_L0 sets the L0 compaction threshold.
			if n, _ := strconv.Atoi(os.Getenv("DESKPLANE_BENCH_L0")); n > 0 {
				testHookOptions = func(o *pebble.Options) {
					o.L0CompactionThreshold, o.L0StopWritesThreshold = n, max(o.L0StopWritesThreshold, 2*n)
				}
				defer func() { testHookOptions = nil }()
			}
			db, err := Open(b.Context(), filepath.Join(b.TempDir(), "pebble"), o)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := b.Context()
			value := make([]byte, 900)
			for i := range value {
				value[i] = 'a' + byte(i%26)
			}
			batch := func() []store.KV {
				recs := make([]store.KV, 25)
				for i := range recs {
					var id [6]byte
					rand.Read(id[:])
					recs[i] = store.KV{Key: "ws-" + hex.EncodeToString(id[:]), Value: value}
				}
				return recs
			}
			create := func() {
				fns := make([]func(store.Tx) error, inFlight)
				for i := range fns {
					recs := batch()
					fns[i] = func(tx store.Tx) error {
						existing, err := tx.CreateMany(ctx, "desktops", recs)
						if err == nil && len(existing) != 0 {
							err = fmt.Errorf("created keys exist: %v", existing)
						}
						return err
					}
				}
				for _, err := range db.UpdateEach(ctx, fns) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			for range pre / 25 / inFlight {
				create()
			}
			// The preload's last flushes and compactions run in the timed
			// part: they are the store's cost of records like these.
			var r0, r1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			b.ResetTimer()
			for range b.N {
				create()
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			n := float64(b.N * 25 * inFlight)
			cpu := time.Duration(syscall.TimevalToNsec(r1.Utime) + syscall.TimevalToNsec(r1.Stime) -
				syscall.TimevalToNsec(r0.Utime) - syscall.TimevalToNsec(r0.Stime))
			b.ReportMetric(float64(cpu.Nanoseconds())/1000/n, "cpu-us/rec")
			b.ReportMetric(float64(r1.Minflt-r0.Minflt)/n, "faults/rec")
		})
	}
}

// BenchmarkKeyFilterRewrite is the key filter's add of a key written again
// soon after its first write (a created desktop rewritten by its
// provisioning), in a filter of three layers (450,000 keys).
func BenchmarkKeyFilterRewrite(b *testing.B) {
	var l bloomLayers
	const n = 450000
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = filterHash(recordKey(nil, "desktops", "123456789012/us-east-1/ws-"+strconv.Itoa(i)))
		l.add(hs[i])
	}
	recent := hs[n-10000:]
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.add(recent[i%len(recent)])
	}
}

// BenchmarkKeyFilterAbsent is the key filter's check of a created key (one
// it does not hold) in a filter of three layers (450,000 keys).
func BenchmarkKeyFilterAbsent(b *testing.B) {
	var l bloomLayers
	const n = 450000
	for i := range n {
		l.add(filterHash(recordKey(nil, "desktops", "123456789012/us-east-1/ws-"+strconv.Itoa(i))))
	}
	absent := make([]uint64, 1<<16)
	for i := range absent {
		absent[i] = filterHash(recordKey(nil, "desktops", "123456789012/us-east-1/wsx-"+strconv.Itoa(i)))
	}
	held := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if l.has(absent[i&(len(absent)-1)]) {
			held++
		}
	}
	b.ReportMetric(float64(held)/float64(b.N), "held/op")
}
