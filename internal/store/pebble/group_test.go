package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// TestUpdatesOfAGroup: the updates of one group (queued at once by
// UpdateEach) each behave as their own transaction: an update sees its own
// writes and those of the updates before it, not those of an update that
// failed or panicked (nothing of which is committed), and a record an
// update wrote twice reaches the disk at its last value only, also when
// other updates of the group wrote before it.
func TestUpdatesOfAGroup(t *testing.T) {
	var sizes []int
	testHookGroup = func(batch []*writeReq) { sizes = append(sizes, len(batch)) }
	t.Cleanup(func() { testHookGroup = nil })
	dir := filepath.Join(t.TempDir(), "pebble")
	db, err := Open(t.Context(), dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const secret = "plaintext-secret-0123456789"
	errBoom := errors.New("boom")
	get := func(tx store.Tx, k string) string {
		v, err := tx.Get(ctx, "t", k)
		if errors.Is(err, store.ErrNotFound) {
			return "-"
		}
		if err != nil {
			t.Errorf("get %s: %v", k, err)
		}
		return string(v)
	}
	var seen []string
	fns := []func(store.Tx) error{
		func(tx store.Tx) error {
			if err := tx.Put(ctx, "t", "a", []byte("1")); err != nil {
				return err
			}
			return tx.Put(ctx, "t", "b", []byte("1"))
		},
		func(tx store.Tx) error { // fails after writing
			if err := tx.Put(ctx, "t", "c", []byte("2")); err != nil {
				return err
			}
			if err := tx.Put(ctx, "t", "a", []byte("2")); err != nil {
				return err
			}
			seen = append(seen, "2:"+get(tx, "a")+get(tx, "c"))
			return errBoom
		},
		func(tx store.Tx) error { // rewrites a record
			seen = append(seen, "3:"+get(tx, "a")+get(tx, "c"))
			if err := tx.Put(ctx, "t", "a", []byte(secret)); err != nil {
				return err
			}
			if err := tx.Put(ctx, "t", "d", []byte("3")); err != nil {
				return err
			}
			return tx.Put(ctx, "t", "a", []byte("3"))
		},
		func(tx store.Tx) error { // panics after writing
			if err := tx.Put(ctx, "t", "e", []byte("4")); err != nil {
				return err
			}
			if err := tx.Delete(ctx, "t", "b"); err != nil {
				return err
			}
			panic("a bug in an update")
		},
		func(tx store.Tx) error {
			seen = append(seen, "5:"+get(tx, "a")+get(tx, "b")+get(tx, "d")+get(tx, "e"))
			if err := tx.Delete(ctx, "t", "b"); err != nil {
				return err
			}
			if err := tx.Create(ctx, "t", "c", []byte("5")); err != nil {
				return fmt.Errorf("create c (the failed update's record): %w", err)
			}
			var keys []string
			err := tx.Scan(ctx, "t", "", "", 0, func(k string, v []byte) error {
				keys = append(keys, k+"="+string(v))
				return nil
			})
			seen = append(seen, "5:"+strings.Join(keys, ","))
			return err
		},
	}
	errs := db.UpdateEach(ctx, fns)
	if errs[0] != nil || !errors.Is(errs[1], errBoom) || errs[2] != nil || errs[3] == nil ||
		!strings.Contains(errs[3].Error(), "a bug in an update") || errs[4] != nil {
		t.Fatalf("errors %v", errs)
	}
	want := []string{"2:22", "3:1-", "5:313-", "5:a=3,c=5,d=3"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("the updates saw %q, want %q", seen, want)
	}
	if len(sizes) != 1 {
		t.Logf("the updates ran in groups of %v", sizes)
	}
	for k, v := range map[string]string{"a": "3", "b": "-", "c": "5", "d": "3", "e": "-"} {
		got, err := db.Get(ctx, "t", k)
		if s := string(got); errors.Is(err, store.ErrNotFound) && v != "-" || err == nil && s != v {
			t.Errorf("Get %s = %q, %v; want %s", k, got, err, v)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds a value the update overwrote", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLargeGroup: a group of large updates commits each whole, and a failed
// update among them leaves nothing.
func TestLargeGroup(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	const n = 10
	big := bytes.Repeat([]byte("v"), 256<<10)
	errBoom := errors.New("boom")
	var fns []func(store.Tx) error
	for i := range n {
		fns = append(fns, func(tx store.Tx) error {
			for j := range 2 {
				if err := tx.Put(ctx, "t", fmt.Sprintf("%02d/%d", i, j), big); err != nil {
					return err
				}
			}
			if i == 5 {
				return errBoom
			}
			return nil
		})
	}
	errs := db.UpdateEach(ctx, fns)
	for i, err := range errs {
		if (i == 5) != errors.Is(err, errBoom) || i != 5 && err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	err := db.View(ctx, func(tx store.Tx) error {
		var keys []string
		err := tx.Scan(ctx, "t", "", "", 0, func(k string, v []byte) error {
			if !bytes.Equal(v, big) {
				t.Errorf("%s: wrong value", k)
			}
			keys = append(keys, k)
			return nil
		})
		if len(keys) != 2*(n-1) || strings.Contains(strings.Join(keys, ","), "05/") {
			t.Errorf("records %v", keys)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
