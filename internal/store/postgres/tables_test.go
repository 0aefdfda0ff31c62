package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// TestTablesLockInOrder checks that GetTables and CreateTables take their
// reads' (creations') locks in the order given, table after table, as the
// calls they stand for would: a caller keeps a lock order across tables
// with it (a creation takes the Region's count, then the address
// counters). The keys are chosen so that the second table's key sorts
// first by lock id; while another connection holds it, the transaction
// must hold the first table's key and wait on the second. Were the ids
// of all the tables sorted together, it would wait holding nothing.
func TestTablesLockInOrder(t *testing.T) {
	dsn, admin := freshSchema(t)
	db := openDB(t, dsn)
	b := make([]byte, 4)
	rand.Read(b)
	t1, t2 := "order1_"+hex.EncodeToString(b), "order2_"+hex.EncodeToString(b)
	// keys returns a key of t1 and one of t2 whose lock id sorts first.
	keys := func(prefix string) (string, string) {
		for i := 0; ; i++ {
			a, k := fmt.Sprintf("%s-a%d", prefix, i), fmt.Sprintf("%s-b%d", prefix, i)
			if db.lockID(t2, k) < db.lockID(t1, a) {
				return a, k
			}
		}
	}
	cases := []struct {
		name string
		op   func(ctx context.Context, tx store.Tx, a, k string) error
	}{
		{"GetTables", func(ctx context.Context, tx store.Tx, a, k string) error {
			_, err := store.GetTables(ctx, tx, []store.TableKeys{{Table: t1, Keys: []string{a}}, {Table: t2, Keys: []string{k}}})
			return err
		}},
		{"CreateTables", func(ctx context.Context, tx store.Tx, a, k string) error {
			_, err := store.CreateTables(ctx, tx, []store.TableRecs{{Table: t1, Recs: []store.KV{{Key: a, Value: []byte("1")}}}, {Table: t2, Recs: []store.KV{{Key: k, Value: []byte("2")}}}})
			return err
		}},
		// Queued puts, sent with the COMMIT as one lock statement
		// (coalesce): the locks in the order of the Puts.
		{"Puts", func(ctx context.Context, tx store.Tx, a, k string) error {
			if err := tx.Put(ctx, t1, a, []byte("1")); err != nil {
				return err
			}
			if err := tx.PutMany(ctx, t1, []store.KV{{Key: a + "x", Value: []byte("1")}}); err != nil {
				return err
			}
			return tx.Put(ctx, t2, k, []byte("2"))
		}},
	}
	for _, c := range cases {
		a, k := keys(c.name)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a stall shows as a failure, not a hang
		hold, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hold.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID(t2, k)); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- db.Update(ctx, func(tx store.Tx) error { return c.op(ctx, tx, a, k) })
		}()
		// Until the transaction holds the first table's key (another
		// connection cannot take it), or the deadline.
		held := false
		for !held && ctx.Err() == nil {
			var free bool
			if err := admin.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, db.lockID(t1, a)).Scan(&free); err == nil {
				held = !free
			}
		}
		if err := hold.Rollback(context.WithoutCancel(ctx)); err != nil {
			t.Fatal(err)
		}
		err = <-done
		cancel()
		if !held {
			t.Fatalf("%s: waiting on the second table's key, the transaction did not hold the first's: the locks are not taken in the order of the tables (%v)", c.name, err)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}

// TestTablesSharedRead checks that a read of GetTables marked Shared takes
// its keys' locks shared and the others of the call exclusive (as GetMany
// under a context marked store.SharedReads, or not, would): a provisioning
// batch reads the desktops it writes and the KMS key and grants it only
// checks in one call. The locks held are read from pg_locks while the
// transaction is open. It fails when Shared is ignored (every lock
// exclusive) and when it is applied to the whole call.
func TestTablesSharedRead(t *testing.T) {
	dsn, admin := freshSchema(t)
	db := openDB(t, dsn)
	b := make([]byte, 4)
	rand.Read(b)
	t1, t2 := "own_"+hex.EncodeToString(b), "checked_"+hex.EncodeToString(b)
	// mode returns the mode another backend holds the advisory lock id in.
	mode := func(ctx context.Context, id int64) string {
		var m string
		err := admin.QueryRow(ctx, `SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
			AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1`, id).Scan(&m)
		if err != nil {
			return "none (" + err.Error() + ")"
		}
		return m
	}
	ctx := t.Context()
	err := db.Update(ctx, func(tx store.Tx) error {
		_, err := store.GetTables(ctx, tx, []store.TableKeys{{Table: t1, Keys: []string{"a"}}, {Table: t2, Keys: []string{"k", "l"}, Shared: true}})
		if err != nil {
			return err
		}
		if got := mode(ctx, db.lockID(t1, "a")); got != "ExclusiveLock" {
			t.Errorf("the read not marked Shared holds its key's lock %s, want ExclusiveLock", got)
		}
		for _, k := range []string{"k", "l"} {
			if got := mode(ctx, db.lockID(t2, k)); got != "ShareLock" {
				t.Errorf("the read marked Shared holds %s's lock %s, want ShareLock", k, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
