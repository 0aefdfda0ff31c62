package broker

import (
	"context"
	"errors"
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
