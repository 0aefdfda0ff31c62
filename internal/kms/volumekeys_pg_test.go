package kms

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/postgres"
	"github.com/deskplane/deskplane/internal/store/postgres/pgtest"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// TestEncryptedCreationsBesideKeyStatesOnPostgres runs, on PostgreSQL, what
// encrypted desktops of one key ask of KMS (a creation: the key checked,
// then WorkSpaces' grant on the caller's behalf; a provisioning: EBS's
// grants under it, the data keys, DescribeKey and Decrypt, with the
// transaction's workspaces.KeyMemo), from several
// goroutines, beside a loop that disables and enables the key. The calls
// read the key shared (checkKey), so the creations overlap; a change of the
// key must still wait for every transaction that checked it. So:
//   - nothing stalls (deadlock_timeout is a minute: a deadlock would run to
//     the test's deadline);
//   - while a transaction that made a grant is open, the committed key is
//     Enabled (read outside it): no grant commits on a key that a committed
//     DisableKey left disabled;
//   - every call either succeeded or failed with DisabledException, and the
//     key holds exactly the grants of the calls that succeeded;
//   - once the key is disabled, every creation fails.
func TestEncryptedCreationsBesideKeyStatesOnPostgres(t *testing.T) {
	db := openPostgres(t)
	mk, err := LoadMasterKey(filepath.Join(t.TempDir(), MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Store: db, Master: mk, Authz: identityAuthz{Allowed: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const acct, region = "111122223333", "us-east-1"
	k, err := m.newKey(acct, region, "WorkSpaces volumes", "CUSTOMER", defaultKeyPolicy(acct), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx store.Tx) error {
		return store.CreateJSON(ctx, tx, tKeys, key3(acct, region, k.KeyID), k)
	}); err != nil {
		t.Fatal(err)
	}
	admin := adminCall(acct, region)
	admin.Now = time.Now()

	// enabledOutside fails the test when the committed key is not Enabled
	// (read outside the transaction, on another connection).
	var violations atomic.Int64
	enabledOutside := func(what string) {
		b, err := db.Get(ctx, tKeys, key3(acct, region, k.KeyID))
		if err != nil {
			t.Errorf("%s: read the key outside: %v", what, err)
			return
		}
		var now keyRec
		if err := store.DecodeJSON(b, &now); err != nil {
			t.Errorf("%s: decode the key: %v", what, err)
			return
		}
		if now.State != stateEnabled {
			violations.Add(1)
		}
	}
	disabled := func(err error) bool {
		ae := awsproto.As(err)
		return ae != nil && ae.Code == "DisabledException"
	}

	// create is a creation's part: the key checked (the plan's ResolveKey),
	// then WorkSpaces' grant for the desktop. provision is its
	// provisioning's: EBS's grant for each of two volumes under it, their
	// data keys, then DescribeKey and Decrypt.
	create := func(ctx context.Context, name string) (string, error) {
		var id string
		err := db.Update(ctx, func(tx store.Tx) error {
			if _, err := m.ResolveKey(ctx, tx, acct, region, k.ARN); err != nil {
				return err
			}
			var err error
			id, err = m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
				Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
				Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
				ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-" + name + "]@[d-1234abcd01]"},
				Name:          name, CreatedBy: admin.Principal.ARN, Caller: admin})
			if err == nil {
				enabledOutside("creation " + name)
			}
			return err
		})
		return id, err
	}
	provision := func(ctx context.Context, name, parent string) ([]string, error) {
		var ids []string
		err := db.Update(ctx, func(tx store.Tx) error {
			ctx := workspaces.WithKeyMemo(ctx) // as provision does
			ids = ids[:0]
			var blobs [][]byte
			var ecs []map[string]string
			for _, vol := range []string{"vol-r" + name, "vol-u" + name} {
				ec := map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-" + name + "]@[d-1234abcd01]", "aws:ebs:id": vol}
				gid, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
					Grantee: "ebs.us-east-1.amazonaws.com", Retiring: "ebs.us-east-1.amazonaws.com",
					Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "RetireGrant"},
					ContextSubset: ec, Name: vol, CreatedBy: "workspaces.us-east-1.amazonaws.com", ParentGrantID: parent})
				if err != nil {
					return err
				}
				ids = append(ids, gid)
				blob, err := m.GenerateDataKeyWithoutPlaintext(ctx, tx, acct, region, k.ARN, ec, gid)
				if err != nil {
					return err
				}
				blobs, ecs = append(blobs, blob), append(ecs, ec)
			}
			if err := m.DescribeKey(ctx, tx, acct, region, k.ARN, parent); err != nil {
				return err
			}
			for i, blob := range blobs {
				if err := m.Decrypt(ctx, tx, acct, region, k.ARN, blob, ecs[i], ids[i]); err != nil {
					return err
				}
			}
			enabledOutside("provisioning " + name)
			return nil
		})
		return ids, err
	}

	const workers, rounds = 8, 24
	var mu sync.Mutex
	made := map[string]bool{} // grant ids that must be on the key
	var created, refused atomic.Int64
	var done atomic.Int64
	toggles := 0
	stalled := pgtest.Beside(t, "creations beside DisableKey", workers, func(ctx30 context.Context, w int, report func(error)) {
		defer done.Add(1)
		for r := range rounds {
			name := fmt.Sprintf("ws-%d-%d", w, r)
			id, err := create(ctx30, name)
			if err != nil {
				if !disabled(err) {
					report(fmt.Errorf("creation %s: %w", name, err))
				}
				refused.Add(1)
				continue
			}
			created.Add(1)
			ids, err := provision(ctx30, name, id)
			mu.Lock()
			made[id] = true
			if err == nil {
				for _, g := range ids {
					made[g] = true
				}
			}
			mu.Unlock()
			if err != nil && !disabled(err) {
				report(fmt.Errorf("provisioning %s: %w", name, err))
			}
		}
	}, func(ctx30 context.Context, w int, report func(error)) { // the key's state changes, beside them
		if w != 0 {
			return
		}
		for done.Load() < workers && ctx30.Err() == nil {
			if _, err := m.disableKey(ctx30, admin, &DisableKeyInput{KeyId: &k.KeyID}); err != nil {
				report(fmt.Errorf("DisableKey: %w", err))
				return
			}
			if _, err := m.enableKey(ctx30, admin, &EnableKeyInput{KeyId: &k.KeyID}); err != nil {
				report(fmt.Errorf("EnableKey: %w", err))
				return
			}
			toggles++
		}
	})
	if stalled {
		t.FailNow()
	}
	if n := violations.Load(); n > 0 {
		t.Errorf("%d transactions made grants while the committed key was not Enabled (a DisableKey committed before them)", n)
	}
	t.Logf("%d creations made their grant, %d refused (DisabledException); the key disabled and enabled %d times", created.Load(), refused.Load(), toggles)
	if toggles == 0 || created.Load() == 0 {
		t.Errorf("the test did not run both sides: %d toggles, %d creations", toggles, created.Load())
	}

	// The key holds exactly the grants of the calls that succeeded.
	var onKey []string
	if err := db.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, tGrants, key3(acct, region, k.KeyID)+"/", "", 0, func(_ string, g *grantRec) error {
			onKey = append(onKey, g.GrantID)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range onKey {
		if !made[id] {
			t.Errorf("grant %s is on the key, but its call failed", id)
		}
		delete(made, id)
	}
	for id := range made {
		t.Errorf("grant %s was made, but is not on the key", id)
	}

	// Disabled, the key refuses every creation.
	if _, err := m.disableKey(ctx, admin, &DisableKeyInput{KeyId: &k.KeyID}); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		if _, err := create(ctx, fmt.Sprintf("after-%d", i)); !disabled(err) {
			t.Errorf("a creation after DisableKey: %v; want DisabledException", err)
		}
	}
}

// openPostgres opens a fresh schema of DESKPLANE_TEST_POSTGRES (dropped at
// the end), with deadlock_timeout at a minute: a deadlock stalls until the
// test's deadline instead of being broken and retried.
func openPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	return pgtest.Open(t, map[string]string{"deadlock_timeout": "60s"})
}
