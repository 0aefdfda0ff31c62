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
