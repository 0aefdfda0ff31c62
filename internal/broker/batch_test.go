package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestBatchCommitsOrRollsBack: a batch's writes are visible inside it,
// committed together when its function succeeds, and all rolled back when
// it fails (an injected write failure included); the store's own
// transactions run inside the batch.
func TestBatchCommitsOrRollsBack(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	desk := func(id string) *Desktop {
		return &Desktop{ID: id, Pool: "eng", Name: "eng-" + id, Directory: "d-1", State: "AVAILABLE", StateSince: now, CreatedAt: now}
	}
	boom := errors.New("boom")
	err = st.Batch(ctx, func(bs *Store) error {
		if err := bs.PutDesktop(ctx, desk("ws-a")); err != nil {
			return err
		}
		if d, err := bs.Desktop(ctx, "ws-a"); err != nil || d == nil {
			t.Errorf("inside the batch: %v %v", d, err)
		}
		if ok, err := bs.Assign(ctx, "ws-a", "alice", now); err != nil || !ok { // a transaction of its own, in the batch
			t.Errorf("assign inside the batch: %v %v", ok, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("batch: %v", err)
	}
	if d, err := st.Desktop(ctx, "ws-a"); err != nil || d != nil {
		t.Fatalf("a failed batch left %+v (%v)", d, err)
	}
	fail := failNth(st, "INTO desktops", 2)
	err = st.Batch(ctx, func(bs *Store) error {
		for _, id := range []string{"ws-b", "ws-c"} {
			if err := bs.PutDesktop(ctx, desk(id)); err != nil {
				return err
			}
		}
		return nil
	})
	st.writeFault.Store(nil)
	if !errors.Is(err, errInjected) || fail() == "" {
		t.Fatalf("batch with a failed write: %v", err)
	}
	if d, err := st.Desktop(ctx, "ws-b"); err != nil || d != nil {
		t.Fatalf("a batch whose second write failed left its first: %+v (%v)", d, err)
	}
	err = st.Batch(ctx, func(bs *Store) error {
		for _, id := range []string{"ws-b", "ws-c"} {
			if err := bs.PutDesktop(ctx, desk(id)); err != nil {
				return err
			}
		}
		_, err := bs.Assign(ctx, "ws-c", "bob", now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.PoolDesktops(ctx, "eng")
	if err != nil || len(ds) != 2 {
		t.Fatalf("after a committed batch: %d desktops (%v)", len(ds), err)
	}
	if d, _ := st.Desktop(ctx, "ws-c"); d == nil || d.User != "bob" {
		t.Fatalf("the batch's assignment was not committed: %+v", d)
	}
}

// BenchmarkRecordWrites writes what a pass records when 1,000 desktops of a
// pool change state (the desktop and its usage interval closed), one
// commit per statement as before Batch, or all in one batch.
//
//	go test ./internal/broker -run '^$' -bench RecordWrites -benchtime 3x
func BenchmarkRecordWrites(b *testing.B) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	write := func(st *Store, i, round int) error {
		d := &Desktop{ID: fmt.Sprintf("ws-%04d", i), Pool: "eng", Name: fmt.Sprintf("eng-%04d", i), Directory: "d-1",
			State: []string{"AVAILABLE", "STOPPED"}[round%2], StateSince: now, CreatedAt: now}
		if err := st.PutDesktop(ctx, d); err != nil {
			return err
		}
		return st.CloseUsage(ctx, d.ID, now)
	}
	for _, mode := range []string{"each", "batch"} {
		b.Run(mode, func(b *testing.B) {
			st, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for round := 0; b.Loop(); round++ {
				if mode == "each" {
					for i := range 1000 {
						if err := write(st, i, round); err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				if err := st.Batch(ctx, func(bs *Store) error {
					for i := range 1000 {
						if err := write(bs, i, round); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
