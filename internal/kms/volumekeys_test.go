package kms

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/workspaces"
)

type events struct {
	mu  sync.Mutex
	evs []*gateway.Event
}

func (e *events) Record(_ context.Context, ev *gateway.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func testModule(t *testing.T) (*Module, store.Store, *events) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mk, err := LoadMasterKey(filepath.Join(t.TempDir(), MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	m, err := New(Options{Store: db, Master: mk, Audit: ev})
	if err != nil {
		t.Fatal(err)
	}
	return m, db, ev
}

// adminCall is a call by the account's admin user, on whose behalf
// WorkSpaces creates its grant.
func adminCall(account, region string) *gateway.Call {
	return &gateway.Call{Account: account, Region: region,
		Principal: &gateway.Principal{Type: "IAMUser", Account: account, ARN: "arn:aws:iam::" + account + ":user/admin", UserName: "admin"}}
}

// TestVolumeKeysFlow walks the KMS guide's nine steps through the
// workspaces.VolumeKeys interface with the AWS managed key.
func TestVolumeKeysFlow(t *testing.T) {
	m, db, ev := testModule(t)
	ctx := context.Background()
	const acct, region = "111122223333", "us-east-1"
	ec := map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-1-2-3-1107]@[d-1234abcd01]", "aws:ebs:id": "vol-1234abcd"}
	var keyARN, wsGrant, ebsGrant string
	var edk []byte
	err := db.Update(ctx, func(tx store.Tx) error {
		var err error
		if keyARN, err = m.ResolveKey(ctx, tx, acct, region, ""); err != nil {
			return err
		}
		again, err := m.ResolveKey(ctx, tx, acct, region, "alias/aws/workspaces")
		if err != nil || again != keyARN {
			return fmt.Errorf("alias/aws/workspaces resolves to %s, %v", again, err)
		}
		wsGrant, err = m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: keyARN,
			Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
			Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
			ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": ec["aws:workspaces:sid-directoryid"]},
			Name:          "ws-1", CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region)})
		if err != nil {
			return err
		}
		ebsGrant, err = m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: keyARN,
			Grantee: "ebs.us-east-1.amazonaws.com", Retiring: "ebs.us-east-1.amazonaws.com",
			Operations: []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "RetireGrant"}, ContextSubset: ec,
			Name: "vol-1234abcd", CreatedBy: "workspaces.us-east-1.amazonaws.com", ParentGrantID: wsGrant})
		if err != nil {
			return err
		}
		if edk, err = m.GenerateDataKeyWithoutPlaintext(ctx, tx, acct, region, keyARN, ec, ebsGrant); err != nil {
			return err
		}
		return m.Decrypt(ctx, tx, acct, region, keyARN, edk, ec, ebsGrant)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx store.Tx) error {
		k, err := keyByARN(ctx, tx, acct, region, keyARN, m.clock.Now())
		if err != nil || k.KeyManager != "AWS" || k.Policy != workspacesKeyPolicy(acct, region) {
			return fmt.Errorf("managed key: %v %+v", err, k)
		}
		// A different volume's context is refused by the grant constraint.
		other := map[string]string{"aws:workspaces:sid-directoryid": ec["aws:workspaces:sid-directoryid"], "aws:ebs:id": "vol-other"}
		if err := m.Decrypt(ctx, tx, acct, region, keyARN, edk, other, ebsGrant); awsproto.As(err) == nil || awsproto.As(err).Code != "AccessDeniedException" {
			return fmt.Errorf("decrypt with another volume's context: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Terminate: retire both grants; attach fails at once.
	err = db.Update(ctx, func(tx store.Tx) error {
		for _, g := range []string{ebsGrant, wsGrant} {
			if err := m.RetireGrant(ctx, tx, acct, region, keyARN, g); err != nil {
				return err
			}
		}
		if err := m.RetireGrant(ctx, tx, acct, region, keyARN, ebsGrant); awsproto.As(err) == nil || awsproto.As(err).Code != "NotFoundException" {
			return fmt.Errorf("retire twice: %v", err)
		}
		if err := m.Decrypt(ctx, tx, acct, region, keyARN, edk, ec, ebsGrant); awsproto.As(err) == nil || awsproto.As(err).Code != "AccessDeniedException" {
			return fmt.Errorf("decrypt after retire: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// CloudTrail sees the service calls with the encryption context.
	names := map[string]int{}
	for _, e := range ev.evs {
		names[e.Operation]++
		if e.Principal.Type != "AWSService" || e.InvokedBy == "" {
			t.Fatalf("service event identity: %+v", e.Principal)
		}
		if e.Operation == "GenerateDataKeyWithoutPlaintext" {
			in := e.Request.(*GenerateDataKeyInput)
			if in.EncryptionContext["aws:ebs:id"] != "vol-1234abcd" || e.InvokedBy != "ebs.amazonaws.com" {
				t.Fatalf("GDKWP event: %+v", in)
			}
		}
	}
	if names["CreateGrant"] != 2 || names["GenerateDataKeyWithoutPlaintext"] != 1 || names["Decrypt"] != 3 || names["RetireGrant"] != 3 {
		t.Fatalf("events: %v", names)
	}
}

func TestVolumeKeysKeyStates(t *testing.T) {
	m, db, _ := testModule(t)
	ctx := context.Background()
	err := db.Update(ctx, func(tx store.Tx) error {
		k, err := m.newKey("111122223333", "us-east-1", "", "CUSTOMER", defaultKeyPolicy("111122223333"), nil, m.clock.Now())
		if err != nil {
			return err
		}
		k.State = stateDisabled
		if err := store.PutJSON(ctx, tx, tKeys, key3(k.Account, k.Region, k.KeyID), k); err != nil {
			return err
		}
		if _, err := m.ResolveKey(ctx, tx, k.Account, k.Region, k.KeyID); awsproto.As(err) == nil || awsproto.As(err).Code != "DisabledException" {
			return fmt.Errorf("disabled: %v", err)
		}
		if _, err := m.ResolveKey(ctx, tx, k.Account, k.Region, "alias/nope"); awsproto.As(err) == nil || awsproto.As(err).Code != "NotFoundException" {
			return fmt.Errorf("missing alias: %v", err)
		}
		// A key policy that does not trust the caller refuses WorkSpaces' grant.
		k.State = stateEnabled
		k.Policy = `{"Version":"2012-10-17","Statement":[{"Sid":"Only bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}]}`
		if err := store.PutJSON(ctx, tx, tKeys, key3(k.Account, k.Region, k.KeyID), k); err != nil {
			return err
		}
		_, err = m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: k.Account, Region: k.Region, KeyARN: k.ARN, Grantee: "workspaces.us-east-1.amazonaws.com",
			Operations: []string{"Decrypt"}, CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(k.Account, k.Region)})
		if awsproto.As(err) == nil || awsproto.As(err).Code != "AccessDeniedException" {
			return fmt.Errorf("grant through an untrusting key policy: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVolumeKeysServiceGrantNeedsWorkSpacesGrant: the grants WorkSpaces
// creates for EBS, and its DescribeKey before an attach, ride on its own
// grant; once that grant is revoked, both are refused.
func TestVolumeKeysServiceGrantNeedsWorkSpacesGrant(t *testing.T) {
	m, db, _ := testModule(t)
	ctx := context.Background()
	const acct, region = "111122223333", "us-east-1"
	sid := map[string]string{"aws:workspaces:sid-directoryid": "[S-1-5-21-1-2-3-1107]@[d-1234abcd01]"}
	ec := map[string]string{"aws:workspaces:sid-directoryid": sid["aws:workspaces:sid-directoryid"], "aws:ebs:id": "vol-1234abcd"}
	code := func(err error) string {
		if ae := awsproto.As(err); ae != nil {
			return ae.Code
		}
		return ""
	}
	err := db.Update(ctx, func(tx store.Tx) error {
		keyARN, err := m.ResolveKey(ctx, tx, acct, region, "")
		if err != nil {
			return err
		}
		wsGrant, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: keyARN,
			Grantee: "workspaces.us-east-1.amazonaws.com", Retiring: "workspaces.us-east-1.amazonaws.com",
			Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
			ContextSubset: sid, Name: "ws-1", CreatedBy: "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region)})
		if err != nil {
			return err
		}
		ebs := func(parent string, ops []string, cons map[string]string) error {
			_, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: keyARN,
				Grantee: "ebs.us-east-1.amazonaws.com", Retiring: "ebs.us-east-1.amazonaws.com", Operations: ops, ContextSubset: cons,
				Name: "vol-1234abcd", CreatedBy: "workspaces.us-east-1.amazonaws.com", ParentGrantID: parent})
			return err
		}
		volOps := []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "RetireGrant"}
		if err := ebs(wsGrant, volOps, ec); err != nil {
			return fmt.Errorf("EBS grant under the WorkSpaces grant: %v", err)
		}
		if err := m.DescribeKey(ctx, tx, acct, region, keyARN, wsGrant); err != nil {
			return fmt.Errorf("DescribeKey under the WorkSpaces grant: %v", err)
		}
		// The child may not exceed its parent.
		if c := code(ebs(wsGrant, []string{"Encrypt"}, ec)); c != "AccessDeniedException" {
			return fmt.Errorf("EBS grant with an operation the parent lacks: %q", c)
		}
		if c := code(ebs(wsGrant, volOps, map[string]string{"aws:ebs:id": "vol-1234abcd"})); c != "AccessDeniedException" {
			return fmt.Errorf("EBS grant looser than the parent: %q", c)
		}
		// Revoked: nothing more rides on it.
		rf, err := parseRef(acct, region, keyARN, false)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, tGrants, key3(rf.account, rf.region, rf.keyID)+"/"+wsGrant); err != nil {
			return err
		}
		if c := code(ebs(wsGrant, volOps, ec)); c != "AccessDeniedException" {
			return fmt.Errorf("EBS grant after the WorkSpaces grant was revoked: %q", c)
		}
		if c := code(ebs("", volOps, ec)); c != "AccessDeniedException" {
			return fmt.Errorf("EBS grant with no parent named, after the revoke: %q", c)
		}
		if c := code(m.DescribeKey(ctx, tx, acct, region, keyARN, wsGrant)); c != "AccessDeniedException" {
			return fmt.Errorf("DescribeKey after the WorkSpaces grant was revoked: %q", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// identityAuthz answers every IAM question with one decision.
type identityAuthz gateway.Decision

func (a identityAuthz) Authorize(context.Context, *gateway.Principal, string, gateway.Check, gateway.Env) (gateway.Decision, error) {
	return gateway.Decision(a), nil
}

// TestVolumeKeysCallerIdentityDeny: the grant WorkSpaces creates on a
// customer's behalf is that customer's kms:CreateGrant, so an explicit
// deny in the customer's identity policies refuses it even where the key
// policy (here aws/workspaces') allows it directly.
func TestVolumeKeysCallerIdentityDeny(t *testing.T) {
	m, db, _ := testModule(t)
	ctx := context.Background()
	const acct, region = "111122223333", "us-east-1"
	grant := func(tx store.Tx, keyARN string) error {
		_, err := m.CreateGrant(ctx, tx, workspaces.GrantRequest{Account: acct, Region: region, KeyARN: keyARN,
			Grantee: "workspaces.us-east-1.amazonaws.com", Operations: []string{"Decrypt", "CreateGrant"},
			ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[S-1]@[d-1]"},
			CreatedBy:     "arn:aws:iam::111122223333:user/admin", Caller: adminCall(acct, region)})
		return err
	}
	err := db.Update(ctx, func(tx store.Tx) error {
		keyARN, err := m.ResolveKey(ctx, tx, acct, region, "")
		if err != nil {
			return err
		}
		m.SetAuthorizer(identityAuthz{Allowed: true})
		if err := grant(tx, keyARN); err != nil {
			return fmt.Errorf("grant with IAM allowing: %v", err)
		}
		m.SetAuthorizer(identityAuthz{ExplicitDeny: true})
		if err := grant(tx, keyARN); awsproto.As(err) == nil || awsproto.As(err).Code != "AccessDeniedException" {
			return fmt.Errorf("grant with an explicit deny in IAM: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
