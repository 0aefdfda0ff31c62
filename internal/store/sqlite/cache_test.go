package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/group"
)

// TestWriterCacheWithinAGroup drives one write group by hand (the writer
// goroutine sits idle meanwhile): an update reads what an earlier update of
// its group wrote, never the cached committed value; a rolled-back update's
// writes never reach the cache; after the commit the cache holds what the
// group left, for readers and for the writer's next group.
func TestWriterCacheWithinAGroup(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(k, v string) func(store.Tx) error {
		return func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(v)) }
	}
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := put("a", "old")(tx); err != nil {
			return err
		}
		return put("b", "old")(tx)
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} { // both cached as committed
		if v, err := db.Get(ctx, "t", k); err != nil || string(v) != "old" {
			t.Fatalf("get %s: %q %v", k, v, err)
		}
	}
	errBoom := errors.New("boom")
	var sawA, sawMany string
	req := func(fn func(store.Tx) error) *writeReq {
		return group.NewReq[*tx](context.Background(), fn)
	}
	batch := []*writeReq{
		req(put("a", "new")),
		req(func(tx store.Tx) error {
			v, err := tx.Get(ctx, "t", "a")
			sawA = string(v)
			if err != nil {
				return err
			}
			m, err := tx.GetMany(ctx, "t", []string{"a", "b"})
			sawMany = string(m["a"]) + "," + string(m["b"])
			return err
		}),
		req(func(tx store.Tx) error { // rolled back: b stays old
			if err := put("b", "rolled back")(tx); err != nil {
				return err
			}
			return errBoom
		}),
		req(func(tx store.Tx) error { // created, then deleted: not cached
			if err := tx.Create(ctx, "t", "c", []byte("c")); err != nil {
				return err
			}
			return tx.Delete(ctx, "t", "c")
		}),
	}
	db.commitGroup(batch)
	for i, r := range batch {
		if err := <-r.Done; (i == 2) != errors.Is(err, errBoom) || (i != 2 && err != nil) {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if sawA != "new" || sawMany != "new,old" {
		t.Fatalf("inside the group: Get a = %q, GetMany a,b = %q; want new and new,old", sawA, sawMany)
	}
	want := map[string]string{"a": "new", "b": "old"}
	for k, w := range want {
		v, ok, _ := db.cache.Get("t\x00" + k)
		if ok && string(v) != w {
			t.Fatalf("cache holds %s = %q, want %q", k, v, w)
		}
		if got, err := db.Get(ctx, "t", k); err != nil || string(got) != w {
			t.Fatalf("get %s after the group: %q %v", k, got, err)
		}
	}
	if v, ok, _ := db.cache.Get("t\x00a"); !ok || string(v) != "new" {
		t.Fatalf("the committed write of a is not cached: %q %v", v, ok)
	}
	if _, ok, _ := db.cache.Get("t\x00c"); ok {
		t.Fatal("a deleted record is cached")
	}
	if _, err := db.Get(ctx, "t", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get c: %v", err)
	}
	// The next group reads a from the cache and b as committed.
	if err := db.Update(ctx, func(tx store.Tx) error {
		m, err := tx.GetMany(ctx, "t", []string{"a", "b", "c"})
		if err != nil {
			return err
		}
		if len(m) != 2 || string(m["a"]) != "new" || string(m["b"]) != "old" {
			t.Errorf("next group reads %q", m)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAbsentRecordsCached: Get remembers a key it found absent, so asking
// again costs no statement; a write group that creates, replaces or
// deletes the key brings the cache up to date for readers and the writer.
func TestAbsentRecordsCached(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Get(ctx, "t", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of an absent key: %v", err)
	}
	if v, ok, _ := db.cache.Get("t\x00k"); !ok || v != nil {
		t.Fatalf("the absent key is not cached as absent: %q %v", v, ok)
	}
	if _, err := db.Get(ctx, "t", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second get of an absent key: %v", err)
	}
	// The writer reads the cached absence as absent.
	if err := db.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, "t", "k"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("writer get of an absent key: %v", err)
		}
		if m, err := tx.GetMany(ctx, "t", []string{"k"}); err != nil || len(m) != 0 {
			t.Errorf("writer GetMany of an absent key: %q %v", m, err)
		}
		return tx.Create(ctx, "t", "k", []byte("v1"))
	}); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get(ctx, "t", "k"); err != nil || string(v) != "v1" {
		t.Fatalf("get after create: %q %v", v, err)
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "t", "k") }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, "t", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	// An empty record is present, not absent.
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "e", []byte{}) }); err != nil {
		t.Fatal(err)
	}
	db.cache.Drop("t\x00e") // read it back from the database
	for range 2 {
		if v, err := db.Get(ctx, "t", "e"); err != nil || len(v) != 0 {
			t.Fatalf("get of an empty record: %q %v", v, err)
		}
	}
}

// TestWrittenValuesCachedCompact: a value written from a buffer much larger
// than itself is cached as a compact copy (the cache's byte bound counts
// what it holds), and any cached value has no room to append into.
func TestWrittenValuesCachedCompact(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	big := append(make([]byte, 0, 64<<10), "small value"...)
	exact := []byte("exact")
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "big", big); err != nil {
			return err
		}
		return tx.Put(ctx, "t", "exact", exact)
	}); err != nil {
		t.Fatal(err)
	}
	v, ok, _ := db.cache.Get("t\x00big")
	if !ok || string(v) != "small value" || cap(v) != len(v) || &v[0] == &big[0] {
		t.Fatalf("cached %q (cap %d, copied %v): want a compact copy", v, cap(v), ok && &v[0] != &big[0])
	}
	v, ok, _ = db.cache.Get("t\x00exact")
	if !ok || string(v) != "exact" || cap(v) != len(v) {
		t.Fatalf("cached %q (cap %d)", v, cap(v))
	}
}
