package sqlite

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// A panic in the writer outside any update function (a bug in the group
// commit) fails that group, rolled back, and the writer goes on with the
// next one; a panicking update function fails only its own update.
func TestWriterSurvivesPanics(t *testing.T) {
	var groups atomic.Int32
	testHookGroup = func(batch []*writeReq) {
		if groups.Add(1) == 1 {
			panic("a bug in the group commit")
		}
	}
	t.Cleanup(func() { testHookGroup = nil })
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "deskplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	put := func(k string) error {
		return db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(k)) })
	}
	if err := put("first"); err == nil || !strings.Contains(err.Error(), "a bug in the group commit") {
		t.Fatalf("Update in the panicking group = %v, want its failure", err)
	}
	if _, err := db.Get(ctx, "t", "first"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed group's write is visible: %v", err)
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "half", []byte("x")); err != nil {
			return err
		}
		panic("a bug in an update")
	})
	if err == nil || !strings.Contains(err.Error(), "a bug in an update") {
		t.Fatalf("panicking Update = %v", err)
	}
	if err := put("second"); err != nil {
		t.Fatalf("the writer stopped after the panics: %v", err)
	}
	if v, err := db.Get(ctx, "t", "second"); err != nil || string(v) != "second" {
		t.Errorf("Get(second) = %q, %v", v, err)
	}
	if _, err := db.Get(ctx, "t", "half"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the panicking update's write is visible: %v", err)
	}
}
