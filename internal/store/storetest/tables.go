package storetest

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// testTables holds store.GetTables and store.CreateTables (one round trip
// on store/postgres, a call per table elsewhere) to GetMany and CreateMany
// of each table in order: what each read finds, what each creation refuses
// and writes, a key taken in one table leaving the others' records created,
// the transaction's own writes seen, and nothing left after a rollback.
func testTables(t *testing.T, db store.Backend) {
	ctx := t.Context()
	put(t, db, "ta", "k1", "a1", "k2", "a2")
	put(t, db, "tb", "k2", "b2")
	put(t, db, "tc", "k1", "c1")
	put(t, db, "td", "k1", "old")

	// Reads: the same key in several tables, absent keys, an empty read.
	reads := []store.TableKeys{
		{Table: "ta", Keys: []string{"k1", "k3", "k2"}},
		{Table: "tb", Keys: []string{"k1", "k2"}},
		{Table: "tc"},
		{Table: "tc", Keys: []string{"k1", "k4"}},
	}
	want := []map[string]string{{"k1": "a1", "k2": "a2"}, {"k2": "b2"}, {}, {"k1": "c1"}}
	check := func(what string, got []map[string][]byte, want []map[string]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d maps, want %d", what, len(got), len(want))
		}
		for i := range want {
			g := map[string]string{}
			for k, v := range got[i] {
				g[k] = string(v)
			}
			if got[i] == nil || !maps.Equal(g, want[i]) {
				t.Fatalf("%s: read %d = %v, want %v", what, i, g, want[i])
			}
		}
	}
	view(t, db, func(tx store.Tx) error {
		got, err := store.GetTables(ctx, tx, reads)
		if err != nil {
			return err
		}
		check("View", got, want)
		return nil
	})
	if err := db.Update(ctx, func(tx store.Tx) error {
		// The transaction's own writes, queued or not, are seen.
		if err := tx.Put(ctx, "tb", "k1", []byte("b1")); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "ta", "k2"); err != nil {
			return err
		}
		got, err := store.GetTables(ctx, tx, reads)
		if err != nil {
			return err
		}
		check("Update", got, []map[string]string{{"k1": "a1"}, {"k1": "b1", "k2": "b2"}, {}, {"k1": "c1"}})
		return errors.New("roll back")
	}); err == nil || err.Error() != "roll back" {
		t.Fatalf("rolled back Update: %v", err)
	}

	// Creations: a key taken in the first table and in the second, a key
	// repeated, a table of its own, an empty one.
	creates := []store.TableRecs{
		{Table: "ta", Recs: []store.KV{{Key: "k1", Value: []byte("new")}, {Key: "k5", Value: []byte("a5")}}},
		{Table: "tb", Recs: []store.KV{{Key: "k5", Value: []byte("b5")}, {Key: "k2", Value: []byte("new")}, {Key: "k5", Value: []byte("again")}, {Key: "k6", Value: []byte("b6")}}, Uncached: true},
		{Table: "td"},
		{Table: "td", Recs: []store.KV{{Key: "k1", Value: []byte("d1")}, {Key: "k2", Value: []byte("d2")}}},
	}
	wantExisting := [][]string{{"k1"}, {"k2", "k5"}, nil, {"k1"}}
	wantAfter := map[string]string{"ta/k1": "a1", "ta/k2": "a2", "ta/k5": "a5", "tb/k2": "b2", "tb/k5": "b5", "tb/k6": "b6", "td/k1": "old", "td/k2": "d2"}
	creations := func(tx store.Tx) error {
		existing, err := store.CreateTables(ctx, tx, creates)
		if err != nil {
			return err
		}
		if fmt.Sprint(existing) != fmt.Sprint(wantExisting) || len(existing) != len(wantExisting) {
			return fmt.Errorf("CreateTables existing = %v, want %v", existing, wantExisting)
		}
		// Read back in the transaction.
		got, err := store.GetTables(ctx, tx, []store.TableKeys{{Table: "ta", Keys: []string{"k1", "k5"}}, {Table: "tb", Keys: []string{"k2", "k5", "k6"}}, {Table: "td", Keys: []string{"k1", "k2"}}})
		if err != nil {
			return err
		}
		check("after CreateTables", got, []map[string]string{{"k1": "a1", "k5": "a5"}, {"k2": "b2", "k5": "b5", "k6": "b6"}, {"k1": "old", "k2": "d2"}})
		return nil
	}
	// Rolled back: nothing stays.
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := creations(tx); err != nil {
			return err
		}
		return errors.New("roll back")
	}); err == nil || err.Error() != "roll back" {
		t.Fatalf("rolled back Update: %v", err)
	}
	for _, k := range []string{"ta/k5", "tb/k5", "tb/k6", "td/k2"} {
		if v := get(t, db, k[:2], k[3:]); v != "<nil>" {
			t.Fatalf("after a rollback %s = %q", k, v)
		}
	}
	update(t, db, creations)
	for k, v := range wantAfter {
		if got := get(t, db, k[:2], k[3:]); got != v {
			t.Fatalf("after commit %s = %q, want %q", k, got, v)
		}
	}
}
