package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/store"
)

// memoKeys is storeKeys with internal/kms's use of the transaction's
// KeyMemo: ResolveKey always reads the key and keeps it in the memo; a
// grant takes the key from the memo when it is there (and checks its state
// all the same), and keeps the grants it makes there. It records, per
// grant, whether the key came from the memo and whether the memo held a
// grant made by another run of the transaction's function.
type memoKeys struct {
	storeKeys
	mu        sync.Mutex
	attempt   int              // the run of the creation's function (retryStore)
	madeIn    map[string]int   // grant id -> the run that made it
	fromMemo  []bool           // per grant: the key came from the memo
	staleSeen []string         // grants of another run found in a memo
	grantsIn  map[int]int      // grants made per run
	keyReads  map[int]int      // the key read from the store per run
	seenMemos map[*KeyMemo]int // the memos of the grants, and their run
}

var errKeyDisabled = awsproto.Errorf("DisabledException", "%s is disabled.", lockKeyARN)

// state reads the key (from the memo when from is set and it is there)
// and checks it.
func (k *memoKeys) state(ctx context.Context, tx store.Tx, account, region, keyARN string, from bool) (bool, error) {
	if keyARN != lockKeyARN && keyARN != "" {
		return false, awsproto.Errorf("NotFoundException", "Key '%s' does not exist", keyARN)
	}
	memo := KeyMemoOf(ctx)
	v, ok := memo.Load("key k1")
	if !from || !ok {
		b, err := tx.Get(store.SharedReads(ctx), tKeysFake, key(account, region, "k1"))
		if err != nil {
			return false, err
		}
		k.mu.Lock()
		k.keyReads[k.attempt]++
		k.mu.Unlock()
		memo.Store("key k1", string(b))
		v, ok = string(b), false
	}
	if strings.Contains(v.(string), "Disabled") {
		return ok, errKeyDisabled
	}
	return ok, nil
}

func (k *memoKeys) ResolveKey(ctx context.Context, tx store.Tx, account, region, keyRef string) (string, error) {
	_, err := k.state(ctx, tx, account, region, keyRef, false)
	return lockKeyARN, err
}

func (k *memoKeys) CreateGrant(ctx context.Context, tx store.Tx, g GrantRequest) (string, error) {
	memo := KeyMemoOf(ctx)
	k.mu.Lock()
	for id, run := range k.madeIn {
		if _, ok := memo.Load("grant " + id); ok && run != k.attempt {
			k.staleSeen = append(k.staleSeen, id)
		}
	}
	if memo != nil {
		if run, ok := k.seenMemos[memo]; ok && run != k.attempt {
			k.staleSeen = append(k.staleSeen, "a memo of run "+fmt.Sprint(run))
		}
		k.seenMemos[memo] = k.attempt
	}
	k.mu.Unlock()
	hit, err := k.state(ctx, tx, g.Account, g.Region, g.KeyARN, true)
	if err != nil {
		return "", err
	}
	id := newOrderedID("g-")
	k.mu.Lock()
	k.fromMemo = append(k.fromMemo, hit)
	k.madeIn[id] = k.attempt
	k.grantsIn[k.attempt]++
	k.mu.Unlock()
	memo.Store("grant "+id, true)
	return id, tx.Put(ctx, tGrantsFake, key(g.Account, g.Region, "k1/"+id), []byte("{}"))
}

// retryStore runs the function of an Update twice while armed, as
// store/postgres does after a conflict: the first run is rolled back (its
// function's answer replaced by store.ErrConflict). Before each run it
// calls run, when set, with the run's number (1, 2), and between the runs
// between. once disarms it after its first such Update.
type retryStore struct {
	store.Backend
	armed, once bool
	run         func(n int)
	between     func()
}

func (s *retryStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if !s.armed {
		return s.Backend.Update(ctx, fn)
	}
	if s.once {
		s.armed = false
	}
	if s.run != nil {
		s.run(1)
	}
	err := s.Backend.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return store.ErrConflict
	})
	if !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("the first run: %v; want the conflict", err)
	}
	if s.between != nil {
		s.between()
	}
	if s.run != nil {
		s.run(2)
	}
	return s.Backend.Update(ctx, fn)
}

// TestCreationKeyMemo holds an encrypted creation's grants to the key its
// checks read: every grant finds the key in the transaction's KeyMemo (the
// key is not read again under the Region's count), and a run of the
// transaction's function after a conflict starts with a memo of its own
// (none of the first run's grants, the key read again), so that a key
// disabled between the runs refuses the desktops with the key's error.
func TestCreationKeyMemo(t *testing.T) {
	ctx := context.Background()
	for _, between := range []string{"", "nothing", "key disabled"} {
		t.Run("retry "+between, func(t *testing.T) {
			db, _ := openTestStore(t)
			keys := &memoKeys{madeIn: map[string]int{}, grantsIn: map[int]int{}, keyReads: map[int]int{}, seenMemos: map[*KeyMemo]int{}}
			rs := &retryStore{Backend: db, once: true, run: func(n int) { keys.attempt = n }}
			e := newLockEnv(t, rs)
			e.m.SetKeys(keys)
			if between != "" {
				rs.armed = true
			}
			if between == "key disabled" {
				rs.between = func() {
					if err := db.Update(ctx, func(tx store.Tx) error {
						return tx.Put(ctx, tKeysFake, key(lockAcct, lockRegion, "k1"), []byte(`{"State":"Disabled"}`))
					}); err != nil {
						t.Fatal(err)
					}
				}
			}
			users := []string{"e1", "e2", "e3"}
			var reqs []string
			for _, u := range users {
				reqs = append(reqs, fmt.Sprintf(`{"DirectoryId":%q,"UserName":%q,"BundleId":%q,"RootVolumeEncryptionEnabled":true,"UserVolumeEncryptionEnabled":true,"VolumeEncryptionKey":%q}`,
					lockDir, u, e.bundle, lockKeyARN))
			}
			out, err := e.call(ctx, "CreateWorkspaces", `{"Workspaces":[`+strings.Join(reqs, ",")+`]}`)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out)
			var res createWorkspacesOut
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			last := keys.attempt
			if between == "key disabled" {
				if len(res.PendingRequests) != 0 || len(res.FailedRequests) != len(users) {
					t.Fatalf("created %d, refused %d; want every desktop refused: %s", len(res.PendingRequests), len(res.FailedRequests), b)
				}
				for _, f := range res.FailedRequests {
					if f.ErrorCode != "DisabledException" {
						t.Errorf("refused with %s %q; want DisabledException", f.ErrorCode, f.ErrorMessage)
					}
				}
			} else if len(res.PendingRequests) != len(users) {
				t.Fatalf("created %d of %d: %s", len(res.PendingRequests), len(users), b)
			}
			for i, hit := range keys.fromMemo {
				if !hit {
					t.Errorf("grant %d of %d read the key from the store: the memo did not hold what the checks read", i+1, len(keys.fromMemo))
				}
			}
			if len(keys.staleSeen) > 0 {
				t.Errorf("a run of the transaction's function found what another run kept: %v", keys.staleSeen)
			}
			if between != "" && keys.keyReads[2] == 0 {
				t.Errorf("the run after the conflict did not read the key: %v", keys.keyReads)
			}
			if between == "key disabled" && keys.grantsIn[2] != 0 {
				t.Errorf("%d grants on the disabled key", keys.grantsIn[2])
			}
			if between != "key disabled" && keys.grantsIn[last] != len(users) {
				t.Errorf("grants in the last run %d; want %d", keys.grantsIn[last], len(users))
			}
			t.Logf("grants per run %v, key reads per run %v, from the memo %v", keys.grantsIn, keys.keyReads, keys.fromMemo)
		})
	}
}
