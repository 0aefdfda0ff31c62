package sqlite_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// layoutBench opens a store holding n desktop-sized records (900 bytes,
// ordered keys, written 25 to an update as CreateWorkspaces does) and a
// name record for each, and returns it with the desktops' keys.
func layoutBench(b *testing.B, n int) (*sqlite.DB, []string) {
	b.Helper()
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "deskplane.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	v := bytes.Repeat([]byte("x"), 900)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("111122223333/us-east-1/ws-%09d", i)
	}
	for i := 0; i < n; i += 25 {
		err := db.Update(ctx, func(tx store.Tx) error {
			var recs, names []store.KV
			for j := i; j < i+25 && j < n; j++ {
				recs = append(recs, store.KV{Key: keys[j], Value: v})
				names = append(names, store.KV{Key: fmt.Sprintf("111122223333/us-east-1/name/u%d", (j*7919)%n), Value: []byte(keys[j])})
			}
			if _, err := tx.CreateMany(ctx, "ws_workspaces", recs); err != nil {
				return err
			}
			_, err := tx.CreateMany(ctx, "ws_names", names)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db, keys
}

// layoutRecords is the records the read benchmarks hold: 20,000, or
// DESKPLANE_LAYOUT_RECORDS.
func layoutRecords() int {
	if n, err := strconv.Atoi(os.Getenv("DESKPLANE_LAYOUT_RECORDS")); err == nil && n > 25 {
		return n
	}
	return 20000
}

// BenchmarkLayoutScanPage reads a page of 25 desktop records after a random
// key in a snapshot (DescribeWorkspaces by directory, the broker's pass).
func BenchmarkLayoutScanPage(b *testing.B) {
	db, keys := layoutBench(b, layoutRecords())
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		after := keys[rng.IntN(len(keys)-25)]
		got := 0
		err := db.View(ctx, func(tx store.Tx) error {
			return tx.Scan(ctx, "ws_workspaces", "111122223333/us-east-1/", after, 25, func(string, []byte) error {
				got++
				return nil
			})
		})
		if err != nil || got != 25 {
			b.Fatalf("scan: %d records, %v", got, err)
		}
	}
}

// BenchmarkLayoutGet reads one desktop record by key in a snapshot (no
// read cache: a reader's transaction goes to SQLite).
func BenchmarkLayoutGet(b *testing.B) {
	db, keys := layoutBench(b, layoutRecords())
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		k := keys[rng.IntN(len(keys))]
		err := db.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(ctx, "ws_workspaces", k)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLayoutCreate25 writes 25 desktop records and their names in one
// update (one fsynced commit) and reports the WAL bytes per record.
func BenchmarkLayoutCreate25(b *testing.B) {
	db, _ := layoutBench(b, 2000)
	ctx := b.Context()
	v := bytes.Repeat([]byte("y"), 760)
	pages0, err := db.WALPages(ctx)
	if err != nil {
		b.Fatal(err)
	}
	next := 0
	b.ResetTimer()
	for b.Loop() {
		err := db.Update(ctx, func(tx store.Tx) error {
			var recs, names []store.KV
			for j := 0; j < 25; j++ {
				k := fmt.Sprintf("111122223333/us-east-1/ws-1%08d", next)
				recs = append(recs, store.KV{Key: k, Value: v})
				names = append(names, store.KV{Key: fmt.Sprintf("111122223333/us-east-1/name/v%d", (next*7919)%1000003), Value: []byte(k)})
				next++
			}
			if _, err := tx.CreateMany(ctx, "ws_workspaces", recs); err != nil {
				return err
			}
			_, err := tx.CreateMany(ctx, "ws_names", names)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	pages1, err := db.WALPages(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(pages1-pages0)*4120/float64(next), "WAL-bytes/record")
}
