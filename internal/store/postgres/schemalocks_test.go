package postgres

import (
	"context"
	"errors"
	"hash/fnv"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// TestLockIDsOfPublicUnchanged checks that a store in the schema public
// takes the advisory lock ids of the builds before (FNV-1a of table, a 0
// byte and key), so old and new nodes of a deployment there exclude each
// other, and that another schema's ids differ.
func TestLockIDsOfPublicUnchanged(t *testing.T) {
	public := &DB{lockSeed: lockSeedOf("public")}
	other := &DB{lockSeed: lockSeedOf("deskplane")}
	for _, tk := range [][2]string{{"", ""}, {"ws", "111122223333/us-east-1/ws-0abc"}, {"ws_count", "a\x00b"}, {"t", "\xff"}} {
		h := fnv.New64a()
		h.Write([]byte(tk[0] + "\x00" + tk[1]))
		if got, want := public.lockID(tk[0], tk[1]), int64(h.Sum64()); got != want {
			t.Errorf("public: lockID(%q, %q) = %d, want %d (the ids before)", tk[0], tk[1], got, want)
		}
		if got := (&DB{}).lockID(tk[0], tk[1]); got != int64(h.Sum64()) {
			t.Errorf("zero DB: lockID(%q, %q) = %d, want public's", tk[0], tk[1], got)
		}
		if other.lockID(tk[0], tk[1]) == public.lockID(tk[0], tk[1]) {
			t.Errorf("schema deskplane: lockID(%q, %q) is public's", tk[0], tk[1])
		}
	}
	if lockSeedOf("a") == lockSeedOf("b") {
		t.Error("two schemas, one seed")
	}
}

// TestLockIDsOwnSchema opens stores in two schemas of one database, and a
// second store (another node) in the first. While a transaction of the
// first holds a key's advisory lock, a transaction of the other schema
// takes the same table and key at once (advisory locks belong to the
// database: with ids of table and key alone it waited for the first to
// end, and two such could deadlock across schemas); the second node of the
// first schema computes the same ids, so it would wait.
func TestLockIDsOwnSchema(t *testing.T) {
	dsnA, _ := freshSchema(t)
	dsnB, _ := freshSchema(t)
	a, a2, b := openDB(t, dsnA), openDB(t, dsnA), openDB(t, dsnB)
	if a.lockID("ws", "k") != a2.lockID("ws", "k") {
		t.Fatal("two nodes of one schema compute different lock ids")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	held, release := make(chan struct{}), make(chan struct{})
	errA := make(chan error, 1)
	go func() {
		errA <- a.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(ctx, "ws", "k"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			close(held)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-errA:
		t.Fatal(err)
	}
	// The other schema: at once, while a holds the key (release is closed
	// after, so a wait would run to ctx's deadline).
	err := b.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "ws", "k", []byte("b")) })
	close(release)
	if err != nil {
		t.Errorf("another schema's transaction on the same key, while the first holds it: %v (it waited on the first's lock)", err)
	}
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
}
