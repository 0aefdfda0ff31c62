package storetest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/readcache"
)

// cached is an embedded store with the shared read cache and key listings.
type cached interface {
	Embedded
	store.CommittedScanner
	ReadCache() *readcache.Cache
	Listings() *readcache.Committed
}

// testScanCommittedMatchesScan lists records with ScanCommitted and with a
// transaction's Scan over the same prefixes, bounds and limits, across
// more keys than one chunk, with some records in the read cache and others
// not (a fresh store, then one whose cache holds a changed record): both
// give the same keys and values in the same order. A record deleted is not
// listed, one rewritten is listed with its new value, an empty value is
// listed as empty, and a listing never starts the cache over.
func testScanCommittedMatchesScan(t *testing.T, open Opener) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store")
	edb, err := open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db, ok := edb.(cached)
	if !ok {
		edb.Close()
		t.Skip("the store has no read cache")
	}
	const n = 3*readcache.ScanChunk + 7
	if err := db.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			for _, p := range []string{"A/r1/", "A/r2/", "B/r1/"} {
				v := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", i*7%1500))
				if i == 5 {
					v = ""
				}
				if err := tx.Put(ctx, "t", fmt.Sprintf("%sws-%04d", p, i), []byte(v)); err != nil {
					return err
				}
			}
		}
		return tx.Put(ctx, "u", "A/r1/ws-0001", []byte("other table"))
	}); err != nil {
		t.Fatal(err)
	}
	list := func(committed bool, prefix, after string, limit int) (out []string) {
		t.Helper()
		fn := func(k string, v []byte) error {
			if committed && v == nil {
				t.Fatalf("%s: nil value", k)
			}
			out = append(out, k+"="+string(v))
			if limit < 0 && len(out) == 10 {
				return store.ErrStop
			}
			return nil
		}
		lim := max(limit, 0)
		if committed {
			err = db.ScanCommitted(ctx, "t", prefix, after, lim, fn)
		} else {
			err = db.View(ctx, func(tx store.Tx) error { return tx.Scan(ctx, "t", prefix, after, lim, fn) })
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(stage string) {
		t.Helper()
		for _, c := range []struct {
			prefix, after string
			limit         int
		}{
			{"A/r1/", "", 0}, {"A/r1/", "A/r1/ws-0063", 0}, {"A/r1/", "A/r1/ws-0100", 25},
			{"A/", "", 0}, {"A/r2/", "", -1}, {"", "", 0}, {"B/r1/", "B/r1/ws-9999", 0},
			{"A/r1/", "A/r0/zzz", 64}, {"C/", "", 0},
		} {
			got, want := list(true, c.prefix, c.after, c.limit), list(false, c.prefix, c.after, c.limit)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s: prefix %q after %q limit %d: ScanCommitted listed %d records, Scan %d\nfirst difference: %s",
					stage, c.prefix, c.after, c.limit, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	check("values cached by the writes")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if edb, err = open(ctx, path); err != nil { // an empty cache
		t.Fatal(err)
	}
	db = edb.(cached)
	defer db.Close()
	check("empty cache")
	check("values cached by the first listing")
	if db.Listings().Listings() == 0 {
		t.Fatal("no key listing kept")
	}
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(ctx, "t", "A/r1/ws-0070"); err != nil {
			return err
		}
		if err := tx.Put(ctx, "t", "A/r1/ws-0070a", []byte("created")); err != nil {
			return err
		}
		return tx.Put(ctx, "t", "A/r1/ws-0071", []byte("new"))
	}); err != nil {
		t.Fatal(err)
	}
	check("after a delete, a create and a rewrite")
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "u", "A/r1/ws-0070b", []byte("other table")) }); err != nil {
		t.Fatal(err)
	}
	check("after a write of another table")
	db.Listings().MaxListingKeys = 100 // A/r1/ and the others are listed chunk by chunk
	db.Listings().ForgetListings()
	check("prefixes larger than a kept listing")
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "t", "A/r1/ws-0070a") }); err != nil {
		t.Fatal(err)
	}
	check("prefixes larger than a kept listing, after a delete")
	db.Listings().MaxListingKeys = 5000
	got := strings.Join(list(true, "A/r1/", "A/r1/ws-0069", 2), ",")
	if want := `A/r1/ws-0071=new,A/r1/ws-0072={"i":72,"pad":"` + strings.Repeat("x", 72*7%1500) + `"}`; got != want {
		t.Fatalf("after A/r1/ws-0069: %s, want %s", got, want)
	}

	// A listing larger than the cache leaves what the cache held in it:
	// one of a kept listing fills the cache's room; one chunk by chunk
	// (the prefix "" is larger than a kept listing since MaxListingKeys
	// was 100) does too, unless its store reads keys with their values
	// (readcache.ValueScanner), which leaves the cache as it was.
	held := db.ReadCache().Len()
	db.ReadCache().SetMaxEntries(held + 10)
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "A/r1/ws-0000", []byte("kept")) }); err != nil {
		t.Fatal(err)
	}
	_, streams := db.Listings().Source.(readcache.ValueScanner)
	for _, kept := range []bool{false, true} {
		if kept {
			db.Listings().ForgetListings()
		}
		db.ReadCache().Clear() // as if the cache had started over, with room for ten more
		db.ReadCache().SetMaxEntries(10)
		db.ReadCache().Put("t\x00A/r1/ws-0000", []byte("kept"))
		if rows := list(true, "", "", 0); len(rows) != 3*n-1 {
			t.Fatalf("listed %d records, want %d", len(rows), 3*n-1)
		}
		size := db.ReadCache().Len()
		cached, _, _ := db.ReadCache().Get("t\x00A/r1/ws-0000")
		v := string(cached)
		want := 10
		if streams && !kept {
			want = 1
		}
		if size != want || v != "kept" {
			t.Fatalf("after a listing of %d records (kept listing %v) the cache holds %d (want %d, had %d before) and A/r1/ws-0000 = %q", 3*n-1, kept, size, want, held, v)
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("#%d: %.80s vs %.80s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}
