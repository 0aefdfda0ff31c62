package workspaces

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// TestStandbyMarkBackfilled: relationships written before the mark existed
// get their account's and Region's mark at the next start (Seed), and only
// those; a mark that exists is left as it is.
func TestStandbyMarkBackfilled(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	update(func(tx store.Tx) error {
		for _, k := range []string{"111111111111/us-east-1/ws-a", "111111111111/us-west-2/ws-b", "222222222222/eu-west-1/ws-c"} {
			if err := putRec(ctx, tx, tStandby, k, standbyRel{Role: "PRIMARY", Other: "ws-x", OtherRegion: "us-west-2"}); err != nil {
				return err
			}
		}
		return tx.Put(ctx, tStandbyAny, "222222222222/eu-west-1/", []byte("true"))
	})
	m := &Module{}
	update(func(tx store.Tx) error { return m.Seed(ctx, tx, nil, time.Time{}) })
	for _, p := range []string{"111111111111/us-east-1/", "111111111111/us-west-2/", "222222222222/eu-west-1/"} {
		if _, err := db.Get(ctx, tStandbyAny, p); err != nil {
			t.Errorf("mark of %s: %v", p, err)
		}
	}
	if _, err := db.Get(ctx, tStandbyAny, "111111111111/eu-west-1/"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an account and Region without relationships is marked: %v", err)
	}
	// Seeding again changes nothing.
	update(func(tx store.Tx) error { return m.Seed(ctx, tx, nil, time.Time{}) })
	var n int
	if err := db.View(ctx, func(tx store.Tx) (err error) { n, err = tx.Count(ctx, tStandbyAny, ""); return err }); err != nil || n != 3 {
		t.Fatalf("%d marks after a second seed, want 3 (%v)", n, err)
	}
}
