package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/group"
)

// TestGroupRunsWithoutSavepointsUntilAnUpdateFails drives write groups by
// hand: a group whose updates all succeed runs each once, without
// savepoints; a group with a failing update is rolled back and run again
// with a savepoint per update, so the failing update's writes vanish and
// the others' (and what they read of one another) stay; the groups after
// it take savepoints from the start, until guardedGroups have passed.
func TestGroupRunsWithoutSavepointsUntilAnUpdateFails(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type run struct {
		fn        int
		savepoint bool
	}
	var runs []run
	index := map[*writeReq]int{}
	testHookRun = func(r *writeReq, savepoint bool) { runs = append(runs, run{index[r], savepoint}) }
	t.Cleanup(func() { testHookRun = nil })
	group := func(fns ...func(store.Tx) error) []error {
		t.Helper()
		runs = runs[:0]
		batch := make([]*writeReq, len(fns))
		for i, fn := range fns {
			batch[i] = group.NewReq[*tx](context.Background(), fn)
			index[batch[i]] = i
		}
		db.commitGroup(batch)
		errs := make([]error, len(batch))
		for i, r := range batch {
			errs[i] = <-r.Done
		}
		return errs
	}
	put := func(k, v string) func(store.Tx) error {
		return func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(v)) }
	}
	get := func(k string) string {
		t.Helper()
		v, err := db.Get(ctx, "t", k)
		if errors.Is(err, store.ErrNotFound) {
			return "<absent>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	sameRuns := func(want ...run) {
		t.Helper()
		if len(runs) != len(want) {
			t.Fatalf("runs %v, want %v", runs, want)
		}
		for i := range want {
			if runs[i] != want[i] {
				t.Fatalf("runs %v, want %v", runs, want)
			}
		}
	}

	for i, err := range group(put("a", "1"), put("b", "1"), put("c", "1")) {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	sameRuns(run{0, false}, run{1, false}, run{2, false})
	if got := get("a") + get("b") + get("c"); got != "111" {
		t.Fatalf("after the first group: %s", got)
	}

	boom := errors.New("boom")
	errs := group(
		put("a", "2"),
		func(tx store.Tx) error { // fails: its write of b vanishes
			if err := tx.Put(ctx, "t", "b", []byte("2")); err != nil {
				return err
			}
			return boom
		},
		func(tx store.Tx) error { // reads the first update's a
			v, err := tx.Get(ctx, "t", "a")
			if err != nil {
				return err
			}
			return tx.Put(ctx, "t", "c", append([]byte("after "), v...))
		},
	)
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("second group: %v", errs)
	}
	sameRuns(run{0, false}, run{1, false}, run{2, false}, run{0, true}, run{1, true}, run{2, true})
	if got := get("a") + " " + get("b") + " " + get("c"); got != "2 1 after 2" {
		t.Fatalf("after the failed update's group: %s, want 2 1 after 2", got)
	}
	if db.guarded != guardedGroups {
		t.Fatalf("guarded %d after a failure, want %d", db.guarded, guardedGroups)
	}

	// The next groups take savepoints from the start: a failure costs no
	// second run.
	errs = group(put("d", "1"), func(store.Tx) error { return boom })
	if errs[0] != nil || !errors.Is(errs[1], boom) {
		t.Fatalf("guarded group: %v", errs)
	}
	sameRuns(run{0, true}, run{1, true})
	if get("d") != "1" {
		t.Fatal("the guarded group's update was not committed")
	}
	db.guarded = 1 // the last guarded group
	group(put("e", "1"), put("f", "1"))
	sameRuns(run{0, true}, run{1, true})
	group(put("e", "2"), put("f", "2"))
	sameRuns(run{0, false}, run{1, false})
	if got := get("e") + get("f"); got != "22" {
		t.Fatalf("after the last group: %s", got)
	}
	// A group of one never takes a savepoint.
	db.guarded = guardedGroups
	if errs := group(func(store.Tx) error { return boom }); !errors.Is(errs[0], boom) {
		t.Fatalf("group of one: %v", errs)
	}
	sameRuns(run{0, false})
}
