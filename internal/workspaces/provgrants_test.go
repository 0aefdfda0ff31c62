package workspaces

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/store"
)

// grantKeys is storeKeys with a GrantReader that reads the grants as
// internal/kms does (one GetMany, shared, the grants found kept in the
// KeyMemo), and WorkSpaces' grant checked from the memo when it is there
// (from the store otherwise, refused when absent). It records each
// ReadGrants and whether the calls after it found their grants in its memo.
type grantKeys struct {
	storeKeys
	mu      sync.Mutex
	run     int        // the run of the transaction's function (retryStore)
	reads   [][]string // per ReadGrants: the grant ids asked for
	readRun []int      // per ReadGrants: its run
	// per ReadGrants: whether it read the batch's desktops (exclusive) too
	withDesktops []bool
	memos        map[*KeyMemo]int // the memos ReadGrants filled, and their run
	hits         int              // grant checks that found the grant in ReadGrants' memo
	misses       []string         // grant checks that did not (why)
	refusals     int              // grant checks that found no grant
}

func (k *grantKeys) ReadGrants(ctx context.Context, tx store.Tx, grants []KeyGrant, first ...store.TableKeys) ([]map[string][]byte, error) {
	memo := KeyMemoOf(ctx)
	var ids, keys []string
	for _, g := range grants {
		if _, ok := memo.Load("grant " + g.GrantID); ok || slices.Contains(ids, g.GrantID) {
			continue // read already (as internal/kms)
		}
		ids = append(ids, g.GrantID)
		keys = append(keys, key(g.Account, g.Region, "k1/"+g.GrantID))
	}
	if len(ids) == 0 {
		return store.GetTables(ctx, tx, first)
	}
	n := len(first)
	got, err := store.GetTables(ctx, tx, append(first[:n:n], store.TableKeys{Table: tGrantsFake, Keys: keys, Shared: true}))
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if _, ok := got[n][keys[i]]; ok {
			memo.Store("grant "+id, true)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads = append(k.reads, ids)
	k.readRun = append(k.readRun, k.run)
	k.withDesktops = append(k.withDesktops, n == 1 && first[0].Table == tDesktops && !first[0].Shared)
	k.memos[memo] = k.run
	return got[:n], nil
}

// workspaceGrant checks WorkSpaces' grant id.
func (k *grantKeys) workspaceGrant(ctx context.Context, tx store.Tx, account, region, id string) error {
	memo := KeyMemoOf(ctx)
	k.mu.Lock()
	run, filled := k.memos[memo]
	_, found := memo.Load("grant " + id)
	switch {
	case !filled || run != k.run:
		k.misses = append(k.misses, fmt.Sprintf("grant %s: a memo ReadGrants did not fill in this run (filled %v, run %d of %d)", id, filled, run, k.run))
	case !found:
		k.misses = append(k.misses, "grant "+id+": not in the memo")
	default:
		k.hits++
	}
	k.mu.Unlock()
	if found {
		return nil
	}
	if _, err := tx.Get(store.SharedReads(ctx), tGrantsFake, key(account, region, "k1/"+id)); errors.Is(err, store.ErrNotFound) {
		k.mu.Lock()
		k.refusals++
		k.mu.Unlock()
		return awsproto.Errorf("AccessDeniedException", "the grant %s was retired", id)
	} else if err != nil {
		return err
	}
	return nil
}

func (k *grantKeys) CreateGrant(ctx context.Context, tx store.Tx, g GrantRequest) (string, error) {
	if g.ParentGrantID != "" {
		if err := k.workspaceGrant(ctx, tx, g.Account, g.Region, g.ParentGrantID); err != nil {
			return "", err
		}
	}
	return k.storeKeys.CreateGrant(ctx, tx, g)
}

func (k *grantKeys) DescribeKey(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error {
	if err := k.key(ctx, tx, account, region, keyARN); err != nil {
		return err
	}
	return k.workspaceGrant(ctx, tx, account, region, grantID)
}

// TestProvisioningReadsGrantsFirst holds a provisioning batch of encrypted
// desktops to reading their WorkSpaces grants ahead (GrantReader): once per
// run of the job's function, with every desktop's grant, into the memo
// every KMS call of that run then finds them in (a run after a conflict
// fills a memo of its own); and a grant retired before the provisioning
// still leaves its desktop in ERROR, the others AVAILABLE.
func TestProvisioningReadsGrantsFirst(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name           string
		retry, retired bool
	}{{"plain", false, false}, {"retry", true, false}, {"grant retired", false, true}, {"grant retired, retry", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			db, _ := openTestStore(t)
			keys := &grantKeys{memos: map[*KeyMemo]int{}}
			ts := &retryStore{Backend: db, run: func(int) { keys.run++ }}
			e := newLockEnv(t, ts)
			e.m.SetKeys(keys)
			ids, err := e.createEncrypted(ctx, "g1", "g2", "g3")
			if err != nil {
				t.Fatal(err)
			}
			grants := map[string]string{} // desktop -> WorkSpaces' grant
			for _, id := range ids {
				grants[id] = readDesktop(t, db, id).WorkspaceGrant
			}
			if c.retired {
				if err := db.Update(ctx, func(tx store.Tx) error {
					return tx.Delete(ctx, tGrantsFake, key(lockAcct, lockRegion, "k1/"+grants[ids[1]]))
				}); err != nil {
					t.Fatal(err)
				}
			}
			ts.armed = c.retry
			e.run()
			ts.armed = false
			want := []string{grants[ids[0]], grants[ids[1]], grants[ids[2]]}
			slices.Sort(want)
			runs := 1
			if c.retry {
				runs = 2
			}
			if len(keys.reads) != runs {
				t.Fatalf("ReadGrants called %d times; want %d (once per run of the batch): %v", len(keys.reads), runs, keys.reads)
			}
			for i, got := range keys.reads {
				got = slices.Sorted(slices.Values(got))
				if !slices.Equal(got, want) {
					t.Errorf("ReadGrants %d read %v; want the batch's grants %v", i+1, got, want)
				}
			}
			if c.retry && keys.readRun[0] == keys.readRun[1] {
				t.Errorf("both ReadGrants in run %d", keys.readRun[0])
			}
			// The first run has the records the creation built (freshRecs),
			// so its grants are known ahead: they are read with the
			// desktops, in one GetTables. A retry has them no more: it reads
			// the desktops, then the grants.
			if want := []bool{true, false}[:runs]; !slices.Equal(keys.withDesktops, want) {
				t.Errorf("ReadGrants with the batch's desktops: %v; want %v (one per run)", keys.withDesktops, want)
			}
			missing := 0
			if c.retired {
				missing = 1
			}
			// Per run: 2 volumes' grants and the attach's DescribeKey per
			// desktop; the desktop whose grant is gone stops at its first.
			wantHits := runs * (3*3 - 3*missing)
			if keys.hits != wantHits || len(keys.misses) != runs*missing || keys.refusals != runs*missing {
				t.Errorf("grant checks: %d found in ReadGrants' memo (want %d), %d refused (want %d), misses %v", keys.hits, wantHits, keys.refusals, runs*missing, keys.misses)
			}
			for i, id := range ids {
				w := readDesktop(t, db, id)
				want := "AVAILABLE"
				if c.retired && i == 1 {
					want = "ERROR"
				}
				if w.State != want {
					t.Errorf("desktop %d: %s (%s); want %s", i+1, w.State, w.ErrorCode, want)
				}
			}
		})
	}
}

func readDesktop(t *testing.T, db store.Backend, id string) *desktopRec {
	t.Helper()
	var w *desktopRec
	if err := db.View(context.Background(), func(tx store.Tx) error {
		var err error
		w, err = getRec[desktopRec](context.Background(), tx, tDesktops, key(lockAcct, lockRegion, id))
		return err
	}); err != nil || w == nil {
		t.Fatalf("desktop %s: %v", id, err)
	}
	return w
}
