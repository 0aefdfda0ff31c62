package workspaces

import (
	"context"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// chosenIDKeys is storeKeys whose CreateGrant gives a grant the id its
// request chose (GrantRequest.GrantID), as internal/kms does, and records
// the ids of WorkSpaces' grants.
type chosenIDKeys struct {
	storeKeys
	mu     sync.Mutex
	grants []string
}

func (k *chosenIDKeys) CreateGrant(ctx context.Context, tx store.Tx, g GrantRequest) (string, error) {
	if err := k.key(ctx, tx, g.Account, g.Region, g.KeyARN); err != nil {
		return "", err
	}
	id := g.GrantID
	if id == "" {
		id = newOrderedID("g-")
	}
	if g.Caller != nil {
		k.mu.Lock()
		k.grants = append(k.grants, id)
		k.mu.Unlock()
	}
	return id, tx.Put(ctx, tGrantsFake, key(g.Account, g.Region, "k1/"+id), []byte("{}"))
}

// desktopWrites counts, per Update, the desktop records written after
// they were created (Put, PutMany).
type desktopWrites struct {
	store.Backend
	mu     sync.Mutex
	writes []int
}

type desktopWritesTx struct {
	store.Tx
	n *int
}

func (s *desktopWrites) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	n := 0
	err := s.Backend.Update(ctx, func(tx store.Tx) error {
		n = 0
		return fn(desktopWritesTx{tx, &n})
	})
	s.mu.Lock()
	s.writes = append(s.writes, n)
	s.mu.Unlock()
	return err
}

func (t desktopWritesTx) Put(ctx context.Context, table, k string, v []byte) error {
	if table == tDesktops {
		*t.n++
	}
	return t.Tx.Put(ctx, table, k, v)
}

func (t desktopWritesTx) PutMany(ctx context.Context, table string, recs []store.KV) error {
	if table == tDesktops {
		*t.n += len(recs)
	}
	return t.Tx.PutMany(ctx, table, recs)
}

// TestCreationWritesDesktopsOnce: an encrypted creation chooses its
// WorkSpaces grants' ids (GrantRequest.GrantID) before it creates the
// desktops, so their records are created with them and not written again
// after the grants (25 rows fewer per creation of 25 desktops); the
// record holds the grant made. A key service that picks ids of its own
// (storeKeys) still gets the records written again with them. It fails
// when the creation does not choose the ids (a second write per desktop)
// and when the record keeps a chosen id the grant did not get.
func TestCreationWritesDesktopsOnce(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		chosen bool
	}{{"ids chosen", true}, {"ids of the key service", false}} {
		t.Run(c.name, func(t *testing.T) {
			db, _ := openTestStore(t)
			ds := &desktopWrites{Backend: db}
			e := newLockEnv(t, ds)
			keys := &chosenIDKeys{}
			if c.chosen {
				e.m.SetKeys(keys)
			}
			n := len(ds.writes)
			ids, err := e.createEncrypted(ctx, "o1", "o2", "o3")
			if err != nil {
				t.Fatal(err)
			}
			rewrites := 0
			for _, w := range ds.writes[n:] {
				rewrites += w
			}
			want := 0
			if !c.chosen {
				want = 3
			}
			if rewrites != want {
				t.Errorf("the creation wrote %d desktop records after creating them; want %d", rewrites, want)
			}
			for i, id := range ids {
				w := readDesktop(t, db, id)
				if w.WorkspaceGrant == "" {
					t.Errorf("desktop %d has no grant", i+1)
				}
				if c.chosen && (len(keys.grants) != len(ids) || w.WorkspaceGrant != keys.grants[i]) {
					t.Errorf("desktop %d holds grant %q; the grants made %v", i+1, w.WorkspaceGrant, keys.grants)
				}
				if err := db.View(ctx, func(tx store.Tx) error {
					_, err := tx.Get(ctx, tGrantsFake, key(lockAcct, lockRegion, "k1/"+w.WorkspaceGrant))
					return err
				}); err != nil {
					t.Errorf("desktop %d: its grant %s: %v", i+1, w.WorkspaceGrant, err)
				}
			}
		})
	}
}
