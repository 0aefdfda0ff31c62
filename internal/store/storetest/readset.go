package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// valid reports rs.Valid inside an Update of db.
func valid(t *testing.T, db store.Backend, rs *store.ReadSet) bool {
	t.Helper()
	var ok bool
	update(t, db, func(tx store.Tx) error {
		var err error
		ok, err = rs.Valid(t.Context(), tx)
		return err
	})
	return ok
}

// testReadSetValidates: a read set is valid in a later transaction only
// while every record it read holds what it held (present or absent, in any
// table); it refuses anything but reads.
func testReadSetValidates(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "dirs", "d", `{"id":"d-1"}`)
	put(t, db, "bundles", "b", `{"id":"wsb-1"}`, "c", `{"id":"wsb-2"}`)
	plan := func() *store.ReadSet {
		rs := store.NewReadSet(db)
		if v, err := rs.Get(ctx, "dirs", "d"); err != nil || string(v) != `{"id":"d-1"}` {
			t.Fatalf("Get(d) = %q, %v", v, err)
		}
		got, err := rs.GetMany(ctx, "bundles", []string{"b", "c", "none"})
		if err != nil || len(got) != 2 {
			t.Fatalf("GetMany = %v, %v", got, err)
		}
		if _, err := rs.Get(ctx, "images", "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(absent) = %v", err)
		}
		if rs.Len() != 5 {
			t.Fatalf("Len = %d, want 5", rs.Len())
		}
		return rs
	}
	rs := plan()
	for name, err := range map[string]error{
		"Put":        rs.Put(ctx, "dirs", "d", nil),
		"Create":     rs.Create(ctx, "dirs", "e", nil),
		"Delete":     rs.Delete(ctx, "dirs", "d"),
		"Scan":       rs.Scan(ctx, "dirs", "", "", 0, func(string, []byte) error { return nil }),
		"Enqueue":    rs.Enqueue(ctx, store.Job{ID: "j"}),
		"PutMany":    rs.PutMany(ctx, "dirs", []store.KV{{Key: "d"}}),
		"CancelJob":  rs.CancelJob(ctx, "j"),
		"FinishJob":  rs.FinishJob(ctx, "j", "o"),
		"CreateMany": func() error { _, err := rs.CreateMany(ctx, "dirs", nil); return err }(),
		"Count":      func() error { _, err := rs.Count(ctx, "dirs", ""); return err }(),
	} {
		if !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("read set %s: %v, want ErrReadOnly", name, err)
		}
	}
	if !valid(t, db, rs) {
		t.Fatal("a read set whose records are unchanged is not valid")
	}
	put(t, db, "unrelated", "d", `{}`)
	put(t, db, "dirs", "other", `{}`)
	if !valid(t, db, rs) {
		t.Fatal("a write to records the set did not read made it invalid")
	}
	put(t, db, "bundles", "c", `{"id":"wsb-2","state":"ERROR"}`) // changed
	if valid(t, db, rs) {
		t.Fatal("a read set is valid after a record it read changed")
	}
	rs = plan()
	put(t, db, "bundles", "none", `{}`) // a record read absent appeared
	if valid(t, db, rs) {
		t.Fatal("a read set is valid after a record it found absent appeared")
	}
	update(t, db, func(tx store.Tx) error { return tx.Delete(ctx, "bundles", "none") })
	rs = plan()
	update(t, db, func(tx store.Tx) error { return tx.Delete(ctx, "dirs", "d") }) // gone
	if valid(t, db, rs) {
		t.Fatal("a read set is valid after a record it read was deleted")
	}
	// A record read twice with different values: the plan saw two versions.
	put(t, db, "dirs", "d", `{"id":"d-1"}`)
	rs = store.NewReadSet(db)
	rs.Get(ctx, "dirs", "d")
	put(t, db, "dirs", "d", `{"id":"d-2"}`)
	rs.Get(ctx, "dirs", "d")
	if valid(t, db, rs) {
		t.Fatal("a read set that saw two versions of a record is valid")
	}
	// A write in the same transaction before Valid counts.
	put(t, db, "dirs", "d", `{"id":"d-1"}`)
	rs = store.NewReadSet(db)
	rs.Get(ctx, "dirs", "d")
	errRollBack := errors.New("roll back")
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "dirs", "d", []byte(`{"id":"d-3"}`)); err != nil {
			return err
		}
		if ok, err := rs.Valid(ctx, tx); err != nil || ok {
			return fmt.Errorf("Valid after the transaction's own change = %v, %v", ok, err)
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
}

// testReadSetConcurrentWriter: of transactions that each plan a counter's
// increment ahead through a read set and apply it only when the set is
// still valid (planning again inside otherwise), none loses an increment.
func testReadSetConcurrentWriter(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "c", "n", "0")
	const workers, each = 4, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				rs := store.NewReadSet(db)
				planned, err := rs.Get(ctx, "c", "n")
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				err = db.Update(ctx, func(tx store.Tx) error {
					v := planned
					if ok, err := rs.Valid(ctx, tx); err != nil {
						return err
					} else if !ok {
						if v, err = tx.Get(ctx, "c", "n"); err != nil {
							return err
						}
					}
					var n int
					fmt.Sscan(string(v), &n)
					return tx.Put(ctx, "c", "n", []byte(fmt.Sprint(n+1)))
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if got := get(t, db, "c", "n"); got != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %s, want %d", got, workers*each)
	}
}

// testDecodedByVersion: a decoded record is served from the cache only for
// the bytes it was decoded from; a new version is decoded again.
func testDecodedByVersion(t *testing.T, db store.Backend) {
	ctx := t.Context()
	type rec struct{ V int }
	d := store.NewDecoded[rec](2)
	put(t, db, "t", "k", `{"V":1}`)
	read := func() *rec {
		t.Helper()
		b, err := db.Get(ctx, "t", "k")
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Decode("t", "k", b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := read()
	if b := read(); a.V != 1 || b != a {
		t.Fatalf("second read of an unchanged record: %+v (%p vs %p), want the cached decode", b, b, a)
	}
	put(t, db, "t", "k", `{"V":2}`)
	if b := read(); b.V != 2 {
		t.Fatalf("after a change: %+v, want V 2", b)
	}
	// Same key, another table: its own entry.
	if r, err := d.Decode("u", "k", []byte(`{"V":3}`)); err != nil || r.V != 3 {
		t.Fatalf("other table: %+v, %v", r, err)
	}
	if _, err := d.Decode("t", "bad", []byte(`{`)); err == nil {
		t.Fatal("a malformed record decoded")
	}
	if _, err := d.Decode("t", "empty", nil); err == nil {
		t.Fatal("an empty record decoded")
	}
	// Past its bound the cache starts over and still answers right.
	for i := 0; i < 5; i++ {
		k := fmt.Sprint("k", i)
		if r, err := d.Decode("t", k, []byte(fmt.Sprintf(`{"V":%d}`, i))); err != nil || r.V != i {
			t.Fatalf("%s: %+v, %v", k, r, err)
		}
	}
}
