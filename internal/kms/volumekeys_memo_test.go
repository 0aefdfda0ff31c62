package kms

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// countGets is a Tx that counts the records read, those of keys, and the
// reads of grants (a Get or a GetMany each).
type countGets struct {
	store.Tx
	n, keys, grantReads *int
	reads               *[]string // each read's table, and "shared" when it is
}

func (c countGets) note(ctx context.Context, table string) {
	if c.reads == nil {
		return
	}
	r := table
	if store.ReadsShared(ctx) {
		r += " shared"
	}
	*c.reads = append(*c.reads, r)
}

func (c countGets) Get(ctx context.Context, table, key string) ([]byte, error) {
	c.note(ctx, table)
	*c.n++
	if table == tKeys && c.keys != nil {
		*c.keys++
	}
	if table == tGrants && c.grantReads != nil {
		*c.grantReads++
	}
	return c.Tx.Get(ctx, table, key)
}

func (c countGets) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	c.note(ctx, table)
	*c.n += len(keys)
	if table == tKeys && c.keys != nil {
		*c.keys += len(keys)
	}
	if table == tGrants && c.grantReads != nil {
		*c.grantReads++
	}
	return c.Tx.GetMany(ctx, table, keys)
}

// TestKeyMemoIsTheStore holds WorkSpaces' grants of a creation and a
// desktop's provisioning calls with a workspaces.KeyMemo (as writeDesktops
// and provision make them) to the same calls reading the
// store each time: the same answers and the same CloudTrail events, when the
// key and grants are usable, when the parent grant was retired before or
// inside the transaction, and when the key is disabled or pending deletion;
// and the memo reads fewer records. The creation's calls start with its
// key check (ResolveKey), which keeps the key in the memo: with the memo,
// the key is read once in the transaction.
func TestKeyMemoIsTheStore(t *testing.T) {
	const acct, region = "111122223333", "us-east-1"
	type outcome struct {
		answers []string // per call: "ok" or the error's code
		events  []string // name and error code of each event recorded
		gets    int
		keyGets int // of the key's record
		// Reads of grants in all, and after ReadGrants (withReadGrants).
		grantReads, grantReadsAfter int
		// withReadGrantsAhead: the reads of its ReadGrants, in order, and
		// what it returned of the desktops' read.
		ahead    []string
		desktops []map[string][]byte
	}
	// How the calls run: reading the store each time; with a memo; with
	// a memo the provisioning fills first (ReadGrants, as a provisioning
	// batch does).
	// withReadGrantsAhead: the provisioning's calls start with a memo of
	// their own (a provisioning batch's transaction), which ReadGrants
	// fills with the key and the grants, read with a desktop's record in
	// one store.GetTables (as a batch of records its creation built).
	const (
		plainReads = iota
		withMemo
		withReadGrants
		withReadGrantsAhead
	)
	run := func(t *testing.T, scenario string, mode int) outcome {
		m, db, ev := testModule(t)
		m.SetAuthorizer(identityAuthz{Allowed: true})
		ctx := context.Background()
		k, err := m.newKey(acct, region, "WorkSpaces volumes", "CUSTOMER", defaultKeyPolicy(acct), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var parent string
		if err := db.Update(ctx, func(tx store.Tx) error {
			if err := store.CreateJSON(ctx, tx, tKeys, key3(acct, region, k.KeyID), k); err != nil {
				return err
			}
			parent, err = m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
				Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
				Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
				ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-1234abcd01]"},
				Name:          "ws-1", CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		admin := adminCall(acct, region)
		admin.Now = time.Now()
		switch scenario {
		case "parent retired before":
			if err := db.Update(ctx, func(tx store.Tx) error { return m.RetireGrant(ctx, tx, acct, region, k.ARN, parent) }); err != nil {
				t.Fatal(err)
			}
		case "key disabled":
			if _, err := m.disableKey(ctx, admin, &DisableKeyInput{KeyId: &k.KeyID}); err != nil {
				t.Fatal(err)
			}
		case "key pending deletion":
			if _, err := m.scheduleKeyDeletion(ctx, admin, &ScheduleKeyDeletionInput{KeyId: &k.KeyID}); err != nil {
				t.Fatal(err)
			}
		}
		ev.mu.Lock()
		ev.evs = nil
		ev.mu.Unlock()
		var o outcome
		answer := func(err error) {
			switch ae := awsproto.As(err); {
			case err == nil:
				o.answers = append(o.answers, "ok")
			case ae != nil:
				o.answers = append(o.answers, ae.Code)
			default:
				t.Fatalf("%s: %v", scenario, err)
			}
		}
		err = db.Update(ctx, func(stx store.Tx) error {
			o = outcome{}
			ctx := ctx
			if mode != plainReads {
				ctx = workspaces.WithKeyMemo(ctx)
			}
			tx := countGets{Tx: stx, n: &o.gets, keys: &o.keyGets, grantReads: &o.grantReads}
			readGrants := -1
			// The creation's check of its key (planDesktop), then
			// WorkSpaces' grants for two desktops of one creation
			// (writeDesktops), on the caller's behalf.
			_, err := m.ResolveKey(ctx, tx, acct, region, k.ARN)
			answer(err)
			for _, ws := range []string{"ws-2", "ws-3"} {
				_, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
					Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
					Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
					ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-2]@[d-1234abcd01]"},
					Name:          ws, CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region)})
				answer(err)
			}
			if mode == withReadGrants || mode == withReadGrantsAhead {
				// The provisioning batch's read of its WorkSpaces grants
				// (the parent twice, and one that does not exist).
				grants := []workspaces.KeyGrant{{Account: acct, Region: region, KeyARN: k.ARN, GrantID: parent},
					{Account: acct, Region: region, KeyARN: k.ARN, GrantID: parent},
					{Account: acct, Region: region, KeyARN: k.ARN, GrantID: strings.Repeat("0", 64)}}
				var first []store.TableKeys
				if mode == withReadGrantsAhead {
					ctx = workspaces.WithKeyMemo(ctx)
					if err := stx.Put(ctx, "test_desktops", "ws-1", []byte("{}")); err != nil {
						t.Fatal(err)
					}
					first = []store.TableKeys{{Table: "test_desktops", Keys: []string{"ws-1", "ws-9"}}}
					tx.reads = &o.ahead
				}
				got, err := m.ReadGrants(ctx, tx, grants, first...)
				if err != nil {
					t.Fatalf("%s: ReadGrants: %v", scenario, err)
				}
				tx.reads, o.desktops = nil, got
				// What it kept is what the store holds.
				gk := key3(acct, region, k.KeyID) + "/" + parent
				v, kept := workspaces.KeyMemoOf(ctx).Load("grant " + gk)
				want, err := store.GetJSON[grantRec](ctx, stx, tGrants, gk)
				switch {
				case err == nil && (!kept || !reflect.DeepEqual(v, want)):
					t.Errorf("%s: ReadGrants kept %+v (%v); the store holds %+v", scenario, v, kept, want)
				case errors.Is(err, store.ErrNotFound) && kept:
					t.Errorf("%s: ReadGrants kept %+v for a grant the store does not hold", scenario, v)
				case err != nil && !errors.Is(err, store.ErrNotFound):
					t.Fatal(err)
				}
				if _, kept := workspaces.KeyMemoOf(ctx).Load("grant " + key3(acct, region, k.KeyID) + "/" + strings.Repeat("0", 64)); kept {
					t.Errorf("%s: ReadGrants kept a grant that does not exist", scenario)
				}
				readGrants = o.grantReads
			}
			answer(m.DescribeKey(ctx, tx, acct, region, k.ARN, parent))
			if scenario == "parent retired inside" {
				answer(m.RetireGrant(ctx, tx, acct, region, k.ARN, parent))
			}
			var gids []string
			var blobs [][]byte
			var ecs []map[string]string
			for _, vol := range []string{"vol-r1", "vol-u1"} {
				ec := map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-1234abcd01]", "aws:ebs:id": vol}
				gid, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
					Grantee: "ebs.us-east-1.amazonaws.com", Retiring: "ebs.us-east-1.amazonaws.com",
					Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "RetireGrant"},
					ContextSubset: ec, Name: vol, CreatedBy: "workspaces.us-east-1.amazonaws.com", ParentGrantID: parent})
				answer(err)
				blob, err := m.GenerateDataKeyWithoutPlaintext(ctx, tx, acct, region, k.ARN, ec, gid)
				answer(err)
				gids, blobs, ecs = append(gids, gid), append(blobs, blob), append(ecs, ec)
			}
			answer(m.DescribeKey(ctx, tx, acct, region, k.ARN, parent))
			for i := range blobs {
				answer(m.Decrypt(ctx, tx, acct, region, k.ARN, blobs[i], ecs[i], gids[i]))
			}
			if readGrants >= 0 {
				o.grantReadsAfter = o.grantReads - readGrants
			}
			// A grant retired inside the transaction is gone for the
			// calls after it.
			if gids[0] != "" {
				answer(m.RetireGrant(ctx, tx, acct, region, k.ARN, gids[0]))
				answer(m.Decrypt(ctx, tx, acct, region, k.ARN, blobs[0], ecs[0], gids[0]))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ev.mu.Lock()
		for _, e := range ev.evs {
			o.events = append(o.events, e.Operation+" "+e.ErrorCode+" "+e.InvokedBy)
		}
		ev.mu.Unlock()
		return o
	}
	for _, scenario := range []string{"usable", "parent retired before", "parent retired inside", "key disabled", "key pending deletion"} {
		t.Run(scenario, func(t *testing.T) {
			plain, memo, read := run(t, scenario, plainReads), run(t, scenario, withMemo), run(t, scenario, withReadGrants)
			ahead := run(t, scenario, withReadGrantsAhead)
			for _, o := range []struct {
				name string
				o    outcome
			}{{"the memo", memo}, {"the memo and ReadGrants", read}, {"ReadGrants with the desktops", ahead}} {
				if !slices.Equal(plain.answers, o.o.answers) {
					t.Errorf("answers with %s %v; reading the store %v", o.name, o.o.answers, plain.answers)
				}
				if !slices.Equal(plain.events, o.o.events) {
					t.Errorf("events with %s %v; reading the store %v", o.name, o.o.events, plain.events)
				}
			}
			// With the grants read ahead, the provisioning's calls read
			// no grant while their grants are usable (in the other
			// scenarios they read again what ReadGrants did not find).
			if scenario == "usable" && read.grantReadsAfter != 0 {
				t.Errorf("after ReadGrants the calls read grants %d times; want none", read.grantReadsAfter)
			}
			if read.keyGets != 1 {
				t.Errorf("with ReadGrants the key was read %d times; want once, by ResolveKey", read.keyGets)
			}
			// Ahead of the desktops' calls, in a memo of their own: the
			// desktops' read, the key's and the grants', in that order
			// (the order of their locks, countKey), in one GetTables; the
			// key is read there once, and no grant after it.
			if want := []string{"test_desktops", tKeys + " shared", tGrants + " shared"}; !slices.Equal(ahead.ahead, want) {
				t.Errorf("ReadGrants with the desktops read %v; want %v", ahead.ahead, want)
			}
			if len(ahead.desktops) != 1 || len(ahead.desktops[0]) != 1 || string(ahead.desktops[0]["ws-1"]) != "{}" {
				t.Errorf("ReadGrants returned %q of the desktops' read; want ws-1's record", ahead.desktops)
			}
			if ahead.keyGets != 2 {
				t.Errorf("with ReadGrants ahead the key was read %d times; want twice, by ResolveKey and ReadGrants", ahead.keyGets)
			}
			if scenario == "usable" && ahead.grantReadsAfter != 0 {
				t.Errorf("after ReadGrants with the desktops the calls read grants %d times; want none", ahead.grantReadsAfter)
			}
			if memo.gets >= plain.gets {
				t.Errorf("the memo read %d records; the store each time %d", memo.gets, plain.gets)
			}
			if memo.keyGets != 1 {
				t.Errorf("the memo read the key %d times; want once, by ResolveKey", memo.keyGets)
			}
			t.Logf("%v; records read %d -> %d, the key %d -> %d; grant reads %d -> %d -> %d (after ReadGrants %d)", fmt.Sprint(memo.answers),
				plain.gets, memo.gets, plain.keyGets, memo.keyGets, plain.grantReads, memo.grantReads, read.grantReads, read.grantReadsAfter)
		})
	}
}
