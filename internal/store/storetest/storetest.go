// Package storetest is the conformance suite of store.Backend. Every backend
// runs the same tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Backend { ... })
//	}
//
// Time is data here: tests pass explicit now values derived from a fixed
// instant and never sleep.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// t0 is the base instant of every job test.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Run runs the conformance suite. open must return a fresh, empty backend
// for each call (one per subtest) and arrange for it to be closed when the
// subtest ends (t.Cleanup). Subtests run in parallel with one another.
func Run(t *testing.T, open func(t *testing.T) store.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db store.Backend)
	}{
		{"GetPut", testGetPut},
		{"Create", testCreate},
		{"Delete", testDelete},
		{"Batches", testBatches},
		{"BatchesReadYourWrites", testBatchesReadYourWrites},
		{"Tables", testTables},
		{"ScanOrderAndPrefix", testScanOrderAndPrefix},
		{"ScanAfterAndLimit", testScanAfterAndLimit},
		{"ScanStopAndErrors", testScanStopAndErrors},
		{"ScanHighBytes", testScanHighBytes},
		{"ScanMultibyteUTF8", testScanMultibyteUTF8},
		{"ScanLarge", testScanLarge},
		{"ScanCallbackUsesTx", testScanCallbackUsesTx},
		{"Count", testCount},
		{"UpdateRollback", testUpdateRollback},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"UpdateCanceledContext", testUpdateCanceledContext},
		{"ViewSnapshot", testViewSnapshot},
		{"GetOutsideTransaction", testGetOutsideTransaction},
		{"PutManyUncached", testPutManyUncached},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentIncrementsAbsentKey", testConcurrentIncrementsAbsentKey},
		{"EnqueueReplaces", testEnqueueReplaces},
		{"ClaimDueOrderLimit", testClaimDueOrderLimit},
		{"ClaimLeaseExpiry", testClaimLeaseExpiry},
		{"FinishJob", testFinishJob},
		{"FinishJobStaleOwnerRollsBack", testFinishJobStaleOwnerRollsBack},
		{"CancelJob", testCancelJob},
		{"Release", testRelease},
		{"ReleaseCountsAttempts", testReleaseCountsAttempts},
		{"Park", testPark},
		{"ListJobs", testListJobs},
		{"NextDue", testNextDue},
		{"ExactlyOnce", testExactlyOnce},
		{"ReadSetValidates", testReadSetValidates},
		{"ReadSetConcurrentWriter", testReadSetConcurrentWriter},
		{"DecodedByVersion", testDecodedByVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// --- helpers ---

func update(t *testing.T, db store.Backend, fn func(tx store.Tx) error) {
	t.Helper()
	if err := db.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, db store.Backend, fn func(tx store.Tx) error) {
	t.Helper()
	if err := db.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func put(t *testing.T, db store.Backend, table string, kv ...string) {
	t.Helper()
	update(t, db, func(tx store.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Put(t.Context(), table, kv[i], []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

// get returns the value of table/key, or "<nil>" when it does not exist.
func get(t *testing.T, db store.Backend, table, key string) string {
	t.Helper()
	var out string
	view(t, db, func(tx store.Tx) error {
		v, err := tx.Get(t.Context(), table, key)
		if errors.Is(err, store.ErrNotFound) {
			out = "<nil>"
			return nil
		}
		out = string(v)
		return err
	})
	return out
}

func scan(t *testing.T, db store.Backend, table, prefix, after string, limit int) []string {
	t.Helper()
	keys := []string{}
	view(t, db, func(tx store.Tx) error {
		return tx.Scan(t.Context(), table, prefix, after, limit, func(k string, v []byte) error {
			keys = append(keys, k)
			return nil
		})
	})
	return keys
}

func count(t *testing.T, db store.Backend, table, prefix string) int {
	t.Helper()
	var n int
	view(t, db, func(tx store.Tx) error {
		var err error
		n, err = tx.Count(t.Context(), table, prefix)
		return err
	})
	return n
}

func enqueue(t *testing.T, db store.Backend, jobs ...store.Job) {
	t.Helper()
	update(t, db, func(tx store.Tx) error {
		for _, j := range jobs {
			if err := tx.Enqueue(t.Context(), j); err != nil {
				return err
			}
		}
		return nil
	})
}

func claim(t *testing.T, db store.Backend, owner string, now time.Time, lease time.Duration, limit int) []store.Claimed {
	t.Helper()
	c, err := db.Claim(t.Context(), owner, now, lease, limit)
	if err != nil {
		t.Fatalf("Claim(%s, %v): %v", owner, now, err)
	}
	return c
}

func ids(cs []store.Claimed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func finish(ctx context.Context, db store.Backend, id, owner string) error {
	return db.Update(ctx, func(tx store.Tx) error { return tx.FinishJob(ctx, id, owner) })
}

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// --- records ---

func testGetPut(t *testing.T, db store.Backend) {
	ctx := t.Context()
	view(t, db, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, "t", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		return nil
	})
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	update(t, db, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "k", []byte(`{"v":1}`)); err != nil {
			return err
		}
		if err := tx.Put(ctx, "other", "k", []byte(`{"other":true}`)); err != nil {
			return err
		}
		return tx.Put(ctx, "t", "bin", binary)
	})
	if got := get(t, db, "t", "k"); got != `{"v":1}` {
		t.Errorf("Get = %q, want {\"v\":1}", got)
	}
	if got := get(t, db, "other", "k"); got != `{"other":true}` {
		t.Errorf("Get(other table) = %q", got)
	}
	if got := get(t, db, "t", "bin"); got != string(binary) {
		t.Errorf("binary value not preserved: %x", got)
	}
	put(t, db, "t", "k", `{"v":2}`)
	if got := get(t, db, "t", "k"); got != `{"v":2}` {
		t.Errorf("Get after replace = %q, want {\"v\":2}", got)
	}
	if got := get(t, db, "u", "k"); got != "<nil>" {
		t.Errorf("Get(table u) = %q, want not found", got)
	}
}

func testCreate(t *testing.T, db store.Backend) {
	ctx := t.Context()
	update(t, db, func(tx store.Tx) error { return tx.Create(ctx, "t", "k", []byte("first")) })
	err := db.Update(ctx, func(tx store.Tx) error { return tx.Create(ctx, "t", "k", []byte("second")) })
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if got := get(t, db, "t", "k"); got != "first" {
		t.Errorf("value after failed Create = %q, want first", got)
	}
	// Same key in another table is a different record.
	update(t, db, func(tx store.Tx) error { return tx.Create(ctx, "t2", "k", []byte("x")) })
	// Create after Delete in the same transaction works.
	update(t, db, func(tx store.Tx) error {
		if err := tx.Delete(ctx, "t", "k"); err != nil {
			return err
		}
		return tx.Create(ctx, "t", "k", []byte("third"))
	})
	if got := get(t, db, "t", "k"); got != "third" {
		t.Errorf("value = %q, want third", got)
	}
}

// testBatches: GetMany, PutMany and CreateMany over sizes that take several
// statements (1, 25, 100 and 130 records), duplicates, other tables and keys
// that exist.
func testBatches(t *testing.T, db store.Backend) {
	ctx := t.Context()
	// Without repeats, only the last key existing (the first statements of
	// the batch succeed before one finds it): that key is refused and left
	// as it was, every other record is created.
	for _, n := range []int{25, 130} {
		table := fmt.Sprintf("last%d", n)
		recs := make([]store.KV, n)
		for i := range recs {
			recs[i] = store.KV{Key: fmt.Sprintf("k/%04d", i), Value: []byte(fmt.Sprintf("v%d", i))}
		}
		last := recs[n-1].Key
		put(t, db, table, last, "old")
		var existing []string
		update(t, db, func(tx store.Tx) error {
			var err error
			existing, err = tx.CreateMany(ctx, table, recs)
			return err
		})
		if fmt.Sprint(existing) != fmt.Sprint([]string{last}) {
			t.Fatalf("n=%d: CreateMany existing = %v, want [%s]", n, existing, last)
		}
		view(t, db, func(tx store.Tx) error {
			for i, r := range recs {
				v, err := tx.Get(ctx, table, r.Key)
				want := string(r.Value)
				if i == n-1 {
					want = "old"
				}
				if err != nil || string(v) != want {
					t.Fatalf("n=%d: %s = %q %v, want %q", n, r.Key, v, err, want)
				}
			}
			return nil
		})
	}
	for _, n := range []int{1, 25, 100, 130} {
		table := fmt.Sprintf("b%d", n)
		recs := make([]store.KV, n)
		keys := make([]string, n)
		for i := range recs {
			keys[i] = fmt.Sprintf("k/%04d", i)
			recs[i] = store.KV{Key: keys[i], Value: []byte(fmt.Sprintf("v%d", i))}
		}
		put(t, db, "other", keys[0], "not this table")
		// Half of them exist before CreateMany (every even key).
		update(t, db, func(tx store.Tx) error {
			for i := 0; i < n; i += 2 {
				if err := tx.Put(ctx, table, keys[i], []byte("old")); err != nil {
					return err
				}
			}
			return nil
		})
		withDup := append(append([]store.KV{}, recs...), store.KV{Key: keys[n-1], Value: []byte("dup")})
		var existing []string
		update(t, db, func(tx store.Tx) error {
			var err error
			existing, err = tx.CreateMany(ctx, table, withDup)
			return err
		})
		var want []string
		for i := 0; i < n; i += 2 {
			want = append(want, keys[i])
		}
		want = append(want, keys[n-1]) // the repeat
		if fmt.Sprint(existing) != fmt.Sprint(want) {
			t.Fatalf("n=%d: CreateMany existing = %v, want %v", n, existing, want)
		}
		var got map[string][]byte
		view(t, db, func(tx store.Tx) error {
			var err error
			got, err = tx.GetMany(ctx, table, append(keys, "absent"))
			return err
		})
		if len(got) != n {
			t.Fatalf("n=%d: GetMany found %d records, want %d", n, len(got), n)
		}
		for i, k := range keys {
			w := fmt.Sprintf("v%d", i)
			if i%2 == 0 {
				w = "old" // CreateMany left it as it was
			}
			if string(got[k]) != w {
				t.Fatalf("n=%d: %s = %q, want %q", n, k, got[k], w)
			}
		}
		// PutMany replaces and creates; of repeated keys the last wins.
		upd := []store.KV{{Key: keys[0], Value: []byte("a")}, {Key: "new", Value: []byte("b")}, {Key: keys[0], Value: []byte("c")}}
		update(t, db, func(tx store.Tx) error { return tx.PutMany(ctx, table, upd) })
		if a, b := get(t, db, table, keys[0]), get(t, db, table, "new"); a != "c" || b != "b" {
			t.Fatalf("n=%d: after PutMany %q %q, want c b", n, a, b)
		}
		if o := get(t, db, "other", keys[0]); o != "not this table" {
			t.Fatalf("another table changed: %q", o)
		}
	}
	// A failing update takes its batch writes back.
	err := db.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateMany(ctx, "rb", []store.KV{{Key: "x", Value: []byte("1")}}); err != nil {
			return err
		}
		if err := tx.PutMany(ctx, "rb", []store.KV{{Key: "y", Value: []byte("2")}}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if err == nil || count(t, db, "rb", "") != 0 {
		t.Fatalf("rolled-back batch: err %v, %d records left", err, count(t, db, "rb", ""))
	}
}

// testBatchesReadYourWrites: records written by a batch are read back by
// Get and Scan in the same transaction and by Get outside it after commit.
func testBatchesReadYourWrites(t *testing.T, db store.Backend) {
	ctx := t.Context()
	update(t, db, func(tx store.Tx) error {
		if _, err := tx.CreateMany(ctx, "ry", []store.KV{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}); err != nil {
			return err
		}
		if v, err := tx.Get(ctx, "ry", "b"); err != nil || string(v) != "2" {
			return fmt.Errorf("Get after CreateMany: %q %v", v, err)
		}
		if err := tx.PutMany(ctx, "ry", []store.KV{{Key: "a", Value: []byte("3")}}); err != nil {
			return err
		}
		m, err := tx.GetMany(ctx, "ry", []string{"a", "b"})
		if err != nil || string(m["a"]) != "3" || string(m["b"]) != "2" {
			return fmt.Errorf("GetMany after PutMany: %q %v", m, err)
		}
		return nil
	})
	// Get outside a transaction (a read cache, where the backend has one)
	// sees the batch's writes.
	if v, err := db.Get(ctx, "ry", "a"); err != nil || string(v) != "3" {
		t.Fatalf("Get after the batch: %q %v", v, err)
	}
	update(t, db, func(tx store.Tx) error { return tx.PutMany(ctx, "ry", []store.KV{{Key: "a", Value: []byte("4")}}) })
	if v, err := db.Get(ctx, "ry", "a"); err != nil || string(v) != "4" {
		t.Fatalf("Get after a second batch: %q %v", v, err)
	}
}

func testDelete(t *testing.T, db store.Backend) {
	ctx := t.Context()
	err := db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "t", "k") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete(missing) = %v, want ErrNotFound", err)
	}
	put(t, db, "t", "k", "v", "k2", "v2")
	update(t, db, func(tx store.Tx) error { return tx.Delete(ctx, "t", "k") })
	if got := get(t, db, "t", "k"); got != "<nil>" {
		t.Errorf("Get after Delete = %q, want not found", got)
	}
	if got := get(t, db, "t", "k2"); got != "v2" {
		t.Errorf("Delete removed a neighbour: k2 = %q", got)
	}
	err = db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "t", "k") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

func testScanOrderAndPrefix(t *testing.T, db store.Backend) {
	put(t, db, "t",
		"acct1/us-east-1/ws-b", "1", "acct1/us-east-1/ws-a", "2", "acct1/us-east-1/ws-10", "3",
		"acct1/us-east-1/ws-2", "4", "acct1/us-west-2/ws-a", "5", "acct10/us-east-1/ws-a", "6",
		"acct1/us-east-1", "7", "Acct1/us-east-1/x", "8", "acct1/us-east-1/", "9")
	put(t, db, "t2", "acct1/us-east-1/ws-0", "x") // other table: never listed
	want := []string{"acct1/us-east-1/", "acct1/us-east-1/ws-10", "acct1/us-east-1/ws-2", "acct1/us-east-1/ws-a", "acct1/us-east-1/ws-b"}
	if got := scan(t, db, "t", "acct1/us-east-1/", "", 0); !slices.Equal(got, want) {
		t.Errorf("Scan(acct1/us-east-1/) = %q\nwant %q", got, want)
	}
	all := []string{"Acct1/us-east-1/x", "acct1/us-east-1", "acct1/us-east-1/", "acct1/us-east-1/ws-10",
		"acct1/us-east-1/ws-2", "acct1/us-east-1/ws-a", "acct1/us-east-1/ws-b", "acct1/us-west-2/ws-a", "acct10/us-east-1/ws-a"}
	if got := scan(t, db, "t", "", "", 0); !slices.Equal(got, all) {
		t.Errorf("Scan(\"\") = %q\nwant %q (byte order)", got, all)
	}
	if got := scan(t, db, "t", "acct1/", "", 0); !slices.Equal(got, all[1:8]) {
		t.Errorf("Scan(acct1/) = %q\nwant %q", got, all[1:8])
	}
	if got := scan(t, db, "t", "zzz", "", 0); len(got) != 0 {
		t.Errorf("Scan(zzz) = %q, want none", got)
	}
	// Values arrive with their keys.
	view(t, db, func(tx store.Tx) error {
		return tx.Scan(t.Context(), "t", "acct1/us-east-1/ws-", "", 0, func(k string, v []byte) error {
			want := map[string]string{"acct1/us-east-1/ws-b": "1", "acct1/us-east-1/ws-a": "2", "acct1/us-east-1/ws-10": "3", "acct1/us-east-1/ws-2": "4"}[k]
			if string(v) != want {
				t.Errorf("Scan value of %s = %q, want %q", k, v, want)
			}
			return nil
		})
	})
}

func testScanAfterAndLimit(t *testing.T, db store.Backend) {
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("p/%02d", i))
	}
	for _, k := range keys {
		put(t, db, "t", k, "v")
	}
	put(t, db, "t", "o/1", "v", "q/1", "v")
	if got := scan(t, db, "t", "p/", "p/03", 0); !slices.Equal(got, keys[4:]) {
		t.Errorf("Scan after p/03 = %q, want %q", got, keys[4:])
	}
	if got := scan(t, db, "t", "p/", "p/035", 0); !slices.Equal(got, keys[4:]) {
		t.Errorf("Scan after p/035 (not a key) = %q, want %q", got, keys[4:])
	}
	if got := scan(t, db, "t", "p/", "", 3); !slices.Equal(got, keys[:3]) {
		t.Errorf("Scan limit 3 = %q, want %q", got, keys[:3])
	}
	if got := scan(t, db, "t", "p/", "p/05", 2); !slices.Equal(got, keys[6:8]) {
		t.Errorf("Scan after p/05 limit 2 = %q, want %q", got, keys[6:8])
	}
	// after before the prefix range: whole range; after past it: nothing.
	if got := scan(t, db, "t", "p/", "a", 0); !slices.Equal(got, keys) {
		t.Errorf("Scan after a = %q, want %q", got, keys)
	}
	if got := scan(t, db, "t", "p/", "p/", 0); !slices.Equal(got, keys) {
		t.Errorf("Scan after == prefix = %q, want %q", got, keys)
	}
	if got := scan(t, db, "t", "p/", "p/99", 0); len(got) != 0 {
		t.Errorf("Scan after p/99 = %q, want none", got)
	}
	if got := scan(t, db, "t", "p/", "q", 0); len(got) != 0 {
		t.Errorf("Scan after q = %q, want none", got)
	}
	if got := scan(t, db, "t", "", "p/08", 0); !slices.Equal(got, []string{"p/09", "q/1"}) {
		t.Errorf("Scan(\"\") after p/08 = %q", got)
	}
	// Paging with limit and after visits every key once, in order.
	var paged []string
	after := ""
	for {
		page := scan(t, db, "t", "p/", after, 3)
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, keys) {
		t.Errorf("paged scan = %q, want %q", paged, keys)
	}
}

func testScanStopAndErrors(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "t", "a", "1", "b", "2", "c", "3", "d", "4")
	var seen []string
	err := db.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, "t", "", "", 0, func(k string, _ []byte) error {
			seen = append(seen, k)
			if k == "b" {
				return store.ErrStop
			}
			return nil
		})
	})
	if err != nil || !slices.Equal(seen, []string{"a", "b"}) {
		t.Errorf("Scan with ErrStop at b: err %v, seen %q; want nil, [a b]", err, seen)
	}
	seen = nil
	err = db.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, "t", "", "", 0, func(k string, _ []byte) error {
			seen = append(seen, k)
			return fmt.Errorf("wrapped: %w", store.ErrStop)
		})
	})
	if err != nil || !slices.Equal(seen, []string{"a"}) {
		t.Errorf("Scan with wrapped ErrStop: err %v, seen %q; want nil, [a]", err, seen)
	}
	boom := errors.New("boom")
	seen = nil
	err = db.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, "t", "", "", 0, func(k string, _ []byte) error {
			seen = append(seen, k)
			if k == "c" {
				return boom
			}
			return nil
		})
	})
	if !errors.Is(err, boom) || !slices.Equal(seen, []string{"a", "b", "c"}) {
		t.Errorf("Scan with error at c: err %v, seen %q; want boom, [a b c]", err, seen)
	}
	// An error from fn inside Update also rolls the Update back.
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "e", []byte("5")); err != nil {
			return err
		}
		return tx.Scan(ctx, "t", "", "", 0, func(string, []byte) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update = %v, want boom", err)
	}
	if got := get(t, db, "t", "e"); got != "<nil>" {
		t.Errorf("e = %q after failed Update, want not found", got)
	}
}

func testScanHighBytes(t *testing.T, db store.Backend) {
	// Keys are byte strings ordered bytewise; 0xff is the largest byte and
	// the edge case of a prefix's exclusive upper bound.
	keys := []string{"", "\x00", "a", "a\x00", "a\x7f", "a\x80", "a\xfe", "a\xfe\xff", "a\xff", "a\xff\x00", "a\xff\xff", "a\xff\xff\xff", "b", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff"}
	for _, k := range keys {
		if k != "" {
			put(t, db, "t", k, fmt.Sprintf("%x", k))
		}
	}
	keys = keys[1:]
	for _, k := range keys {
		if got := get(t, db, "t", k); got != fmt.Sprintf("%x", k) {
			t.Errorf("Get(%q) = %q", k, got)
		}
	}
	cases := []struct {
		prefix, after string
		want          []string
	}{
		{"", "", keys},
		{"a", "", []string{"a", "a\x00", "a\x7f", "a\x80", "a\xfe", "a\xfe\xff", "a\xff", "a\xff\x00", "a\xff\xff", "a\xff\xff\xff"}},
		{"a\xfe", "", []string{"a\xfe", "a\xfe\xff"}},
		{"a\xff", "", []string{"a\xff", "a\xff\x00", "a\xff\xff", "a\xff\xff\xff"}},
		{"a\xff\xff", "", []string{"a\xff\xff", "a\xff\xff\xff"}},
		{"a\xff", "a\xff\x00", []string{"a\xff\xff", "a\xff\xff\xff"}},
		{"\xff", "", []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff"}},
		{"\xff\xff", "", []string{"\xff\xff", "\xff\xff\xff"}},
		{"\xff", "\xff\x00", []string{"\xff\xff", "\xff\xff\xff"}},
		{"\x00", "", []string{"\x00"}},
		{"a\x00", "", []string{"a\x00"}},
		{"\xff\xff\xff\xff", "", []string{}},
	}
	for _, c := range cases {
		if got := scan(t, db, "t", c.prefix, c.after, 0); !slices.Equal(got, c.want) {
			t.Errorf("Scan(prefix %q, after %q) = %q\nwant %q", c.prefix, c.after, got, c.want)
		}
		if c.after == "" {
			if n := count(t, db, "t", c.prefix); n != len(c.want) {
				t.Errorf("Count(%q) = %d, want %d", c.prefix, n, len(c.want))
			}
		}
	}
}

func testScanMultibyteUTF8(t *testing.T, db store.Backend) {
	// Byte order of UTF-8 is code point order; prefixes ending in a
	// multi-byte rune (whose last byte is 0xbf) or the largest rune must
	// bound correctly.
	keys := []string{"ws-ÿ", "ws-ÿ/1", "ws-Ā", "ws-é", "ws-日本", "ws-日本/x", "ws-\U0010FFFF", "ws-\U0010FFFF/z", "ws-z"}
	for _, k := range keys {
		put(t, db, "t", k, "v")
	}
	sorted := slices.Clone(keys)
	sort.Strings(sorted)
	if got := scan(t, db, "t", "ws-", "", 0); !slices.Equal(got, sorted) {
		t.Errorf("Scan(ws-) = %q\nwant %q", got, sorted)
	}
	for prefix, want := range map[string][]string{
		"ws-ÿ":          {"ws-ÿ", "ws-ÿ/1"},
		"ws-日":          {"ws-日本", "ws-日本/x"},
		"ws-\U0010FFFF": {"ws-\U0010FFFF", "ws-\U0010FFFF/z"},
	} {
		if got := scan(t, db, "t", prefix, "", 0); !slices.Equal(got, want) {
			t.Errorf("Scan(%q) = %q, want %q", prefix, got, want)
		}
		if n := count(t, db, "t", prefix); n != len(want) {
			t.Errorf("Count(%q) = %d, want %d", prefix, n, len(want))
		}
	}
}

func testScanLarge(t *testing.T, db store.Backend) {
	// More records than a backend is likely to fetch per round trip.
	const n = 1000
	ctx := t.Context()
	update(t, db, func(tx store.Tx) error {
		for i := range n {
			if err := tx.Put(ctx, "t", fmt.Sprintf("k/%04d", i), []byte(strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	})
	for _, limit := range []int{0, 1, 255, 256, 257, 700, n, n + 1} {
		i := 0
		view(t, db, func(tx store.Tx) error {
			return tx.Scan(ctx, "t", "k/", "", limit, func(k string, v []byte) error {
				if want := fmt.Sprintf("k/%04d", i); k != want || string(v) != strconv.Itoa(i) {
					return fmt.Errorf("record %d = %s=%s, want %s", i, k, v, want)
				}
				i++
				return nil
			})
		})
		want := n
		if limit > 0 && limit < n {
			want = limit
		}
		if i != want {
			t.Errorf("Scan limit %d visited %d records, want %d", limit, i, want)
		}
	}
	if got := count(t, db, "t", "k/"); got != n {
		t.Errorf("Count = %d, want %d", got, n)
	}
}

func testScanCallbackUsesTx(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "t", "a", "1", "b", "2", "c", "3")
	put(t, db, "idx", "a", "x", "b", "y", "c", "z")
	// A common pattern: scan one table, look up or write records while
	// iterating.
	var got []string
	view(t, db, func(tx store.Tx) error {
		return tx.Scan(ctx, "t", "", "", 0, func(k string, _ []byte) error {
			v, err := tx.Get(ctx, "idx", k)
			if err != nil {
				return err
			}
			got = append(got, string(v))
			return nil
		})
	})
	if !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Errorf("Get inside Scan (View) = %q", got)
	}
	update(t, db, func(tx store.Tx) error {
		return tx.Scan(ctx, "t", "", "", 0, func(k string, v []byte) error {
			return tx.Put(ctx, "copy", k, v)
		})
	})
	if got := scan(t, db, "copy", "", "", 0); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Put inside Scan (Update) copied %q", got)
	}
}

func testCount(t *testing.T, db store.Backend) {
	if n := count(t, db, "t", ""); n != 0 {
		t.Errorf("Count(empty) = %d", n)
	}
	put(t, db, "t", "a/1", "", "a/2", "", "a/3", "", "ab", "", "b/1", "")
	put(t, db, "u", "a/1", "")
	for prefix, want := range map[string]int{"": 5, "a": 4, "a/": 3, "a/2": 1, "b/": 1, "c": 0} {
		if n := count(t, db, "t", prefix); n != want {
			t.Errorf("Count(%q) = %d, want %d", prefix, n, want)
		}
	}
}

// --- transactions ---

func testUpdateRollback(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "t", "keep", "old", "gone", "still")
	enqueue(t, db, store.Job{ID: "j0", Kind: "k", Due: sec(0)})
	boom := errors.New("boom")
	calls := 0
	err := db.Update(ctx, func(tx store.Tx) error {
		calls++
		for _, op := range []func() error{
			func() error { return tx.Put(ctx, "t", "keep", []byte("new")) },
			func() error { return tx.Put(ctx, "t", "added", []byte("x")) },
			func() error { return tx.Create(ctx, "t", "created", []byte("x")) },
			func() error { return tx.Delete(ctx, "t", "gone") },
			func() error { return tx.Enqueue(ctx, store.Job{ID: "j1", Kind: "k", Due: sec(0)}) },
			func() error { return tx.CancelJob(ctx, "j0") },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		return fmt.Errorf("failing on purpose: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times for a non-conflict error, want 1", calls)
	}
	for k, want := range map[string]string{"keep": "old", "added": "<nil>", "created": "<nil>", "gone": "still"} {
		if got := get(t, db, "t", k); got != want {
			t.Errorf("after rollback %s = %q, want %q", k, got, want)
		}
	}
	if got := ids(claim(t, db, "w", sec(1), time.Minute, 10)); !slices.Equal(got, []string{"j0"}) {
		t.Errorf("jobs after rollback = %q, want [j0]", got)
	}
}

func testUpdateReadsOwnWrites(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "t", "a", "1")
	update(t, db, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "a", []byte("2")); err != nil {
			return err
		}
		if err := tx.Put(ctx, "t", "b", []byte("3")); err != nil {
			return err
		}
		if v, err := tx.Get(ctx, "t", "a"); err != nil || string(v) != "2" {
			t.Errorf("Get(a) in tx = %q, %v; want 2", v, err)
		}
		if n, err := tx.Count(ctx, "t", ""); err != nil || n != 2 {
			t.Errorf("Count in tx = %d, %v; want 2", n, err)
		}
		if err := tx.Delete(ctx, "t", "a"); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, "t", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(a) after Delete in tx = %v, want ErrNotFound", err)
		}
		return nil
	})
	if got := scan(t, db, "t", "", "", 0); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after commit keys = %q, want [b]", got)
	}
}

func testUpdateCanceledContext(t *testing.T, db store.Backend) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "k", []byte("v")) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update(canceled ctx) = %v, want context.Canceled", err)
	}
	if got := get(t, db, "t", "k"); got != "<nil>" {
		t.Errorf("Update with canceled ctx wrote k = %q", got)
	}
	if err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "t", "k"); return err }); !errors.Is(err, context.Canceled) {
		t.Errorf("View(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, err := db.Claim(ctx, "w", sec(0), time.Minute, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim(canceled ctx) = %v, want context.Canceled", err)
	}
}

func testViewSnapshot(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "t", "a", "1", "b", "1")
	view(t, db, func(tx store.Tx) error {
		if v, err := tx.Get(ctx, "t", "a"); err != nil || string(v) != "1" {
			t.Fatalf("Get(a) = %q, %v", v, err)
		}
		// A concurrent commit after the snapshot was taken...
		if err := db.Update(ctx, func(w store.Tx) error {
			if err := w.Put(ctx, "t", "a", []byte("2")); err != nil {
				return err
			}
			if err := w.Put(ctx, "t", "b", []byte("2")); err != nil {
				return err
			}
			return w.Put(ctx, "t", "c", []byte("2"))
		}); err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
		// ...is invisible to every later read of the snapshot.
		for _, k := range []string{"a", "b"} {
			if v, err := tx.Get(ctx, "t", k); err != nil || string(v) != "1" {
				t.Errorf("Get(%s) in snapshot = %q, %v; want 1", k, v, err)
			}
		}
		if _, err := tx.Get(ctx, "t", "c"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(c) in snapshot = %v, want ErrNotFound", err)
		}
		if n, err := tx.Count(ctx, "t", ""); err != nil || n != 2 {
			t.Errorf("Count in snapshot = %d, %v; want 2", n, err)
		}
		var keys []string
		if err := tx.Scan(ctx, "t", "", "", 0, func(k string, v []byte) error {
			keys = append(keys, k+"="+string(v))
			return nil
		}); err != nil {
			return err
		}
		if !slices.Equal(keys, []string{"a=1", "b=1"}) {
			t.Errorf("Scan in snapshot = %q, want [a=1 b=1]", keys)
		}
		return nil
	})
	if got := get(t, db, "t", "b") + get(t, db, "t", "c"); got != "22" {
		t.Errorf("after View, b+c = %q, want 22", got)
	}
}

func testViewIsReadOnly(t *testing.T, db store.Backend) {
	ctx := t.Context()
	err := db.View(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "k", []byte("v")) })
	if err == nil {
		t.Errorf("Put inside View succeeded, want an error")
	}
	if got := get(t, db, "t", "k"); got != "<nil>" {
		t.Errorf("Put inside View wrote k = %q", got)
	}
}

// increment adds one to the decimal counter at table/key (absent: 0) by
// reading it and writing it back in one Update.
func increment(ctx context.Context, db store.Backend, table, key string) error {
	return db.Update(ctx, func(tx store.Tx) error {
		n := 0
		v, err := tx.Get(ctx, table, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		return tx.Put(ctx, table, key, []byte(strconv.Itoa(n+1)))
	})
}

func concurrentIncrements(t *testing.T, db store.Backend) {
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				if err := increment(t.Context(), db, "ctr", "hot"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	if got := get(t, db, "ctr", "hot"); got != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s after %d×%d concurrent increments, want %d (lost updates)", got, workers, each, workers*each)
	}
}

func testConcurrentIncrements(t *testing.T, db store.Backend) {
	put(t, db, "ctr", "hot", "0")
	concurrentIncrements(t, db)
}

func testConcurrentIncrementsAbsentKey(t *testing.T, db store.Backend) {
	// The record does not exist when the race starts: reads that find
	// nothing must serialize too.
	concurrentIncrements(t, db)
}

// --- jobs ---

func testEnqueueReplaces(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "old", Due: sec(100), Payload: []byte(`{"v":1}`)})
	enqueue(t, db, store.Job{ID: "j", Kind: "new", Due: sec(10), Payload: []byte(`{"v":2}`)})
	if c := claim(t, db, "w", sec(9), time.Minute, 10); len(c) != 0 {
		t.Errorf("claimed %q before the new due time", ids(c))
	}
	c := claim(t, db, "w", sec(10), time.Minute, 10)
	if len(c) != 1 {
		t.Fatalf("claimed %d jobs, want 1 (replaced, not duplicated)", len(c))
	}
	want := store.Claimed{Job: store.Job{ID: "j", Kind: "new", Due: sec(10), Payload: []byte(`{"v":2}`)}, Owner: "w"}
	if got := c[0]; got.ID != want.ID || got.Kind != want.Kind || !got.Due.Equal(want.Due) || !bytes.Equal(got.Payload, want.Payload) || got.Owner != want.Owner {
		t.Errorf("claimed %+v, want %+v", got, want)
	}
	// Re-enqueueing a claimed job drops the claim: the old owner can no
	// longer finish it and another owner can claim it at once.
	enqueue(t, db, store.Job{ID: "j", Kind: "new", Due: sec(10), Payload: []byte(`{"v":3}`)})
	if err := finish(ctx, db, "j", "w"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob by owner of the replaced claim = %v, want ErrConflict", err)
	}
	c = claim(t, db, "w2", sec(11), time.Minute, 10)
	if len(c) != 1 || string(c[0].Payload) != `{"v":3}` {
		t.Fatalf("claim after re-enqueue = %+v, want j with payload v3", c)
	}
	if err := finish(ctx, db, "j", "w2"); err != nil {
		t.Errorf("FinishJob = %v", err)
	}
}

func testClaimDueOrderLimit(t *testing.T, db store.Backend) {
	enqueue(t, db,
		store.Job{ID: "c", Kind: "k", Due: sec(3)},
		store.Job{ID: "a", Kind: "k", Due: sec(1)},
		store.Job{ID: "d", Kind: "k", Due: sec(5)},
		store.Job{ID: "b", Kind: "k", Due: sec(2)},
		store.Job{ID: "later", Kind: "k", Due: sec(60)},
	)
	if c := claim(t, db, "w", sec(0), time.Minute, 10); len(c) != 0 {
		t.Errorf("claimed %q before anything was due", ids(c))
	}
	got := claim(t, db, "w", sec(5), time.Minute, 3)
	if !slices.Equal(ids(got), []string{"a", "b", "c"}) {
		t.Errorf("Claim limit 3 = %q, want [a b c] (ordered by due)", ids(got))
	}
	for i, c := range got {
		if c.Owner != "w" || !c.Due.Equal(sec(i+1)) || c.Kind != "k" {
			t.Errorf("claimed %+v", c)
		}
	}
	// Due exactly now is due; claimed jobs are not claimed again.
	if got := ids(claim(t, db, "w2", sec(5), time.Minute, 10)); !slices.Equal(got, []string{"d"}) {
		t.Errorf("second Claim = %q, want [d]", got)
	}
	if got := claim(t, db, "w3", sec(59), time.Minute, 10); len(got) != 0 {
		t.Errorf("third Claim = %q, want none", ids(got))
	}
	if got := ids(claim(t, db, "w3", sec(60), time.Minute, 10)); !slices.Equal(got, []string{"later"}) {
		t.Errorf("Claim at 60s = %q, want [later]", got)
	}
}

func testClaimLeaseExpiry(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(0)})
	if got := ids(claim(t, db, "a", sec(0), 10*time.Second, 1)); !slices.Equal(got, []string{"j"}) {
		t.Fatalf("Claim by a = %q", got)
	}
	if got := claim(t, db, "b", sec(5), 10*time.Second, 1); len(got) != 0 {
		t.Errorf("Claim by b during a's lease = %q, want none", ids(got))
	}
	if got := claim(t, db, "b", sec(10).Add(-time.Nanosecond), 10*time.Second, 1); len(got) != 0 {
		t.Errorf("Claim by b just before a's lease ends = %q, want none", ids(got))
	}
	got := claim(t, db, "b", sec(11), 10*time.Second, 1)
	if !slices.Equal(ids(got), []string{"j"}) || got[0].Owner != "b" {
		t.Fatalf("Claim by b after a's lease expired = %+v, want j owned by b", got)
	}
	if err := finish(ctx, db, "j", "a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob by expired owner a = %v, want ErrConflict", err)
	}
	if err := finish(ctx, db, "j", "b"); err != nil {
		t.Errorf("FinishJob by b = %v", err)
	}
	if got := claim(t, db, "c", sec(100), time.Second, 1); len(got) != 0 {
		t.Errorf("finished job claimed again: %q", ids(got))
	}
}

func testFinishJob(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(0)}, store.Job{ID: "other", Kind: "k", Due: sec(0)})
	claim(t, db, "w", sec(0), time.Minute, 2)
	if err := finish(ctx, db, "j", "intruder"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob by non-owner = %v, want ErrConflict", err)
	}
	if err := finish(ctx, db, "j", "w"); err != nil {
		t.Fatalf("FinishJob by owner = %v", err)
	}
	if err := finish(ctx, db, "j", "w"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second FinishJob = %v, want ErrConflict", err)
	}
	if err := finish(ctx, db, "nope", "w"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob(unknown job) = %v, want ErrConflict", err)
	}
	// An unclaimed job cannot be finished by anyone.
	enqueue(t, db, store.Job{ID: "u", Kind: "k", Due: sec(0)})
	if err := finish(ctx, db, "u", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob(unclaimed, owner \"\") = %v, want ErrConflict", err)
	}
	// "other" is untouched: still claimed by w until its lease ends.
	if got := ids(claim(t, db, "x", sec(61), time.Minute, 10)); !slices.Equal(got, []string{"other", "u"}) {
		t.Errorf("remaining jobs = %q, want [other u]", got)
	}
}

func testFinishJobStaleOwnerRollsBack(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(0)})
	claim(t, db, "a", sec(0), time.Second, 1)
	claim(t, db, "b", sec(2), time.Minute, 1) // a's claim expired; b owns j
	// a applies the job's effect and finishes it in one transaction: the
	// stale claim makes the whole transaction fail, effect included.
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "effects", "j", []byte("by a")); err != nil {
			return err
		}
		return tx.FinishJob(ctx, "j", "a")
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update with stale FinishJob = %v, want ErrConflict", err)
	}
	if got := get(t, db, "effects", "j"); got != "<nil>" {
		t.Errorf("stale owner's effect was committed: %q", got)
	}
	update(t, db, func(tx store.Tx) error {
		if err := tx.Put(ctx, "effects", "j", []byte("by b")); err != nil {
			return err
		}
		return tx.FinishJob(ctx, "j", "b")
	})
	if got := get(t, db, "effects", "j"); got != "by b" {
		t.Errorf("effect = %q, want by b", got)
	}
}

func testCancelJob(t *testing.T, db store.Backend) {
	ctx := t.Context()
	update(t, db, func(tx store.Tx) error { return tx.CancelJob(ctx, "missing") })
	enqueue(t, db, store.Job{ID: "a", Kind: "k", Due: sec(0)}, store.Job{ID: "b", Kind: "k", Due: sec(0)}, store.Job{ID: "c", Kind: "k", Due: sec(0)})
	claim(t, db, "w", sec(0), time.Minute, 1) // claims a
	update(t, db, func(tx store.Tx) error {
		if err := tx.CancelJob(ctx, "a"); err != nil { // claimed
			return err
		}
		return tx.CancelJob(ctx, "b") // unclaimed
	})
	if err := finish(ctx, db, "a", "w"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob of a canceled job = %v, want ErrConflict", err)
	}
	if got := ids(claim(t, db, "x", sec(120), time.Minute, 10)); !slices.Equal(got, []string{"c"}) {
		t.Errorf("jobs after cancel = %q, want [c]", got)
	}
}

func testRelease(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(0), Payload: []byte("p")})
	claim(t, db, "a", sec(0), time.Hour, 1)
	// A non-owner's Release changes nothing.
	if err := db.Release(ctx, "j", "b", sec(1), "failed"); err != nil {
		t.Fatalf("Release by non-owner: %v", err)
	}
	if got := claim(t, db, "c", sec(2), time.Hour, 1); len(got) != 0 {
		t.Errorf("Release by non-owner released the job: claimed %q", ids(got))
	}
	if err := db.Release(ctx, "j", "a", sec(30), "failed"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := finish(ctx, db, "j", "a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob after Release = %v, want ErrConflict", err)
	}
	if due, ok, err := db.NextDue(ctx, sec(3)); err != nil || !ok || !due.Equal(sec(30)) {
		t.Errorf("NextDue after Release = %v, %v, %v; want %v", due, ok, err, sec(30))
	}
	if got := claim(t, db, "c", sec(29), time.Hour, 1); len(got) != 0 {
		t.Errorf("released job claimed before its new due time: %q", ids(got))
	}
	got := claim(t, db, "c", sec(30), time.Hour, 1)
	if len(got) != 1 || got[0].Owner != "c" || !got[0].Due.Equal(sec(30)) || string(got[0].Payload) != "p" {
		t.Errorf("Claim after Release = %+v", got)
	}
	if err := db.Release(ctx, "missing", "c", sec(0), "failed"); err != nil {
		t.Errorf("Release(missing job) = %v", err)
	}
}

func listJobs(t *testing.T, db store.Backend) map[string]store.JobStatus {
	t.Helper()
	js, err := db.ListJobs(t.Context(), "", 1000)
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	out := map[string]store.JobStatus{}
	for _, j := range js {
		out[j.ID] = j
	}
	return out
}

// Each Release counts a failed attempt and keeps its error, which the next
// claim and the listing report; a hostile error text is stored cleaned.
func testReleaseCountsAttempts(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(0)})
	if c := claim(t, db, "a", sec(0), time.Hour, 1); len(c) != 1 || c[0].Attempts != 0 {
		t.Fatalf("first claim = %+v, want attempts 0", c)
	}
	if err := db.Release(ctx, "j", "a", sec(1), "first failure"); err != nil {
		t.Fatal(err)
	}
	if c := claim(t, db, "a", sec(1), time.Hour, 1); len(c) != 1 || c[0].Attempts != 1 {
		t.Fatalf("second claim = %+v, want attempts 1", c)
	}
	if err := db.Release(ctx, "j", "a", sec(3), "second\x00failure \xff"); err != nil {
		t.Fatalf("Release with a NUL and invalid UTF-8 in the error: %v", err)
	}
	j := listJobs(t, db)["j"]
	if j.Attempts != 2 || j.LastError != "second\uFFFDfailure \uFFFD" || !j.Due.Equal(sec(3)) || j.Parked || j.Kind != "k" {
		t.Errorf("listed job = %+v", j)
	}
	// A non-owner's Release counts nothing.
	claim(t, db, "a", sec(3), time.Hour, 1)
	if err := db.Release(ctx, "j", "b", sec(4), "not mine"); err != nil {
		t.Fatal(err)
	}
	if j := listJobs(t, db)["j"]; j.Attempts != 2 {
		t.Errorf("attempts after a non-owner's Release = %d, want 2", j.Attempts)
	}
	// Enqueueing the job anew starts its count over.
	enqueue(t, db, store.Job{ID: "j", Kind: "k", Due: sec(5)})
	if j := listJobs(t, db)["j"]; j.Attempts != 0 || j.LastError != "" {
		t.Errorf("re-enqueued job = %+v, want no attempts", j)
	}
}

// A parked job is listed but never claimed nor due, until enqueued anew.
func testPark(t *testing.T, db store.Backend) {
	ctx := t.Context()
	enqueue(t, db, store.Job{ID: "p", Kind: "k", Due: sec(0)}, store.Job{ID: "q", Kind: "k", Due: sec(50)})
	claim(t, db, "a", sec(0), time.Hour, 1)
	if err := db.Park(ctx, "p", "b", sec(1), "not mine"); err != nil {
		t.Fatal(err)
	}
	if j := listJobs(t, db)["p"]; j.Parked {
		t.Fatalf("a non-owner parked the job")
	}
	if err := db.Park(ctx, "p", "a", sec(2), "gave up"); err != nil {
		t.Fatal(err)
	}
	if j := listJobs(t, db)["p"]; !j.Parked || j.Attempts != 1 || j.LastError != "gave up" || !j.Due.Equal(sec(2)) {
		t.Errorf("parked job = %+v", j)
	}
	if got := ids(claim(t, db, "c", sec(3600*24), time.Hour, 10)); !slices.Equal(got, []string{"q"}) {
		t.Errorf("claimed with p parked = %q, want [q]", got)
	}
	if err := finish(ctx, db, "p", "a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishJob of a parked job = %v, want ErrConflict", err)
	}
	update(t, db, func(tx store.Tx) error { return tx.FinishJob(ctx, "q", "c") })
	if _, ok, err := db.NextDue(ctx, sec(0)); err != nil || ok {
		t.Errorf("NextDue with only a parked job = %v, %v; want none", ok, err)
	}
	enqueue(t, db, store.Job{ID: "p", Kind: "k", Due: sec(10)})
	if j := listJobs(t, db)["p"]; j.Parked || j.Attempts != 0 {
		t.Errorf("re-enqueued parked job = %+v", j)
	}
	if got := ids(claim(t, db, "c", sec(10), time.Hour, 10)); !slices.Equal(got, []string{"p"}) {
		t.Errorf("claimed after re-enqueue = %q, want [p]", got)
	}
}

func testListJobs(t *testing.T, db store.Backend) {
	ctx := t.Context()
	if js, err := db.ListJobs(ctx, "", 10); err != nil || len(js) != 0 {
		t.Fatalf("ListJobs on an empty queue = %v, %v", js, err)
	}
	enqueue(t, db, store.Job{ID: "c", Kind: "k3", Due: sec(3)}, store.Job{ID: "a", Kind: "k1", Due: sec(1)},
		store.Job{ID: "b", Kind: "k2", Due: sec(2)}, store.Job{ID: "B", Kind: "k0", Due: sec(0)})
	var got []string
	after := ""
	for {
		js, err := db.ListJobs(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 0 {
			break
		}
		for _, j := range js {
			got = append(got, j.ID+"="+j.Kind)
		}
		after = js[len(js)-1].ID
	}
	if want := []string{"B=k0", "a=k1", "b=k2", "c=k3"}; !slices.Equal(got, want) {
		t.Errorf("pages = %q, want %q (byte order)", got, want)
	}
}

func testNextDue(t *testing.T, db store.Backend) {
	ctx := t.Context()
	next := func(now time.Time) (time.Time, bool) {
		t.Helper()
		due, ok, err := db.NextDue(ctx, now)
		if err != nil {
			t.Fatalf("NextDue: %v", err)
		}
		return due, ok
	}
	if _, ok := next(sec(0)); ok {
		t.Errorf("NextDue on an empty queue reported a job")
	}
	enqueue(t, db, store.Job{ID: "a", Kind: "k", Due: sec(10)}, store.Job{ID: "b", Kind: "k", Due: sec(5)})
	if due, ok := next(sec(0)); !ok || !due.Equal(sec(5)) {
		t.Errorf("NextDue = %v, %v; want %v", due, ok, sec(5))
	}
	// Overdue jobs report their (past) due time.
	if due, ok := next(sec(100)); !ok || !due.Equal(sec(5)) {
		t.Errorf("NextDue(later) = %v, %v; want %v", due, ok, sec(5))
	}
	claim(t, db, "w", sec(5), 30*time.Second, 1) // b until 35s
	if due, ok := next(sec(5)); !ok || !due.Equal(sec(10)) {
		t.Errorf("NextDue with b claimed = %v, %v; want %v", due, ok, sec(10))
	}
	claim(t, db, "w", sec(10), 30*time.Second, 1) // a until 40s
	// Only claimed jobs left: the next one is when the first lease ends.
	if due, ok := next(sec(10)); !ok || !due.Equal(sec(35)) {
		t.Errorf("NextDue with all claimed = %v, %v; want %v (lease end)", due, ok, sec(35))
	}
	if got := ids(claim(t, db, "x", sec(36), time.Minute, 10)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Claim after b's lease = %q, want [b]", got)
	}
	for _, c := range []struct{ id, owner string }{{"a", "w"}, {"b", "x"}} {
		if err := finish(ctx, db, c.id, c.owner); err != nil {
			t.Errorf("FinishJob(%s): %v", c.id, err)
		}
	}
	if _, ok := next(sec(100)); ok {
		t.Errorf("NextDue after all jobs finished reported a job")
	}
}

// testExactlyOnce runs many workers that claim jobs with short leases on a
// shared logical clock, so claims expire while their holders still work and
// other workers claim the same jobs. Each worker applies a job's effect
// (increment a per-job counter) and finishes the job in one Update; stale
// owners must fail and roll back, so every effect is applied exactly once.
func testExactlyOnce(t *testing.T, db store.Backend) {
	const (
		jobs    = 500
		workers = 8
		batch   = 4
		lease   = 6 * time.Millisecond // in ticks of the logical clock
	)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	update(t, db, func(tx store.Tx) error {
		for i := range jobs {
			j := store.Job{ID: fmt.Sprintf("job-%03d", i), Kind: "inc", Due: t0.Add(time.Duration(i%7) * time.Millisecond)}
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	var (
		clock     atomic.Int64 // milliseconds after t0
		finished  atomic.Int64
		conflicts atomic.Int64
		reclaims  atomic.Int64
		claimedBy sync.Map // ids of jobs claimed at least once
		wg        sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				if ctx.Err() != nil {
					errs <- fmt.Errorf("%s: %w (finished %d of %d)", owner, ctx.Err(), finished.Load(), jobs)
					return
				}
				now := t0.Add(time.Duration(clock.Add(1)) * time.Millisecond)
				cs, err := db.Claim(ctx, owner, now, lease, batch)
				if err != nil {
					errs <- fmt.Errorf("%s: Claim: %w", owner, err)
					return
				}
				if len(cs) == 0 {
					_, ok, err := db.NextDue(ctx, now)
					if err != nil {
						errs <- fmt.Errorf("%s: NextDue: %w", owner, err)
						return
					}
					if !ok {
						return // queue drained
					}
					continue
				}
				for _, c := range cs {
					if _, loaded := claimedBy.LoadOrStore(c.ID, true); loaded {
						reclaims.Add(1)
					}
					err := db.Update(ctx, func(tx store.Tx) error {
						n := 0
						v, err := tx.Get(ctx, "effects", c.ID)
						if err == nil {
							n, err = strconv.Atoi(string(v))
						}
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							return err
						}
						if err := tx.Put(ctx, "effects", c.ID, []byte(strconv.Itoa(n+1))); err != nil {
							return err
						}
						return tx.FinishJob(ctx, c.ID, owner)
					})
					switch {
					case err == nil:
						finished.Add(1)
					case errors.Is(err, store.ErrConflict):
						conflicts.Add(1)
					default:
						errs <- fmt.Errorf("%s: apply %s: %w", owner, c.ID, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d jobs finished, %d stale finishes rolled back, %d re-claims, %d clock ticks",
		finished.Load(), conflicts.Load(), reclaims.Load(), clock.Load())
	if finished.Load() != jobs {
		t.Errorf("%d successful finishes, want %d", finished.Load(), jobs)
	}
	bad := 0
	view(t, db, func(tx store.Tx) error {
		if n, err := tx.Count(ctx, "effects", ""); err != nil || n != jobs {
			t.Errorf("%d effect records, %v; want %d", n, err, jobs)
		}
		return tx.Scan(ctx, "effects", "", "", 0, func(k string, v []byte) error {
			if string(v) != "1" {
				bad++
				if bad <= 10 {
					t.Errorf("job %s applied %s times, want exactly once", k, v)
				}
			}
			return nil
		})
	})
	if bad > 0 {
		t.Errorf("%d jobs not applied exactly once", bad)
	}
	if _, ok, err := db.NextDue(ctx, t0); err != nil || ok {
		t.Errorf("NextDue after draining = %v, %v; want no jobs", ok, err)
	}
}

// testPutManyUncached: PutMany under store.Uncached writes as PutMany does;
// a read outside a transaction (through a read cache, where there is one)
// sees the new value, not one the cache held from before, and a record it
// created is read back.
func testPutManyUncached(t *testing.T, db store.Backend) {
	ctx := context.Background()
	update(t, db, func(tx store.Tx) error { return tx.Put(ctx, "u", "k", []byte("v1")) })
	if v, err := db.Get(ctx, "u", "k"); err != nil || string(v) != "v1" { // cached, where there is a cache
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	uc := store.Uncached(ctx)
	update(t, db, func(tx store.Tx) error {
		return tx.PutMany(uc, "u", []store.KV{{Key: "k", Value: []byte("v2")}, {Key: "n", Value: []byte("new")}})
	})
	for k, want := range map[string]string{"k": "v2", "n": "new"} {
		if v, err := db.Get(ctx, "u", k); err != nil || string(v) != want {
			t.Fatalf("Get %s after PutMany under Uncached = %q, %v; want %s", k, v, err, want)
		}
		if got := get(t, db, "u", k); got != want {
			t.Fatalf("tx.Get %s after PutMany under Uncached = %q; want %s", k, got, want)
		}
	}
}

// testGetOutsideTransaction: Backend.Get reads committed records without a
// transaction and reports absent ones as ErrNotFound.
func testGetOutsideTransaction(t *testing.T, db store.Backend) {
	ctx := context.Background()
	if _, err := db.Get(ctx, "t", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of an absent key: %v, want ErrNotFound", err)
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "k", []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get(ctx, "t", "k"); err != nil || string(v) != "v1" {
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	// A failed update is never visible.
	db.Update(ctx, func(tx store.Tx) error {
		tx.Put(ctx, "t", "k", []byte("v2"))
		return errors.New("abort")
	})
	if v, err := db.Get(ctx, "t", "k"); err != nil || string(v) != "v1" {
		t.Fatalf("Get after an aborted update = %q, %v; want v1", v, err)
	}
}
