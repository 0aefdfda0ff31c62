package kms

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// TestCreateGrantChosenID: a grant WorkSpaces asks for under an id it chose
// (GrantRequest.GrantID, so that a creation writes its desktops with it,
// once) gets that id, and is the grant stored; without one, KMS picks a
// new id. It fails when CreateGrant ignores the chosen id.
func TestCreateGrantChosenID(t *testing.T) {
	const acct, region = "111122223333", "us-east-1"
	m, db, _ := testModule(t)
	m.SetAuthorizer(identityAuthz{Allowed: true})
	ctx := context.Background()
	k, err := m.newKey(acct, region, "WorkSpaces volumes", "CUSTOMER", defaultKeyPolicy(acct), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	chosen := workspaces.NewGrantID()
	var got, picked string
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := store.CreateJSON(ctx, tx, tKeys, key3(acct, region, k.KeyID), k); err != nil {
			return err
		}
		req := workspaces.GrantRequest{Account: acct, Region: region, KeyARN: k.ARN,
			Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
			Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
			ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-1]@[d-1234abcd01]"},
			Name:          "ws-1", CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region), GrantID: chosen}
		if got, err = m.CreateGrant(ctx, tx, req); err != nil {
			return err
		}
		req.GrantID, req.Name = "", "ws-2"
		picked, err = m.CreateGrant(ctx, tx, req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != chosen {
		t.Errorf("CreateGrant with GrantID %s made grant %s", chosen, got)
	}
	if picked == "" || picked == chosen || len(picked) != 64 || strings.Trim(picked, "0123456789abcdef") != "" {
		t.Errorf("CreateGrant without GrantID made grant %q; want a new id of 64 hex digits", picked)
	}
	for _, id := range []string{got, picked} {
		if err := db.View(ctx, func(tx store.Tx) error {
			g, err := store.GetJSON[grantRec](ctx, tx, tGrants, key3(acct, region, k.KeyID)+"/"+id)
			if err == nil && g.GrantID != id {
				t.Errorf("grant %s is stored as %s", id, g.GrantID)
			}
			return err
		}); err != nil {
			t.Errorf("grant %s: %v", id, err)
		}
	}
}
