package server

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store/pebble"
)

// TestFaultsSetSeenAtOnce: faults set on a node are what its next read
// returns, while other goroutines read them (every call reads them twice,
// without a lock) and set them; a second node over the same store reads
// them from the store. Run with -race.
func TestFaultsSetSeenAtOnce(t *testing.T) {
	ctx := context.Background()
	db, err := pebble.Open(ctx, filepath.Join(t.TempDir(), "db"), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := NewFaults(db)
	if c, err := f.Get(ctx); err != nil || len(c.RegionOutages) != 0 {
		t.Fatalf("no faults set: %v, %v", c, err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f.RegionOutage(ctx, "us-east-1")
				f.Throttled(ctx, "workspaces", "DescribeWorkspaces", "111122223333")
			}
		}()
	}
	for i, kind := range []string{"error", "throttle", "error", "throttle"} {
		if err := f.Set(ctx, config.Faults{RegionOutages: map[string]string{"us-east-1": kind}, Throttle: []string{"Op" + string(rune('A'+i))}}); err != nil {
			t.Fatal(err)
		}
		if got := f.RegionOutage(ctx, "us-east-1"); got != kind {
			t.Fatalf("set %q, read %q", kind, got)
		}
		if !f.Throttled(ctx, "workspaces", "Op"+string(rune('A'+i)), "111122223333") {
			t.Fatalf("set throttle of Op%c, not throttled", 'A'+i)
		}
	}
	close(stop)
	wg.Wait()
	if got := NewFaults(db).RegionOutage(ctx, "us-east-1"); got != "throttle" {
		t.Fatalf("another node read %q", got)
	}
}

// BenchmarkFaultsGet is a call's two readings of the faults (region
// outages, throttling), from every P at once.
func BenchmarkFaultsGet(b *testing.B) {
	ctx := context.Background()
	db, err := pebble.Open(ctx, filepath.Join(b.TempDir(), "db"), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	f := NewFaults(db)
	f.Get(ctx)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.RegionOutage(ctx, "us-east-1")
			f.Throttled(ctx, "workspaces", "DescribeWorkspaces", "111122223333")
		}
	})
}
