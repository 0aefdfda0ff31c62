package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

var _ workspaces.VolumeKeys = (*Module)(nil)

// ebsDataKeyBytes is the size of the volume data keys EBS asks for (the
// documented EBS CloudTrail example requests 64 bytes).
const ebsDataKeyBytes = 64

// The calls WorkSpaces and EBS make on a key through workspaces.VolumeKeys
// only check the key's record (its state, policy and tags): they never
// write it. They read it shared (store.SharedReads, checkKey), so on
// store/postgres the creations and provisionings of many desktops of one
// key hold its lock together instead of taking turns, while a change of
// the key (DisableKey, ScheduleKeyDeletion, PutKeyPolicy, a rotation, and
// RevokeGrant, which reads the key to change its grants) reads it
// exclusive and so waits until every transaction that checked the key has
// committed; one that starts after the change has committed reads the new
// state. Each call still checks the state it read (usable): the shared
// lock keeps that state, not a copy of it, from changing before the
// transaction commits.

// checkKey reads a key that a service call only checks: shared.
func checkKey(ctx context.Context, tx store.Tx, r ref, now time.Time) (*keyRec, error) {
	return loadKey(store.SharedReads(ctx), tx, r, now)
}

// ResolveKey implements workspaces.VolumeKeys. An empty reference means the
// AWS managed key aws/workspaces, created with its default key policy the
// first time it is needed in the account and region. The key is read
// shared (checkKey), and kept in ctx's workspaces.KeyMemo (keyByARN), so
// that the KMS calls that follow in the transaction (a creation's grants,
// under the Region's count) need not read it again; each still checks the
// state it finds there. ResolveKey itself always reads the store.
func (m *Module) ResolveKey(ctx context.Context, tx store.Tx, account, region, keyRef string) (string, error) {
	now := m.clock.Now()
	var k *keyRec
	if keyRef == "" {
		var err error
		if k, err = m.managedKey(ctx, tx, account, region, now); err != nil {
			return "", err
		}
	} else {
		rf, err := parseRef(account, region, keyRef, true)
		if err != nil {
			return "", err
		}
		if k, err = checkKey(ctx, tx, rf, now); err != nil {
			return "", err
		}
	}
	workspaces.KeyMemoOf(ctx).Store(keyMemoKey(k.Account, k.Region, k.KeyID), k)
	if keyRef == "" {
		return k.ARN, nil // as before: the managed key's state is checked by its calls
	}
	if err := k.usable(); err != nil {
		return "", err
	}
	return k.ARN, nil
}

// keyMemoKey is where a key's record is kept in a workspaces.KeyMemo.
func keyMemoKey(account, region, keyID string) string { return "key " + key3(account, region, keyID) }

// managedKey returns (creating if needed) the AWS managed key aws/workspaces.
// Its alias is read exclusive: the first use in an account and Region
// creates it, and on store/postgres a key read shared and then written
// makes the node read it exclusive from then on (a creation checks the
// alias shared all the same, when it validates its plan). The key it names
// is read shared (checkKey).
func (m *Module) managedKey(ctx context.Context, tx store.Tx, account, region string, now time.Time) (*keyRec, error) {
	ak := key3(account, region, managedWorkSpacesAlias)
	a, err := store.GetJSON[aliasRec](ctx, tx, tAliases, ak)
	if err == nil {
		return checkKey(ctx, tx, ref{account: account, region: region, keyID: a.KeyID}, now)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	k, err := m.newKey(account, region, "Default master key that protects my WorkSpaces when no other key is defined", "AWS",
		workspacesKeyPolicy(account, region), nil, now)
	if err != nil {
		return nil, errInternal(err)
	}
	if err := store.CreateJSON(ctx, tx, tKeys, key3(account, region, k.KeyID), k); err != nil {
		return nil, err
	}
	rec := &aliasRec{Name: managedWorkSpacesAlias, ARN: aliasARN(account, region, managedWorkSpacesAlias), KeyID: k.KeyID, Created: now, Updated: now}
	if err := store.CreateJSON(ctx, tx, tAliases, ak, rec); err != nil {
		return nil, err
	}
	return k, nil
}

// keyByARN loads a key for a service call, shared (checkKey), or from the
// transaction's workspaces.KeyMemo when an earlier call read it.
func keyByARN(ctx context.Context, tx store.Tx, account, region, arn string, now time.Time) (*keyRec, error) {
	rf, err := parseRef(account, region, arn, false)
	if err != nil {
		return nil, err
	}
	memo := workspaces.KeyMemoOf(ctx)
	mk := keyMemoKey(rf.account, rf.region, rf.keyID)
	if v, ok := memo.Load(mk); ok {
		k := v.(*keyRec)
		if k.deleted(now) { // as loadKey
			return nil, errNotFound("Key '%s' does not exist", keyARN(rf.account, rf.region, rf.keyID))
		}
		return k, nil
	}
	k, err := checkKey(ctx, tx, rf, now)
	if err == nil {
		memo.Store(mk, k)
	}
	return k, err
}

// grantOf reads grant id of key k, which the call only checks: shared, or
// from the transaction's workspaces.KeyMemo when an earlier call read or
// made it. store.ErrNotFound when there is none.
func grantOf(ctx context.Context, tx store.Tx, k *keyRec, id string) (*grantRec, error) {
	memo := workspaces.KeyMemoOf(ctx)
	gk := key3(k.Account, k.Region, k.KeyID) + "/" + id
	if v, ok := memo.Load("grant " + gk); ok {
		if g, _ := v.(*grantRec); g != nil { // nil: retired in this transaction
			return g, nil
		}
	}
	g, err := store.GetJSON[grantRec](store.SharedReads(ctx), tx, tGrants, gk)
	if err == nil {
		memo.Store("grant "+gk, g)
	}
	return g, err
}

var _ workspaces.GrantReader = (*Module)(nil)

// ReadGrants implements workspaces.GrantReader: a provisioning batch reads
// its desktops' WorkSpaces grants into ctx's KeyMemo before their KMS calls,
// shared as grantOf reads them, and their keys as keyByARN reads them
// (shared, once per key, into the memo). The reads first of the caller's
// own (exclusive unless marked Shared), the keys and the grants go to the
// store in one store.GetTables, in that order (the order their locks are
// taken: the desktops, their key, its grants): one round trip on
// store/postgres. A key the calls could not use (not found, past its
// deletion date) is not kept, nor are its grants, and a grant not found is
// not kept: the calls read them again and fail as before. What the memo
// holds already is not read. Without a KeyMemo it reads only first. It
// returns the records first found.
func (m *Module) ReadGrants(ctx context.Context, tx store.Tx, grants []workspaces.KeyGrant, first ...store.TableKeys) ([]map[string][]byte, error) {
	memo := workspaces.KeyMemoOf(ctx)
	now := m.clock.Now()
	type grantKey struct{ key, memoKey string } // a grant's record key and its key's memo key
	var keyKeys []string                        // the keys' records to read
	keyMemo := map[string]string{}              // a key's memo key by its record key
	var gks []grantKey
	seen := map[string]bool{}
	for _, g := range grants {
		if memo == nil {
			break
		}
		rf, err := parseRef(g.Account, g.Region, g.KeyARN, false)
		if err != nil {
			if awsproto.As(err) != nil {
				continue // the calls answer it
			}
			return nil, err
		}
		kk := key3(rf.account, rf.region, rf.keyID)
		mk := keyMemoKey(rf.account, rf.region, rf.keyID)
		if v, ok := memo.Load(mk); ok {
			if v.(*keyRec).deleted(now) { // as keyByARN: the calls answer it
				continue
			}
		} else if _, ok := keyMemo[kk]; !ok {
			keyMemo[kk] = mk
			keyKeys = append(keyKeys, kk)
		}
		gk := kk + "/" + g.GrantID
		if _, ok := memo.Load("grant " + gk); ok || seen[gk] {
			continue
		}
		seen[gk] = true
		gks = append(gks, grantKey{gk, mk})
	}
	if len(keyKeys) == 0 && len(gks) == 0 {
		if len(first) == 0 {
			return nil, nil
		}
		return store.GetTables(ctx, tx, first)
	}
	grantKeys := make([]string, len(gks))
	for i, g := range gks {
		grantKeys[i] = g.key
	}
	n := len(first)
	reads := append(first[:n:n], store.TableKeys{Table: tKeys, Keys: keyKeys, Shared: true}, store.TableKeys{Table: tGrants, Keys: grantKeys, Shared: true})
	got, err := store.GetTables(ctx, tx, reads)
	if err != nil {
		return nil, err
	}
	for _, kk := range keyKeys {
		b, ok := got[n][kk]
		if !ok {
			continue // not found: the calls answer it
		}
		k := new(keyRec)
		if err := store.DecodeJSON(b, k); err != nil {
			return nil, fmt.Errorf("store: decode %s/%s: %w", tKeys, kk, err)
		}
		if k.deleted(now) {
			continue // as loadKey: gone
		}
		memo.Store(keyMemo[kk], k)
	}
	for _, g := range gks {
		b, ok := got[n+1][g.key]
		if !ok {
			continue
		}
		if _, ok := memo.Load(g.memoKey); !ok {
			continue // its key is not kept: the calls answer it before the grant
		}
		gr := new(grantRec)
		if err := store.DecodeJSON(b, gr); err != nil {
			return nil, fmt.Errorf("store: decode %s/%s: %w", tGrants, g.key, err)
		}
		memo.Store("grant "+g.key, gr)
	}
	return got[:n], nil
}

// CreateGrant implements workspaces.VolumeKeys. A grant asked for on a
// customer's behalf (step 1 of the KMS guide, g.Caller set) is that caller's
// kms:CreateGrant through WorkSpaces: the key policy must allow it (directly,
// or by delegating to IAM, whose policies must then allow it) and no policy
// may deny it. A grant WorkSpaces asks for itself (step 2, the EBS grant)
// rides on its own grant, g.ParentGrantID, which must still exist and allow
// it: once the customer retires or revokes that grant, WorkSpaces can mint
// no more grants on the key.
func (m *Module) CreateGrant(ctx context.Context, tx store.Tx, g workspaces.GrantRequest) (string, error) {
	now := m.clock.Now()
	k, err := keyByARN(ctx, tx, g.Account, g.Region, g.KeyARN, now)
	if err == nil {
		err = k.usable()
	}
	cons := &GrantConstraints{EncryptionContextSubset: g.ContextSubset}
	if len(g.ContextSubset) == 0 {
		cons = nil
	}
	via := "workspaces." + g.Region + ".amazonaws.com"
	in := &CreateGrantInput{KeyId: &g.KeyARN, GranteePrincipal: &g.Grantee, Operations: g.Operations, Constraints: cons}
	if g.Retiring != "" {
		in.RetiringPrincipal = &g.Retiring
	}
	if g.Name != "" {
		in.Name = &g.Name
	}
	var out *CreateGrantOutput
	if err == nil {
		if g.Caller != nil {
			err = m.callerMayGrant(ctx, k, g.Caller, via, g.Operations, cons)
		} else {
			err = m.serviceMayGrant(ctx, tx, k, g.CreatedBy, g.ParentGrantID, g.Operations, cons)
		}
	}
	if err == nil {
		var rec *grantRec
		rec, err = insertGrant(ctx, tx, k, g.GrantID, g.Grantee, g.Retiring, g.Name, g.Account, g.Operations, cons, now)
		if err == nil {
			out = &CreateGrantOutput{GrantId: rec.GrantID}
			workspaces.KeyMemoOf(ctx).Store("grant "+key3(k.Account, k.Region, k.KeyID)+"/"+rec.GrantID, rec)
		}
	}
	m.recordService(ctx, g.Account, g.Region, "workspaces.amazonaws.com", "CreateGrant", false, in, out, g.KeyARN, err, now)
	if err != nil {
		return "", err
	}
	return out.GrantId, nil
}

// callerMayGrant authorizes the customer's kms:CreateGrant through WorkSpaces
// (kms:ViaService, kms:GrantIsForAWSResource): key policy and IAM policies
// in the one evaluator (gateway.Decide), where an explicit deny in either
// refuses.
func (m *Module) callerMayGrant(ctx context.Context, k *keyRec, c *gateway.Call, via string, ops []string, cons *GrantConstraints) error {
	extra, ec := grantConditionKeys("", "", sortedOps(ops), cons, true)
	delete(extra, "kms:GranteePrincipal")
	extra["kms:ViaService"] = []string{via}
	chk := m.keyCheck(c.Account, c.Principal, k, authzRequest{Action: "kms:CreateGrant", EncCtx: ec, Extra: extra})
	d, err := gateway.Decide(ctx, m.authz, c.Principal, chk, c.Env())
	if err != nil {
		return fmt.Errorf("kms: authorize kms:CreateGrant on %s for WorkSpaces: %w", k.ARN, err)
	}
	if d.Allowed {
		return nil
	}
	if !d.ExplicitDeny && strings.HasPrefix(d.Reason, "no resource-based") {
		d.Reason = "the key policy does not allow the caller to create grants through WorkSpaces"
	}
	return keyDenied(c.Principal, chk, d)
}

// serviceCheck is the check of a call a service makes on a key under its
// own grants: the key policy can refuse it (an explicit deny), only a grant
// can allow it (grants), and a refusal says why (reason).
func serviceCheck(p *gateway.Principal, k *keyRec, action, reason string, grants func(ctx context.Context) (bool, error)) gateway.Check {
	return gateway.Check{Action: action, Resource: k.ARN, ResourceAccount: k.Account, ResourceTags: k.Tags,
		Policy: &gateway.ResourcePolicy{Documents: []string{k.Policy}, Grants: grants, GrantsOnly: true, DenyReason: reason}}
}

// serviceDecide decides a service's call on a key (serviceCheck) in the one
// evaluator, and returns its denial.
func (m *Module) serviceDecide(ctx context.Context, p *gateway.Principal, chk gateway.Check, region string) error {
	d, err := gateway.Decide(ctx, m.authz, p, chk, gateway.Env{Now: m.clock.Now(), Region: region})
	if err != nil {
		return fmt.Errorf("kms: authorize %s of %s on %s: %w", chk.Action, p.Service, chk.Resource, err)
	}
	if d.Allowed {
		return nil
	}
	return keyDenied(p, chk, d)
}

// serviceMayGrant checks the grant a service creates under its own grant on
// the key (parentID; any of its grants when empty): the parent must still
// exist, name the service as grantee and allow CreateGrant, and the child
// may only have a subset of its operations and constraints at least as
// strict.
func (m *Module) serviceMayGrant(ctx context.Context, tx store.Tx, k *keyRec, service, parentID string, ops []string, cons *GrantConstraints) error {
	p := &gateway.Principal{Type: "AWSService", Account: k.Account, Service: service}
	grants := func(ctx context.Context) (bool, error) {
		if parentID == "" {
			return m.parentGrantAllows(ctx, tx, p, k, ops, cons)
		}
		// The parent grant is only checked: read shared (grantOf), so
		// its RetireGrant or RevokeGrant (a delete) waits for this
		// transaction, and one that committed first leaves it absent.
		g, err := grantOf(ctx, tx, k, parentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("kms: read grant %s of %s: %w", parentID, k.ARN, err)
		}
		return g.permitsChild(p, ops, cons), nil
	}
	return m.serviceDecide(ctx, p, serviceCheck(p, k, "kms:CreateGrant", "no grant allows "+service+
		" to create this grant (the grant it holds on the key was retired or revoked, or does not cover it)", grants), k.Region)
}

// DescribeKey implements workspaces.VolumeKeys: WorkSpaces' DescribeKey
// under its own grant before it uses the key for a desktop. It fails with
// AccessDeniedException when the grant no longer exists or no longer lets
// WorkSpaces describe the key. Key states are left to the cryptographic
// calls that follow (DescribeKey works on a disabled key).
func (m *Module) DescribeKey(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error {
	now := m.clock.Now()
	service := "workspaces." + region + ".amazonaws.com"
	in := &DescribeKeyInput{KeyId: &keyARN}
	var out *DescribeKeyOutput
	err := func() error {
		k, err := keyByARN(ctx, tx, account, region, keyARN, now)
		if err != nil {
			return err
		}
		grants := func(ctx context.Context) (bool, error) {
			if grantID == "" {
				return false, nil
			}
			// Only checked, as the parent grant in serviceMayGrant (which
			// the provisioning read shared before, in this transaction).
			g, err := grantOf(ctx, tx, k, grantID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return false, nil
			case err != nil:
				return false, fmt.Errorf("kms: read grant %s of %s: %w", grantID, k.ARN, err)
			}
			return g.Grantee == service && g.allows("DescribeKey"), nil
		}
		p := &gateway.Principal{Type: "AWSService", Account: account, Service: service}
		err = m.serviceDecide(ctx, p, serviceCheck(p, k, "kms:DescribeKey",
			"no grant allows it: the grant WorkSpaces holds on the key was retired or revoked", grants), region)
		if err != nil {
			return err
		}
		out = &DescribeKeyOutput{KeyMetadata: k.metadata()}
		return nil
	}()
	m.recordService(ctx, account, region, "workspaces.amazonaws.com", "DescribeKey", true, in, out, keyARN, err, now)
	return err
}

// serviceGrant finds the grant that lets a service use the key for op with
// the encryption context.
func serviceGrant(ctx context.Context, tx store.Tx, k *keyRec, grantID, op string, ec map[string]string) (bool, error) {
	if grantID != "" {
		g, err := grantOf(ctx, tx, k, grantID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return g.allows(op) && g.satisfies(op, ec), nil
	}
	found := false
	err := store.ScanJSON(ctx, tx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/", "", 0, func(_ string, g *grantRec) error {
		if strings.HasPrefix(g.Grantee, "ebs.") && g.allows(op) && g.satisfies(op, ec) {
			found = true
			return store.ErrStop
		}
		return nil
	})
	return found, err
}

// GenerateDataKeyWithoutPlaintext implements workspaces.VolumeKeys: EBS asks
// for a volume data key under the grant WorkSpaces created for the volume.
func (m *Module) GenerateDataKeyWithoutPlaintext(ctx context.Context, tx store.Tx, account, region, keyARN string, encCtx map[string]string, grantID string) ([]byte, error) {
	now := m.clock.Now()
	in := &GenerateDataKeyInput{KeyId: &keyARN, EncryptionContext: encCtx, NumberOfBytes: ptr.To(ebsDataKeyBytes)}
	blob, err := m.serviceCrypto(ctx, tx, account, region, keyARN, grantID, "GenerateDataKeyWithoutPlaintext", encCtx, now, func(mat []byte, k *keyRec) ([]byte, error) {
		pt := make([]byte, ebsDataKeyBytes)
		defer clear(pt)
		if _, err := rand.Read(pt); err != nil {
			return nil, err
		}
		return encryptBlob(mat, k.ARN, pt, encCtx)
	})
	var out any
	if err == nil {
		out = &GenerateDataKeyWithoutPlaintextOutput{KeyId: keyARN}
	}
	m.recordService(ctx, account, region, "ebs.amazonaws.com", "GenerateDataKeyWithoutPlaintext", true, in, out, keyARN, err, now)
	return blob, err
}

// Decrypt implements workspaces.VolumeKeys: EBS decrypts a volume's data key
// on attach. The plaintext stays inside KMS (as it would stay in EBS).
func (m *Module) Decrypt(ctx context.Context, tx store.Tx, account, region, keyARN string, blob []byte, encCtx map[string]string, grantID string) error {
	pt, err := m.DecryptVolumeKey(ctx, tx, account, region, keyARN, blob, encCtx, grantID)
	clear(pt)
	return err
}

// DecryptVolumeKey is Decrypt returning the plaintext data key, for the
// desktop runtime that keeps the volume encrypted at rest under it (the
// part of EBS deskplane plays); the call is the same Decrypt by EBS under
// the volume's grant, and recorded as such.
func (m *Module) DecryptVolumeKey(ctx context.Context, tx store.Tx, account, region, keyARN string, blob []byte, encCtx map[string]string, grantID string) ([]byte, error) {
	now := m.clock.Now()
	in := &DecryptInput{KeyId: &keyARN, EncryptionContext: encCtx, EncryptionAlgorithm: ptr.To("SYMMETRIC_DEFAULT")}
	pt, err := m.serviceCrypto(ctx, tx, account, region, keyARN, grantID, "Decrypt", encCtx, now, func(mat []byte, k *keyRec) ([]byte, error) {
		if a := blobKeyARN(blob); a != k.ARN {
			if a == "" {
				return nil, errInvalidCiphertext()
			}
			return nil, errIncorrectKey()
		}
		pt, err := m.decryptAny(k, mat, blob, encCtx)
		if err != nil {
			return nil, errInvalidCiphertext()
		}
		return pt, nil
	})
	m.recordService(ctx, account, region, "ebs.amazonaws.com", "Decrypt", true, in, nil, keyARN, err, now)
	return pt, err
}

func (m *Module) serviceCrypto(ctx context.Context, tx store.Tx, account, region, keyARN, grantID, op string, ec map[string]string, now time.Time, fn func(mat []byte, k *keyRec) ([]byte, error)) ([]byte, error) {
	k, err := keyByARN(ctx, tx, account, region, keyARN, now)
	if err != nil {
		return nil, err
	}
	if err := k.usable(); err != nil {
		return nil, err
	}
	p := &gateway.Principal{Type: "AWSService", Account: account, Service: "ebs.amazonaws.com"}
	err = m.serviceDecide(ctx, p, serviceCheck(p, k, "kms:"+op, "no grant allows the operation with this encryption context",
		func(ctx context.Context) (bool, error) { return serviceGrant(ctx, tx, k, grantID, op, ec) }), region)
	if err != nil {
		return nil, err
	}
	mat, err := m.master.open(k.Material, k.ARN)
	if err != nil {
		return nil, errInternal(err)
	}
	defer clear(mat)
	return fn(mat, k)
}

// RetireGrant implements workspaces.VolumeKeys (on terminate and rebuild).
func (m *Module) RetireGrant(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error {
	now := m.clock.Now()
	in := &RetireGrantInput{KeyId: &keyARN, GrantId: &grantID}
	err := func() error {
		rf, err := parseRef(account, region, keyARN, false)
		if err != nil {
			return err
		}
		gk := key3(rf.account, rf.region, rf.keyID) + "/" + grantID
		workspaces.KeyMemoOf(ctx).Store("grant "+gk, (*grantRec)(nil)) // read it again
		err = tx.Delete(ctx, tGrants, gk)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("Grant ID %s not found", grantID)
		}
		return err
	}()
	m.recordService(ctx, account, region, "workspaces.amazonaws.com", "RetireGrant", false, in, nil, keyARN, err, now)
	return err
}

// recordService records a call a service made on the customer's behalf,
// through the same recorder as the pipeline's calls (gateway.ServiceEvent).
func (m *Module) recordService(ctx context.Context, account, region, service, op string, readOnly bool, in, out any, keyARN string, err error, now time.Time) {
	if m.audit == nil {
		return
	}
	if ev := gateway.ServiceEvent(m.svc, op, account, region, service, readOnly, in, out, err, now,
		gateway.Check{Resource: keyARN, ResourceAccount: account}); ev != nil {
		m.audit.Record(ctx, ev)
	}
}
