package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// TestUpdateEachRunsInOrderAndFailsAlone: UpdateEach applies its functions
// in order (each sees the ones before), a failing one rolls back only its
// own changes, and every success is durable: it reads back after the store
// is reopened.
func TestUpdateEachRunsInOrderAndFailsAlone(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "deskplane.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	const n = 300 // more than one group (maxGroup is 128)
	var fns []func(store.Tx) error
	for i := range n {
		fns = append(fns, func(tx store.Tx) error {
			// Each function increments the counter the previous one wrote.
			c := 0
			if v, err := tx.Get(ctx, "t", "counter"); err == nil {
				c, _ = strconv.Atoi(string(v))
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.Put(ctx, "t", "counter", []byte(strconv.Itoa(c+1))); err != nil {
				return err
			}
			if err := tx.Put(ctx, "t", fmt.Sprintf("k%03d", i), []byte(strconv.Itoa(c))); err != nil {
				return err
			}
			if i%10 == 9 {
				return boom // rolled back: its writes vanish, the next one sees c
			}
			return nil
		})
	}
	errs := db.UpdateEach(ctx, fns)
	if len(errs) != n {
		t.Fatalf("%d errors for %d functions", len(errs), n)
	}
	for i, err := range errs {
		if want := i%10 == 9; want != errors.Is(err, boom) || (!want && err != nil) {
			t.Fatalf("function %d: error %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	want := 0
	for i := range n {
		v, err := db.Get(ctx, "t", fmt.Sprintf("k%03d", i))
		if i%10 == 9 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("k%03d of a failed function: %q, %v; want not found", i, v, err)
			}
			continue
		}
		if err != nil || string(v) != strconv.Itoa(want) {
			t.Fatalf("k%03d = %q, %v; want %d (the functions in order)", i, v, err, want)
		}
		want++
	}
	if v, err := db.Get(ctx, "t", "counter"); err != nil || string(v) != strconv.Itoa(want) {
		t.Fatalf("counter = %q, %v; want %d", v, err, want)
	}
}

// TestUpdateEachAfterCancel: functions not yet queued when the context ends
// report its error and run not at all.
func TestUpdateEachAfterCancel(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "deskplane.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	errs := db.UpdateEach(ctx, []func(store.Tx) error{func(store.Tx) error { ran = true; return nil }})
	if !errors.Is(errs[0], context.Canceled) || ran {
		t.Fatalf("after cancel: %v, ran %v", errs[0], ran)
	}
}
