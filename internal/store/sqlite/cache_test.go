package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
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
		return &writeReq{ctx: context.Background(), fn: fn, done: make(chan error, 1)}
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
		if err := <-r.done; (i == 2) != errors.Is(err, errBoom) || (i != 2 && err != nil) {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if sawA != "new" || sawMany != "new,old" {
		t.Fatalf("inside the group: Get a = %q, GetMany a,b = %q; want new and new,old", sawA, sawMany)
	}
	want := map[string]string{"a": "new", "b": "old"}
	for k, w := range want {
		v, ok, _ := db.cache.get("t\x00" + k)
		if ok && string(v) != w {
			t.Fatalf("cache holds %s = %q, want %q", k, v, w)
		}
		if got, err := db.Get(ctx, "t", k); err != nil || string(got) != w {
			t.Fatalf("get %s after the group: %q %v", k, got, err)
		}
	}
	if v, ok, _ := db.cache.get("t\x00a"); !ok || string(v) != "new" {
		t.Fatalf("the committed write of a is not cached: %q %v", v, ok)
	}
	if _, ok, _ := db.cache.get("t\x00c"); ok {
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

// TestReadCacheBounds: the cache holds at most its entries and bytes (it
// starts over past either), counts replaced and dropped values right, and
// a write leaves no large value in it.
func TestReadCacheBounds(t *testing.T) {
	c := newReadCache(4, 100)
	total := func() int {
		n := 0
		for k, v := range c.m {
			n += len(k) + len(v)
		}
		return n
	}
	c.put("a", make([]byte, 30))
	c.put("b", make([]byte, 30))
	c.put("a", make([]byte, 10)) // replaced: 11 + 31
	if c.bytes != total() || c.bytes != 42 {
		t.Fatalf("bytes %d, held %d, want 42", c.bytes, total())
	}
	c.del("b")
	if c.bytes != 11 || len(c.m) != 1 {
		t.Fatalf("after a drop: bytes %d, %d entries", c.bytes, len(c.m))
	}
	c.put("c", make([]byte, 95)) // 11 + 96 > 100: starts over
	if _, ok := c.m["a"]; ok || c.bytes != 96 || total() != 96 {
		t.Fatalf("past the byte bound: %d entries, bytes %d", len(c.m), c.bytes)
	}
	c = newReadCache(2, 1<<20)
	for _, k := range []string{"x", "y", "z"} {
		c.put(k, []byte("v"))
	}
	if len(c.m) != 1 || c.bytes != total() {
		t.Fatalf("past the entry bound: %d entries, bytes %d", len(c.m), c.bytes)
	}
	// A committed write of a large value drops the key instead of caching it.
	c = newReadCache(10, 1<<20)
	c.put("t\x00big", []byte("old"))
	w := &writeReq{tx: &tx{written: map[string][]byte{"t\x00big": make([]byte, maxWrittenValue+1), "t\x00small": []byte("s")}}}
	c.update([]*writeReq{w}, true)
	if _, ok := c.m["t\x00big"]; ok {
		t.Fatal("a large written value is cached")
	}
	if v := c.m["t\x00small"]; string(v) != "s" || c.bytes != total() {
		t.Fatalf("small written value %q, bytes %d / %d", v, c.bytes, total())
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
	if v, ok, _ := db.cache.get("t\x00k"); !ok || v != nil {
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
	db.cache.mu.Lock()
	db.cache.del("t\x00e") // read it back from the database
	db.cache.mu.Unlock()
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
	v, ok, _ := db.cache.get("t\x00big")
	if !ok || string(v) != "small value" || cap(v) != len(v) || &v[0] == &big[0] {
		t.Fatalf("cached %q (cap %d, copied %v): want a compact copy", v, cap(v), ok && &v[0] != &big[0])
	}
	v, ok, _ = db.cache.get("t\x00exact")
	if !ok || string(v) != "exact" || cap(v) != len(v) {
		t.Fatalf("cached %q (cap %d)", v, cap(v))
	}
}
