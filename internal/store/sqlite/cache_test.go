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
